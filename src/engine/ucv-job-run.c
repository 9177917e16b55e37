/* One job's operations, serialized: each starts only after the previous one has finished. */
#include "config.h"

#include "ucv-job-run.h"

typedef struct {
	UcvJobOpFunc func;
	gpointer user_data;
	GDestroyNotify destroy;
} UcvJobOp;

static void
job_op_free(UcvJobOp *op)
{
	if (op->destroy != NULL)
		op->destroy(op->user_data);
	g_free(op);
}

static void
job_run_clear(UcvJobRun *run)
{
	g_queue_clear_full(&run->pending, (GDestroyNotify)job_op_free);
	g_hash_table_unref(run->started_ranks);
	g_clear_pointer(&run->containers, g_hash_table_unref);
	g_object_unref(run->cancellable);
	g_free(run->job_id);
	g_free(run->start_note);
}

UcvJobRun *
ucv_job_run_new(const gchar *job_id, gpointer owner)
{
	UcvJobRun *run = g_rc_box_new0(UcvJobRun);

	run->job_id = g_strdup(job_id);
	run->owner = owner;
	run->cancellable = g_cancellable_new();
	run->started_ranks = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_queue_init(&run->pending);
	return run;
}

UcvJobRun *
ucv_job_run_ref(UcvJobRun *run)
{
	return g_rc_box_acquire(run);
}

void
ucv_job_run_unref(UcvJobRun *run)
{
	g_rc_box_release_full(run, (GDestroyNotify)job_run_clear);
}

static void
job_run_start_next(UcvJobRun *run)
{
	UcvJobOp *op;

	if (run->busy)
		return;
	op = g_queue_pop_head(&run->pending);
	if (op == NULL)
		return;
	run->busy = TRUE;
	/* the operation keeps the run alive until it reports done */
	/* the operation now owns user_data */
	op->func(ucv_job_run_ref(run), op->user_data);
	g_free(op);
}

void
ucv_job_run_enqueue(UcvJobRun *run, UcvJobOpFunc func, gpointer user_data, GDestroyNotify destroy)
{
	UcvJobOp *op = g_new0(UcvJobOp, 1);

	op->func = func;
	op->user_data = user_data;
	op->destroy = destroy;
	g_queue_push_tail(&run->pending, op);
	job_run_start_next(run);
}

void
ucv_job_run_op_done(UcvJobRun *run)
{
	run->busy = FALSE;
	run->settled_us = g_get_monotonic_time();
	job_run_start_next(run);
	ucv_job_run_unref(run);
}

gboolean
ucv_job_run_is_idle(UcvJobRun *run)
{
	return !run->busy && g_queue_is_empty(&run->pending);
}
