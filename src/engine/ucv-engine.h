/* The brain: every job's state machine, fed by API calls, libvirt events and timers. */
#pragma once

#include <gio/gio.h>

#include "engine/ucv-config.h"
#include "engine/ucv-scheduler.h"
#include "engine/ucv-store.h"
#include "model/ucv-features.h"
#include "model/ucv-job.h"
#include "model/ucv-product.h"
#include "ucloud/ucv-core-client.h"
#include "virt/ucv-hypervisor.h"
#include "virt/ucv-terminal.h"

G_BEGIN_DECLS

#define UCV_TYPE_ENGINE (ucv_engine_get_type())
G_DECLARE_FINAL_TYPE(UcvEngine, ucv_engine, UCV, ENGINE, GObject)

UcvEngine *ucv_engine_new(const UcvConfig *config, GPtrArray *products, UcvStore *store,
			  UcvHypervisor *hypervisor, UcvCoreClient *core);

/* Reconciles the store with libvirt and starts background work. */
gboolean ucv_engine_start(UcvEngine *self, GError **error);

/* Validates every job (product known, backend supported, replicas >= 1); on any error nothing is
 * stored. Otherwise persists all as IN_QUEUE and provisions them in the background. */
gboolean ucv_engine_create_jobs(UcvEngine *self, GPtrArray *jobs, GError **error);

/* Stops and removes everything the jobs own, then reports SUCCESS. Unknown or finished jobs are
 * fine (idempotent). */
gboolean ucv_engine_terminate_jobs(UcvEngine *self, GPtrArray *job_ids, GError **error);

/* Adds added_ms[i] (GArray of gint64) to the allocation of job_ids[i] and tells Core the new
 * whole allocation. Unknown or ended jobs fail the whole call, changing nothing. Jobs without a
 * limit keep having none. */
gboolean ucv_engine_extend_jobs(UcvEngine *self, GPtrArray *job_ids, GArray *added_ms,
				GError **error);

/* Core's documented verify: `jobs` (UcvJob) are those Core believes active. Jobs the provider
 * never saw are reported FAILURE, jobs that ended here have their end reported again, and lost
 * machines of active jobs are found by a reconciliation. */
gboolean ucv_engine_verify_jobs(UcvEngine *self, GPtrArray *jobs, GError **error);

/* Suspend: each job's machines are saved with their memory (libvirt managed save), then the job
 * is SUSPENDED and its share of the host is free; a failed save leaves it RUNNING with a status
 * that says why. Unsuspend: the machines start again from their saved memory, or the job waits
 * IN_QUEUE for capacity. Both run in turn with the job's other operations; unknown or ended jobs
 * fail the whole request before anything starts. */
gboolean ucv_engine_suspend_jobs(UcvEngine *self, GPtrArray *job_ids, GError **error);
gboolean ucv_engine_unsuspend_jobs(UcvEngine *self, GPtrArray *job_ids, GError **error);

/* The job is known, RUNNING and has a machine of `rank`: a console of it may open. */
gboolean ucv_engine_check_console(UcvEngine *self, const gchar *job_id, guint rank, GError **error);

/* The job runs in containers (its application's backend is DOCKER). Unknown jobs are not. */
gboolean ucv_engine_job_is_container(UcvEngine *self, const gchar *job_id);

/* A new shell in the container of the job's `rank`, with a `cols`×`rows` terminal, as UCloud's
 * user (root when the application runs as root); each call is another shell. A container host
 * whose agent has not greeted yet (or whose channel is gone) is UCV_ERROR_UNAVAILABLE. */
UcvTerminal *ucv_engine_open_container_shell(UcvEngine *self, const gchar *job_id, guint rank,
					     guint16 cols, guint16 rows, GError **error);

/* A connection to the display (VNC server) of the job's machine of `rank`. */
void ucv_engine_open_display_async(UcvEngine *self, const gchar *job_id, guint rank,
				   GCancellable *cancellable, GAsyncReadyCallback callback,
				   gpointer user_data);
GSocketConnection *ucv_engine_open_display_finish(UcvEngine *self, GAsyncResult *res,
						  GError **error);

/* The serial console of the job's machine of `rank`, not yet started. A console another client
 * holds (an admin's virsh console) is UCV_ERROR_UNAVAILABLE with a message for the user. */
void ucv_engine_open_console_async(UcvEngine *self, const gchar *job_id, guint rank,
				   GCancellable *cancellable, GAsyncReadyCallback callback,
				   gpointer user_data);
UcvConsoleStream *ucv_engine_open_console_finish(UcvEngine *self, GAsyncResult *res,
						 GError **error);

/* For follow: the console log of each of the job's machines, by rank (replicas of them), and
 * whether the job has ended (nothing more will be written). Unknown jobs are
 * UCV_ERROR_NOT_FOUND. */
GStrv ucv_engine_get_console_logs(UcvEngine *self, const gchar *job_id, gboolean *ended,
				  GError **error);

/* Core's ssh/keyUploaded: `username`'s SSH keys are now `keys` (NULL when Core did not send
 * them: each job then asks Core, as provisioning does). The cloud-init seed of every machine of
 * the user's active jobs with SSH enabled is rewritten with those keys, in the background and in
 * turn with the job's other operations; the machines keep running. Keys that are not single-line
 * OpenSSH public keys are left out. *n_jobs (may be NULL) is the number of jobs queued. */
gboolean ucv_engine_refresh_ssh_keys(UcvEngine *self, const gchar *username,
				     const gchar *const *keys, guint *n_jobs, GError **error);

/* GPtrArray of UcvProduct (owned by the engine). */
GPtrArray *ucv_engine_get_products(UcvEngine *self);
const UcvFeatures *ucv_engine_get_features(UcvEngine *self);
/* Capacity, usage and the queue (owned by the engine). */
UcvScheduler *ucv_engine_get_scheduler(UcvEngine *self);

/* Signal "job-idle" (const gchar *job_id): the job has no operation running (tests, benchmarks). */

/* As ucv_engine_check_console, and the rank has a screen: every machine has one; a DOCKER job
 * only when its application is a VNC application. */
gboolean ucv_engine_check_display(UcvEngine *self, const gchar *job_id, guint rank, GError **error);

/* A VNC application's own password (DOCKER jobs whose applicationType is VNC: the browser
 * answers the application's VNC server with it); NULL for machines, whose display needs none. */
gchar *ucv_engine_get_vnc_password(UcvEngine *self, const gchar *job_id);

/* WEB applications (DOCKER jobs whose applicationType is WEB, where [web] domain is set): the
 * address ("<ip>:<port>") the application of the job's `rank` listens on, for the reverse proxy.
 * A job that is not a RUNNING web application is UCV_ERROR_INVALID; a machine without an address
 * yet is UCV_ERROR_UNAVAILABLE. */
gboolean ucv_engine_check_web_app(UcvEngine *self, const gchar *job_id, guint rank, GError **error);
void ucv_engine_get_web_target_async(UcvEngine *self, const gchar *job_id, guint rank,
				     GCancellable *cancellable, GAsyncReadyCallback callback,
				     gpointer user_data);
gchar *ucv_engine_get_web_target_finish(UcvEngine *self, GAsyncResult *res, GError **error);

G_END_DECLS
