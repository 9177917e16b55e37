/* The engine's side of the scheduler: host size from libvirt, the admission gate, queue statuses.
 */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include <glib/gi18n.h>

#include "engine/ucv-engine-private.h"
#include "model/ucv-error.h"
#include "virt/ucv-domain-xml.h"

typedef struct {
	guint cpus;
	guint64 memory_mib;
	guint gpus;
} UcvJobNeeds;

/* Every rank gets the whole product. */
static UcvJobNeeds
job_needs(const UcvProduct *product, guint replicas)
{
	UcvJobNeeds needs = {
		.cpus = product->cpu * replicas,
		.memory_mib = (guint64)product->memory_gigs * 1024 * replicas,
		.gpus = product->gpu * replicas,
	};
	return needs;
}

UcvScheduler *
ucv_engine_get_scheduler(UcvEngine *self)
{
	g_return_val_if_fail(UCV_IS_ENGINE(self), NULL);
	return self->scheduler;
}

static void
on_admitted(UcvScheduler *scheduler, const gchar *job_id, UcvEngine *self)
{
	UcvJobRun *run = ucv_engine_get_run(self, job_id);

	ucv_job_log(G_LOG_LEVEL_MESSAGE, job_id, NULL, "job %s: capacity is free, starting",
		    job_id);
	if (!run->terminating)
		ucv_engine_queue_provision(self, run);
}

static void
on_position_changed(UcvScheduler *scheduler, const gchar *job_id, guint ahead, UcvEngine *self)
{
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, job_id, NULL);
	g_autofree gchar *status = NULL;

	if (stored == NULL || stored->state != UCV_JOB_STATE_IN_QUEUE || stored->terminating)
		return;
	status = g_strdup_printf(ngettext("Waiting for capacity (%u job ahead)",
					  "Waiting for capacity (%u jobs ahead)", ahead),
				 ahead);
	ucv_engine_set_state(self, job_id, UCV_JOB_STATE_IN_QUEUE, status);
}

/* Accepted before the host's size was known, and too large for it after all. */
static void
on_rejected(UcvScheduler *scheduler, const gchar *job_id, const gchar *why, UcvEngine *self)
{
	ucv_engine_set_state(self, job_id, UCV_JOB_STATE_FAILURE, why);
	ucv_engine_queue_cleanup(self, ucv_engine_get_run(self, job_id), UCV_JOB_STATE_IN_QUEUE,
				 NULL);
}

void
ucv_engine_capacity_init(UcvEngine *self)
{
	const UcvConfig *config = self->config;

	self->scheduler = ucv_scheduler_new(config->reserved_cpus, config->reserved_memory_mib,
					    config->cpu_overcommit, config->memory_overcommit,
					    (const gchar *const *)config->gpu_devices);
	g_signal_connect_object(self->scheduler, "admitted", G_CALLBACK(on_admitted), self, 0);
	g_signal_connect_object(self->scheduler, "position-changed",
				G_CALLBACK(on_position_changed), self, 0);
	g_signal_connect_object(self->scheduler, "rejected", G_CALLBACK(on_rejected), self, 0);
}

gboolean
ucv_engine_capacity_check(UcvEngine *self, UcvJob *job, GError **error)
{
	UcvProduct *product = ucv_engine_find_product(self, job->product_id);
	UcvJobNeeds needs;

	if (product == NULL)
		return TRUE;
	needs = job_needs(product, job->replicas);
	if (ucv_scheduler_fits_host(self->scheduler, needs.cpus, needs.memory_mib, needs.gpus,
				    error))
		return TRUE;
	g_prefix_error(error, _("Job %s can never run on this provider: "), job->id);
	return FALSE;
}

gboolean
ucv_engine_capacity_admit(UcvEngine *self, UcvJobRun *run, guint *jobs_ahead)
{
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, run->job_id, NULL);
	UcvProduct *product;
	UcvJobNeeds needs;

	/* provisioning itself settles jobs that ended, vanished or lost their product */
	if (stored == NULL || ucv_job_state_is_final(stored->state) || run->terminating)
		return TRUE;
	product = ucv_engine_find_product(self, stored->job->product_id);
	if (product == NULL)
		return TRUE;
	needs = job_needs(product, stored->job->replicas);
	/* a queued job's status follows from "position-changed" */
	return ucv_scheduler_request(self->scheduler, run->job_id, needs.cpus, needs.memory_mib,
				     needs.gpus, jobs_ahead) == UCV_SCHEDULER_ADMITTED;
}

void
ucv_engine_capacity_claim(UcvEngine *self, UcvJob *job)
{
	UcvProduct *product = ucv_engine_find_product(self, job->product_id);
	UcvJobNeeds needs;

	if (product == NULL)
		return;
	needs = job_needs(product, job->replicas);
	ucv_scheduler_claim(self->scheduler, job->id, needs.cpus, needs.memory_mib, needs.gpus,
			    NULL);
}

void
ucv_engine_capacity_release(UcvEngine *self, const gchar *job_id)
{
	ucv_scheduler_release(self->scheduler, job_id);
}

GStrv
ucv_engine_capacity_rank_gpus(UcvEngine *self, const gchar *job_id, guint rank, guint per_rank)
{
	const gchar *const *held = ucv_scheduler_get_gpus(self->scheduler, job_id);
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	guint n_held = held != NULL ? g_strv_length((gchar **)held) : 0;

	/* rank r has the r-th group of per_rank addresses */
	for (guint i = rank * per_rank; i < (rank + 1) * per_rank && i < n_held; i++)
		g_strv_builder_add(builder, held[i]);
	return g_strv_builder_end(builder);
}

static void
on_node_info(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvEngine) self = user_data;
	g_autoptr(GError) error = NULL;
	UcvNodeInfo info = {0};

	if (!ucv_hypervisor_get_node_info_finish(UCV_HYPERVISOR(source), res, &info, &error)) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			g_warning("cannot learn the host's size: %s", error->message);
		return;
	}
	ucv_scheduler_set_host(self->scheduler, info.cpus, info.memory_mib);
}

static gboolean
job_holds_host(UcvStoredJob *stored, GHashTable *domains)
{
	if (stored->state == UCV_JOB_STATE_RUNNING)
		return TRUE;
	for (guint rank = 0; rank < stored->job->replicas; rank++) {
		g_autofree gchar *name = ucv_domain_name_for(stored->job->id, rank);
		UcvDomainInfo *info = g_hash_table_lookup(domains, name);
		if (info != NULL && info->active)
			return TRUE;
	}
	return FALSE;
}

/* The GPUs the job's machines were given, rank by rank, as their metadata says. */
static GStrv
held_gpus(UcvStoredJob *stored, GHashTable *domains)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();

	for (guint rank = 0; rank < stored->job->replicas; rank++) {
		g_autofree gchar *name = ucv_domain_name_for(stored->job->id, rank);
		UcvDomainInfo *info = g_hash_table_lookup(domains, name);

		if (info != NULL && info->gpu_devices != NULL)
			g_strv_builder_addv(builder, (const gchar **)info->gpu_devices);
	}
	return g_strv_builder_end(builder);
}

void
ucv_engine_capacity_reclaim(UcvEngine *self, GPtrArray *jobs, GHashTable *domains)
{
	/* jobs that run already take their share before any waiting job is admitted; the
	 * scheduler admits nothing before it knows the host, which is asked only now */
	for (guint i = 0; i < jobs->len; i++) {
		UcvStoredJob *stored = g_ptr_array_index(jobs, i);
		UcvProduct *product = ucv_engine_find_product(self, stored->job->product_id);
		g_auto(GStrv) gpus = NULL;
		UcvJobNeeds needs;

		if (ucv_job_state_is_final(stored->state) || product == NULL ||
		    !job_holds_host(stored, domains))
			continue;
		needs = job_needs(product, stored->job->replicas);
		gpus = held_gpus(stored, domains);
		ucv_scheduler_claim(self->scheduler, stored->job->id, needs.cpus, needs.memory_mib,
				    needs.gpus, (const gchar *const *)gpus);
	}
	ucv_hypervisor_get_node_info_async(self->hypervisor, self->cancellable, on_node_info,
					   g_object_ref(self));
}
