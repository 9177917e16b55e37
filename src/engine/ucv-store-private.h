/* The store's insides, shared by its files (ucv-store.c, ucv-store-usage.c). */
#pragma once

#include <sqlite3.h>

#include "engine/ucv-store.h"

G_BEGIN_DECLS

struct _UcvStore {
	GObject parent_instance;
	sqlite3 *db;
};

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3_stmt, sqlite3_finalize)

/* A transaction that rolls back unless committed, so early returns leave nothing half-written. */
typedef struct {
	sqlite3 *db;
	gboolean finished;
} UcvStoreTxn;

UcvStoreTxn *ucv_store_txn_begin(UcvStore *self, GError **error);
gboolean ucv_store_txn_commit(UcvStore *self, UcvStoreTxn *txn, GError **error);
void ucv_store_txn_free(UcvStoreTxn *txn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvStoreTxn, ucv_store_txn_free)

/* Sets `error` from the database's last error ("cannot <what>") and returns FALSE. */
gboolean ucv_store_fail(UcvStore *self, const gchar *what, GError **error);
/* Only for constant SQL: data always goes through bound parameters. */
sqlite3_stmt *ucv_store_prepare(UcvStore *self, const gchar *sql, GError **error);
/* Runs a statement that returns no rows. */
gboolean ucv_store_step_done(UcvStore *self, sqlite3_stmt *stmt, const gchar *what, GError **error);
gchar *ucv_store_column_dup(sqlite3_stmt *stmt, int column);

/* Inside the transaction that records a job's new state (ucv-store-usage.c): entering RUNNING
 * opens a running stretch, leaving it closes the open one at `now_ms`. */
gboolean ucv_store_track_running(UcvStore *self, const gchar *job_id, UcvJobState state,
				 gint64 now_ms, GError **error);

G_END_DECLS
