/* Consoles of a job's machines: whether one may open now, and the machine's display. */
#define G_LOG_DOMAIN "ucv-engine"

#include "config.h"

#include <glib/gi18n.h>

#include "engine/ucv-engine-private.h"
#include "model/ucv-error.h"
#include "engine/ucv-job-files.h"
#include "virt/ucv-domain-xml.h"

UcvStoredJob *
ucv_engine_lookup_reachable_job(UcvEngine *self, const gchar *job_id, guint rank, GError **error)
{
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, job_id, error);

	if (stored == NULL) {
		if (error != NULL && *error == NULL)
			g_set_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND,
				    _("Job %s is not known to this provider"), job_id);
		return NULL;
	}
	if (rank >= stored->job->replicas) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    _("Job %s has no machine of rank %u"), job_id, rank);
		return NULL;
	}
	/* a suspended or queued machine has no screen to show */
	if (stored->state != UCV_JOB_STATE_RUNNING || stored->terminating) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    _("Job %s is not running, so its machines cannot be reached"), job_id);
		return NULL;
	}
	return g_steal_pointer(&stored);
}

gboolean
ucv_engine_check_console(UcvEngine *self, const gchar *job_id, guint rank, GError **error)
{
	g_autoptr(UcvStoredJob) stored = NULL;

	g_return_val_if_fail(UCV_IS_ENGINE(self), FALSE);

	stored = ucv_engine_lookup_reachable_job(self, job_id, rank, error);
	return stored != NULL;
}

static void
on_app_connected(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	GSocketConnection *conn =
		g_socket_client_connect_to_host_finish(G_SOCKET_CLIENT(source), res, &error);

	if (conn == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, conn, g_object_unref);
}

static void
on_app_address(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	g_autoptr(GSocketClient) client = g_socket_client_new();
	GCancellable *cancellable = g_task_get_cancellable(task);
	GError *error = NULL;
	g_autofree gchar *address =
		ucv_engine_get_app_address_finish(UCV_ENGINE(source), res, &error);

	if (address == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_socket_client_set_timeout(client, 10);
	g_socket_client_connect_to_host_async(client, address, 0, cancellable, on_app_connected,
					      g_steal_pointer(&task));
}

/* A VNC application in a container listens on a port of its VM: reached over the VM's network,
 * not through the machine's own (absent) display. */
static gboolean
open_app_display(UcvEngine *self, const gchar *job_id, guint rank, GTask *task)
{
	g_autoptr(UcvStoredJob) stored = ucv_store_lookup_job(self->store, job_id, NULL);

	if (stored == NULL || !ucv_engine_is_vnc_app(stored->job))
		return FALSE;
	ucv_engine_get_app_address_async(self, job_id, rank, stored->job->vnc_port,
					 g_task_get_cancellable(task), on_app_address,
					 g_object_ref(task));
	return TRUE;
}

static void
on_graphics_open(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	GSocketConnection *conn =
		ucv_hypervisor_open_graphics_finish(UCV_HYPERVISOR(source), res, &error);

	if (conn == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, conn, g_object_unref);
}

void
ucv_engine_open_display_async(UcvEngine *self, const gchar *job_id, guint rank,
			      GCancellable *cancellable, GAsyncReadyCallback callback,
			      gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	g_autofree gchar *name = NULL;

	g_return_if_fail(UCV_IS_ENGINE(self));
	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ucv_engine_open_display_async);
	if (open_app_display(self, job_id, rank, task))
		return;
	name = ucv_domain_name_for(job_id, rank);
	ucv_hypervisor_open_graphics_async(self->hypervisor, name, cancellable, on_graphics_open,
					   g_steal_pointer(&task));
}

GSocketConnection *
ucv_engine_open_display_finish(UcvEngine *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

static void
on_console_open(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	UcvConsoleStream *stream =
		ucv_hypervisor_open_console_finish(UCV_HYPERVISOR(source), res, &error);

	if (stream != NULL) {
		g_task_return_pointer(task, stream, g_object_unref);
		return;
	}
	if (g_error_matches(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE)) {
		g_debug("%s", error->message);
		g_clear_error(&error);
		g_set_error_literal(&error, UCV_ERROR, UCV_ERROR_UNAVAILABLE,
				    _("The machine's console is in use by another program (for "
				      "example an administrator's virsh console)"));
	}
	g_task_return_error(task, error);
}

void
ucv_engine_open_console_async(UcvEngine *self, const gchar *job_id, guint rank,
			      GCancellable *cancellable, GAsyncReadyCallback callback,
			      gpointer user_data)
{
	g_autofree gchar *name = NULL;
	GTask *task;

	g_return_if_fail(UCV_IS_ENGINE(self));
	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ucv_engine_open_console_async);
	name = ucv_domain_name_for(job_id, rank);
	ucv_hypervisor_open_console_async(self->hypervisor, name, cancellable, on_console_open,
					  task);
}

UcvConsoleStream *
ucv_engine_open_console_finish(UcvEngine *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

GStrv
ucv_engine_get_console_logs(UcvEngine *self, const gchar *job_id, gboolean *ended, GError **error)
{
	g_autoptr(UcvStoredJob) stored = NULL;
	GPtrArray *logs;

	g_return_val_if_fail(UCV_IS_ENGINE(self), NULL);

	stored = ucv_store_lookup_job(self->store, job_id, error);
	if (stored == NULL) {
		if (error != NULL && *error == NULL)
			g_set_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND,
				    _("Job %s is not known to this provider"), job_id);
		return NULL;
	}
	logs = g_ptr_array_new();
	/* a VM's serial console; a container's own output (its host's console is for admins) */
	for (guint rank = 0; rank < stored->job->replicas; rank++)
		g_ptr_array_add(
			logs,
			stored->job->backend == UCV_BACKEND_DOCKER
				? ucv_job_files_stdout_log(self->config->state_dir, job_id, rank)
				: ucv_job_files_console_log(self->config->state_dir, job_id, rank));
	g_ptr_array_add(logs, NULL);
	*ended = ucv_job_state_is_final(stored->state);
	return (GStrv)g_ptr_array_free(logs, FALSE);
}
