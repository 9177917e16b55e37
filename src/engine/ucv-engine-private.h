/* The engine's insides, shared by its files (ucv-engine, ucv-provision, ucv-reconcile). */
#pragma once

#include "engine/ucv-accountant.h"
#include "engine/ucv-engine.h"
#include "engine/ucv-job-log.h"
#include "engine/ucv-job-run.h"
#include "engine/ucv-outbox-sender.h"
#include "engine/ucv-scheduler.h"
#include "container/ucv-image-store.h"
#include "virt/ucv-image-cache.h"

G_BEGIN_DECLS

struct _UcvEngine {
	GObject parent_instance;
	const UcvConfig *config;
	GPtrArray *products; /* UcvProduct */
	UcvStore *store;
	UcvHypervisor *hypervisor;
	UcvCoreClient *core;
	UcvOutboxSender *sender;
	UcvAccountant *accountant;
	UcvImageCache *images;
	UcvImageStore *container_images; /* DOCKER jobs' images */
	GHashTable *runs;                /* job id -> UcvJobRun */
	UcvFeatures features;
	GCancellable *cancellable;
	guint sweep_source; /* the periodic reconciliation */
	UcvScheduler *scheduler;
	GHashTable *foreign_domains; /* names already reported as belonging to no active job */
};

UcvJobRun *ucv_engine_get_run(UcvEngine *self, const gchar *job_id);
UcvProduct *ucv_engine_find_product(UcvEngine *self, const gchar *product_id);

/* The application must run as a VM from an image (the backend is known by now). */
gboolean ucv_engine_validate_application(UcvEngine *self, UcvJob *job, GError **error);

/* The size of each of the job's disks: its diskSize, else the site's default (0 = the image's). */
guint64 ucv_engine_disk_size_bytes(UcvEngine *self, UcvJob *job);

/* First boot (ucv-first-boot.c): the rank's hostname (the job's, else j<job id>-<rank>), the
 * owner's SSH keys from Core when the job enables SSH (an empty list otherwise), and the
 * rank's cloud-init seed. */
gchar *ucv_engine_hostname_for(UcvJob *job, guint rank);
void ucv_engine_fetch_ssh_keys_async(UcvEngine *self, UcvJob *job, GCancellable *cancellable,
				     GAsyncReadyCallback callback, gpointer user_data);
GStrv ucv_engine_fetch_ssh_keys_finish(UcvEngine *self, GAsyncResult *res, GError **error);
void ucv_engine_write_seed_async(UcvEngine *self, UcvJob *job, guint rank, GStrv ssh_keys,
				 GCancellable *cancellable, GAsyncReadyCallback callback,
				 gpointer user_data);

/* Moves the job to `state` (durably, with its outbox entry) and tells the sender. Ignores (with a
 * debug line) jobs that already ended. */
void ucv_engine_set_state(UcvEngine *self, const gchar *job_id, UcvJobState state,
			  const gchar *status);

/* A provisioning operation could not go on: the job fails with `status` and its cleanup is
 * queued (the operation still ends itself). */
void ucv_engine_provision_failed(UcvEngine *self, UcvJobRun *run, const gchar *status);
/* Core or libvirtd could not be reached (`why`): provisioning is queued again in a while. */
void ucv_engine_retry_provision_later(UcvEngine *self, UcvJobRun *run, const gchar *why);

/* DOCKER jobs (ucv-container-start.c): takes over the provisioning operation `run` holds and
 * ends it; and, once the job's machines are gone, the removal of its staged folders. */
void ucv_engine_start_container_job(UcvEngine *self, UcvJobRun *run, UcvJob *job,
				    UcvProduct *product);
void ucv_engine_unstage_container_folders(UcvEngine *self, const gchar *job_id);

/* The stored job when its `rank` can be reached now (ucv_engine_check_console's rules). */
UcvStoredJob *ucv_engine_lookup_reachable_job(UcvEngine *self, const gchar *job_id, guint rank,
					      GError **error);

/* Applications in containers (ucv-container-apps.c): a VNC application's job; the address
 * ("<ip>:<port>") where the rank's application listens on `port`. */
gboolean ucv_engine_is_vnc_app(UcvJob *job);
void ucv_engine_get_app_address_async(UcvEngine *self, const gchar *job_id, guint rank, guint port,
				      GCancellable *cancellable, GAsyncReadyCallback callback,
				      gpointer user_data);
gchar *ucv_engine_get_app_address_finish(UcvEngine *self, GAsyncResult *res, GError **error);

/* Queues provisioning of every rank of the job (idempotent: reuses disks and domains). */
void ucv_engine_queue_provision(UcvEngine *self, UcvJobRun *run);
/* Queues removal of everything the job owns; then, if `final_state` is not IN_QUEUE, reports
 * that state with `status` (unless the job already ended). */
void ucv_engine_queue_cleanup(UcvEngine *self, UcvJobRun *run, UcvJobState final_state,
			      const gchar *status);
/* A domain of the job runs: record it, and report RUNNING once every rank runs. */
void ucv_engine_rank_started(UcvEngine *self, UcvJobRun *run, guint rank);

/* Starts the job's clock when it first runs (its deadline is kept in the store) and arms the
 * expiry timer; after a restart, re-arms it from the stored deadline. */
void ucv_engine_start_clock(UcvEngine *self, UcvJobRun *run);
void ucv_engine_schedule_expiry(UcvEngine *self, UcvJobRun *run, gint64 deadline_ms);

/* Capacity (ucv-capacity.c): the scheduler made from the config; create's check that the job
 * fits the whole host; the gate before provisioning (FALSE: the job waits, its status says
 * why); release once cleanup is over; the GPUs of one rank; re-claiming what running jobs hold
 * before anything waiting is admitted, then learning the host's size (each reconciliation). */
void ucv_engine_capacity_init(UcvEngine *self);
gboolean ucv_engine_capacity_check(UcvEngine *self, UcvJob *job, GError **error);
/* Admitted now, or queued with *jobs_ahead (may be NULL) waiting before it. */
gboolean ucv_engine_capacity_admit(UcvEngine *self, UcvJobRun *run, guint *jobs_ahead);
void ucv_engine_capacity_release(UcvEngine *self, const gchar *job_id);
/* A machine runs that the scheduler did not admit (an admin restored it): it takes its share. */
void ucv_engine_capacity_claim(UcvEngine *self, UcvJob *job);
GStrv ucv_engine_capacity_rank_gpus(UcvEngine *self, const gchar *job_id, guint rank,
				    guint per_rank);
void ucv_engine_capacity_reclaim(UcvEngine *self, GPtrArray *jobs, GHashTable *domains);

/* Matches the store against libvirt and acts on the difference (at start, after reconnects). */
void ucv_engine_reconcile(UcvEngine *self);

/* Stops and removes everything the job owns, then reports SUCCESS with `status`; the job's
 * operations in progress are cancelled. Unknown, ended or terminating jobs are left alone. */
gboolean ucv_engine_terminate_job(UcvEngine *self, const gchar *job_id, const gchar *status,
				  GError **error);

/* Funds (ucv-funds.c): the accountant from the config, whose news of a locked wallet stops the
 * job (a VM is suspended, or terminated when it cannot be; a DOCKER job is terminated); and
 * the check that refuses to resume a job whose wallet is locked (UCV_ERROR_PAYMENT_REQUIRED). */
void ucv_engine_funds_init(UcvEngine *self);
gboolean ucv_engine_check_funds(UcvEngine *self, const gchar *job_id, GError **error);
/* Suspends a running VM job with `status`; a job that cannot be saved is terminated with
 * `status_if_terminated` instead (ucv-suspend.c). */
void ucv_engine_suspend_or_stop(UcvEngine *self, const gchar *job_id, const gchar *status,
				const gchar *status_if_terminated);

/* Tells listeners of "job-idle" that the job has no operation left. */
void ucv_engine_emit_job_idle(UcvEngine *self, const gchar *job_id);
/* Ends the running operation of `run`, which holds the operation's reference: the next one may
 * start, and "job-idle" is emitted when none follows. */
void ucv_engine_finish_op(UcvEngine *self, UcvJobRun *run);
/* Emits "job-stopping": the job's machines stop now, and `next_state` follows. */
void ucv_engine_stopping(UcvEngine *self, const gchar *job_id, UcvJobState next_state);

/* Splits "ucloud-<job id>-<rank>". */
gboolean ucv_engine_parse_domain_name(const gchar *name, gchar **job_id, guint *rank);

G_END_DECLS
