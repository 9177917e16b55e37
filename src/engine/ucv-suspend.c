/* Suspend and unsuspend of VM jobs: libvirt managed save keeps the guest's memory on disk and
 * frees the host; starting the domain again restores it exactly where it was. */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include <glib/gi18n.h>

#include "engine/ucv-engine-private.h"
#include "model/ucv-error.h"
#include "virt/ucv-domain-xml.h"

#include <libvirt/libvirt.h>

typedef struct {
	UcvEngine *engine;
	UcvJobRun *run; /* the operation's reference, handed back when it ends */
	UcvJob *job;
	guint rank;  /* the next rank to save */
	guint saved; /* ranks saved so far, which a failure must bring back */
	GError *failure;
	gchar *status;               /* the SUSPENDED status; NULL: the usual one */
	gchar *status_if_terminated; /* non-NULL: a machine that cannot be saved ends the job */
} UcvSuspendOp;

static void
suspend_op_free(UcvSuspendOp *op)
{
	g_object_unref(op->engine);
	g_clear_pointer(&op->run, ucv_job_run_unref);
	g_clear_pointer(&op->job, ucv_job_unref);
	g_clear_error(&op->failure);
	g_free(op->status);
	g_free(op->status_if_terminated);
	g_free(op);
}

static void
suspend_op_finish(UcvSuspendOp *op)
{
	UcvJobRun *run = g_steal_pointer(&op->run);
	UcvEngine *engine = g_object_ref(op->engine);

	run->suspending = FALSE;
	suspend_op_free(op);
	ucv_engine_finish_op(engine, run);
	g_object_unref(engine);
}

/* Every rank is on disk: the job is SUSPENDED and the host is free for others. The deadline
 * keeps running in wall time, as UCloud documents expiresAt. */
static void
suspend_done(UcvSuspendOp *op)
{
	UcvEngine *self = op->engine;

	g_hash_table_remove_all(op->run->started_ranks);
	ucv_engine_set_state(self, op->run->job_id, UCV_JOB_STATE_SUSPENDED,
			     op->status != NULL
				     ? op->status
				     : _("The virtual machine is suspended: its memory is kept on "
					 "disk"));
	ucv_engine_capacity_release(self, op->run->job_id);
	suspend_op_finish(op);
}

static void suspend_undo_next(UcvSuspendOp *op);

static void
on_rank_restarted(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvSuspendOp *op = user_data;
	g_autoptr(GError) error = NULL;

	if (!ucv_hypervisor_start_existing_finish(UCV_HYPERVISOR(source), res, &error))
		ucv_job_log(G_LOG_LEVEL_WARNING, op->run->job_id, NULL,
			    "job %s: cannot bring back a saved machine: %s", op->run->job_id,
			    error->message);
	suspend_undo_next(op);
}

/* A rank could not be saved: the ranks saved before it start again (from their images), and the
 * job stays RUNNING with a status that says why. Nothing is lost either way. */
static void
suspend_undo_next(UcvSuspendOp *op)
{
	g_autofree gchar *status = NULL;

	if (op->saved > 0 && !op->run->terminating) {
		g_autofree gchar *name = ucv_domain_name_for(op->job->id, --op->saved);
		ucv_hypervisor_start_existing_async(op->engine->hypervisor, name, NULL,
						    on_rank_restarted, op);
		return;
	}
	ucv_job_log(G_LOG_LEVEL_WARNING, op->run->job_id, NULL, "job %s: suspend failed: %s",
		    op->run->job_id, op->failure->message);
	status = g_strdup_printf(_("The virtual machine could not be suspended and keeps "
				   "running: %s"),
				 op->failure->message);
	ucv_engine_set_state(op->engine, op->run->job_id, UCV_JOB_STATE_RUNNING, status);
	suspend_op_finish(op);
}

/* A machine could not be saved. A suspend that must stop the job (its wallet is empty) ends
 * it instead; any other brings back what was saved and keeps running. */
static void
suspend_failed(UcvSuspendOp *op)
{
	g_autofree gchar *job_id = NULL;
	g_autofree gchar *status = NULL;
	g_autoptr(UcvEngine) engine = NULL;

	if (op->status_if_terminated == NULL || op->run->terminating) {
		suspend_undo_next(op);
		return;
	}
	job_id = g_strdup(op->run->job_id);
	status = g_strdup(op->status_if_terminated);
	engine = g_object_ref(op->engine);
	ucv_job_log(G_LOG_LEVEL_WARNING, job_id, NULL,
		    "job %s: cannot be suspended (%s): terminating it", job_id,
		    op->failure->message);
	suspend_op_finish(op);
	ucv_engine_terminate_job(engine, job_id, status, NULL);
}

static void suspend_next_rank(UcvSuspendOp *op);

static void
on_rank_saved(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvSuspendOp *op = user_data;
	g_autoptr(GError) error = NULL;

	if (!ucv_hypervisor_managed_save_finish(UCV_HYPERVISOR(source), res, &error)) {
		op->failure = g_steal_pointer(&error);
		suspend_failed(op);
		return;
	}
	op->saved++;
	op->rank++;
	suspend_next_rank(op);
}

static guint
save_flags(UcvEngine *self)
{
	return self->config->save_bypass_cache ? VIR_DOMAIN_SAVE_BYPASS_CACHE : 0;
}

static void
suspend_next_rank(UcvSuspendOp *op)
{
	g_autofree gchar *name = NULL;

	if (op->run->terminating) {
		suspend_op_finish(op);
		return;
	}
	if (op->rank >= op->job->replicas) {
		suspend_done(op);
		return;
	}
	name = ucv_domain_name_for(op->job->id, op->rank);
	ucv_job_log(G_LOG_LEVEL_MESSAGE, op->job->id, name, "job %s: saving %s", op->job->id, name);
	ucv_hypervisor_managed_save_async(op->engine->hypervisor, name, save_flags(op->engine),
					  NULL, on_rank_saved, op);
}

static void
op_suspend(UcvJobRun *run, gpointer user_data)
{
	UcvSuspendOp *op = user_data;
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(op->engine->store, run->job_id, NULL);

	op->run = run;
	/* only a running job has memory to keep; a repeated suspend finds it suspended */
	if (stored == NULL || stored->state != UCV_JOB_STATE_RUNNING || run->terminating) {
		suspend_op_finish(op);
		return;
	}
	op->job = ucv_job_ref(stored->job);
	/* the SAVED events that follow are this operation's, not an administrator's */
	run->suspending = TRUE;
	ucv_engine_stopping(op->engine, run->job_id, UCV_JOB_STATE_SUSPENDED);
	suspend_next_rank(op);
}

/* Known, active and a virtual machine: anything else is refused before any work starts. */
static gboolean
check_suspendable(UcvEngine *self, const gchar *job_id, GError **error)
{
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, job_id, error);

	if (stored == NULL) {
		if (error != NULL && *error == NULL)
			g_set_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND,
				    _("Job %s is not known to this provider"), job_id);
		return FALSE;
	}
	if (ucv_job_state_is_final(stored->state) || stored->terminating) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    _("Job %s has ended; it cannot be suspended or resumed"), job_id);
		return FALSE;
	}
	return TRUE;
}

static gboolean
check_all(UcvEngine *self, GPtrArray *job_ids, GError **error)
{
	for (guint i = 0; i < job_ids->len; i++) {
		if (!check_suspendable(self, g_ptr_array_index(job_ids, i), error))
			return FALSE;
	}
	return TRUE;
}

static void
queue_suspend(UcvEngine *self, const gchar *job_id, const gchar *status,
	      const gchar *status_if_terminated)
{
	UcvSuspendOp *op = g_new0(UcvSuspendOp, 1);

	op->engine = g_object_ref(self);
	op->status = g_strdup(status);
	op->status_if_terminated = g_strdup(status_if_terminated);
	ucv_job_run_enqueue(ucv_engine_get_run(self, job_id), op_suspend, op,
			    (GDestroyNotify)suspend_op_free);
}

void
ucv_engine_suspend_or_stop(UcvEngine *self, const gchar *job_id, const gchar *status,
			   const gchar *status_if_terminated)
{
	ucv_job_log(G_LOG_LEVEL_MESSAGE, job_id, NULL, "job %s: suspending (%s)", job_id, status);
	queue_suspend(self, job_id, status, status_if_terminated);
}

gboolean
ucv_engine_suspend_jobs(UcvEngine *self, GPtrArray *job_ids, GError **error)
{
	g_return_val_if_fail(UCV_IS_ENGINE(self), FALSE);

	if (!check_all(self, job_ids, error))
		return FALSE;
	for (guint i = 0; i < job_ids->len; i++) {
		const gchar *job_id = g_ptr_array_index(job_ids, i);

		ucv_job_log(G_LOG_LEVEL_MESSAGE, job_id, NULL, "job %s: suspending", job_id);
		queue_suspend(self, job_id, NULL, NULL);
	}
	return TRUE;
}

/* Resumes a suspended job: with capacity its machines start again from their images (the same
 * path as provisioning: a defined domain with a managed-save image restores when started);
 * without, it waits IN_QUEUE and is resumed once admitted. */
static void
op_unsuspend(UcvJobRun *run, gpointer user_data)
{
	UcvEngine *self = user_data;
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, run->job_id, NULL);
	guint ahead = 0;

	if (stored != NULL && stored->state == UCV_JOB_STATE_SUSPENDED && !run->terminating) {
		if (ucv_engine_capacity_admit(self, run, &ahead)) {
			ucv_engine_queue_provision(self, run);
		} else {
			g_autofree gchar *status = g_strdup_printf(
				ngettext("Waiting for capacity (%u job ahead)",
					 "Waiting for capacity (%u jobs ahead)", ahead),
				ahead);
			ucv_engine_set_state(self, run->job_id, UCV_JOB_STATE_IN_QUEUE, status);
		}
	}
	ucv_engine_finish_op(self, run);
	g_object_unref(self);
}

gboolean
ucv_engine_unsuspend_jobs(UcvEngine *self, GPtrArray *job_ids, GError **error)
{
	g_return_val_if_fail(UCV_IS_ENGINE(self), FALSE);

	if (!check_all(self, job_ids, error))
		return FALSE;
	for (guint i = 0; i < job_ids->len; i++) {
		if (!ucv_engine_check_funds(self, g_ptr_array_index(job_ids, i), error))
			return FALSE;
	}
	for (guint i = 0; i < job_ids->len; i++) {
		const gchar *job_id = g_ptr_array_index(job_ids, i);

		ucv_job_log(G_LOG_LEVEL_MESSAGE, job_id, NULL, "job %s: resuming", job_id);
		ucv_job_run_enqueue(ucv_engine_get_run(self, job_id), op_unsuspend,
				    g_object_ref(self), g_object_unref);
	}
	return TRUE;
}
