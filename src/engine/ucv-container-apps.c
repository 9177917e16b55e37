/* WEB and VNC applications of DOCKER jobs: whether a job's rank serves one, and where the
 * daemon reaches it (the container shares its host VM's network: the VM's address and the
 * application's port). */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include <glib/gi18n.h>

#include "engine/ucv-engine-private.h"
#include "model/ucv-error.h"
#include "virt/ucv-domain-xml.h"

static gboolean
is_web_app(UcvJob *job)
{
	return job->backend == UCV_BACKEND_DOCKER && g_strcmp0(job->application_type, "WEB") == 0 &&
	       job->web_port != 0;
}

gboolean
ucv_engine_is_vnc_app(UcvJob *job)
{
	return job->backend == UCV_BACKEND_DOCKER && g_strcmp0(job->application_type, "VNC") == 0 &&
	       job->vnc_port != 0;
}

/* The stored job when the rank may be reached (ucv_engine_check_console) and the job passes
 * `serves`; else NULL, the error saying `why_format` formatted with the job id. One read of the
 * store: the proxy asks on every request. */
static UcvStoredJob *G_GNUC_PRINTF(6, 7)
	lookup_serving(UcvEngine *self, const gchar *job_id, guint rank,
		       gboolean (*serves)(UcvJob *), GError **error, const gchar *why_format, ...)
{
	g_autoptr(UcvStoredJob) stored = ucv_engine_lookup_reachable_job(self, job_id, rank, error);
	g_autofree gchar *why = NULL;
	va_list args;

	if (stored == NULL || serves(stored->job))
		return g_steal_pointer(&stored);
	va_start(args, why_format);
	why = g_strdup_vprintf(why_format, args);
	va_end(args);
	g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, why);
	return NULL;
}

#define WEB_APP_REFUSED N_("Job %s does not run a web application")

gboolean
ucv_engine_check_web_app(UcvEngine *self, const gchar *job_id, guint rank, GError **error)
{
	g_autoptr(UcvStoredJob) stored = NULL;

	g_return_val_if_fail(UCV_IS_ENGINE(self), FALSE);
	stored = lookup_serving(self, job_id, rank, is_web_app, error, _(WEB_APP_REFUSED), job_id);
	return stored != NULL;
}

/* Every machine has a screen; a container only when its application is a VNC application. */
static gboolean
has_display(UcvJob *job)
{
	return job->backend != UCV_BACKEND_DOCKER || ucv_engine_is_vnc_app(job);
}

gboolean
ucv_engine_check_display(UcvEngine *self, const gchar *job_id, guint rank, GError **error)
{
	g_autoptr(UcvStoredJob) stored = NULL;

	g_return_val_if_fail(UCV_IS_ENGINE(self), FALSE);
	stored = lookup_serving(self, job_id, rank, has_display, error,
				_("Job %s has no remote desktop: its application is not a VNC "
				  "application"),
				job_id);
	return stored != NULL;
}

gchar *
ucv_engine_get_vnc_password(UcvEngine *self, const gchar *job_id)
{
	g_autoptr(UcvStoredJob) stored = NULL;

	g_return_val_if_fail(UCV_IS_ENGINE(self), NULL);

	stored = ucv_store_lookup_job(self->store, job_id, NULL);
	if (stored == NULL || !ucv_engine_is_vnc_app(stored->job))
		return NULL;
	return g_strdup(stored->job->vnc_password);
}

static void
on_address(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	g_autofree gchar *address =
		ucv_hypervisor_get_address_finish(UCV_HYPERVISOR(source), res, &error);
	guint port = GPOINTER_TO_UINT(g_task_get_task_data(task));

	if (address == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, g_strdup_printf("%s:%u", address, port), g_free);
}

void
ucv_engine_get_app_address_async(UcvEngine *self, const gchar *job_id, guint rank, guint port,
				 GCancellable *cancellable, GAsyncReadyCallback callback,
				 gpointer user_data)
{
	GTask *task = g_task_new(self, cancellable, callback, user_data);
	g_autofree gchar *name = ucv_domain_name_for(job_id, rank);

	g_task_set_source_tag(task, ucv_engine_get_app_address_async);
	g_task_set_task_data(task, GUINT_TO_POINTER(port), NULL);
	ucv_hypervisor_get_address_async(self->hypervisor, name, cancellable, on_address, task);
}

gchar *
ucv_engine_get_app_address_finish(UcvEngine *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

void
ucv_engine_get_web_target_async(UcvEngine *self, const gchar *job_id, guint rank,
				GCancellable *cancellable, GAsyncReadyCallback callback,
				gpointer user_data)
{
	g_autoptr(UcvStoredJob) stored = NULL;
	GError *error = NULL;

	g_return_if_fail(UCV_IS_ENGINE(self));

	stored = lookup_serving(self, job_id, rank, is_web_app, &error, _(WEB_APP_REFUSED), job_id);
	if (stored == NULL) {
		g_task_report_error(self, callback, user_data, ucv_engine_get_web_target_async,
				    error);
		return;
	}
	ucv_engine_get_app_address_async(self, job_id, rank, stored->job->web_port, cancellable,
					 callback, user_data);
}

gchar *
ucv_engine_get_web_target_finish(UcvEngine *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}
