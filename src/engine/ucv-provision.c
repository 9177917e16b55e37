/* Provisioning and cleanup of a job's machines: image, overlay, domain; and all of it removed. */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include <glib/gi18n.h>

#include "engine/ucv-container-watch.h"
#include "engine/ucv-engine-private.h"
#include "engine/ucv-job-files.h"
#include "model/ucv-error.h"
#include "virt/ucv-domain-xml.h"
#include "virt/ucv-seed.h"

/* How long a job waits when Core or libvirtd could not be reached before trying again. */
#define UCV_PROVISION_RETRY_S 10

typedef struct {
	UcvEngine *engine;
	UcvJobRun *run;
	UcvJob *job;
	UcvProduct *product;
	gchar *base;
	gchar *base_format;
	GStrv ssh_keys;
	guint rank;
	/* cleanup */
	GPtrArray *domains;
	UcvJobState final_state;
	gchar *status;
} UcvJobOpHelper;

static void
job_op_helper_free(UcvJobOpHelper *helper)
{
	g_object_unref(helper->engine);
	g_clear_pointer(&helper->run, ucv_job_run_unref);
	g_clear_pointer(&helper->job, ucv_job_unref);
	g_clear_pointer(&helper->product, ucv_product_unref);
	g_clear_pointer(&helper->domains, g_ptr_array_unref);
	g_free(helper->base);
	g_free(helper->base_format);
	g_strfreev(helper->ssh_keys);
	g_free(helper->status);
	g_free(helper);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvJobOpHelper, job_op_helper_free)

static UcvJobOpHelper *
job_op_helper_new(UcvEngine *engine)
{
	UcvJobOpHelper *helper = g_new0(UcvJobOpHelper, 1);

	helper->engine = g_object_ref(engine);
	return helper;
}

/* Ends the operation: the run may start its next one. */
static void
job_op_finish(UcvJobOpHelper *helper)
{
	UcvJobRun *run = g_steal_pointer(&helper->run);
	UcvEngine *engine = g_object_ref(helper->engine);

	job_op_helper_free(helper);
	ucv_engine_finish_op(engine, run);
	g_object_unref(engine);
}

void
ucv_engine_provision_failed(UcvEngine *self, UcvJobRun *run, const gchar *status)
{
	ucv_engine_set_state(self, run->job_id, UCV_JOB_STATE_FAILURE, status);
	ucv_engine_queue_cleanup(self, run, UCV_JOB_STATE_IN_QUEUE, NULL);
}

static void
provision_fail(UcvJobOpHelper *helper, const gchar *status)
{
	ucv_engine_provision_failed(helper->engine, helper->run, status);
	job_op_finish(helper);
}

static gboolean
provision_cancelled(UcvJobOpHelper *helper, GError *error)
{
	if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && !helper->run->terminating)
		return FALSE;
	job_op_finish(helper);
	return TRUE;
}

static void provision_next_rank(UcvJobOpHelper *helper);
static void provision_retry_later(UcvJobOpHelper *helper, const gchar *why);
static void provision_write_seed(UcvJobOpHelper *helper);

/* The machine came up from its disk because its saved memory would not restore: say so, in the
 * RUNNING update or, when that went out already, after it. */
static void
note_booted_fresh(UcvJobOpHelper *helper, const gchar *set_aside)
{
	UcvEngine *engine = helper->engine;
	UcvJobRun *run = helper->run;
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(engine->store, run->job_id, NULL);
	g_autofree gchar *note = g_strdup_printf(
		_("The saved memory of the virtual machine could not be restored, so it started "
		  "afresh from its disk; the saved memory was kept as %s"),
		set_aside);

	if (stored != NULL && stored->state == UCV_JOB_STATE_RUNNING) {
		ucv_engine_set_state(engine, run->job_id, UCV_JOB_STATE_RUNNING, note);
		return;
	}
	g_free(run->start_note);
	run->start_note = g_steal_pointer(&note);
}

static void
on_domain_started(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvJobOpHelper *helper = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *status = NULL;
	g_autoptr(UcvDomainStartResult) result = NULL;

	result = ucv_hypervisor_start_domain_finish(UCV_HYPERVISOR(source), res, &error);
	if (result == NULL) {
		if (provision_cancelled(helper, error))
			return;
		if (g_error_matches(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE)) {
			/* libvirtd is away: the job waits; the reconnect or a retry resumes it */
			provision_retry_later(helper, error->message);
			return;
		}
		status = g_strdup_printf(_("The virtual machine could not start: %s"),
					 error->message);
		provision_fail(helper, status);
		return;
	}
	if (result->outcome == UCV_DOMAIN_START_BOOTED_FRESH)
		note_booted_fresh(helper, result->set_aside);
	/* a restart found it running already: no STARTED event will come */
	if (result->outcome == UCV_DOMAIN_START_WAS_RUNNING)
		ucv_engine_rank_started(helper->engine, helper->run, helper->rank);
	helper->rank++;
	provision_next_rank(helper);
}

static gchar *
render_domain(UcvJobOpHelper *helper, const gchar *name, GError **error)
{
	const UcvConfig *config = helper->engine->config;
	UcvJob *job = helper->job;
	g_autofree gchar *disk = ucv_job_files_disk(config->state_dir, job->id, helper->rank);
	g_autofree gchar *log = ucv_job_files_console_log(config->state_dir, job->id, helper->rank);
	g_autofree gchar *vnc = ucv_job_files_vnc_socket(config->state_dir, job->id, helper->rank);
	g_auto(GStrv) gpus = ucv_engine_capacity_rank_gpus(helper->engine, job->id, helper->rank,
							   helper->product->gpu);
	g_autofree gchar *seed = ucv_job_files_seed(config->state_dir, job->id, helper->rank);
	g_autofree gchar *app = g_strdup_printf("%s@%s", job->app_name, job->app_version);
	g_autofree gchar *title = g_strdup_printf(
		"UCloud job %s rank %u: %s (%s) for %s", job->id, helper->rank,
		job->name != NULL ? job->name : job->app_name, job->product_id, job->created_by);
	UcvDomainSpec spec = {
		.name = name,
		.title = title,
		.domain_type = config->domain_type,
		.vcpus = helper->product->cpu,
		.memory_mib = (guint64)helper->product->memory_gigs * 1024,
		.disk_path = disk,
		.disk_format = "qcow2",
		.console_log = log,
		.vnc_socket = vnc,
		.network = config->network,
		.seed_path = seed,
		.gpu_devices = (const gchar *const *)gpus,
		.job_id = job->id,
		.rank = helper->rank,
		.owner = job->created_by,
		.project = job->project,
		.product = job->product_id,
		.application = app,
	};

	return ucv_domain_xml_render(&spec, error);
}

static void
provision_start_rank(UcvJobOpHelper *helper)
{
	UcvEngine *engine = helper->engine;
	g_autofree gchar *name = ucv_domain_name_for(helper->job->id, helper->rank);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xml = NULL;
	g_autofree gchar *status = NULL;

	xml = render_domain(helper, name, &error);
	if (xml == NULL ||
	    !ucv_store_add_domain(engine->store, helper->job->id, helper->rank, name, &error)) {
		status = g_strdup_printf(_("The virtual machine could not be defined: %s"),
					 error->message);
		provision_fail(helper, status);
		return;
	}
	ucv_job_log(G_LOG_LEVEL_MESSAGE, helper->job->id, name, "job %s: starting %s",
		    helper->job->id, name);
	ucv_hypervisor_start_domain_async(engine->hypervisor, xml, helper->run->cancellable,
					  on_domain_started, helper);
}

static void
on_seed_written(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvJobOpHelper *helper = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *status = NULL;

	if (!ucv_seed_write_finish(res, &error)) {
		if (provision_cancelled(helper, error))
			return;
		status = g_strdup_printf(_("The first-boot data of the virtual machine could not "
					   "be written: %s"),
					 error->message);
		provision_fail(helper, status);
		return;
	}
	provision_start_rank(helper);
}

/* Written again on every start, so keys added since the last one are there too. */
static void
provision_write_seed(UcvJobOpHelper *helper)
{
	ucv_engine_write_seed_async(helper->engine, helper->job, helper->rank, helper->ssh_keys,
				    helper->run->cancellable, on_seed_written, helper);
}

static void
on_overlay_created(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvJobOpHelper *helper = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *status = NULL;

	if (!ucv_overlay_create_finish(res, &error)) {
		if (provision_cancelled(helper, error))
			return;
		status = g_strdup_printf(_("The disk of the virtual machine could not be "
					   "created: %s"),
					 error->message);
		provision_fail(helper, status);
		return;
	}
	provision_write_seed(helper);
}

static void
provision_next_rank(UcvJobOpHelper *helper)
{
	const UcvConfig *config = helper->engine->config;
	g_autofree gchar *disk = NULL;

	if (helper->run->terminating || helper->rank >= helper->job->replicas) {
		job_op_finish(helper);
		return;
	}
	disk = ucv_job_files_disk(config->state_dir, helper->job->id, helper->rank);
	if (g_file_test(disk, G_FILE_TEST_EXISTS)) {
		provision_write_seed(helper);
		return;
	}
	ucv_overlay_create_async(helper->base, helper->base_format, disk,
				 ucv_engine_disk_size_bytes(helper->engine, helper->job),
				 helper->run->cancellable, on_overlay_created, helper);
}

static void
on_ssh_keys(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvJobOpHelper *helper = user_data;
	g_autoptr(GError) error = NULL;

	helper->ssh_keys = ucv_engine_fetch_ssh_keys_finish(helper->engine, res, &error);
	if (helper->ssh_keys == NULL) {
		if (provision_cancelled(helper, error))
			return;
		/* a machine without keys still boots; keys can be added later */
		ucv_job_log(G_LOG_LEVEL_WARNING, helper->job->id, NULL,
			    "job %s: cannot fetch the owner's SSH keys: %s", helper->job->id,
			    error->message);
		helper->ssh_keys = g_new0(gchar *, 1);
	}
	provision_next_rank(helper);
}

static void
on_image_ready(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvJobOpHelper *helper = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *status = NULL;

	helper->base = ucv_image_cache_ensure_finish(UCV_IMAGE_CACHE(source), res,
						     &helper->base_format, &error);
	if (helper->base == NULL) {
		if (provision_cancelled(helper, error))
			return;
		status = g_strdup_printf(_("The image of the virtual machine is not available: "
					   "%s"),
					 error->message);
		provision_fail(helper, status);
		return;
	}
	ucv_engine_fetch_ssh_keys_async(helper->engine, helper->job, helper->run->cancellable,
					on_ssh_keys, helper);
}

/* The job's files and its base image; then the machines, rank by rank. */
static void
provision_prepare(UcvJobOpHelper *helper)
{
	UcvEngine *engine = helper->engine;
	UcvJobRun *run = helper->run;
	g_autoptr(GError) error = NULL;

	if (!ucv_job_files_prepare(engine->config->state_dir, run->job_id, &error)) {
		ucv_job_log(G_LOG_LEVEL_WARNING, run->job_id, NULL, "job %s: %s", run->job_id,
			    error->message);
		provision_fail(helper, _("The provider could not prepare the job's files"));
		return;
	}
	if (helper->job->backend == UCV_BACKEND_DOCKER) {
		ucv_engine_start_container_job(engine, g_steal_pointer(&helper->run), helper->job,
					       helper->product);
		job_op_helper_free(helper);
		return;
	}
	ucv_image_cache_ensure_async(engine->images, helper->job->image, run->cancellable,
				     on_image_ready, helper);
}

static gboolean
on_retry_provision(gpointer user_data)
{
	UcvJobRun *run = user_data;

	run->retry_source = 0;
	if (!run->terminating)
		ucv_engine_queue_provision(run->owner, run);
	return G_SOURCE_REMOVE;
}

void
ucv_engine_retry_provision_later(UcvEngine *self, UcvJobRun *run, const gchar *why)
{
	ucv_job_log(G_LOG_LEVEL_MESSAGE, run->job_id, NULL, "job %s: trying again later: %s",
		    run->job_id, why);
	/* the engine removes the source when it goes away before the retry */
	g_clear_handle_id(&run->retry_source, g_source_remove);
	run->retry_source = g_timeout_add_seconds_full(G_PRIORITY_DEFAULT, UCV_PROVISION_RETRY_S,
						       on_retry_provision, ucv_job_run_ref(run),
						       (GDestroyNotify)ucv_job_run_unref);
}

/* Core or libvirtd could not be reached: the job stays queued and tries again shortly. */
static void
provision_retry_later(UcvJobOpHelper *helper, const gchar *why)
{
	ucv_engine_retry_provision_later(helper->engine, helper->run, why);
	job_op_finish(helper);
}

static void
on_job_retrieved(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvJobOpHelper *helper = user_data;
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(UcvJob) job = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *status = NULL;

	root = ucv_core_client_post_finish(UCV_CORE_CLIENT(source), res, &error);
	if (root == NULL && error != NULL && provision_cancelled(helper, error))
		return;
	if (g_error_matches(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE)) {
		provision_retry_later(helper, error->message);
		return;
	}
	if (root != NULL)
		job = ucv_job_new_from_json(root, &error);
	if (job != NULL && !job->app_resolved)
		g_set_error_literal(&error, UCV_ERROR, UCV_ERROR_INVALID,
				    "the job has no resolvedApplication");
	if (error == NULL && job != NULL &&
	    ucv_engine_validate_application(helper->engine, job, &error) &&
	    ucv_store_replace_job(helper->engine->store, job, &error)) {
		ucv_job_unref(helper->job);
		helper->job = g_steal_pointer(&job);
		provision_prepare(helper);
		return;
	}
	status = g_strdup_printf(_("UCloud did not tell which application the job runs: %s"),
				 error != NULL ? error->message : "empty answer");
	provision_fail(helper, status);
}

/* The documented API may send a job without its application: ask Core for the whole job. */
static void
provision_resolve(UcvJobOpHelper *helper)
{
	g_autofree gchar *id = g_uri_escape_string(helper->run->job_id, NULL, FALSE);
	g_autofree gchar *path =
		g_strdup_printf("/api/jobs/control/retrieve?id=%s&includeApplication=true"
				"&includeProduct=true&includeParameters=true",
				id);

	ucv_core_client_get_async(helper->engine->core, path, helper->run->cancellable,
				  on_job_retrieved, helper);
}

static void
op_provision(UcvJobRun *run, gpointer user_data)
{
	UcvJobOpHelper *helper = user_data;
	UcvEngine *engine = helper->engine;
	g_autoptr(UcvStoredJob) stored = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *status = NULL;
	UcvProduct *product;

	helper->run = run;
	stored = ucv_store_lookup_job(engine->store, run->job_id, NULL);
	if (stored == NULL || ucv_job_state_is_final(stored->state) || run->terminating) {
		job_op_finish(helper);
		return;
	}
	helper->job = ucv_job_ref(stored->job);
	product = ucv_engine_find_product(engine, helper->job->product_id);
	if (product == NULL) {
		status = g_strdup_printf(_("The product %s is no longer offered"),
					 helper->job->product_id);
		provision_fail(helper, status);
		return;
	}
	helper->product = ucv_product_ref(product);
	if (!helper->job->app_resolved) {
		provision_resolve(helper);
		return;
	}
	provision_prepare(helper);
}

void
ucv_engine_queue_provision(UcvEngine *self, UcvJobRun *run)
{
	/* this attempt replaces one that was waiting to retry */
	g_clear_handle_id(&run->retry_source, g_source_remove);
	if (!ucv_engine_capacity_admit(self, run, NULL))
		return;
	ucv_job_run_enqueue(run, op_provision, job_op_helper_new(self),
			    (GDestroyNotify)job_op_helper_free);
}

static void cleanup_next_domain(UcvJobOpHelper *helper);

static void
on_domain_removed(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvJobOpHelper *helper = user_data;
	g_autoptr(GError) error = NULL;

	if (!ucv_hypervisor_remove_domain_finish(UCV_HYPERVISOR(source), res, &error))
		ucv_job_log(G_LOG_LEVEL_WARNING, helper->run->job_id, NULL,
			    "job %s: cannot remove a domain: %s", helper->run->job_id,
			    error->message);
	cleanup_next_domain(helper);
}

static void
cleanup_finish(UcvJobOpHelper *helper)
{
	UcvEngine *engine = helper->engine;
	const gchar *job_id = helper->run->job_id;
	g_autoptr(GError) error = NULL;

	ucv_engine_unstage_container_folders(engine, job_id);
	if (!ucv_job_files_remove(engine->config->state_dir, job_id, &error))
		ucv_job_log(G_LOG_LEVEL_WARNING, job_id, NULL, "job %s: %s", job_id,
			    error->message);
	if (!ucv_store_remove_domains(engine->store, job_id, &error))
		ucv_job_log(G_LOG_LEVEL_WARNING, job_id, NULL, "job %s: %s", job_id,
			    error->message);
	if (helper->final_state != UCV_JOB_STATE_IN_QUEUE)
		ucv_engine_set_state(engine, job_id, helper->final_state, helper->status);
	ucv_job_log(G_LOG_LEVEL_MESSAGE, job_id, NULL, "job %s: machines and files removed",
		    job_id);
	/* only now is the host free of the job */
	ucv_engine_capacity_release(engine, job_id);
	job_op_finish(helper);
}

static void
cleanup_next_domain(UcvJobOpHelper *helper)
{
	const gchar *name;

	if (helper->rank >= helper->domains->len) {
		cleanup_finish(helper);
		return;
	}
	name = g_ptr_array_index(helper->domains, helper->rank++);
	ucv_job_log(G_LOG_LEVEL_INFO, helper->run->job_id, name, "job %s: removing %s",
		    helper->run->job_id, name);
	/* not the run's cancellable: a terminate has cancelled that one on purpose */
	ucv_hypervisor_remove_domain_async(helper->engine->hypervisor, name,
					   helper->engine->cancellable, on_domain_removed, helper);
}

/* The domains the store remembers, plus every rank's name in case one was never recorded. */
static GPtrArray *
cleanup_domain_names(UcvEngine *self, const gchar *job_id)
{
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, job_id, NULL);
	GPtrArray *names = ucv_store_list_domains(self->store, job_id, NULL);

	if (names == NULL)
		names = g_ptr_array_new_with_free_func(g_free);
	for (guint rank = 0; stored != NULL && rank < stored->job->replicas; rank++) {
		g_autofree gchar *name = ucv_domain_name_for(job_id, rank);
		if (!g_ptr_array_find_with_equal_func(names, name, g_str_equal, NULL))
			g_ptr_array_add(names, g_steal_pointer(&name));
	}
	return names;
}

static void
op_cleanup(UcvJobRun *run, gpointer user_data)
{
	UcvJobOpHelper *helper = user_data;

	helper->run = run;
	helper->rank = 0;
	helper->domains = cleanup_domain_names(helper->engine, run->job_id);
	ucv_engine_stopping(helper->engine, run->job_id, helper->final_state);
	ucv_engine_container_forget(run);
	g_clear_handle_id(&run->expiry_source, g_source_remove);
	g_hash_table_remove_all(run->started_ranks);
	cleanup_next_domain(helper);
}

void
ucv_engine_queue_cleanup(UcvEngine *self, UcvJobRun *run, UcvJobState final_state,
			 const gchar *status)
{
	UcvJobOpHelper *helper = job_op_helper_new(self);

	helper->final_state = final_state;
	helper->status = g_strdup(status);
	ucv_job_run_enqueue(run, op_cleanup, helper, (GDestroyNotify)job_op_helper_free);
}
