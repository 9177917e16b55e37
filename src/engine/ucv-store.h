/* The provider's durable memory: SQLite (WAL, synchronous=FULL) with versioned migrations. */
#pragma once

#include <gio/gio.h>

#include "model/ucv-job.h"
#include "model/ucv-job-update.h"

G_BEGIN_DECLS

#define UCV_TYPE_STORE (ucv_store_get_type())
G_DECLARE_FINAL_TYPE(UcvStore, ucv_store, UCV, STORE, GObject)

/* A job as the store keeps it. */
typedef struct {
	UcvJob *job;
	UcvJobState state;
	gchar *status;
	gint64 updated_at_ms;
	gboolean terminating;      /* terminate was asked for; cleanup may not have finished */
	gint64 time_allocation_ms; /* the whole allocation so far; 0 = no limit */
	gint64 deadline_ms;        /* Unix ms when it expires; 0 = not running yet or no limit */
} UcvStoredJob;

void ucv_stored_job_free(UcvStoredJob *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvStoredJob, ucv_stored_job_free)

/* One pending jobs/control/update item, in the order it must reach Core. */
typedef struct {
	gint64 seq;
	gchar *job_id;
	gchar *update_json; /* a JobUpdate object */
} UcvOutboxEntry;

void ucv_outbox_entry_free(UcvOutboxEntry *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvOutboxEntry, ucv_outbox_entry_free)

/* Opens (creating and migrating as needed) the database at `path`; ":memory:" works for tests. */
UcvStore *ucv_store_open(const gchar *path, GError **error);
guint ucv_store_get_schema_version(UcvStore *self);

/* Inserts all jobs in one transaction (state IN_QUEUE). Fails as a whole if any id exists. */
gboolean ucv_store_insert_jobs(UcvStore *self, GPtrArray *jobs, GError **error);
/* NULL without error when the job is unknown. */
UcvStoredJob *ucv_store_lookup_job(UcvStore *self, const gchar *job_id, GError **error);
typedef enum {
	UCV_STORE_JOBS_ACTIVE,
	UCV_STORE_JOBS_ALL,
	/* active jobs and finished ones whose domains are not yet cleaned up: what a sweep needs,
	 * without walking the whole history every time */
	UCV_STORE_JOBS_ACTIVE_OR_WITH_DOMAINS,
} UcvStoreJobFilter;

/* GPtrArray of UcvStoredJob, oldest first. */
GPtrArray *ucv_store_list_jobs(UcvStore *self, UcvStoreJobFilter filter, GError **error);

/* Records an update for Core: the job's row follows `update` (state, status) and the outbox gets
 * the update, in one transaction. */
gboolean ucv_store_record_update(UcvStore *self, const gchar *job_id, const UcvJobUpdate *update,
				 GError **error);

/* Replaces the job as received by a fuller copy (e.g. fetched from Core); state is untouched. */
gboolean ucv_store_replace_job(UcvStore *self, UcvJob *job, GError **error);

/* Sets the job's allocation and deadline and, in the same transaction, queues `update` (may be
 * NULL) for Core. */
gboolean ucv_store_record_time(UcvStore *self, const gchar *job_id, gint64 time_allocation_ms,
			       gint64 deadline_ms, const UcvJobUpdate *update, GError **error);

/* Remembers that terminate was asked for, so a restart finishes it. */
gboolean ucv_store_mark_terminating(UcvStore *self, const gchar *job_id, GError **error);

/* The oldest `limit` outbox entries (GPtrArray of UcvOutboxEntry). */
GPtrArray *ucv_store_outbox_peek(UcvStore *self, guint limit, GError **error);
gboolean ucv_store_outbox_remove(UcvStore *self, gint64 seq, GError **error);

/* The domains a job owns (by rank), remembered so cleanup works after a restart. */
gboolean ucv_store_add_domain(UcvStore *self, const gchar *job_id, guint rank, const gchar *name,
			      GError **error);
/* GPtrArray of gchar* domain names. */
GPtrArray *ucv_store_list_domains(UcvStore *self, const gchar *job_id, GError **error);
gboolean ucv_store_remove_domains(UcvStore *self, const gchar *job_id, GError **error);

/* Accounting (ucv-store-usage.c). A job's running stretches open and close with the states it
 * records (ucv_store_record_update), in the same transaction, so usage is exactly what Core was
 * told: queued and suspended time is never charged. */
typedef struct {
	UcvJob *job;
	UcvJobState state;
	gint64 running_ms;      /* all its RUNNING stretches up to `now_ms` */
	gboolean complete;      /* the job ended and no stretch is open: running_ms is final */
	gint64 reported_usage;  /* the newest absolute usage Core acknowledged (report-usage) */
	gint64 charged_periods; /* the periods Core acknowledged (charge-credits) */
	gboolean wallet_locked; /* Core said the owner's wallet is locked, and has not said since
				   that it is not */
} UcvJobUsage;

void ucv_job_usage_free(UcvJobUsage *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvJobUsage, ucv_job_usage_free)

/* Every job that has run and whose final usage Core has not acknowledged yet (GPtrArray of
 * UcvJobUsage), oldest first. */
GPtrArray *ucv_store_list_unsettled_usage(UcvStore *self, gint64 now_ms, GError **error);
/* Core acknowledged `reported_usage` and `charged_periods` (never lowered by a late answer);
 * `settled`: that was the job's final usage, it needs no more reports. */
gboolean ucv_store_settle_usage(UcvStore *self, const gchar *job_id, gint64 reported_usage,
				gint64 charged_periods, gboolean settled, GError **error);
/* A sweep saw every machine of the job running at `seen_ms`. */
gboolean ucv_store_mark_running_seen(UcvStore *self, const gchar *job_id, gint64 seen_ms,
				     GError **error);
/* The job's machines were found stopped or gone after a while unwatched (the daemon or libvirtd
 * was away): its open stretch ends when they were last seen running, if a sweep ever saw them;
 * time nobody saw is not charged. */
gboolean ucv_store_end_running_at_last_seen(UcvStore *self, const gchar *job_id, GError **error);
gboolean ucv_store_set_wallet_locked(UcvStore *self, const gchar *job_id, gboolean locked,
				     GError **error);
/* FALSE for unknown jobs and jobs that never ran. */
gboolean ucv_store_get_wallet_locked(UcvStore *self, const gchar *job_id);

G_END_DECLS
