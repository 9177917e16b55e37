/* The store's accounting records: when each job ran, and what Core has acknowledged. */
#include "config.h"

#define G_LOG_DOMAIN "ucv-store"

#include "engine/ucv-store-private.h"
#include "model/ucv-error.h"

void
ucv_job_usage_free(UcvJobUsage *self)
{
	g_clear_pointer(&self->job, ucv_job_unref);
	g_free(self);
}

/* Runs `sql` with ?1 = job_id and ?2 = value (when value >= 0). */
static gboolean
ucv_store_update_stretch(UcvStore *self, const gchar *sql, const gchar *job_id, gint64 value,
			 const gchar *what, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = ucv_store_prepare(self, sql, error);

	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, job_id, -1, SQLITE_TRANSIENT);
	if (value >= 0)
		sqlite3_bind_int64(stmt, 2, value);
	return ucv_store_step_done(self, stmt, what, error);
}

static gboolean
ucv_store_open_stretch(UcvStore *self, const gchar *job_id, gint64 now_ms, GError **error)
{
	g_autoptr(sqlite3_stmt) open = NULL;
	g_autoptr(sqlite3_stmt) account = NULL;

	/* RUNNING again with a new status line is the same stretch */
	open = ucv_store_prepare(self,
				 "INSERT INTO running_intervals (job_id, started_ms) SELECT ?1, ?2 "
				 "WHERE NOT EXISTS (SELECT 1 FROM running_intervals "
				 "WHERE job_id = ?1 AND ended_ms IS NULL)",
				 error);
	if (open == NULL)
		return FALSE;
	sqlite3_bind_text(open, 1, job_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(open, 2, now_ms);
	if (!ucv_store_step_done(self, open, "open a running stretch", error))
		return FALSE;
	account = ucv_store_prepare(
		self, "INSERT INTO accounting (job_id) VALUES (?1) ON CONFLICT DO NOTHING", error);
	if (account == NULL)
		return FALSE;
	sqlite3_bind_text(account, 1, job_id, -1, SQLITE_TRANSIENT);
	return ucv_store_step_done(self, account, "start accounting for a job", error);
}

static gboolean
ucv_store_close_stretch(UcvStore *self, const gchar *job_id, gint64 now_ms, GError **error)
{
	/* a clock stepped back must not make a stretch negative */
	return ucv_store_update_stretch(
		self,
		"UPDATE running_intervals SET ended_ms = max(?2, started_ms) "
		"WHERE job_id = ?1 AND ended_ms IS NULL",
		job_id, now_ms, "close a running stretch", error);
}

gboolean
ucv_store_track_running(UcvStore *self, const gchar *job_id, UcvJobState state, gint64 now_ms,
			GError **error)
{
	if (state == UCV_JOB_STATE_RUNNING)
		return ucv_store_open_stretch(self, job_id, now_ms, error);
	return ucv_store_close_stretch(self, job_id, now_ms, error);
}

/* Reads a row of (json, state, reported_usage, charged_periods, wallet_locked, running_ms,
 * open). */
static UcvJobUsage *
ucv_store_usage_from_row(sqlite3_stmt *stmt, GError **error)
{
	g_autoptr(UcvJobUsage) usage = g_new0(UcvJobUsage, 1);
	const gchar *state = (const gchar *)sqlite3_column_text(stmt, 1);

	usage->job = ucv_job_new_from_string((const gchar *)sqlite3_column_text(stmt, 0), error);
	if (usage->job == NULL)
		return NULL;
	if (!ucv_job_state_from_string(state, &usage->state)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "stored job %s has state %s",
			    usage->job->id, state);
		return NULL;
	}
	usage->reported_usage = sqlite3_column_int64(stmt, 2);
	usage->charged_periods = sqlite3_column_int64(stmt, 3);
	usage->wallet_locked = sqlite3_column_int(stmt, 4) != 0;
	usage->running_ms = sqlite3_column_int64(stmt, 5);
	usage->complete = ucv_job_state_is_final(usage->state) && sqlite3_column_int(stmt, 6) == 0;
	return g_steal_pointer(&usage);
}

GPtrArray *
ucv_store_list_unsettled_usage(UcvStore *self, gint64 now_ms, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autoptr(GPtrArray) list =
		g_ptr_array_new_with_free_func((GDestroyNotify)ucv_job_usage_free);
	int rc;

	g_return_val_if_fail(UCV_IS_STORE(self), NULL);

	stmt = ucv_store_prepare(
		self,
		"SELECT j.json, j.state, a.reported_usage, a.charged_periods, a.wallet_locked, "
		"(SELECT coalesce(sum(max(0, coalesce(r.ended_ms, ?1) - r.started_ms)), 0) "
		" FROM running_intervals r WHERE r.job_id = a.job_id), "
		"EXISTS (SELECT 1 FROM running_intervals r WHERE r.job_id = a.job_id "
		" AND r.ended_ms IS NULL) "
		"FROM accounting a JOIN jobs j ON j.id = a.job_id WHERE a.settled = 0 "
		"ORDER BY j.created_at, j.rowid",
		error);
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_int64(stmt, 1, now_ms);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		UcvJobUsage *usage = ucv_store_usage_from_row(stmt, error);
		if (usage == NULL)
			return NULL;
		g_ptr_array_add(list, usage);
	}
	if (rc != SQLITE_DONE) {
		ucv_store_fail(self, "list usage", error);
		return NULL;
	}
	return g_steal_pointer(&list);
}

gboolean
ucv_store_settle_usage(UcvStore *self, const gchar *job_id, gint64 reported_usage,
		       gint64 charged_periods, gboolean settled, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;

	g_return_val_if_fail(UCV_IS_STORE(self), FALSE);

	/* answers may arrive out of order (a slow one after a retry): keep the highest */
	stmt = ucv_store_prepare(self,
				 "UPDATE accounting SET reported_usage = max(reported_usage, ?2), "
				 "charged_periods = max(charged_periods, ?3), "
				 "settled = settled OR ?4 WHERE job_id = ?1",
				 error);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, job_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, reported_usage);
	sqlite3_bind_int64(stmt, 3, charged_periods);
	sqlite3_bind_int(stmt, 4, settled ? 1 : 0);
	return ucv_store_step_done(self, stmt, "record acknowledged usage", error);
}

gboolean
ucv_store_mark_running_seen(UcvStore *self, const gchar *job_id, gint64 seen_ms, GError **error)
{
	g_return_val_if_fail(UCV_IS_STORE(self), FALSE);

	return ucv_store_update_stretch(
		self,
		"UPDATE running_intervals SET seen_ms = max(?2, started_ms) "
		"WHERE job_id = ?1 AND ended_ms IS NULL",
		job_id, seen_ms, "record a running stretch as seen", error);
}

gboolean
ucv_store_end_running_at_last_seen(UcvStore *self, const gchar *job_id, GError **error)
{
	g_return_val_if_fail(UCV_IS_STORE(self), FALSE);

	return ucv_store_update_stretch(
		self,
		"UPDATE running_intervals SET ended_ms = seen_ms "
		"WHERE job_id = ?1 AND ended_ms IS NULL AND seen_ms IS NOT NULL",
		job_id, -1, "end a running stretch", error);
}

gboolean
ucv_store_set_wallet_locked(UcvStore *self, const gchar *job_id, gboolean locked, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;

	g_return_val_if_fail(UCV_IS_STORE(self), FALSE);

	stmt = ucv_store_prepare(self, "UPDATE accounting SET wallet_locked = ?2 WHERE job_id = ?1",
				 error);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, job_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 2, locked ? 1 : 0);
	return ucv_store_step_done(self, stmt, "record a wallet's lock", error);
}

gboolean
ucv_store_get_wallet_locked(UcvStore *self, const gchar *job_id)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;

	g_return_val_if_fail(UCV_IS_STORE(self), FALSE);

	stmt = ucv_store_prepare(self, "SELECT wallet_locked FROM accounting WHERE job_id = ?1",
				 NULL);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, job_id, -1, SQLITE_TRANSIENT);
	return sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_int(stmt, 0) != 0;
}
