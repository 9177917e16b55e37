/* Reconciliation: the store's jobs against libvirt's domains, acting on every difference. */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include <glib/gi18n.h>

#include "engine/ucv-engine-private.h"
#include "virt/ucv-domain-xml.h"

typedef struct {
	guint active;
	guint missing;
	guint stopped; /* shut off, without a managed-save image */
	guint saved;   /* shut off into a managed-save image */
} UcvRankCount;

static UcvRankCount
count_ranks(UcvEngine *self, UcvJobRun *run, UcvStoredJob *stored, GHashTable *domains)
{
	UcvRankCount count = {0};

	for (guint rank = 0; rank < stored->job->replicas; rank++) {
		g_autofree gchar *name = ucv_domain_name_for(stored->job->id, rank);
		UcvDomainInfo *info = g_hash_table_lookup(domains, name);

		if (info == NULL) {
			count.missing++;
		} else if (info->active) {
			count.active++;
			g_hash_table_add(run->started_ranks, GUINT_TO_POINTER(rank));
		} else {
			if (info->has_managed_save)
				count.saved++;
			else
				count.stopped++;
			g_hash_table_remove(run->started_ranks, GUINT_TO_POINTER(rank));
		}
	}
	return count;
}

/* The machines were seen running at `listed_ms`: if they are found gone after a while unwatched,
 * the job is charged up to then and not for time nobody saw. */
static void
note_seen_running(UcvEngine *self, const gchar *job_id, gint64 listed_ms)
{
	g_autoptr(GError) error = NULL;

	if (!ucv_store_mark_running_seen(self->store, job_id, listed_ms, &error))
		g_warning("job %s: %s", job_id, error->message);
}

static void
end_running_at_last_seen(UcvEngine *self, const gchar *job_id)
{
	g_autoptr(GError) error = NULL;

	if (!ucv_store_end_running_at_last_seen(self->store, job_id, &error))
		g_warning("job %s: %s", job_id, error->message);
}

static void
reconcile_running_job(UcvEngine *self, UcvJobRun *run, UcvRankCount count, gint64 listed_ms)
{
	if (count.missing > 0 || count.stopped > 0 || count.saved > 0)
		end_running_at_last_seen(self, run->job_id);
	if (count.missing > 0) {
		ucv_engine_set_state(self, run->job_id, UCV_JOB_STATE_FAILURE,
				     _("The virtual machine disappeared"));
		ucv_engine_queue_cleanup(self, run, UCV_JOB_STATE_IN_QUEUE, NULL);
		return;
	}
	if (count.stopped > 0) {
		ucv_engine_set_state(self, run->job_id, UCV_JOB_STATE_SUCCESS,
				     _("The virtual machine stopped while the provider was away"));
		ucv_engine_queue_cleanup(self, run, UCV_JOB_STATE_IN_QUEUE, NULL);
		return;
	}
	if (count.saved > 0) {
		ucv_engine_set_state(self, run->job_id, UCV_JOB_STATE_SUSPENDED,
				     _("The virtual machine was suspended outside UCloud by an "
				       "administrator"));
		ucv_engine_capacity_release(self, run->job_id);
		return;
	}
	/* running as it should: its deadline still holds */
	note_seen_running(self, run->job_id, listed_ms);
	ucv_engine_start_clock(self, run);
}

static void
reconcile_job(UcvEngine *self, UcvStoredJob *stored, GHashTable *domains, gint64 listed_us,
	      gint64 listed_ms)
{
	UcvJobRun *run = ucv_engine_get_run(self, stored->job->id);
	UcvRankCount count;

	/* an operation in flight will settle the job itself, and one that settled after the
	 * domains were listed is newer than the list */
	if (!ucv_job_run_is_idle(run) || run->terminating || run->settled_us >= listed_us)
		return;
	if (stored->terminating) {
		/* a terminate was cut short by a restart: finish it */
		run->terminating = TRUE;
		ucv_engine_queue_cleanup(self, run, UCV_JOB_STATE_SUCCESS,
					 _("The job was cancelled"));
		return;
	}
	count = count_ranks(self, run, stored, domains);
	switch (stored->state) {
	case UCV_JOB_STATE_IN_QUEUE:
		/* a job that ran before (resumed, waiting for room) keeps its deadline */
		if (stored->deadline_ms != 0)
			ucv_engine_start_clock(self, run);
		if (count.active == stored->job->replicas)
			ucv_engine_rank_started(self, run, 0);
		else
			ucv_engine_queue_provision(self, run);
		return;
	case UCV_JOB_STATE_RUNNING:
		reconcile_running_job(self, run, count, listed_ms);
		return;
	case UCV_JOB_STATE_SUSPENDED:
		/* a suspended job's deadline keeps running in wall time, also after a restart */
		ucv_engine_start_clock(self, run);
		/* restored behind the provider's back: running again */
		if (count.active == stored->job->replicas)
			ucv_engine_rank_started(self, run, 0);
		else if (count.missing > 0 || count.stopped > 0)
			reconcile_running_job(self, run, count, listed_ms);
		return;
	default:
		return;
	}
}

/* A finished job whose cleanup was interrupted still owns domains: finish it. */
static void
reconcile_finished_job(UcvEngine *self, UcvStoredJob *stored)
{
	g_autoptr(GPtrArray) names = ucv_store_list_domains(self->store, stored->job->id, NULL);
	UcvJobRun *run;

	if (names == NULL || names->len == 0)
		return;
	run = ucv_engine_get_run(self, stored->job->id);
	if (ucv_job_run_is_idle(run))
		ucv_engine_queue_cleanup(self, run, UCV_JOB_STATE_IN_QUEUE, NULL);
}

/* Domains with our metadata that belong to no active job: an admin's, or leftovers; never ours
 * to destroy blindly. Each is reported once, not on every sweep. */
static void
report_foreign_domains(UcvEngine *self, GPtrArray *infos, GPtrArray *jobs)
{
	g_autoptr(GHashTable) active = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (guint i = 0; i < jobs->len; i++) {
		UcvStoredJob *stored = g_ptr_array_index(jobs, i);
		if (!ucv_job_state_is_final(stored->state))
			g_hash_table_add(active, stored->job->id);
	}
	for (guint i = 0; i < infos->len; i++) {
		UcvDomainInfo *info = g_ptr_array_index(infos, i);

		if (g_hash_table_contains(active, info->job_id))
			continue;
		g_hash_table_add(seen, g_strdup(info->name));
		if (g_hash_table_contains(self->foreign_domains, info->name))
			continue;
		ucv_job_log(G_LOG_LEVEL_MESSAGE, info->job_id, info->name,
			    "domain %s carries metadata of job %s, which is not active here; left "
			    "alone",
			    info->name, info->job_id);
	}
	/* a domain that goes away and comes back is reported again */
	g_clear_pointer(&self->foreign_domains, g_hash_table_unref);
	self->foreign_domains = g_steal_pointer(&seen);
}

/* One reconciliation: the domains as listed at `listed_us` against the store. */
typedef struct {
	UcvEngine *engine;
	gint64 listed_us; /* monotonic, against the jobs' latest changes */
	gint64 listed_ms; /* wall clock, as running stretches are kept */
} UcvReconcile;

static void
reconcile_free(UcvReconcile *helper)
{
	g_object_unref(helper->engine);
	g_free(helper);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvReconcile, reconcile_free)

static void
on_domains_listed(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvReconcile) helper = user_data;
	UcvEngine *self = helper->engine;
	g_autoptr(GPtrArray) infos = NULL;
	g_autoptr(GPtrArray) jobs = NULL;
	g_autoptr(GHashTable) domains = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GError) error = NULL;
	gint64 listed_until_us = g_get_monotonic_time();

	infos = ucv_hypervisor_list_domains_finish(UCV_HYPERVISOR(source), res, &error);
	if (infos == NULL) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			g_warning("cannot list domains to reconcile: %s", error->message);
		return;
	}
	jobs = ucv_store_list_jobs(self->store, UCV_STORE_JOBS_ACTIVE_OR_WITH_DOMAINS, &error);
	if (jobs == NULL) {
		g_warning("cannot list jobs to reconcile: %s", error->message);
		return;
	}
	for (guint i = 0; i < infos->len; i++) {
		UcvDomainInfo *info = g_ptr_array_index(infos, i);
		g_hash_table_insert(domains, info->name, info);
	}
	ucv_engine_capacity_reclaim(self, jobs, domains);
	for (guint i = 0; i < jobs->len; i++) {
		UcvStoredJob *stored = g_ptr_array_index(jobs, i);
		if (ucv_job_state_is_final(stored->state))
			reconcile_finished_job(self, stored);
		else
			reconcile_job(self, stored, domains, helper->listed_us, helper->listed_ms);
	}
	report_foreign_domains(self, infos, jobs);
	g_info("reconciled %u job(s) against %u domain(s) in %.1f ms (%.1f ms of it listing "
	       "domains, off the main loop)",
	       jobs->len, infos->len, (g_get_monotonic_time() - helper->listed_us) / 1000.0,
	       (listed_until_us - helper->listed_us) / 1000.0);
}

void
ucv_engine_reconcile(UcvEngine *self)
{
	/* listing every domain is a round trip per domain: not on the main loop */
	UcvReconcile *helper = g_new0(UcvReconcile, 1);

	helper->engine = g_object_ref(self);
	helper->listed_us = g_get_monotonic_time();
	helper->listed_ms = g_get_real_time() / 1000;
	ucv_hypervisor_list_domains_async(self->hypervisor, self->cancellable, on_domains_listed,
					  helper);
}
