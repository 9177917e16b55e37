/* One job's operations, run one at a time: "Restart" is suspend + unsuspend back to back. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _UcvJobRun UcvJobRun;
typedef struct _UcvContainerRank UcvContainerRank;

/* An operation; it owns user_data and must call ucv_job_run_op_done() exactly once when it has
 * finished. `destroy` frees user_data of operations that never ran. */
typedef void (*UcvJobOpFunc)(UcvJobRun *run, gpointer user_data);

struct _UcvJobRun {
	gchar *job_id;
	gpointer owner;            /* the engine (not a reference) */
	GCancellable *cancellable; /* cancelled when the job is being terminated */
	gboolean terminating;      /* stop events are ours, not an admin's */
	gboolean suspending;       /* SAVED events are ours, not an admin's */
	gchar *start_note;         /* the status RUNNING is reported with, if not the usual one */
	GHashTable *started_ranks; /* ranks libvirt reported running */
	guint retry_source;        /* a provisioning attempt waiting to run again */
	guint expiry_source;       /* fires at the job's deadline */
	gint64 settled_us;         /* monotonic time of the latest change the engine made */
	GHashTable *containers;    /* DOCKER jobs: rank -> UcvContainerRank (ucv-container-watch) */
	GQueue pending;
	gboolean busy;
};

UcvJobRun *ucv_job_run_new(const gchar *job_id, gpointer owner);
UcvJobRun *ucv_job_run_ref(UcvJobRun *run);
void ucv_job_run_unref(UcvJobRun *run);

void ucv_job_run_enqueue(UcvJobRun *run, UcvJobOpFunc func, gpointer user_data,
			 GDestroyNotify destroy);
void ucv_job_run_op_done(UcvJobRun *run);
gboolean ucv_job_run_is_idle(UcvJobRun *run);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvJobRun, ucv_job_run_unref)

G_END_DECLS
