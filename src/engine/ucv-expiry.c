/* Job time: the deadline set when a job starts running, expiry at the deadline, and extend. */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include <glib/gi18n.h>

#include "engine/ucv-engine-private.h"
#include "model/ucv-error.h"

static gint64
now_ms(void)
{
	return g_get_real_time() / 1000;
}

static gboolean
on_deadline(gpointer user_data)
{
	UcvJobRun *run = user_data;
	UcvEngine *self = run->owner;
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, run->job_id, NULL);

	run->expiry_source = 0;
	if (stored == NULL || ucv_job_state_is_final(stored->state) || run->terminating)
		return G_SOURCE_REMOVE;
	/* an extend may have moved the deadline since this timer was set */
	if (stored->deadline_ms > now_ms()) {
		ucv_engine_schedule_expiry(self, run, stored->deadline_ms);
		return G_SOURCE_REMOVE;
	}
	ucv_job_log(G_LOG_LEVEL_MESSAGE, run->job_id, NULL, "job %s: its time is up", run->job_id);
	/* not remembered as a terminate: a restart finds the deadline passed and expires it again
	 */
	run->terminating = TRUE;
	g_cancellable_cancel(run->cancellable);
	ucv_engine_queue_cleanup(self, run, UCV_JOB_STATE_EXPIRED, _("The job's time ran out"));
	return G_SOURCE_REMOVE;
}

void
ucv_engine_schedule_expiry(UcvEngine *self, UcvJobRun *run, gint64 deadline_ms)
{
	gint64 wait_ms = MAX(deadline_ms - now_ms(), 0);

	g_clear_handle_id(&run->expiry_source, g_source_remove);
	/* capped, so a clock change or a very long allocation is looked at again in time */
	run->expiry_source =
		g_timeout_add_full(G_PRIORITY_DEFAULT, MIN(wait_ms, 3600 * 1000), on_deadline,
				   ucv_job_run_ref(run), (GDestroyNotify)ucv_job_run_unref);
}

void
ucv_engine_start_clock(UcvEngine *self, UcvJobRun *run)
{
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, run->job_id, NULL);
	g_autoptr(GError) error = NULL;
	gint64 deadline_ms;

	if (stored == NULL || stored->time_allocation_ms <= 0)
		return;
	deadline_ms = stored->deadline_ms;
	if (deadline_ms == 0) {
		/* the allocation counts from the start, not from the queue */
		deadline_ms = now_ms() + stored->time_allocation_ms;
		if (!ucv_store_record_time(self->store, run->job_id, stored->time_allocation_ms,
					   deadline_ms, NULL, &error)) {
			g_warning("job %s: cannot store its deadline: %s", run->job_id,
				  error->message);
			return;
		}
	}
	ucv_engine_schedule_expiry(self, run, deadline_ms);
}

static gboolean
check_extendable(UcvEngine *self, const gchar *job_id, GError **error)
{
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, job_id, error);
	UcvJobRun *run = g_hash_table_lookup(self->runs, job_id);

	if (stored == NULL) {
		if (error != NULL && *error == NULL)
			g_set_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND,
				    _("Job %s is not known to this provider"), job_id);
		return FALSE;
	}
	if (ucv_job_state_is_final(stored->state) || (run != NULL && run->terminating)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    _("Job %s has ended; its time cannot be extended"), job_id);
		return FALSE;
	}
	return TRUE;
}

static gboolean
extend_job(UcvEngine *self, const gchar *job_id, gint64 added_ms, GError **error)
{
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, job_id, error);
	g_autoptr(UcvJobUpdate) update = ucv_job_update_new();
	gint64 deadline_ms;

	if (stored == NULL)
		return FALSE;
	/* a job without a limit keeps having none */
	if (stored->time_allocation_ms <= 0 || added_ms <= 0)
		return TRUE;
	update->new_time_allocation_ms = stored->time_allocation_ms + added_ms;
	deadline_ms = stored->deadline_ms > 0 ? stored->deadline_ms + added_ms : 0;
	if (!ucv_store_record_time(self->store, job_id, update->new_time_allocation_ms, deadline_ms,
				   update, error))
		return FALSE;
	ucv_job_log(G_LOG_LEVEL_MESSAGE, job_id, NULL, "job %s: extended to %" G_GINT64_FORMAT " s",
		    job_id, update->new_time_allocation_ms / 1000);
	if (deadline_ms > 0)
		ucv_engine_schedule_expiry(self, ucv_engine_get_run(self, job_id), deadline_ms);
	ucv_outbox_sender_kick(self->sender);
	return TRUE;
}

gboolean
ucv_engine_extend_jobs(UcvEngine *self, GPtrArray *job_ids, GArray *added_ms, GError **error)
{
	g_return_val_if_fail(job_ids->len == added_ms->len, FALSE);

	/* a bulk call fails as a whole, before anything changed */
	for (guint i = 0; i < job_ids->len; i++) {
		if (!check_extendable(self, g_ptr_array_index(job_ids, i), error))
			return FALSE;
	}
	for (guint i = 0; i < job_ids->len; i++) {
		if (!extend_job(self, g_ptr_array_index(job_ids, i),
				g_array_index(added_ms, gint64, i), error))
			return FALSE;
	}
	return TRUE;
}
