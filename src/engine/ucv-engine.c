/* The engine: job creation and termination, libvirt events, and each job's state. */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include "ucv-engine.h"

#include <errno.h>
#include <glib/gi18n.h>

#include "engine/ucv-container-watch.h"
#include "engine/ucv-engine-private.h"
#include "model/ucv-error.h"

G_DEFINE_TYPE(UcvEngine, ucv_engine, G_TYPE_OBJECT)

enum { SIGNAL_JOB_IDLE, SIGNAL_JOB_STATE, SIGNAL_JOB_STOPPING, SIGNAL_LAST };
static guint signals[SIGNAL_LAST] = {0};

UcvProduct *
ucv_engine_find_product(UcvEngine *self, const gchar *product_id)
{
	return ucv_product_list_find(self->products, product_id);
}

UcvJobRun *
ucv_engine_get_run(UcvEngine *self, const gchar *job_id)
{
	UcvJobRun *run = g_hash_table_lookup(self->runs, job_id);

	if (run == NULL) {
		run = ucv_job_run_new(job_id, self);
		g_hash_table_insert(self->runs, run->job_id, run);
	}
	return run;
}

void
ucv_engine_set_state(UcvEngine *self, const gchar *job_id, UcvJobState state, const gchar *status)
{
	g_autoptr(UcvJobUpdate) update = ucv_job_update_new_state(state, status);
	g_autoptr(UcvStoredJob) stored = NULL;
	g_autoptr(GError) error = NULL;
	UcvJobRun *run;

	stored = ucv_store_lookup_job(self->store, job_id, &error);
	if (stored == NULL) {
		ucv_job_log(G_LOG_LEVEL_WARNING, job_id, NULL, "job %s: cannot record %s: %s",
			    job_id, ucv_job_state_to_string(state),
			    error != NULL ? error->message : "unknown job");
		return;
	}
	if (ucv_job_state_is_final(stored->state)) {
		g_debug("job %s already ended as %s; not reporting %s", job_id,
			ucv_job_state_to_string(stored->state), ucv_job_state_to_string(state));
		return;
	}
	if (stored->state == state && g_strcmp0(stored->status, status) == 0)
		return;
	if (!ucv_store_record_update(self->store, job_id, update, &error)) {
		ucv_job_log(G_LOG_LEVEL_WARNING, job_id, NULL, "job %s: cannot record %s: %s",
			    job_id, ucv_job_state_to_string(state), error->message);
		return;
	}
	run = g_hash_table_lookup(self->runs, job_id);
	if (run != NULL)
		run->settled_us = g_get_monotonic_time();
	ucv_job_log(G_LOG_LEVEL_MESSAGE, job_id, NULL, "job %s: %s (%s)", job_id,
		    ucv_job_state_to_string(state), status != NULL ? status : "");
	ucv_outbox_sender_kick(self->sender);
	/* the job's final usage goes to Core without waiting for the next round */
	if (ucv_job_state_is_final(state))
		ucv_accountant_kick(self->accountant);
	g_signal_emit(self, signals[SIGNAL_JOB_STATE], 0, job_id, (gint)state);
}

void
ucv_engine_stopping(UcvEngine *self, const gchar *job_id, UcvJobState next_state)
{
	g_signal_emit(self, signals[SIGNAL_JOB_STOPPING], 0, job_id, (gint)next_state);
}

void
ucv_engine_rank_started(UcvEngine *self, UcvJobRun *run, guint rank)
{
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, run->job_id, NULL);

	g_hash_table_add(run->started_ranks, GUINT_TO_POINTER(rank));
	run->settled_us = g_get_monotonic_time();
	/* also after a restart: the agent greets every new connection */
	if (stored != NULL && stored->job->backend == UCV_BACKEND_DOCKER && !run->terminating &&
	    !ucv_job_state_is_final(stored->state))
		ucv_engine_container_watch(self, run, rank);
	/* queued jobs start; suspended ones resume (an admin may restore a managed save) */
	if (stored == NULL || run->terminating ||
	    (stored->state != UCV_JOB_STATE_IN_QUEUE && stored->state != UCV_JOB_STATE_SUSPENDED))
		return;
	if (g_hash_table_size(run->started_ranks) < stored->job->replicas)
		return;
	if (stored->state == UCV_JOB_STATE_SUSPENDED)
		ucv_engine_capacity_claim(self, stored->job);
	ucv_engine_set_state(self, run->job_id, UCV_JOB_STATE_RUNNING,
			     run->start_note != NULL ? run->start_note
						     : _("The virtual machine is running"));
	g_clear_pointer(&run->start_note, g_free);
	ucv_engine_start_clock(self, run);
}

gboolean
ucv_engine_parse_domain_name(const gchar *name, gchar **job_id, guint *rank)
{
	const gchar *dash;
	guint64 parsed = 0;

	if (!g_str_has_prefix(name, "ucloud-"))
		return FALSE;
	dash = strrchr(name, '-');
	if (dash == NULL || dash <= name + strlen("ucloud-"))
		return FALSE;
	if (!g_ascii_string_to_unsigned(dash + 1, 10, 0, G_MAXUINT, &parsed, NULL))
		return FALSE;
	*job_id = g_strndup(name + strlen("ucloud-"), dash - name - strlen("ucloud-"));
	*rank = (guint)parsed;
	return TRUE;
}

/* What a domain stopping on its own means for the job. */
static void
stop_reason(UcvDomainEvent event, UcvJobState *state, const gchar **status)
{
	switch (event) {
	case UCV_DOMAIN_EVENT_SHUTDOWN:
		*state = UCV_JOB_STATE_SUCCESS;
		*status = _("The virtual machine powered off");
		return;
	case UCV_DOMAIN_EVENT_DESTROYED:
		*state = UCV_JOB_STATE_SUCCESS;
		*status = _("The virtual machine was stopped outside UCloud by an administrator");
		return;
	case UCV_DOMAIN_EVENT_CRASHED:
		*state = UCV_JOB_STATE_FAILURE;
		*status = _("The virtual machine crashed");
		return;
	default:
		*state = UCV_JOB_STATE_FAILURE;
		*status = _("The virtual machine stopped unexpectedly");
		return;
	}
}

static void
on_domain_event(UcvHypervisor *hypervisor, const gchar *name, UcvDomainEvent event, UcvEngine *self)
{
	g_autofree gchar *job_id = NULL;
	g_autoptr(UcvStoredJob) stored = NULL;
	UcvJobRun *run;
	guint rank = 0;
	UcvJobState state = UCV_JOB_STATE_FAILURE;
	const gchar *status = NULL;
	g_autofree gchar *exit_status = NULL;
	gint code = 0;

	if (!ucv_engine_parse_domain_name(name, &job_id, &rank))
		return;
	stored = ucv_store_lookup_job(self->store, job_id, NULL);
	if (stored == NULL || ucv_job_state_is_final(stored->state)) {
		g_debug("event %s for %s, which belongs to no active job",
			ucv_domain_event_to_string(event), name);
		return;
	}
	run = ucv_engine_get_run(self, job_id);
	ucv_job_log(G_LOG_LEVEL_INFO, job_id, name, "job %s: domain %s: %s", job_id, name,
		    ucv_domain_event_to_string(event));
	if (event == UCV_DOMAIN_EVENT_STARTED) {
		ucv_engine_rank_started(self, run, rank);
		return;
	}
	if (event == UCV_DOMAIN_EVENT_UNDEFINED || event == UCV_DOMAIN_EVENT_OTHER ||
	    run->terminating)
		return;
	g_hash_table_remove(run->started_ranks, GUINT_TO_POINTER(rank));
	/* our own suspend: its event may come while it runs or after it is done */
	if (event == UCV_DOMAIN_EVENT_SAVED &&
	    (run->suspending || stored->state == UCV_JOB_STATE_SUSPENDED))
		return;
	if (event == UCV_DOMAIN_EVENT_SAVED) {
		/* the machine's memory is on disk: the job is suspended, not over */
		ucv_engine_set_state(self, job_id, UCV_JOB_STATE_SUSPENDED,
				     _("The virtual machine was suspended outside UCloud by an "
				       "administrator"));
		/* its memory is on disk: the host is free for others */
		ucv_engine_capacity_release(self, job_id);
		return;
	}
	/* a start that failed (a restore QEMU could not load, say) is the starting operation's to
	 * judge: it may still boot the machine afresh */
	if (event == UCV_DOMAIN_EVENT_FAILED && !ucv_job_run_is_idle(run) &&
	    stored->state != UCV_JOB_STATE_RUNNING)
		return;
	stop_reason(event, &state, &status);
	if (event == UCV_DOMAIN_EVENT_SHUTDOWN && ucv_engine_container_exit_code(run, rank, &code))
		status = exit_status =
			g_strdup_printf(_("The job's program exited with code %d"), code);
	/* record first: the outcome is durable before the cleanup that follows */
	ucv_engine_set_state(self, job_id, state, status);
	ucv_engine_queue_cleanup(self, run, state, status);
}

static gboolean
on_sweep(gpointer user_data)
{
	UcvEngine *self = user_data;

	if (ucv_hypervisor_is_connected(self->hypervisor))
		ucv_engine_reconcile(self);
	return G_SOURCE_CONTINUE;
}

static void
on_hypervisor_connected(UcvHypervisor *hypervisor, UcvEngine *self)
{
	ucv_engine_reconcile(self);
}

/* What Core's request itself must get right; the application may still be unresolved. */
static gboolean
validate_job(UcvEngine *self, UcvJob *job, GError **error)
{
	if (ucv_engine_find_product(self, job->product_id) == NULL) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    _("Job %s asks for product '%s', which this provider does not offer"),
			    job->id, job->product_id != NULL ? job->product_id : "");
		return FALSE;
	}
	if (job->disk_size_gib != 0 && (job->disk_size_gib < self->config->disk_min_gib ||
					job->disk_size_gib > self->config->disk_max_gib)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    _("Job %s asks for a %u GiB disk; this provider offers %u to %u GiB"),
			    job->id, (guint)job->disk_size_gib, self->config->disk_min_gib,
			    self->config->disk_max_gib);
		return FALSE;
	}
	if (job->replicas < 1) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    _("Job %s asks for %u machines; at least one is needed"), job->id,
			    job->replicas);
		return FALSE;
	}
	if (!ucv_engine_capacity_check(self, job, error))
		return FALSE;
	/* the documented API may leave the application out: it is fetched before provisioning */
	if (!job->app_resolved)
		return TRUE;
	return ucv_engine_validate_application(self, job, error);
}

guint64
ucv_engine_disk_size_bytes(UcvEngine *self, UcvJob *job)
{
	guint64 gib = job->disk_size_gib > 0 ? (guint64)job->disk_size_gib
					     : self->config->disk_default_gib;

	return gib * 1024 * 1024 * 1024;
}

gboolean
ucv_engine_validate_application(UcvEngine *self, UcvJob *job, GError **error)
{
	gboolean docker = job->backend == UCV_BACKEND_DOCKER && self->features.docker_enabled;

	if (job->backend != UCV_BACKEND_VIRTUAL_MACHINE && !docker) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    _("Applications with the %s backend are not supported by this "
			      "provider"),
			    job->backend_name != NULL ? job->backend_name : "unknown");
		return FALSE;
	}
	if (job->image == NULL || job->image[0] == '\0') {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    docker ? _("The application of job %s names no container image")
				   : _("The application of job %s names no virtual machine image"),
			    job->id);
		return FALSE;
	}
	return TRUE;
}

gboolean
ucv_engine_create_jobs(UcvEngine *self, GPtrArray *jobs, GError **error)
{
	g_autoptr(GPtrArray) fresh = g_ptr_array_new();

	for (guint i = 0; i < jobs->len; i++) {
		if (!validate_job(self, g_ptr_array_index(jobs, i), error))
			return FALSE;
	}
	/* Core may repeat a create after a timeout: known jobs are already accepted */
	for (guint i = 0; i < jobs->len; i++) {
		UcvJob *job = g_ptr_array_index(jobs, i);
		g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, job->id, NULL);
		if (stored == NULL)
			g_ptr_array_add(fresh, job);
	}
	/* the site's default limit for jobs that come without an allocation */
	for (guint i = 0; i < fresh->len; i++) {
		UcvJob *job = g_ptr_array_index(fresh, i);
		if (job->time_allocation_ms == 0)
			job->time_allocation_ms = (gint64)self->config->default_time_limit_s * 1000;
	}
	if (fresh->len > 0 && !ucv_store_insert_jobs(self->store, fresh, error))
		return FALSE;
	for (guint i = 0; i < fresh->len; i++) {
		UcvJob *job = g_ptr_array_index(fresh, i);
		ucv_job_log(G_LOG_LEVEL_MESSAGE, job->id, NULL,
			    "job %s: accepted (%s, %u machine(s), image %s)", job->id,
			    job->product_id, job->replicas, job->image);
		ucv_engine_queue_provision(self, ucv_engine_get_run(self, job->id));
	}
	return TRUE;
}

gboolean
ucv_engine_terminate_job(UcvEngine *self, const gchar *job_id, const gchar *status, GError **error)
{
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, job_id, NULL);
	UcvJobRun *run;

	if (stored == NULL) {
		g_debug("terminate of unknown job %s: nothing to do", job_id);
		return TRUE;
	}
	run = ucv_engine_get_run(self, job_id);
	if (run->terminating)
		return TRUE;
	ucv_job_log(G_LOG_LEVEL_MESSAGE, job_id, NULL, "job %s: terminating (%s)", job_id, status);
	if (!ucv_job_state_is_final(stored->state) &&
	    !ucv_store_mark_terminating(self->store, job_id, error))
		return FALSE;
	run->terminating = TRUE;
	g_cancellable_cancel(run->cancellable);
	ucv_engine_queue_cleanup(self, run, UCV_JOB_STATE_SUCCESS, status);
	return TRUE;
}

gboolean
ucv_engine_terminate_jobs(UcvEngine *self, GPtrArray *job_ids, GError **error)
{
	for (guint i = 0; i < job_ids->len; i++) {
		if (!ucv_engine_terminate_job(self, g_ptr_array_index(job_ids, i),
					      _("The job was cancelled"), error))
			return FALSE;
	}
	return TRUE;
}

GPtrArray *
ucv_engine_get_products(UcvEngine *self)
{
	return self->products;
}

const UcvFeatures *
ucv_engine_get_features(UcvEngine *self)
{
	return &self->features;
}

void
ucv_engine_finish_op(UcvEngine *self, UcvJobRun *run)
{
	g_autofree gchar *job_id = g_strdup(run->job_id);

	ucv_job_run_ref(run);
	ucv_job_run_op_done(run);
	/* op_done may have started the next operation already */
	if (ucv_job_run_is_idle(run))
		ucv_engine_emit_job_idle(self, job_id);
	ucv_job_run_unref(run);
}

void
ucv_engine_emit_job_idle(UcvEngine *self, const gchar *job_id)
{
	g_signal_emit(self, signals[SIGNAL_JOB_IDLE], 0, job_id);
}

gboolean
ucv_engine_start(UcvEngine *self, GError **error)
{
	g_autofree gchar *jobs_dir = g_build_filename(self->config->state_dir, "jobs", NULL);

	if (g_mkdir_with_parents(jobs_dir, 0711) != 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG, "cannot create %s: %s", jobs_dir,
			    g_strerror(errno));
		return FALSE;
	}
	g_signal_connect_object(self->hypervisor, "domain-event", G_CALLBACK(on_domain_event), self,
				0);
	g_signal_connect_object(self->hypervisor, "connected", G_CALLBACK(on_hypervisor_connected),
				self, 0);
	/* the first reconciliation follows the hypervisor's "connected", emitted from an idle;
	 * the sweep catches what events missed (e.g. while libvirtd was away) */
	self->sweep_source =
		g_timeout_add_seconds(self->config->reconcile_interval_s, on_sweep, self);
	ucv_outbox_sender_kick(self->sender);
	/* what the record holds since the last run goes out first */
	ucv_accountant_start(self->accountant);
	return TRUE;
}

static void
ucv_engine_dispose(GObject *object)
{
	UcvEngine *self = UCV_ENGINE(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_handle_id(&self->sweep_source, g_source_remove);
	if (self->runs != NULL) {
		GHashTableIter iter;
		UcvJobRun *run;

		g_hash_table_iter_init(&iter, self->runs);
		while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&run)) {
			g_clear_handle_id(&run->retry_source, g_source_remove);
			g_clear_handle_id(&run->expiry_source, g_source_remove);
		}
	}
	g_clear_pointer(&self->runs, g_hash_table_unref);
	g_clear_pointer(&self->foreign_domains, g_hash_table_unref);
	g_clear_object(&self->sender);
	g_clear_object(&self->accountant);
	g_clear_object(&self->scheduler);
	g_clear_object(&self->images);
	g_clear_object(&self->container_images);
	g_clear_object(&self->store);
	g_clear_object(&self->hypervisor);
	g_clear_object(&self->core);
	g_clear_pointer(&self->products, g_ptr_array_unref);
	g_clear_object(&self->cancellable);
	G_OBJECT_CLASS(ucv_engine_parent_class)->dispose(object);
}

static void
ucv_engine_class_init(UcvEngineClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = ucv_engine_dispose;
	signals[SIGNAL_JOB_IDLE] =
		g_signal_new("job-idle", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
			     NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
	/* a job's recorded state changed (job id, UcvJobState): consoles close when it stops
	 * running */
	signals[SIGNAL_JOB_STATE] =
		g_signal_new("job-state-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
			     NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_INT);
	/* the job's machines are about to stop (job id, the UcvJobState that follows): consoles
	 * close with the reason before they would see the machine vanish */
	signals[SIGNAL_JOB_STOPPING] =
		g_signal_new("job-stopping", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			     NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_INT);
}

static void
ucv_engine_init(UcvEngine *self)
{
	self->runs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					   (GDestroyNotify)ucv_job_run_unref);
	self->foreign_domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->cancellable = g_cancellable_new();
	self->features.vm_enabled = TRUE;
	self->features.vm_time_extension = TRUE;
	self->features.vm_suspension = TRUE;
	self->features.vm_vnc = TRUE;
	self->features.vm_terminal = TRUE;
	self->features.vm_logs = TRUE;
}

/* DOCKER jobs run where the container host is installed; their images are kept in the state
 * directory. */
static void
init_containers(UcvEngine *self)
{
	const UcvConfig *config = self->config;
	g_autofree gchar *dir = g_build_filename(config->state_dir, "container-images", NULL);
	g_autoptr(UcvRegistryClient) registry =
		ucv_registry_client_new((const gchar *const *)config->insecure_registries);

	self->container_images =
		ucv_image_store_new(dir, registry, (guint64)config->max_image_gib << 30,
				    (guint64)config->image_cache_gib << 30);
	if (!g_file_test(config->container_kernel, G_FILE_TEST_IS_REGULAR) ||
	    !g_file_test(config->container_initrd, G_FILE_TEST_IS_REGULAR)) {
		g_info("no container host at %s: DOCKER applications are not offered",
		       config->container_kernel);
		return;
	}
	self->features.docker_enabled = TRUE;
	self->features.docker_logs = TRUE;
	self->features.docker_time_extension = TRUE;
	self->features.docker_terminal = TRUE;
	/* each application needs a host name of its own under the site's domain */
	self->features.docker_web = config->web_domain[0] != '\0';
	self->features.docker_vnc = TRUE;
}

UcvEngine *
ucv_engine_new(const UcvConfig *config, GPtrArray *products, UcvStore *store,
	       UcvHypervisor *hypervisor, UcvCoreClient *core)
{
	UcvEngine *self = g_object_new(UCV_TYPE_ENGINE, NULL);

	self->config = config;
	self->products = g_ptr_array_ref(products);
	self->store = g_object_ref(store);
	self->hypervisor = g_object_ref(hypervisor);
	ucv_hypervisor_set_save_dir(hypervisor, config->save_dir);
	self->core = g_object_ref(core);
	self->sender = ucv_outbox_sender_new(store, core);
	ucv_engine_funds_init(self);
	self->images = ucv_image_cache_new(config->image_dir);
	init_containers(self);
	ucv_engine_capacity_init(self);
	return self;
}
