/* Core's documented verify: jobs Core believes active that the provider lost or never saw. */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include <glib/gi18n.h>

#include "engine/ucv-engine-private.h"

/* A job Core has but the provider never saw: stored as received, then failed. */
static void
verify_unknown_job(UcvEngine *self, UcvJob *job)
{
	g_autoptr(GPtrArray) jobs = g_ptr_array_new();
	g_autoptr(GError) error = NULL;

	g_ptr_array_add(jobs, job);
	if (!ucv_store_insert_jobs(self->store, jobs, &error)) {
		g_warning("job %s: cannot record it for verify: %s", job->id, error->message);
		return;
	}
	ucv_engine_set_state(self, job->id, UCV_JOB_STATE_FAILURE,
			     _("The provider does not know this job"));
}

/* The job ended here, yet Core still thinks it runs: tell it the end again. */
static void
verify_finished_job(UcvEngine *self, UcvStoredJob *stored)
{
	g_autoptr(UcvJobUpdate) update = ucv_job_update_new_state(stored->state, stored->status);
	g_autoptr(GError) error = NULL;

	if (!ucv_store_record_update(self->store, stored->job->id, update, &error)) {
		g_warning("job %s: cannot repeat its end: %s", stored->job->id, error->message);
		return;
	}
	ucv_outbox_sender_kick(self->sender);
}

gboolean
ucv_engine_verify_jobs(UcvEngine *self, GPtrArray *jobs, GError **error)
{
	for (guint i = 0; i < jobs->len; i++) {
		UcvJob *job = g_ptr_array_index(jobs, i);
		g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, job->id, NULL);

		if (stored == NULL)
			verify_unknown_job(self, job);
		else if (ucv_job_state_is_final(stored->state))
			verify_finished_job(self, stored);
	}
	/* machines of active jobs that were lost are found by a reconciliation */
	ucv_engine_reconcile(self);
	return TRUE;
}
