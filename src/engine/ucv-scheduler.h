/* Capacity and queue: which jobs may run on the host now, in arrival order with safe backfill. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define UCV_TYPE_SCHEDULER (ucv_scheduler_get_type())
G_DECLARE_FINAL_TYPE(UcvScheduler, ucv_scheduler, UCV, SCHEDULER, GObject)

/* Pure bookkeeping, no libvirt: the caller tells it the host's size and every job's needs.
 *
 * Capacity = (host - reserved) * overcommit, per resource; GPUs are a pool of PCI addresses
 * handed out exclusively. Jobs are admitted in arrival order. Backfill: the first waiting job
 * (the head) holds whatever part of its request is free now; a later job may start only in what
 * is left beside that hold. So a backfilled job never takes anything the head is waiting for and
 * never delays it; in practice small jobs pass a head that waits for GPUs, not one that waits
 * for CPUs or memory (every job needs some of those).
 *
 * Until the host's size is known (ucv_scheduler_set_host()) nothing is admitted except claims.
 *
 * Signals (emitted after the bookkeeping is consistent, never for the job that a
 * ucv_scheduler_request() call itself admits):
 *   "admitted"         (const gchar *job_id) — a waiting job may start now
 *   "position-changed" (const gchar *job_id, guint jobs_ahead) — only while the host is known,
 *                      and only when the number differs from the one last announced
 *   "rejected"         (const gchar *job_id, const gchar *why) — can never fit this host; it has
 *                      left the queue */

typedef enum {
	UCV_SCHEDULER_ADMITTED,
	UCV_SCHEDULER_QUEUED,
} UcvSchedulerResult;

UcvScheduler *ucv_scheduler_new(guint reserved_cpus, guint64 reserved_memory_mib,
				gdouble cpu_overcommit, gdouble memory_overcommit,
				const gchar *const *gpu_devices);

/* The host's size (libvirt node info); admits what fits now. Repeating the same size does
 * nothing. */
void ucv_scheduler_set_host(UcvScheduler *self, guint cpus, guint64 memory_mib);
gboolean ucv_scheduler_has_host(UcvScheduler *self);

/* FALSE with a reason when the request exceeds the whole host (only once the host is known). */
gboolean ucv_scheduler_fits_host(UcvScheduler *self, guint cpus, guint64 memory_mib, guint gpus,
				 GError **error);

/* Admits the job now or queues it (*jobs_ahead = queued jobs before it). Idempotent: a job that
 * is admitted or queued already keeps its place. */
UcvSchedulerResult ucv_scheduler_request(UcvScheduler *self, const gchar *job_id, guint cpus,
					 guint64 memory_mib, guint gpus, guint *jobs_ahead);
/* A job that runs already (found after a restart): admitted even beyond capacity, with as many
 * GPUs as it asks for: first those of `held_gpus` (the devices its machines have; may be NULL)
 * that are free in the pool, then any free ones. No-op for a job admitted already. */
void ucv_scheduler_claim(UcvScheduler *self, const gchar *job_id, guint cpus, guint64 memory_mib,
			 guint gpus, const gchar *const *held_gpus);
/* The job ended (or left the queue): its resources return and waiting jobs may start. */
void ucv_scheduler_release(UcvScheduler *self, const gchar *job_id);

gboolean ucv_scheduler_is_admitted(UcvScheduler *self, const gchar *job_id);
/* Jobs ahead of a queued job; -1 when the job is not queued. */
gint ucv_scheduler_get_position(UcvScheduler *self, const gchar *job_id);
/* The PCI addresses an admitted job holds, NULL-terminated (empty for none; NULL when the job is
 * not admitted). Owned by the scheduler. */
const gchar *const *ucv_scheduler_get_gpus(UcvScheduler *self, const gchar *job_id);

/* Schedulable capacity and what admitted jobs use. */
void ucv_scheduler_get_capacity(UcvScheduler *self, gdouble *cpus, guint64 *memory_mib,
				guint *gpus);
void ucv_scheduler_get_used(UcvScheduler *self, gdouble *cpus, guint64 *memory_mib, guint *gpus);
guint ucv_scheduler_get_n_running(UcvScheduler *self);
guint ucv_scheduler_get_n_pending(UcvScheduler *self);

G_END_DECLS
