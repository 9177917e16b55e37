/* Capacity and queue: which jobs may run on the host now, in arrival order with safe backfill. */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include "ucv-scheduler.h"

#include <glib/gi18n.h>

#include "model/ucv-error.h"
#include "model/ucv-pci-address.h"

/* overcommit ratios make fractional CPU capacity; compare with a little slack */
#define UCV_CPU_EPSILON 1e-9

typedef struct {
	gchar *job_id;
	guint cpus;
	guint64 memory_mib;
	guint gpus;
	GPtrArray *gpu_devices; /* NULL-terminated addresses held while admitted */
	gint announced;         /* position last announced; -1 = none */
} UcvSchedJob;

struct _UcvScheduler {
	GObject parent_instance;
	guint reserved_cpus;
	guint64 reserved_memory_mib;
	gdouble cpu_overcommit;
	gdouble memory_overcommit;
	gboolean host_known;
	guint host_cpus;
	guint64 host_memory_mib;
	GPtrArray *gpu_pool;  /* addresses, config order */
	GHashTable *gpu_used; /* address -> job id (borrowed from the job) */
	GQueue queue;         /* UcvSchedJob, arrival order */
	GHashTable *admitted; /* job id -> UcvSchedJob */
	gdouble used_cpus;
	guint64 used_memory_mib;
};

enum { SIGNAL_ADMITTED, SIGNAL_POSITION_CHANGED, SIGNAL_REJECTED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST] = {0};

G_DEFINE_TYPE(UcvScheduler, ucv_scheduler, G_TYPE_OBJECT)

typedef struct {
	gdouble cpus;
	gint64 memory_mib;
	gint gpus;
} UcvAmount;

static void
sched_job_free(UcvSchedJob *job)
{
	g_free(job->job_id);
	g_clear_pointer(&job->gpu_devices, g_ptr_array_unref);
	g_free(job);
}

static UcvSchedJob *
sched_job_new(const gchar *job_id, guint cpus, guint64 memory_mib, guint gpus)
{
	UcvSchedJob *job = g_new0(UcvSchedJob, 1);

	job->job_id = g_strdup(job_id);
	job->cpus = cpus;
	job->memory_mib = memory_mib;
	job->gpus = gpus;
	job->announced = -1;
	return job;
}

static gdouble
capacity_cpus(UcvScheduler *self)
{
	if (!self->host_known || self->host_cpus <= self->reserved_cpus)
		return 0;
	return (self->host_cpus - self->reserved_cpus) * self->cpu_overcommit;
}

static guint64
capacity_memory(UcvScheduler *self)
{
	if (!self->host_known || self->host_memory_mib <= self->reserved_memory_mib)
		return 0;
	return (guint64)((self->host_memory_mib - self->reserved_memory_mib) *
			 self->memory_overcommit);
}

static UcvAmount
free_amount(UcvScheduler *self)
{
	UcvAmount free = {
		.cpus = capacity_cpus(self) - self->used_cpus,
		.memory_mib = (gint64)capacity_memory(self) - (gint64)self->used_memory_mib,
		.gpus = (gint)self->gpu_pool->len - (gint)g_hash_table_size(self->gpu_used),
	};
	return free;
}

static gboolean
amount_fits(const UcvAmount *avail, const UcvSchedJob *job)
{
	return job->cpus <= avail->cpus + UCV_CPU_EPSILON &&
	       (gint64)job->memory_mib <= avail->memory_mib && (gint)job->gpus <= avail->gpus;
}

/* Hands out free pool addresses, as many as wanted and available. */
/* Pool entries and metadata may spell an address differently (case): compare the numbers. */
static gboolean
same_pci_address(const gchar *a, const gchar *b)
{
	UcvPciAddress x, y;

	if (!ucv_pci_address_parse(a, &x, NULL) || !ucv_pci_address_parse(b, &y, NULL))
		return g_ascii_strcasecmp(a, b) == 0;
	return x.domain == y.domain && x.bus == y.bus && x.slot == y.slot &&
	       x.function == y.function;
}

static void
take_gpu(UcvScheduler *self, UcvSchedJob *job, const gchar *address)
{
	g_ptr_array_add(job->gpu_devices, g_strdup(address));
	g_hash_table_insert(self->gpu_used, g_strdup(address), job->job_id);
}

/* The free pool entry that is `wanted`, or NULL. */
static const gchar *
free_pool_entry(UcvScheduler *self, const gchar *wanted)
{
	for (guint i = 0; i < self->gpu_pool->len; i++) {
		const gchar *address = g_ptr_array_index(self->gpu_pool, i);
		if (!g_hash_table_contains(self->gpu_used, address) &&
		    same_pci_address(address, wanted))
			return address;
	}
	return NULL;
}

/* `held` first (the devices a running machine has), then free ones from the pool in order. */
static void
take_gpus(UcvScheduler *self, UcvSchedJob *job, const gchar *const *held)
{
	job->gpu_devices = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; held != NULL && held[i] != NULL && job->gpu_devices->len < job->gpus;
	     i++) {
		const gchar *address = free_pool_entry(self, held[i]);
		if (address != NULL)
			take_gpu(self, job, address);
		else
			g_warning("job %s holds GPU %s, which is not free in the pool", job->job_id,
				  held[i]);
	}
	for (guint i = 0; i < self->gpu_pool->len && job->gpu_devices->len < job->gpus; i++) {
		const gchar *address = g_ptr_array_index(self->gpu_pool, i);
		if (!g_hash_table_contains(self->gpu_used, address))
			take_gpu(self, job, address);
	}
	g_ptr_array_add(job->gpu_devices, NULL);
}

static void
admit(UcvScheduler *self, UcvSchedJob *job, const gchar *const *held_gpus)
{
	take_gpus(self, job, held_gpus);
	self->used_cpus += job->cpus;
	self->used_memory_mib += job->memory_mib;
	job->announced = -1;
	g_hash_table_insert(self->admitted, job->job_id, job);
}

static gboolean
exceeds_host(UcvScheduler *self, const UcvSchedJob *job)
{
	return job->cpus > capacity_cpus(self) + UCV_CPU_EPSILON ||
	       job->memory_mib > capacity_memory(self) || job->gpus > self->gpu_pool->len;
}

/* The head holds what it needs of what is free now; later jobs use only what is left. */
static void
hold_for_head(UcvAmount *avail, const UcvSchedJob *head)
{
	avail->cpus -= MIN(MAX(avail->cpus, 0), (gdouble)head->cpus);
	avail->memory_mib -= MIN(MAX(avail->memory_mib, 0), (gint64)head->memory_mib);
	avail->gpus -= MIN(MAX(avail->gpus, 0), (gint)head->gpus);
}

/* What a pass decided, told to listeners once the bookkeeping is done. */
typedef struct {
	gchar *job_id;
	gchar *why; /* NULL: admitted; otherwise rejected */
} UcvSchedEvent;

static void
sched_event_clear(UcvSchedEvent *event)
{
	g_free(event->job_id);
	g_free(event->why);
}

static gchar *rejection_reason(UcvScheduler *self, guint cpus, guint64 memory_mib, guint gpus);

/* One pass over the queue, in arrival order. */
static GArray *
schedule(UcvScheduler *self)
{
	GArray *events = g_array_new(FALSE, TRUE, sizeof(UcvSchedEvent));
	UcvAmount avail = free_amount(self);
	gboolean head_waiting = FALSE;
	GList *link = self->queue.head;

	g_array_set_clear_func(events, (GDestroyNotify)sched_event_clear);
	while (link != NULL && self->host_known) {
		GList *next = link->next;
		UcvSchedJob *job = link->data;
		UcvSchedEvent event = {g_strdup(job->job_id), NULL};

		if (exceeds_host(self, job)) {
			event.why = rejection_reason(self, job->cpus, job->memory_mib, job->gpus);
			g_queue_delete_link(&self->queue, link);
			sched_job_free(job);
			g_array_append_val(events, event);
		} else if (amount_fits(&avail, job)) {
			g_queue_delete_link(&self->queue, link);
			avail.cpus -= job->cpus;
			avail.memory_mib -= job->memory_mib;
			avail.gpus -= job->gpus;
			admit(self, job, NULL);
			g_array_append_val(events, event);
		} else {
			g_free(event.job_id);
			if (!head_waiting)
				hold_for_head(&avail, job);
			head_waiting = TRUE;
		}
		link = next;
	}
	return events;
}

static gchar *
rejection_reason(UcvScheduler *self, guint cpus, guint64 memory_mib, guint gpus)
{
	if (gpus > self->gpu_pool->len)
		return g_strdup_printf(_("The machine needs %u GPU(s), but this provider has %u"),
				       gpus, self->gpu_pool->len);
	if (cpus > capacity_cpus(self) + UCV_CPU_EPSILON)
		return g_strdup_printf(_("The machine needs %u vCPU(s), but this provider can run "
					 "at most %.1f"),
				       cpus, capacity_cpus(self));
	/* %llu rather than G_GUINT64_FORMAT: translators' tools cannot read the macro */
	return g_strdup_printf(_("The machine needs %llu MiB of memory, but this provider can run "
				 "at most %llu MiB"),
			       (unsigned long long)memory_mib,
			       (unsigned long long)capacity_memory(self));
}

/* Runs a pass, then tells about admissions, rejections and changed positions. `except` is the
 * job whose own request answers for it. */
static void
schedule_and_announce(UcvScheduler *self, const gchar *except)
{
	g_autoptr(GArray) events = schedule(self);
	g_autoptr(GPtrArray) moved = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GArray) positions = g_array_new(FALSE, FALSE, sizeof(guint));
	guint position = 0;

	for (GList *l = self->queue.head; l != NULL && self->host_known; l = l->next, position++) {
		UcvSchedJob *job = l->data;
		if (job->announced == (gint)position)
			continue;
		job->announced = (gint)position;
		g_ptr_array_add(moved, g_strdup(job->job_id));
		g_array_append_val(positions, position);
	}
	/* handlers may call back into the scheduler */
	g_object_ref(self);
	for (guint i = 0; i < events->len; i++) {
		const UcvSchedEvent *event = &g_array_index(events, UcvSchedEvent, i);
		if (event->why != NULL)
			g_signal_emit(self, signals[SIGNAL_REJECTED], 0, event->job_id, event->why);
		else if (g_strcmp0(event->job_id, except) != 0)
			g_signal_emit(self, signals[SIGNAL_ADMITTED], 0, event->job_id);
	}
	for (guint i = 0; i < moved->len; i++)
		g_signal_emit(self, signals[SIGNAL_POSITION_CHANGED], 0,
			      g_ptr_array_index(moved, i), g_array_index(positions, guint, i));
	g_object_unref(self);
}

static GList *
find_queued(UcvScheduler *self, const gchar *job_id)
{
	for (GList *l = self->queue.head; l != NULL; l = l->next) {
		UcvSchedJob *job = l->data;
		if (g_strcmp0(job->job_id, job_id) == 0)
			return l;
	}
	return NULL;
}

void
ucv_scheduler_set_host(UcvScheduler *self, guint cpus, guint64 memory_mib)
{
	g_return_if_fail(UCV_IS_SCHEDULER(self));

	if (self->host_known && self->host_cpus == cpus && self->host_memory_mib == memory_mib)
		return;
	self->host_known = TRUE;
	self->host_cpus = cpus;
	self->host_memory_mib = memory_mib;
	g_info("capacity: %.1f vCPU(s), %" G_GUINT64_FORMAT " MiB, %u GPU(s) (host %u CPU(s), "
	       "%" G_GUINT64_FORMAT " MiB)",
	       capacity_cpus(self), capacity_memory(self), self->gpu_pool->len, cpus, memory_mib);
	schedule_and_announce(self, NULL);
}

gboolean
ucv_scheduler_has_host(UcvScheduler *self)
{
	g_return_val_if_fail(UCV_IS_SCHEDULER(self), FALSE);
	return self->host_known;
}

gboolean
ucv_scheduler_fits_host(UcvScheduler *self, guint cpus, guint64 memory_mib, guint gpus,
			GError **error)
{
	UcvSchedJob probe = {.cpus = cpus, .memory_mib = memory_mib, .gpus = gpus};
	g_autofree gchar *why = NULL;

	g_return_val_if_fail(UCV_IS_SCHEDULER(self), FALSE);

	/* GPUs are known from the start; CPUs and memory once the host is */
	if (gpus <= self->gpu_pool->len && (!self->host_known || !exceeds_host(self, &probe)))
		return TRUE;
	why = rejection_reason(self, cpus, memory_mib, gpus);
	g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, why);
	return FALSE;
}

UcvSchedulerResult
ucv_scheduler_request(UcvScheduler *self, const gchar *job_id, guint cpus, guint64 memory_mib,
		      guint gpus, guint *jobs_ahead)
{
	g_return_val_if_fail(UCV_IS_SCHEDULER(self), UCV_SCHEDULER_QUEUED);
	g_return_val_if_fail(job_id != NULL, UCV_SCHEDULER_QUEUED);

	if (g_hash_table_contains(self->admitted, job_id))
		return UCV_SCHEDULER_ADMITTED;
	if (find_queued(self, job_id) == NULL) {
		g_queue_push_tail(&self->queue, sched_job_new(job_id, cpus, memory_mib, gpus));
		schedule_and_announce(self, job_id);
	}
	if (g_hash_table_contains(self->admitted, job_id))
		return UCV_SCHEDULER_ADMITTED;
	if (jobs_ahead != NULL)
		*jobs_ahead = (guint)MAX(ucv_scheduler_get_position(self, job_id), 0);
	return UCV_SCHEDULER_QUEUED;
}

void
ucv_scheduler_claim(UcvScheduler *self, const gchar *job_id, guint cpus, guint64 memory_mib,
		    guint gpus, const gchar *const *held_gpus)
{
	GList *link;

	g_return_if_fail(UCV_IS_SCHEDULER(self));
	g_return_if_fail(job_id != NULL);

	if (g_hash_table_contains(self->admitted, job_id))
		return;
	link = find_queued(self, job_id);
	if (link != NULL) {
		sched_job_free(link->data);
		g_queue_delete_link(&self->queue, link);
	}
	admit(self, sched_job_new(job_id, cpus, memory_mib, gpus), held_gpus);
	/* the queue shrank: positions may have moved */
	schedule_and_announce(self, NULL);
}

void
ucv_scheduler_release(UcvScheduler *self, const gchar *job_id)
{
	UcvSchedJob *job;
	GList *link;

	g_return_if_fail(UCV_IS_SCHEDULER(self));
	g_return_if_fail(job_id != NULL);

	job = g_hash_table_lookup(self->admitted, job_id);
	if (job != NULL) {
		for (guint i = 0; job->gpu_devices->pdata[i] != NULL; i++)
			g_hash_table_remove(self->gpu_used, job->gpu_devices->pdata[i]);
		self->used_cpus -= job->cpus;
		self->used_memory_mib -= job->memory_mib;
		g_hash_table_remove(self->admitted, job_id);
	}
	link = find_queued(self, job_id);
	if (link != NULL) {
		sched_job_free(link->data);
		g_queue_delete_link(&self->queue, link);
	}
	if (job != NULL || link != NULL)
		schedule_and_announce(self, NULL);
}

gboolean
ucv_scheduler_is_admitted(UcvScheduler *self, const gchar *job_id)
{
	g_return_val_if_fail(UCV_IS_SCHEDULER(self), FALSE);
	return g_hash_table_contains(self->admitted, job_id);
}

gint
ucv_scheduler_get_position(UcvScheduler *self, const gchar *job_id)
{
	gint position = 0;

	g_return_val_if_fail(UCV_IS_SCHEDULER(self), -1);
	for (GList *l = self->queue.head; l != NULL; l = l->next, position++) {
		UcvSchedJob *job = l->data;
		if (g_strcmp0(job->job_id, job_id) == 0)
			return position;
	}
	return -1;
}

const gchar *const *
ucv_scheduler_get_gpus(UcvScheduler *self, const gchar *job_id)
{
	UcvSchedJob *job;

	g_return_val_if_fail(UCV_IS_SCHEDULER(self), NULL);
	job = g_hash_table_lookup(self->admitted, job_id);
	return job != NULL ? (const gchar *const *)job->gpu_devices->pdata : NULL;
}

void
ucv_scheduler_get_capacity(UcvScheduler *self, gdouble *cpus, guint64 *memory_mib, guint *gpus)
{
	g_return_if_fail(UCV_IS_SCHEDULER(self));
	if (cpus != NULL)
		*cpus = capacity_cpus(self);
	if (memory_mib != NULL)
		*memory_mib = capacity_memory(self);
	if (gpus != NULL)
		*gpus = self->gpu_pool->len;
}

void
ucv_scheduler_get_used(UcvScheduler *self, gdouble *cpus, guint64 *memory_mib, guint *gpus)
{
	g_return_if_fail(UCV_IS_SCHEDULER(self));
	if (cpus != NULL)
		*cpus = self->used_cpus;
	if (memory_mib != NULL)
		*memory_mib = self->used_memory_mib;
	if (gpus != NULL)
		*gpus = g_hash_table_size(self->gpu_used);
}

guint
ucv_scheduler_get_n_running(UcvScheduler *self)
{
	g_return_val_if_fail(UCV_IS_SCHEDULER(self), 0);
	return g_hash_table_size(self->admitted);
}

guint
ucv_scheduler_get_n_pending(UcvScheduler *self)
{
	g_return_val_if_fail(UCV_IS_SCHEDULER(self), 0);
	return self->queue.length;
}

static void
ucv_scheduler_finalize(GObject *object)
{
	UcvScheduler *self = UCV_SCHEDULER(object);

	g_queue_clear_full(&self->queue, (GDestroyNotify)sched_job_free);
	g_hash_table_unref(self->admitted);
	g_hash_table_unref(self->gpu_used);
	g_ptr_array_unref(self->gpu_pool);
	G_OBJECT_CLASS(ucv_scheduler_parent_class)->finalize(object);
}

static void
ucv_scheduler_class_init(UcvSchedulerClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->finalize = ucv_scheduler_finalize;
	signals[SIGNAL_ADMITTED] =
		g_signal_new("admitted", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
			     NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
	signals[SIGNAL_POSITION_CHANGED] =
		g_signal_new("position-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
			     NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_UINT);
	signals[SIGNAL_REJECTED] =
		g_signal_new("rejected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
			     NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
ucv_scheduler_init(UcvScheduler *self)
{
	g_queue_init(&self->queue);
	self->admitted = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					       (GDestroyNotify)sched_job_free);
	self->gpu_used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->gpu_pool = g_ptr_array_new_with_free_func(g_free);
	self->cpu_overcommit = 1.0;
	self->memory_overcommit = 1.0;
}

UcvScheduler *
ucv_scheduler_new(guint reserved_cpus, guint64 reserved_memory_mib, gdouble cpu_overcommit,
		  gdouble memory_overcommit, const gchar *const *gpu_devices)
{
	UcvScheduler *self = g_object_new(UCV_TYPE_SCHEDULER, NULL);

	self->reserved_cpus = reserved_cpus;
	self->reserved_memory_mib = reserved_memory_mib;
	self->cpu_overcommit = cpu_overcommit;
	self->memory_overcommit = memory_overcommit;
	for (guint i = 0; gpu_devices != NULL && gpu_devices[i] != NULL; i++)
		g_ptr_array_add(self->gpu_pool, g_strdup(gpu_devices[i]));
	return self;
}
