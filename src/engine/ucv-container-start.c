/* Starting a DOCKER job: its image from the cache (pulled once), its folders staged for the
 * container hosts, UCloud's command line, then one container-host VM per rank. */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "agent/ucv-agent-layout.h"
#include "container/ucv-job-folders.h"
#include "container/ucv-oci-config.h"
#include "engine/ucv-engine-private.h"
#include "engine/ucv-job-files.h"
#include "model/ucv-error.h"
#include "model/ucv-invocation.h"
#include "virt/ucv-domain-xml.h"

/* Pull progress is reported in steps of this many percent, at most once per interval: a short
 * pull says nothing, a long one tells the user how far it is. */
#define UCV_PULL_REPORT_STEP 10
#define UCV_PULL_REPORT_US   (2 * G_USEC_PER_SEC)

typedef struct {
	UcvEngine *engine;
	UcvJobRun *run; /* holds the operation */
	UcvJob *job;
	UcvProduct *product;
	UcvStoredImage *image;
	gchar *image_config; /* the image's config JSON */
	GPtrArray *folders;  /* UcvStagedFolder */
	UcvInvocation *invocation;
	guint rank;
	guint reported_percent;
	gint64 reported_us; /* when progress was last reported (or the pull began) */
} UcvContainerStart;

static void
container_start_free(UcvContainerStart *start)
{
	g_object_unref(start->engine);
	g_clear_pointer(&start->run, ucv_job_run_unref);
	ucv_job_unref(start->job);
	ucv_product_unref(start->product);
	g_clear_pointer(&start->image, ucv_stored_image_free);
	g_free(start->image_config);
	g_clear_pointer(&start->folders, g_ptr_array_unref);
	g_clear_pointer(&start->invocation, ucv_invocation_free);
	g_free(start);
}

/* Ends the operation: the run may start its next one. */
static void
container_start_finish(UcvContainerStart *start)
{
	UcvJobRun *run = g_steal_pointer(&start->run);
	UcvEngine *engine = g_object_ref(start->engine);

	container_start_free(start);
	ucv_engine_finish_op(engine, run);
	g_object_unref(engine);
}

static void
container_start_fail(UcvContainerStart *start, const gchar *status)
{
	ucv_engine_provision_failed(start->engine, start->run, status);
	container_start_finish(start);
}

static gboolean
container_start_cancelled(UcvContainerStart *start, GError *error)
{
	if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && !start->run->terminating)
		return FALSE;
	container_start_finish(start);
	return TRUE;
}

static void container_start_next_rank(UcvContainerStart *start);

static void
on_domain_started(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvContainerStart *start = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvDomainStartResult) result = NULL;
	g_autofree gchar *status = NULL;

	result = ucv_hypervisor_start_domain_finish(UCV_HYPERVISOR(source), res, &error);
	if (result == NULL && container_start_cancelled(start, error))
		return;
	if (result == NULL && g_error_matches(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE)) {
		ucv_engine_retry_provision_later(start->engine, start->run, error->message);
		container_start_finish(start);
		return;
	}
	if (result == NULL) {
		status = g_strdup_printf(_("The container host could not start: %s"),
					 error->message);
		container_start_fail(start, status);
		return;
	}
	/* a restart found it running already: no STARTED event will come */
	if (result->outcome == UCV_DOMAIN_START_WAS_RUNNING)
		ucv_engine_rank_started(start->engine, start->run, start->rank);
	start->rank++;
	container_start_next_rank(start);
}

/* The rank's OCI runtime config: the job's /work and folders come from the virtiofs share. */
static gboolean
write_rank_config(UcvContainerStart *start, const gchar *path, GError **error)
{
	g_autoptr(GArray) mounts = g_array_new(FALSE, TRUE, sizeof(UcvOciMount));
	g_autoptr(GPtrArray) sources = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *config = NULL;
	UcvOciMount work = {UCV_AGENT_SHARE_DIR "/" UCV_JOB_FOLDERS_WORK_SHARE,
			    UCV_JOB_FOLDERS_WORK_TARGET, FALSE};
	UcvOciJob job = {
		.job_id = start->job->id,
		.rank = start->rank,
		.replicas = start->job->replicas,
		.run_as_root = start->job->run_as_root,
		.memory_bytes = (guint64)start->product->memory_gigs << 30,
		.hostname = start->job->hostname,
	};

	g_array_append_val(mounts, work);
	for (guint i = 0; i < start->folders->len; i++) {
		UcvStagedFolder *folder = g_ptr_array_index(start->folders, i);
		gchar *source = g_build_filename(UCV_AGENT_SHARE_DIR, folder->share_name, NULL);
		UcvOciMount mount = {source, folder->target, folder->read_only};

		g_ptr_array_add(sources, source);
		g_array_append_val(mounts, mount);
	}
	job.mounts = (const UcvOciMount *)mounts->data;
	job.n_mounts = mounts->len;
	config = ucv_oci_config_build(start->image_config, start->invocation, &job, error);
	return config != NULL &&
	       g_file_set_contents_full(path, config, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
					error);
}

static gchar *
render_rank_domain(UcvContainerStart *start, const gchar *name, GError **error)
{
	const UcvConfig *config = start->engine->config;
	UcvJob *job = start->job;
	const gchar *state_dir = config->state_dir;
	g_autofree gchar *config_file =
		ucv_job_files_container_config(state_dir, job->id, start->rank);
	g_autofree gchar *log = ucv_job_files_console_log(state_dir, job->id, start->rank);
	g_autofree gchar *socket = ucv_job_files_agent_socket(state_dir, job->id, start->rank);
	g_autofree gchar *share = ucv_job_files_share_dir(state_dir, job->id);
	g_autofree gchar *app = g_strdup_printf("%s@%s", job->app_name, job->app_version);
	g_autofree gchar *title = g_strdup_printf(
		"UCloud job %s rank %u: %s (%s) for %s", job->id, start->rank,
		job->name != NULL ? job->name : job->app_name, job->product_id, job->created_by);
	UcvDomainSpec spec = {
		.name = name,
		.title = title,
		.domain_type = config->domain_type,
		.vcpus = start->product->cpu,
		.memory_mib = (guint64)start->product->memory_gigs * 1024,
		.disk_path = start->image->erofs_path,
		.console_log = log,
		.network = config->network,
		.job_id = job->id,
		.rank = start->rank,
		.owner = job->created_by,
		.project = job->project,
		.product = job->product_id,
		.application = app,
		.kernel = config->container_kernel,
		.initrd = config->container_initrd,
		.config_file = config_file,
		.agent_socket = socket,
		.share_dir = share,
		.image_digest = start->image->digest,
	};

	if (!write_rank_config(start, config_file, error))
		return NULL;
	return ucv_domain_xml_render(&spec, error);
}

static void
container_start_rank(UcvContainerStart *start)
{
	UcvEngine *engine = start->engine;
	g_autofree gchar *name = ucv_domain_name_for(start->job->id, start->rank);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xml = NULL;
	g_autofree gchar *status = NULL;

	xml = render_rank_domain(start, name, &error);
	if (xml == NULL ||
	    !ucv_store_add_domain(engine->store, start->job->id, start->rank, name, &error)) {
		status = g_strdup_printf(_("The container host could not be defined: %s"),
					 error->message);
		container_start_fail(start, status);
		return;
	}
	ucv_job_log(G_LOG_LEVEL_MESSAGE, start->job->id, name, "job %s: starting %s (image %s)",
		    start->job->id, name, start->image->digest);
	ucv_hypervisor_start_domain_async(engine->hypervisor, xml, start->run->cancellable,
					  on_domain_started, start);
}

static void
container_start_next_rank(UcvContainerStart *start)
{
	if (start->run->terminating || start->rank >= start->job->replicas) {
		container_start_finish(start);
		return;
	}
	container_start_rank(start);
}

static gchar *
lookup_file_path(const gchar *ucloud_path, gpointer user_data)
{
	UcvContainerStart *start = user_data;

	return g_strdup(ucv_job_folders_lookup_target(start->folders, ucloud_path));
}

/* The job's /work, kept after the job with its output; UCloud's user must be able to write it. */
static gboolean
prepare_work_dir(UcvContainerStart *start, const gchar *work, GError **error)
{
	uid_t owner = start->job->run_as_root ? 0 : UCV_OCI_UCLOUD_UID;

	if (g_mkdir_with_parents(work, 0755) != 0 || chown(work, owner, owner) != 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot prepare %s: %s", work,
			    g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/* The job's folders as one share, then its command line with their paths inside the job. */
static gboolean
stage_folders(UcvContainerStart *start, GError **error)
{
	const UcvConfig *config = start->engine->config;
	g_autofree gchar *share = ucv_job_files_share_dir(config->state_dir, start->job->id);
	g_autofree gchar *work = ucv_job_files_work_dir(config->state_dir, start->job->id);
	g_autoptr(JsonNode) node = json_from_string(start->job->json, error);
	g_autoptr(GPtrArray) requests = NULL;
	UcvInvocationPaths paths = {lookup_file_path, start};

	if (node == NULL)
		return FALSE;
	requests = ucv_job_folders_requests_from_job(node, error);
	/* an earlier attempt (before a restart) may have left its share */
	if (requests == NULL || !ucv_job_folders_unstage(share, error) ||
	    !prepare_work_dir(start, work, error) ||
	    !ucv_job_folders_stage(config->drive_root, share, work, requests, &start->folders,
				   error))
		return FALSE;
	start->invocation = ucv_invocation_build(node, &paths, error);
	return start->invocation != NULL;
}

static void
on_image_ready(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvContainerStart *start = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *status = NULL;

	start->image = ucv_image_store_ensure_finish(UCV_IMAGE_STORE(source), res, &error);
	if (start->image == NULL && container_start_cancelled(start, error))
		return;
	if (start->image == NULL ||
	    !g_file_get_contents(start->image->config_path, &start->image_config, NULL, &error)) {
		status = g_strdup_printf(_("The container image %s is not available: %s"),
					 start->job->image, error->message);
		container_start_fail(start, status);
		return;
	}
	if (!stage_folders(start, &error)) {
		status = g_strdup_printf(_("The job cannot start: %s"), error->message);
		container_start_fail(start, status);
		return;
	}
	g_free(start->run->start_note);
	start->run->start_note = g_strdup(_("The job is running"));
	container_start_next_rank(start);
}

static void
on_pull_progress(guint percent, gpointer user_data)
{
	UcvContainerStart *start = user_data;
	g_autofree gchar *status = NULL;
	gint64 now = g_get_monotonic_time();

	if (start->run->terminating || percent < start->reported_percent + UCV_PULL_REPORT_STEP ||
	    now - start->reported_us < UCV_PULL_REPORT_US)
		return;
	start->reported_percent = percent;
	start->reported_us = now;
	status = g_strdup_printf(_("Pulling image: %u %%"), percent);
	ucv_engine_set_state(start->engine, start->run->job_id, UCV_JOB_STATE_IN_QUEUE, status);
}

void
ucv_engine_start_container_job(UcvEngine *self, UcvJobRun *run, UcvJob *job, UcvProduct *product)
{
	UcvContainerStart *start = g_new0(UcvContainerStart, 1);

	start->engine = g_object_ref(self);
	start->run = run;
	start->job = ucv_job_ref(job);
	start->product = ucv_product_ref(product);
	start->reported_us = g_get_monotonic_time();
	ucv_image_store_ensure_async(self->container_images, job->image, on_pull_progress, start,
				     run->cancellable, on_image_ready, start);
}

void
ucv_engine_unstage_container_folders(UcvEngine *self, const gchar *job_id)
{
	g_autofree gchar *share = ucv_job_files_share_dir(self->config->state_dir, job_id);
	g_autoptr(GError) error = NULL;

	/* never removed recursively: what is left is the user's data, held by a mount */
	if (!ucv_job_folders_unstage(share, &error))
		ucv_job_log(G_LOG_LEVEL_WARNING, job_id, NULL,
			    "job %s: its folders are still staged: %s", job_id, error->message);
}
