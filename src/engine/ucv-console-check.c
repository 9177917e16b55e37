/* Consoles of a job's machines: whether one may open now, and the machine's display. */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include <glib/gi18n.h>

#include "engine/ucv-engine-private.h"
#include "model/ucv-error.h"
#include "virt/ucv-domain-xml.h"

gboolean
ucv_engine_check_console(UcvEngine *self, const gchar *job_id, guint rank, GError **error)
{
	g_autoptr(UcvStoredJob) stored = NULL;

	g_return_val_if_fail(UCV_IS_ENGINE(self), FALSE);

	stored = ucv_store_lookup_job(self->store, job_id, error);
	if (stored == NULL) {
		if (error != NULL && *error == NULL)
			g_set_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND,
				    _("Job %s is not known to this provider"), job_id);
		return FALSE;
	}
	if (rank >= stored->job->replicas) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    _("Job %s has no machine of rank %u"), job_id, rank);
		return FALSE;
	}
	/* a suspended or queued machine has no screen to show */
	if (stored->state != UCV_JOB_STATE_RUNNING || stored->terminating) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    _("Job %s is not running, so its machines cannot be reached"), job_id);
		return FALSE;
	}
	return TRUE;
}

void
ucv_engine_open_display_async(UcvEngine *self, const gchar *job_id, guint rank,
			      GCancellable *cancellable, GAsyncReadyCallback callback,
			      gpointer user_data)
{
	g_autofree gchar *name = NULL;

	g_return_if_fail(UCV_IS_ENGINE(self));
	name = ucv_domain_name_for(job_id, rank);
	ucv_hypervisor_open_graphics_async(self->hypervisor, name, cancellable, callback,
					   user_data);
}

GSocketConnection *
ucv_engine_open_display_finish(UcvEngine *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(UCV_IS_ENGINE(self), NULL);
	return ucv_hypervisor_open_graphics_finish(self->hypervisor, res, error);
}
