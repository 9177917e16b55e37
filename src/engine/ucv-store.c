/* The provider's durable memory: jobs, their domains and the outbox of updates for Core. */
#include "config.h"

#define G_LOG_DOMAIN "ucv-store"

#include "ucv-store.h"

#include "engine/ucv-store-private.h"
#include "model/ucv-error.h"

G_DEFINE_TYPE(UcvStore, ucv_store, G_TYPE_OBJECT)

/* Migration N brings the schema from user_version N to N + 1; never edit a released step, only
 * append new ones. */
static const gchar *const ucv_store_migrations[] = {
	"CREATE TABLE jobs ("
	"  id TEXT PRIMARY KEY,"
	"  json TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  status TEXT,"
	"  created_at INTEGER,"
	"  updated_at INTEGER);"
	"CREATE INDEX jobs_by_state ON jobs (state);"
	"CREATE TABLE domains ("
	"  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
	"  rank INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  PRIMARY KEY (job_id, rank));"
	"CREATE TABLE outbox ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  job_id TEXT NOT NULL,"
	"  update_json TEXT NOT NULL,"
	"  created_at INTEGER);",
	/* 2: a terminate survives a crash half-way through its cleanup */
	"ALTER TABLE jobs ADD COLUMN terminating INTEGER NOT NULL DEFAULT 0;",
	/* 3: the job's whole time allocation and, once it runs, its absolute deadline */
	"ALTER TABLE jobs ADD COLUMN time_allocation_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN deadline_ms INTEGER NOT NULL DEFAULT 0;",
	/* 4: accounting: the stretches each job ran (queued and suspended time is not charged)
	 * and what Core has acknowledged; jobs running at the upgrade are counted from then */
	"CREATE TABLE running_intervals ("
	"  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
	"  started_ms INTEGER NOT NULL,"
	"  ended_ms INTEGER);"
	"CREATE INDEX running_intervals_by_job ON running_intervals (job_id);"
	"CREATE TABLE accounting ("
	"  job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,"
	"  reported_usage INTEGER NOT NULL DEFAULT 0,"
	"  charged_periods INTEGER NOT NULL DEFAULT 0,"
	"  settled INTEGER NOT NULL DEFAULT 0,"
	"  wallet_locked INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO running_intervals (job_id, started_ms)"
	"  SELECT id, CAST(strftime('%s', 'now') AS INTEGER) * 1000 FROM jobs"
	"  WHERE state = 'RUNNING';"
	"INSERT INTO accounting (job_id) SELECT id FROM jobs WHERE state = 'RUNNING';",
	/* 5: when a sweep last saw a running stretch's machines running, so a machine found gone
	 * after a restart is charged up to then, not up to the restart */
	"ALTER TABLE running_intervals ADD COLUMN seen_ms INTEGER;",
};

void
ucv_store_txn_free(UcvStoreTxn *txn)
{
	if (!txn->finished)
		sqlite3_exec(txn->db, "ROLLBACK", NULL, NULL, NULL);
	g_free(txn);
}

void
ucv_stored_job_free(UcvStoredJob *self)
{
	g_clear_pointer(&self->job, ucv_job_unref);
	g_free(self->status);
	g_free(self);
}

void
ucv_outbox_entry_free(UcvOutboxEntry *self)
{
	g_free(self->job_id);
	g_free(self->update_json);
	g_free(self);
}

static gint64
ucv_store_now_ms(void)
{
	return g_get_real_time() / 1000;
}

gboolean
ucv_store_fail(UcvStore *self, const gchar *what, GError **error)
{
	g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "database: cannot %s: %s", what,
		    sqlite3_errmsg(self->db));
	return FALSE;
}

/* Only for constant SQL: data always goes through bound parameters. */
static gboolean
ucv_store_exec(UcvStore *self, const gchar *sql, GError **error)
{
	g_autofree gchar *msg = NULL;
	char *raw = NULL;

	if (sqlite3_exec(self->db, sql, NULL, NULL, &raw) == SQLITE_OK)
		return TRUE;
	msg = g_strdup(raw != NULL ? raw : sqlite3_errmsg(self->db));
	sqlite3_free(raw);
	g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "database: %s", msg);
	return FALSE;
}

sqlite3_stmt *
ucv_store_prepare(UcvStore *self, const gchar *sql, GError **error)
{
	sqlite3_stmt *stmt = NULL;

	if (sqlite3_prepare_v2(self->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		ucv_store_fail(self, "prepare a statement", error);
		return NULL;
	}
	return stmt;
}

/* Runs a statement that returns no rows. */
gboolean
ucv_store_step_done(UcvStore *self, sqlite3_stmt *stmt, const gchar *what, GError **error)
{
	if (sqlite3_step(stmt) != SQLITE_DONE)
		return ucv_store_fail(self, what, error);
	return TRUE;
}

UcvStoreTxn *
ucv_store_txn_begin(UcvStore *self, GError **error)
{
	UcvStoreTxn *txn;

	/* IMMEDIATE takes the write lock up front, so a busy database fails here and not mid-way */
	if (!ucv_store_exec(self, "BEGIN IMMEDIATE", error))
		return NULL;
	txn = g_new0(UcvStoreTxn, 1);
	txn->db = self->db;
	return txn;
}

gboolean
ucv_store_txn_commit(UcvStore *self, UcvStoreTxn *txn, GError **error)
{
	if (!ucv_store_exec(self, "COMMIT", error))
		return FALSE;
	txn->finished = TRUE;
	return TRUE;
}

gchar *
ucv_store_column_dup(sqlite3_stmt *stmt, int column)
{
	return g_strdup((const gchar *)sqlite3_column_text(stmt, column));
}

static gboolean
ucv_store_read_user_version(UcvStore *self, guint *version, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = ucv_store_prepare(self, "PRAGMA user_version", error);
	int value;

	if (stmt == NULL)
		return FALSE;
	if (sqlite3_step(stmt) != SQLITE_ROW)
		return ucv_store_fail(self, "read the schema version", error);
	value = sqlite3_column_int(stmt, 0);
	if (value < 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED,
			    "database has a negative schema version %d", value);
		return FALSE;
	}
	*version = (guint)value;
	return TRUE;
}

static gboolean
ucv_store_apply_migration(UcvStore *self, guint from, GError **error)
{
	g_autoptr(UcvStoreTxn) txn = ucv_store_txn_begin(self, error);
	/* an integer we produce ourselves; PRAGMA takes no bound parameters */
	g_autofree gchar *bump = g_strdup_printf("PRAGMA user_version = %u", from + 1);

	if (txn == NULL)
		return FALSE;
	if (!ucv_store_exec(self, ucv_store_migrations[from], error) ||
	    !ucv_store_exec(self, bump, error)) {
		g_prefix_error(error, "migration to schema version %u: ", from + 1);
		return FALSE;
	}
	if (!ucv_store_txn_commit(self, txn, error))
		return FALSE;
	g_debug("database migrated to schema version %u", from + 1);
	return TRUE;
}

static gboolean
ucv_store_migrate(UcvStore *self, GError **error)
{
	guint latest = G_N_ELEMENTS(ucv_store_migrations);
	guint version = 0;

	if (!ucv_store_read_user_version(self, &version, error))
		return FALSE;
	if (version > latest) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_NOT_SUPPORTED,
			    "database has schema version %u but this ucloud-virt knows only up to "
			    "%u: it was written by a newer release; refusing to open it",
			    version, latest);
		return FALSE;
	}
	for (guint i = version; i < latest; i++) {
		if (!ucv_store_apply_migration(self, i, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
ucv_store_configure(UcvStore *self, GError **error)
{
	sqlite3_extended_result_codes(self->db, 1);
	/* other processes (backups, an admin's sqlite3 shell) may hold the lock for a moment */
	sqlite3_busy_timeout(self->db, 5000);
	if (!ucv_store_exec(self, "PRAGMA journal_mode = WAL", error))
		return FALSE;
	/* an update reported to Core must never vanish in a power cut */
	if (!ucv_store_exec(self, "PRAGMA synchronous = FULL", error))
		return FALSE;
	return ucv_store_exec(self, "PRAGMA foreign_keys = ON", error);
}

UcvStore *
ucv_store_open(const gchar *path, GError **error)
{
	g_autoptr(UcvStore) self = g_object_new(UCV_TYPE_STORE, NULL);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

	g_return_val_if_fail(path != NULL, NULL);

	if (sqlite3_open_v2(path, &self->db, flags, NULL) != SQLITE_OK) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot open database %s: %s", path,
			    self->db != NULL ? sqlite3_errmsg(self->db) : "out of memory");
		return NULL;
	}
	if (!ucv_store_configure(self, error) || !ucv_store_migrate(self, error)) {
		g_prefix_error(error, "%s: ", path);
		return NULL;
	}
	return g_steal_pointer(&self);
}

guint
ucv_store_get_schema_version(UcvStore *self)
{
	g_autoptr(GError) error = NULL;
	guint version = 0;

	g_return_val_if_fail(UCV_IS_STORE(self), 0);

	if (!ucv_store_read_user_version(self, &version, &error))
		g_warning("%s", error->message);
	return version;
}

static gboolean
ucv_store_insert_job(UcvStore *self, sqlite3_stmt *stmt, UcvJob *job, gint64 now, GError **error)
{
	int rc;

	sqlite3_reset(stmt);
	sqlite3_bind_text(stmt, 1, job->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, job->json, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, ucv_job_state_to_string(UCV_JOB_STATE_IN_QUEUE), -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, now);
	sqlite3_bind_int64(stmt, 5, job->time_allocation_ms);
	rc = sqlite3_step(stmt);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "job %s already exists", job->id);
		return FALSE;
	}
	if (rc != SQLITE_DONE)
		return ucv_store_fail(self, "insert a job", error);
	return TRUE;
}

gboolean
ucv_store_insert_jobs(UcvStore *self, GPtrArray *jobs, GError **error)
{
	g_autoptr(UcvStoreTxn) txn = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;
	gint64 now = ucv_store_now_ms();

	g_return_val_if_fail(UCV_IS_STORE(self), FALSE);
	g_return_val_if_fail(jobs != NULL, FALSE);

	txn = ucv_store_txn_begin(self, error);
	if (txn == NULL)
		return FALSE;
	stmt = ucv_store_prepare(
		self,
		"INSERT INTO jobs (id, json, state, status, created_at, updated_at, "
		"time_allocation_ms) VALUES (?1, ?2, ?3, NULL, ?4, ?4, ?5)",
		error);
	if (stmt == NULL)
		return FALSE;
	for (guint i = 0; i < jobs->len; i++) {
		if (!ucv_store_insert_job(self, stmt, g_ptr_array_index(jobs, i), now, error))
			return FALSE;
	}
	return ucv_store_txn_commit(self, txn, error);
}

/* Reads a row of (id, json, state, status, updated_at, terminating, time_allocation_ms,
 * deadline_ms). */
static UcvStoredJob *
ucv_store_job_from_row(sqlite3_stmt *stmt, GError **error)
{
	g_autoptr(UcvStoredJob) stored = g_new0(UcvStoredJob, 1);
	const gchar *id = (const gchar *)sqlite3_column_text(stmt, 0);
	const gchar *state = (const gchar *)sqlite3_column_text(stmt, 2);

	stored->job = ucv_job_new_from_string((const gchar *)sqlite3_column_text(stmt, 1), error);
	if (stored->job == NULL) {
		g_prefix_error(error, "stored job %s: ", id);
		return NULL;
	}
	if (!ucv_job_state_from_string(state, &stored->state)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "stored job %s has state %s", id,
			    state);
		return NULL;
	}
	stored->status = ucv_store_column_dup(stmt, 3);
	stored->updated_at_ms = sqlite3_column_int64(stmt, 4);
	stored->terminating = sqlite3_column_int(stmt, 5) != 0;
	stored->time_allocation_ms = sqlite3_column_int64(stmt, 6);
	stored->deadline_ms = sqlite3_column_int64(stmt, 7);
	return g_steal_pointer(&stored);
}

UcvStoredJob *
ucv_store_lookup_job(UcvStore *self, const gchar *job_id, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	int rc;

	g_return_val_if_fail(UCV_IS_STORE(self), NULL);
	g_return_val_if_fail(job_id != NULL, NULL);

	stmt = ucv_store_prepare(
		self,
		"SELECT id, json, state, status, updated_at, terminating, time_allocation_ms, "
		"deadline_ms FROM jobs "
		"WHERE id = ?1",
		error);
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_text(stmt, 1, job_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE)
		return NULL;
	if (rc != SQLITE_ROW) {
		ucv_store_fail(self, "look up a job", error);
		return NULL;
	}
	return ucv_store_job_from_row(stmt, error);
}

GPtrArray *
ucv_store_list_jobs(UcvStore *self, UcvStoreJobFilter filter, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autoptr(GPtrArray) jobs =
		g_ptr_array_new_with_free_func((GDestroyNotify)ucv_stored_job_free);
	int rc;

	g_return_val_if_fail(UCV_IS_STORE(self), NULL);

	stmt = ucv_store_prepare(
		self,
		"SELECT id, json, state, status, updated_at, terminating, time_allocation_ms, "
		"deadline_ms FROM jobs "
		"WHERE ?1 = ?5 OR state NOT IN (?2, ?3, ?4) "
		"OR (?1 = ?6 AND EXISTS (SELECT 1 FROM domains WHERE domains.job_id = jobs.id)) "
		"ORDER BY created_at, rowid",
		error);
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_int(stmt, 1, filter);
	sqlite3_bind_int(stmt, 5, UCV_STORE_JOBS_ALL);
	sqlite3_bind_int(stmt, 6, UCV_STORE_JOBS_ACTIVE_OR_WITH_DOMAINS);
	sqlite3_bind_text(stmt, 2, ucv_job_state_to_string(UCV_JOB_STATE_SUCCESS), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, ucv_job_state_to_string(UCV_JOB_STATE_FAILURE), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, ucv_job_state_to_string(UCV_JOB_STATE_EXPIRED), -1,
			  SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		UcvStoredJob *stored = ucv_store_job_from_row(stmt, error);
		if (stored == NULL)
			return NULL;
		g_ptr_array_add(jobs, stored);
	}
	if (rc != SQLITE_DONE) {
		ucv_store_fail(self, "list jobs", error);
		return NULL;
	}
	return g_steal_pointer(&jobs);
}

/* Checks the job exists and that `update` does not take it out of a final state. */
static gboolean
ucv_store_check_transition(UcvStore *self, const gchar *job_id, const UcvJobUpdate *update,
			   GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	UcvJobState current;
	int rc;

	stmt = ucv_store_prepare(self, "SELECT state FROM jobs WHERE id = ?1", error);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, job_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND, "job %s is unknown", job_id);
		return FALSE;
	}
	if (rc != SQLITE_ROW)
		return ucv_store_fail(self, "read a job's state", error);
	if (!ucv_job_state_from_string((const gchar *)sqlite3_column_text(stmt, 0), &current)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED,
			    "stored job %s has an unknown state", job_id);
		return FALSE;
	}
	if (update->has_state && ucv_job_state_is_final(current) && update->state != current) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "job %s is already %s and cannot become %s", job_id,
			    ucv_job_state_to_string(current),
			    ucv_job_state_to_string(update->state));
		return FALSE;
	}
	return TRUE;
}

static gboolean
ucv_store_apply_update(UcvStore *self, const gchar *job_id, const UcvJobUpdate *update, gint64 now,
		       GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;

	stmt = ucv_store_prepare(self,
				 "UPDATE jobs SET state = coalesce(?2, state), "
				 "status = coalesce(?3, status), updated_at = ?4 WHERE id = ?1",
				 error);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, job_id, -1, SQLITE_TRANSIENT);
	if (update->has_state)
		sqlite3_bind_text(stmt, 2, ucv_job_state_to_string(update->state), -1,
				  SQLITE_STATIC);
	if (update->status != NULL)
		sqlite3_bind_text(stmt, 3, update->status, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 4, now);
	return ucv_store_step_done(self, stmt, "update a job", error);
}

static gboolean
ucv_store_outbox_append(UcvStore *self, const gchar *job_id, const UcvJobUpdate *update, gint64 now,
			GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autofree gchar *json = ucv_job_update_to_string(update);

	stmt = ucv_store_prepare(
		self, "INSERT INTO outbox (job_id, update_json, created_at) VALUES (?1, ?2, ?3)",
		error);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, job_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, json, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, now);
	return ucv_store_step_done(self, stmt, "append to the outbox", error);
}

gboolean
ucv_store_record_update(UcvStore *self, const gchar *job_id, const UcvJobUpdate *update,
			GError **error)
{
	g_autoptr(UcvStoreTxn) txn = NULL;
	gint64 now = ucv_store_now_ms();

	g_return_val_if_fail(UCV_IS_STORE(self), FALSE);
	g_return_val_if_fail(job_id != NULL, FALSE);
	g_return_val_if_fail(update != NULL, FALSE);

	txn = ucv_store_txn_begin(self, error);
	if (txn == NULL)
		return FALSE;
	if (!ucv_store_check_transition(self, job_id, update, error))
		return FALSE;
	if (!ucv_store_apply_update(self, job_id, update, now, error))
		return FALSE;
	if (!ucv_store_outbox_append(self, job_id, update, now, error))
		return FALSE;
	if (update->has_state && !ucv_store_track_running(self, job_id, update->state, now, error))
		return FALSE;
	return ucv_store_txn_commit(self, txn, error);
}

GPtrArray *
ucv_store_outbox_peek(UcvStore *self, guint limit, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autoptr(GPtrArray) entries =
		g_ptr_array_new_with_free_func((GDestroyNotify)ucv_outbox_entry_free);
	int rc;

	g_return_val_if_fail(UCV_IS_STORE(self), NULL);

	stmt = ucv_store_prepare(
		self, "SELECT seq, job_id, update_json FROM outbox ORDER BY seq LIMIT ?1", error);
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_int64(stmt, 1, limit);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		UcvOutboxEntry *entry = g_new0(UcvOutboxEntry, 1);
		entry->seq = sqlite3_column_int64(stmt, 0);
		entry->job_id = ucv_store_column_dup(stmt, 1);
		entry->update_json = ucv_store_column_dup(stmt, 2);
		g_ptr_array_add(entries, entry);
	}
	if (rc != SQLITE_DONE) {
		ucv_store_fail(self, "read the outbox", error);
		return NULL;
	}
	return g_steal_pointer(&entries);
}

/* Removing an entry that is already gone is fine: a delivery may be confirmed twice. */
gboolean
ucv_store_outbox_remove(UcvStore *self, gint64 seq, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;

	g_return_val_if_fail(UCV_IS_STORE(self), FALSE);

	stmt = ucv_store_prepare(self, "DELETE FROM outbox WHERE seq = ?1", error);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_int64(stmt, 1, seq);
	return ucv_store_step_done(self, stmt, "remove an outbox entry", error);
}

/* A new domain name for the same rank (a re-created domain) replaces the old one. */
gboolean
ucv_store_add_domain(UcvStore *self, const gchar *job_id, guint rank, const gchar *name,
		     GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	int rc;

	g_return_val_if_fail(UCV_IS_STORE(self), FALSE);
	g_return_val_if_fail(job_id != NULL, FALSE);
	g_return_val_if_fail(name != NULL, FALSE);

	stmt = ucv_store_prepare(self,
				 "INSERT INTO domains (job_id, rank, name) VALUES (?1, ?2, ?3) "
				 "ON CONFLICT (job_id, rank) DO UPDATE SET name = excluded.name",
				 error);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, job_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, rank);
	sqlite3_bind_text(stmt, 3, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND, "job %s is unknown", job_id);
		return FALSE;
	}
	if (rc != SQLITE_DONE)
		return ucv_store_fail(self, "add a domain", error);
	return TRUE;
}

GPtrArray *
ucv_store_list_domains(UcvStore *self, const gchar *job_id, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	int rc;

	g_return_val_if_fail(UCV_IS_STORE(self), NULL);
	g_return_val_if_fail(job_id != NULL, NULL);

	stmt = ucv_store_prepare(self, "SELECT name FROM domains WHERE job_id = ?1 ORDER BY rank",
				 error);
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_text(stmt, 1, job_id, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		g_ptr_array_add(names, ucv_store_column_dup(stmt, 0));
	if (rc != SQLITE_DONE) {
		ucv_store_fail(self, "list domains", error);
		return NULL;
	}
	return g_steal_pointer(&names);
}

gboolean
ucv_store_remove_domains(UcvStore *self, const gchar *job_id, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;

	g_return_val_if_fail(UCV_IS_STORE(self), FALSE);
	g_return_val_if_fail(job_id != NULL, FALSE);

	stmt = ucv_store_prepare(self, "DELETE FROM domains WHERE job_id = ?1", error);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, job_id, -1, SQLITE_TRANSIENT);
	return ucv_store_step_done(self, stmt, "remove domains", error);
}

static void
ucv_store_finalize(GObject *object)
{
	UcvStore *self = UCV_STORE(object);

	/* close_v2 defers the close until every statement is finalized, so nothing leaks a handle
	 */
	g_clear_pointer(&self->db, sqlite3_close_v2);
	G_OBJECT_CLASS(ucv_store_parent_class)->finalize(object);
}

static void
ucv_store_class_init(UcvStoreClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ucv_store_finalize;
}

static void
ucv_store_init(UcvStore *self)
{
}

gboolean
ucv_store_mark_terminating(UcvStore *self, const gchar *job_id, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;

	g_return_val_if_fail(UCV_IS_STORE(self), FALSE);

	stmt = ucv_store_prepare(self, "UPDATE jobs SET terminating = 1 WHERE id = ?1", error);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, job_id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		ucv_store_fail(self, "mark a job as terminating", error);
		return FALSE;
	}
	return TRUE;
}

gboolean
ucv_store_replace_job(UcvStore *self, UcvJob *job, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;

	g_return_val_if_fail(UCV_IS_STORE(self), FALSE);

	stmt = ucv_store_prepare(self, "UPDATE jobs SET json = ?2, updated_at = ?3 WHERE id = ?1",
				 error);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, job->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, job->json, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, g_get_real_time() / 1000);
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		ucv_store_fail(self, "replace a job", error);
		return FALSE;
	}
	return TRUE;
}

gboolean
ucv_store_record_time(UcvStore *self, const gchar *job_id, gint64 time_allocation_ms,
		      gint64 deadline_ms, const UcvJobUpdate *update, GError **error)
{
	g_autoptr(UcvStoreTxn) txn = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;
	gint64 now = ucv_store_now_ms();

	g_return_val_if_fail(UCV_IS_STORE(self), FALSE);

	txn = ucv_store_txn_begin(self, error);
	if (txn == NULL)
		return FALSE;
	stmt = ucv_store_prepare(self,
				 "UPDATE jobs SET time_allocation_ms = ?2, deadline_ms = ?3, "
				 "updated_at = ?4 WHERE id = ?1",
				 error);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, job_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, time_allocation_ms);
	sqlite3_bind_int64(stmt, 3, deadline_ms);
	sqlite3_bind_int64(stmt, 4, now);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		return ucv_store_fail(self, "record a job's time", error);
	if (update != NULL && !ucv_store_outbox_append(self, job_id, update, now, error))
		return FALSE;
	return ucv_store_txn_commit(self, txn, error);
}
