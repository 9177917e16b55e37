/* When the wallet paying for a job runs dry, the job stops the way UCloud's users expect: a
 * virtual machine is suspended with its memory kept (terminated only if it cannot be saved), a
 * container job ends; and it is not resumed while the wallet stays locked. */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include <glib/gi18n.h>

#include "engine/ucv-engine-private.h"
#include "model/ucv-error.h"

static void
on_wallet_locked(UcvAccountant *accountant, const gchar *job_id, UcvEngine *self)
{
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, job_id, NULL);
	g_autoptr(GError) error = NULL;
	UcvJobRun *run = g_hash_table_lookup(self->runs, job_id);

	if (stored == NULL || stored->state != UCV_JOB_STATE_RUNNING || stored->terminating)
		return;
	/* busy (starting, or already stopping): the next round's answer brings the job back */
	if (run != NULL && (run->terminating || !ucv_job_run_is_idle(run)))
		return;
	if (stored->job->backend == UCV_BACKEND_DOCKER) {
		if (!ucv_engine_terminate_job(self, job_id, _("Insufficient funds"), &error))
			ucv_job_log(G_LOG_LEVEL_WARNING, job_id, NULL, "job %s: cannot stop it: %s",
				    job_id, error->message);
		return;
	}
	ucv_engine_suspend_or_stop(
		self, job_id,
		_("Insufficient funds: the virtual machine was suspended because the wallet "
		  "paying for it is empty. Its memory is kept on disk; resume it once there is "
		  "credit again"),
		_("Insufficient funds"));
}

void
ucv_engine_funds_init(UcvEngine *self)
{
	UcvAccountingMode mode = UCV_ACCOUNTING_NONE;

	/* the config loader accepts only known modes */
	if (!ucv_accounting_mode_from_string(self->config->accounting, &mode))
		g_warning("unknown accounting mode %s: not reporting usage",
			  self->config->accounting);
	self->accountant = ucv_accountant_new(self->store, self->core, self->products, mode,
					      self->config->accounting_interval);
	g_signal_connect_object(self->accountant, "wallet-locked", G_CALLBACK(on_wallet_locked),
				self, 0);
}

gboolean
ucv_engine_check_funds(UcvEngine *self, const gchar *job_id, GError **error)
{
	/* a lock remembered from before accounting was switched off binds nobody */
	if (g_strcmp0(self->config->accounting, "none") == 0 ||
	    !ucv_store_get_wallet_locked(self->store, job_id))
		return TRUE;
	/* credit may have been added since the last round: ask Core again now */
	ucv_accountant_kick(self->accountant);
	g_set_error(error, UCV_ERROR, UCV_ERROR_PAYMENT_REQUIRED,
		    _("Job %s cannot be resumed: the wallet paying for it has insufficient "
		      "funds. Once credit has been added, try again in a minute"),
		    job_id);
	return FALSE;
}
