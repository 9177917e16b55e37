/* The libvirt connection: lifecycle events on the GLib loop, blocking calls in worker threads. */
#define G_LOG_DOMAIN "ucv-virt"

#include "config.h"

#include "ucv-hypervisor.h"

#include <libvirt-glib/libvirt-glib.h>
#include <signal.h>
#include <unistd.h>

#include "model/ucv-error.h"
#include "virt/ucv-virt-log.h"
#include "virt/ucv-domain-ops.h"
#include "virt/ucv-libvirt-error.h"

#define UCV_DOMAIN_PREFIX        "ucloud-"
#define UCV_RECONNECT_FIRST_MS   500
#define UCV_RECONNECT_MAX_MS     10000
#define UCV_KEEPALIVE_INTERVAL_S 5
#define UCV_KEEPALIVE_COUNT      3

static void
ucv_conn_unref(virConnectPtr conn)
{
	virConnectClose(conn);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virConnect, ucv_conn_unref)

struct _UcvHypervisor {
	GObject parent_instance;
	gchar *uri;
	GMutex lock; /* guards conn, which worker threads read to take their own reference */
	virConnectPtr conn;
	int lifecycle_id;
	guint connected_idle_id;
	guint reconnect_id;
	guint backoff_ms;
	gboolean reconnecting;
	GCancellable *cancellable;
	gchar *save_dir; /* set before any operation runs */
};

enum {
	SIGNAL_DOMAIN_EVENT,
	SIGNAL_CONNECTED,
	SIGNAL_DISCONNECTED,
	SIGNAL_LAST,
};

static guint signals[SIGNAL_LAST] = {0};

G_DEFINE_TYPE(UcvHypervisor, ucv_hypervisor, G_TYPE_OBJECT)

/* One worker-thread call: its own connection reference, so a reconnect cannot pull it away. */
typedef struct {
	virConnectPtr conn;
	gchar *arg;
	guint flags;
	gchar *save_dir;
} UcvHypervisorOp;

static void
ucv_hypervisor_op_free(UcvHypervisorOp *op)
{
	g_clear_pointer(&op->conn, ucv_conn_unref);
	g_free(op->arg);
	g_free(op->save_dir);
	g_free(op);
}

const gchar *
ucv_domain_event_to_string(UcvDomainEvent event)
{
	static const gchar *const names[] = {"started", "shutdown", "destroyed", "crashed",
					     "failed",  "saved",    "undefined", "other"};

	if ((guint)event >= G_N_ELEMENTS(names))
		return "unknown";
	return names[event];
}

UcvDomainEvent
ucv_domain_event_from_libvirt(int event, int detail)
{
	if (event == VIR_DOMAIN_EVENT_STARTED)
		return UCV_DOMAIN_EVENT_STARTED;
	if (event == VIR_DOMAIN_EVENT_CRASHED)
		return UCV_DOMAIN_EVENT_CRASHED;
	if (event == VIR_DOMAIN_EVENT_UNDEFINED)
		return UCV_DOMAIN_EVENT_UNDEFINED;
	if (event != VIR_DOMAIN_EVENT_STOPPED)
		return UCV_DOMAIN_EVENT_OTHER;
	switch (detail) {
	case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
		return UCV_DOMAIN_EVENT_SHUTDOWN;
	case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
		return UCV_DOMAIN_EVENT_DESTROYED;
	case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
		return UCV_DOMAIN_EVENT_CRASHED;
	case VIR_DOMAIN_EVENT_STOPPED_FAILED:
		return UCV_DOMAIN_EVENT_FAILED;
	case VIR_DOMAIN_EVENT_STOPPED_SAVED:
		return UCV_DOMAIN_EVENT_SAVED;
	default:
		return UCV_DOMAIN_EVENT_OTHER;
	}
}

/* libvirt's callbacks get a weak reference: the last unref may come from a worker thread
 * (a GTask letting go) while the main loop is inside a callback. */
static GWeakRef *
ucv_weak_ref_new(UcvHypervisor *self)
{
	GWeakRef *ref = g_new0(GWeakRef, 1);

	g_weak_ref_init(ref, self);
	return ref;
}

static void
ucv_weak_ref_free(void *opaque)
{
	GWeakRef *ref = opaque;

	g_weak_ref_clear(ref);
	g_free(ref);
}

/* Runs on the main loop: libvirt-glib dispatches libvirt's events there. */
static int
ucv_hypervisor_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
			    void *opaque)
{
	g_autoptr(UcvHypervisor) self = g_weak_ref_get(opaque);
	const gchar *name = virDomainGetName(dom);

	if (self == NULL || name == NULL || !g_str_has_prefix(name, UCV_DOMAIN_PREFIX))
		return 0;
	ucv_domain_log(G_LOG_LEVEL_DEBUG, name, "domain %s: libvirt event %d/%d", name, event,
		       detail);
	g_signal_emit(self, signals[SIGNAL_DOMAIN_EVENT], 0, name,
		      (gint)ucv_domain_event_from_libvirt(event, detail));
	return 0;
}

static virConnectPtr
ucv_hypervisor_open(const gchar *uri, GError **error)
{
	virConnectPtr conn = virConnectOpen(uri);

	if (conn == NULL) {
		ucv_set_libvirt_error(error, UCV_ERROR_UNAVAILABLE,
				      "cannot connect to libvirt at %s", uri);
		return NULL;
	}
	return conn;
}

/* Takes a reference for the caller, who may be on any thread. */
static virConnectPtr
ucv_hypervisor_ref_conn(UcvHypervisor *self, GError **error)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);

	if (self->conn == NULL) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE,
			    "not connected to libvirt at %s", self->uri);
		return NULL;
	}
	virConnectRef(self->conn);
	return self->conn;
}

static gboolean ucv_hypervisor_on_close_idle(gpointer user_data);

/* May run on any thread that noticed the socket die, and with libvirt's close lock held. */
static void
ucv_hypervisor_on_close(virConnectPtr conn, int reason, void *opaque)
{
	UcvHypervisor *self = g_weak_ref_get(opaque);

	if (self == NULL)
		return;
	g_idle_add_full(G_PRIORITY_DEFAULT, ucv_hypervisor_on_close_idle, self, g_object_unref);
}

/* Takes ownership of conn. */
static gboolean
ucv_hypervisor_attach(UcvHypervisor *self, virConnectPtr conn, GError **error)
{
	g_autoptr(virConnect) owned = conn;
	g_autoptr(GMutexLocker) locker = NULL;
	GWeakRef *ref = ucv_weak_ref_new(self);
	int id;

	/* libvirt calls the free function only for a registration that succeeded */
	id = virConnectDomainEventRegisterAny(
		conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
		VIR_DOMAIN_EVENT_CALLBACK(ucv_hypervisor_on_lifecycle), ref, ucv_weak_ref_free);
	if (id < 0) {
		ucv_weak_ref_free(ref);
		ucv_set_libvirt_error(error, UCV_ERROR_LIBVIRT, "cannot watch domain events at %s",
				      self->uri);
		return FALSE;
	}
	/* Local drivers have no socket to lose, so they need neither of these; they also accept
	 * a close callback without keeping it (nor freeing its data), so it borrows the
	 * lifecycle callback's reference, which detach() frees only after unregistering it. */
	if (virConnectRegisterCloseCallback(conn, ucv_hypervisor_on_close, ref, NULL) < 0)
		g_debug("no close notification from %s", self->uri);
	if (virConnectSetKeepAlive(conn, UCV_KEEPALIVE_INTERVAL_S, UCV_KEEPALIVE_COUNT) < 0)
		g_debug("no keepalive for %s", self->uri);

	locker = g_mutex_locker_new(&self->lock);
	self->conn = g_steal_pointer(&owned);
	self->lifecycle_id = id;
	self->backoff_ms = UCV_RECONNECT_FIRST_MS;
	return TRUE;
}

static void
ucv_hypervisor_detach(UcvHypervisor *self)
{
	g_autoptr(virConnect) conn = NULL;

	g_mutex_lock(&self->lock);
	conn = g_steal_pointer(&self->conn);
	g_mutex_unlock(&self->lock);
	if (conn == NULL)
		return;
	/* on a dead connection these fail remotely but still drop the local registrations */
	virConnectUnregisterCloseCallback(conn, ucv_hypervisor_on_close);
	if (self->lifecycle_id >= 0)
		virConnectDomainEventDeregisterAny(conn, self->lifecycle_id);
	self->lifecycle_id = -1;
}

static void
ucv_hypervisor_open_thread(GTask *task, gpointer source, gpointer task_data,
			   GCancellable *cancellable)
{
	GError *error = NULL;
	virConnectPtr conn = ucv_hypervisor_open(task_data, &error);

	if (conn == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, conn, (GDestroyNotify)ucv_conn_unref);
}

static void ucv_hypervisor_schedule_reconnect(UcvHypervisor *self);

static void
ucv_hypervisor_reconnect_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvHypervisor *self = UCV_HYPERVISOR(source);
	g_autoptr(GError) error = NULL;
	virConnectPtr conn = g_task_propagate_pointer(G_TASK(res), &error);

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	self->reconnecting = FALSE;
	/* someone called connect() in the meantime */
	if (self->conn != NULL) {
		g_clear_pointer(&conn, ucv_conn_unref);
		return;
	}
	if (conn == NULL || !ucv_hypervisor_attach(self, conn, &error)) {
		g_debug("reconnect failed: %s", error->message);
		ucv_hypervisor_schedule_reconnect(self);
		return;
	}
	g_message("reconnected to libvirt at %s", self->uri);
	g_signal_emit(self, signals[SIGNAL_CONNECTED], 0);
}

/* virConnectOpen blocks (ssh, tls, a hung socket), so it runs in a worker thread. */
static gboolean
ucv_hypervisor_reconnect_timeout(gpointer user_data)
{
	UcvHypervisor *self = UCV_HYPERVISOR(user_data);
	g_autoptr(GTask) task =
		g_task_new(self, self->cancellable, ucv_hypervisor_reconnect_cb, NULL);

	self->reconnect_id = 0;
	self->reconnecting = TRUE;
	g_task_set_task_data(task, g_strdup(self->uri), g_free);
	g_task_run_in_thread(task, ucv_hypervisor_open_thread);
	return G_SOURCE_REMOVE;
}

static void
ucv_hypervisor_schedule_reconnect(UcvHypervisor *self)
{
	if (self->reconnect_id != 0 || self->reconnecting)
		return;
	g_debug("reconnecting to %s in %u ms", self->uri, self->backoff_ms);
	self->reconnect_id =
		g_timeout_add(self->backoff_ms, ucv_hypervisor_reconnect_timeout, self);
	self->backoff_ms = MIN(self->backoff_ms * 2, UCV_RECONNECT_MAX_MS);
}

static gboolean
ucv_hypervisor_on_close_idle(gpointer user_data)
{
	UcvHypervisor *self = UCV_HYPERVISOR(user_data);

	/* a late notification for a connection that was already replaced */
	if (self->conn == NULL || virConnectIsAlive(self->conn) == 1)
		return G_SOURCE_REMOVE;
	g_warning("lost the connection to libvirt at %s", self->uri);
	ucv_hypervisor_detach(self);
	g_signal_emit(self, signals[SIGNAL_DISCONNECTED], 0);
	ucv_hypervisor_schedule_reconnect(self);
	return G_SOURCE_REMOVE;
}

static gboolean
ucv_hypervisor_connected_idle(gpointer user_data)
{
	UcvHypervisor *self = UCV_HYPERVISOR(user_data);

	self->connected_idle_id = 0;
	g_signal_emit(self, signals[SIGNAL_CONNECTED], 0);
	return G_SOURCE_REMOVE;
}

gboolean
ucv_hypervisor_connect(UcvHypervisor *self, GError **error)
{
	virConnectPtr conn;

	g_return_val_if_fail(UCV_IS_HYPERVISOR(self), FALSE);

	if (self->conn != NULL)
		return TRUE;
	conn = ucv_hypervisor_open(self->uri, error);
	if (conn == NULL)
		return FALSE;
	if (!ucv_hypervisor_attach(self, conn, error))
		return FALSE;
	g_info("connected to libvirt at %s", self->uri);
	/* from an idle, so handlers connected right after this call still hear it */
	self->connected_idle_id = g_idle_add(ucv_hypervisor_connected_idle, self);
	return TRUE;
}

gboolean
ucv_hypervisor_is_connected(UcvHypervisor *self)
{
	g_autoptr(GMutexLocker) locker = NULL;

	g_return_val_if_fail(UCV_IS_HYPERVISOR(self), FALSE);

	locker = g_mutex_locker_new(&self->lock);
	return self->conn != NULL && virConnectIsAlive(self->conn) == 1;
}

virConnectPtr
ucv_hypervisor_get_connection(UcvHypervisor *self)
{
	g_return_val_if_fail(UCV_IS_HYPERVISOR(self), NULL);
	return self->conn;
}

GPtrArray *
ucv_hypervisor_list_domains(UcvHypervisor *self, GError **error)
{
	g_autoptr(virConnect) conn = NULL;

	g_return_val_if_fail(UCV_IS_HYPERVISOR(self), NULL);

	conn = ucv_hypervisor_ref_conn(self, error);
	if (conn == NULL)
		return NULL;
	return ucv_domain_ops_list(conn, error);
}

UcvDomainInfo *
ucv_hypervisor_lookup_domain(UcvHypervisor *self, const gchar *name, GError **error)
{
	g_autoptr(virConnect) conn = NULL;

	g_return_val_if_fail(UCV_IS_HYPERVISOR(self), NULL);
	g_return_val_if_fail(name != NULL, NULL);

	conn = ucv_hypervisor_ref_conn(self, error);
	if (conn == NULL)
		return NULL;
	return ucv_domain_ops_lookup(conn, name, error);
}

static void
ucv_start_domain_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	UcvHypervisorOp *op = task_data;
	GError *error = NULL;
	UcvDomainStartResult *result;

	if (g_task_return_error_if_cancelled(task))
		return;
	result = ucv_domain_ops_start(op->conn, op->arg, op->save_dir, &error);
	if (result == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, result, (GDestroyNotify)ucv_domain_start_result_free);
}

static void
ucv_remove_domain_thread(GTask *task, gpointer source, gpointer task_data,
			 GCancellable *cancellable)
{
	UcvHypervisorOp *op = task_data;
	GError *error = NULL;

	if (g_task_return_error_if_cancelled(task))
		return;
	if (!ucv_domain_ops_remove(op->conn, op->arg, &error)) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_boolean(task, TRUE);
}

static void
ucv_start_existing_thread(GTask *task, gpointer source, gpointer task_data,
			  GCancellable *cancellable)
{
	UcvHypervisorOp *op = task_data;
	GError *error = NULL;

	if (g_task_return_error_if_cancelled(task))
		return;
	if (!ucv_domain_ops_start_existing(op->conn, op->arg, &error)) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_boolean(task, TRUE);
}

static void
ucv_open_graphics_thread(GTask *task, gpointer source, gpointer task_data,
			 GCancellable *cancellable)
{
	UcvHypervisorOp *op = task_data;
	GError *error = NULL;
	g_autoptr(GSocket) socket = NULL;
	int fd;

	if (g_task_return_error_if_cancelled(task))
		return;
	fd = ucv_domain_ops_open_graphics(op->conn, op->arg, &error);
	if (fd < 0) {
		g_task_return_error(task, error);
		return;
	}
	socket = g_socket_new_from_fd(fd, &error);
	if (socket == NULL) {
		close(fd);
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, g_socket_connection_factory_create_connection(socket),
			      g_object_unref);
}

static void
ucv_get_address_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	UcvHypervisorOp *op = task_data;
	GError *error = NULL;
	gchar *address;

	if (g_task_return_error_if_cancelled(task))
		return;
	address = ucv_domain_ops_get_address(op->conn, op->arg, &error);
	if (address == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, address, g_free);
}

static void
ucv_open_console_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	UcvHypervisorOp *op = task_data;
	GError *error = NULL;
	virStreamPtr stream;

	if (g_task_return_error_if_cancelled(task))
		return;
	stream = ucv_domain_ops_open_console(op->conn, op->arg, &error);
	if (stream == NULL) {
		g_task_return_error(task, error);
		return;
	}
	/* not started: the caller connects its handlers first */
	g_task_return_pointer(task, ucv_console_stream_new(stream, op->arg), g_object_unref);
}

static void
ucv_managed_save_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	UcvHypervisorOp *op = task_data;
	GError *error = NULL;

	if (g_task_return_error_if_cancelled(task))
		return;
	if (!ucv_domain_ops_managed_save(op->conn, op->arg, op->flags, &error)) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_boolean(task, TRUE);
}

static void
ucv_list_domains_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	UcvHypervisorOp *op = task_data;
	GError *error = NULL;
	GPtrArray *infos;

	if (g_task_return_error_if_cancelled(task))
		return;
	infos = ucv_domain_ops_list(op->conn, &error);
	if (infos == NULL) {
		g_task_return_error(task, error);
		return;
	}
	g_task_return_pointer(task, infos, (GDestroyNotify)g_ptr_array_unref);
}

static void
ucv_hypervisor_run_flags(UcvHypervisor *self, const gchar *arg, guint flags, GTaskThreadFunc func,
			 gpointer source_tag, GCancellable *cancellable,
			 GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	GError *error = NULL;
	UcvHypervisorOp *op;
	virConnectPtr conn;

	g_task_set_source_tag(task, source_tag);
	conn = ucv_hypervisor_ref_conn(self, &error);
	if (conn == NULL) {
		g_task_return_error(task, error);
		return;
	}
	op = g_new0(UcvHypervisorOp, 1);
	op->conn = conn;
	op->arg = g_strdup(arg);
	op->flags = flags;
	op->save_dir = g_strdup(self->save_dir);
	g_task_set_task_data(task, op, (GDestroyNotify)ucv_hypervisor_op_free);
	g_task_run_in_thread(task, func);
}

static void
ucv_hypervisor_run(UcvHypervisor *self, const gchar *arg, GTaskThreadFunc func, gpointer source_tag,
		   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
	ucv_hypervisor_run_flags(self, arg, 0, func, source_tag, cancellable, callback, user_data);
}

void
ucv_hypervisor_start_domain_async(UcvHypervisor *self, const gchar *xml, GCancellable *cancellable,
				  GAsyncReadyCallback callback, gpointer user_data)
{
	g_return_if_fail(UCV_IS_HYPERVISOR(self));
	g_return_if_fail(xml != NULL);

	ucv_hypervisor_run(self, xml, ucv_start_domain_thread, ucv_hypervisor_start_domain_async,
			   cancellable, callback, user_data);
}

UcvDomainStartResult *
ucv_hypervisor_start_domain_finish(UcvHypervisor *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

void
ucv_hypervisor_set_save_dir(UcvHypervisor *self, const gchar *save_dir)
{
	g_return_if_fail(UCV_IS_HYPERVISOR(self));
	g_free(self->save_dir);
	self->save_dir = g_strdup(save_dir);
}

void
ucv_hypervisor_remove_domain_async(UcvHypervisor *self, const gchar *name,
				   GCancellable *cancellable, GAsyncReadyCallback callback,
				   gpointer user_data)
{
	g_return_if_fail(UCV_IS_HYPERVISOR(self));
	g_return_if_fail(name != NULL);

	ucv_hypervisor_run(self, name, ucv_remove_domain_thread, ucv_hypervisor_remove_domain_async,
			   cancellable, callback, user_data);
}

gboolean
ucv_hypervisor_remove_domain_finish(UcvHypervisor *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}

void
ucv_hypervisor_start_existing_async(UcvHypervisor *self, const gchar *name,
				    GCancellable *cancellable, GAsyncReadyCallback callback,
				    gpointer user_data)
{
	g_return_if_fail(UCV_IS_HYPERVISOR(self));
	g_return_if_fail(name != NULL);

	ucv_hypervisor_run(self, name, ucv_start_existing_thread,
			   ucv_hypervisor_start_existing_async, cancellable, callback, user_data);
}

gboolean
ucv_hypervisor_start_existing_finish(UcvHypervisor *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}

void
ucv_hypervisor_open_graphics_async(UcvHypervisor *self, const gchar *name,
				   GCancellable *cancellable, GAsyncReadyCallback callback,
				   gpointer user_data)
{
	g_return_if_fail(UCV_IS_HYPERVISOR(self));
	g_return_if_fail(name != NULL);

	ucv_hypervisor_run(self, name, ucv_open_graphics_thread, ucv_hypervisor_open_graphics_async,
			   cancellable, callback, user_data);
}

GSocketConnection *
ucv_hypervisor_open_graphics_finish(UcvHypervisor *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

void
ucv_hypervisor_get_address_async(UcvHypervisor *self, const gchar *name, GCancellable *cancellable,
				 GAsyncReadyCallback callback, gpointer user_data)
{
	g_return_if_fail(UCV_IS_HYPERVISOR(self));
	g_return_if_fail(name != NULL);

	ucv_hypervisor_run(self, name, ucv_get_address_thread, ucv_hypervisor_get_address_async,
			   cancellable, callback, user_data);
}

gchar *
ucv_hypervisor_get_address_finish(UcvHypervisor *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

void
ucv_hypervisor_open_console_async(UcvHypervisor *self, const gchar *name, GCancellable *cancellable,
				  GAsyncReadyCallback callback, gpointer user_data)
{
	g_return_if_fail(UCV_IS_HYPERVISOR(self));
	g_return_if_fail(name != NULL);

	ucv_hypervisor_run(self, name, ucv_open_console_thread, ucv_hypervisor_open_console_async,
			   cancellable, callback, user_data);
}

UcvConsoleStream *
ucv_hypervisor_open_console_finish(UcvHypervisor *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

void
ucv_hypervisor_managed_save_async(UcvHypervisor *self, const gchar *name, guint flags,
				  GCancellable *cancellable, GAsyncReadyCallback callback,
				  gpointer user_data)
{
	g_return_if_fail(UCV_IS_HYPERVISOR(self));
	g_return_if_fail(name != NULL);

	ucv_hypervisor_run_flags(self, name, flags, ucv_managed_save_thread,
				 ucv_hypervisor_managed_save_async, cancellable, callback,
				 user_data);
}

gboolean
ucv_hypervisor_managed_save_finish(UcvHypervisor *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}

void
ucv_hypervisor_list_domains_async(UcvHypervisor *self, GCancellable *cancellable,
				  GAsyncReadyCallback callback, gpointer user_data)
{
	g_return_if_fail(UCV_IS_HYPERVISOR(self));

	ucv_hypervisor_run(self, NULL, ucv_list_domains_thread, ucv_hypervisor_list_domains_async,
			   cancellable, callback, user_data);
}

GPtrArray *
ucv_hypervisor_list_domains_finish(UcvHypervisor *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

static void
ucv_node_info_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	UcvHypervisorOp *op = task_data;
	virNodeInfo node = {0};
	UcvNodeInfo *info;
	GError *error = NULL;

	if (g_task_return_error_if_cancelled(task))
		return;
	if (virNodeGetInfo(op->conn, &node) < 0) {
		ucv_set_libvirt_error(&error, UCV_ERROR_LIBVIRT, "cannot read the host's size");
		g_task_return_error(task, error);
		return;
	}
	info = g_new0(UcvNodeInfo, 1);
	info->cpus = node.cpus;
	info->memory_mib = node.memory / 1024; /* KiB */
	g_task_return_pointer(task, info, g_free);
}

void
ucv_hypervisor_get_node_info_async(UcvHypervisor *self, GCancellable *cancellable,
				   GAsyncReadyCallback callback, gpointer user_data)
{
	g_return_if_fail(UCV_IS_HYPERVISOR(self));

	ucv_hypervisor_run(self, NULL, ucv_node_info_thread, ucv_hypervisor_get_node_info_async,
			   cancellable, callback, user_data);
}

gboolean
ucv_hypervisor_get_node_info_finish(UcvHypervisor *self, GAsyncResult *res, UcvNodeInfo *info,
				    GError **error)
{
	g_autofree UcvNodeInfo *result = NULL;

	g_return_val_if_fail(g_task_is_valid(res, self), FALSE);
	result = g_task_propagate_pointer(G_TASK(res), error);
	if (result == NULL)
		return FALSE;
	*info = *result;
	return TRUE;
}

static void
ucv_hypervisor_dispose(GObject *object)
{
	UcvHypervisor *self = UCV_HYPERVISOR(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_handle_id(&self->connected_idle_id, g_source_remove);
	g_clear_handle_id(&self->reconnect_id, g_source_remove);
	ucv_hypervisor_detach(self);
	G_OBJECT_CLASS(ucv_hypervisor_parent_class)->dispose(object);
}

static void
ucv_hypervisor_finalize(GObject *object)
{
	UcvHypervisor *self = UCV_HYPERVISOR(object);

	g_free(self->uri);
	g_free(self->save_dir);
	g_clear_object(&self->cancellable);
	g_mutex_clear(&self->lock);
	G_OBJECT_CLASS(ucv_hypervisor_parent_class)->finalize(object);
}

/* A write to a libvirtd that just died raises SIGPIPE, which would kill the whole daemon;
 * libvirt expects its users to ignore it. A handler someone else installed is left alone. */
static void
ucv_ignore_sigpipe(void)
{
	struct sigaction old = {0};
	struct sigaction ignore = {0};

	if (sigaction(SIGPIPE, NULL, &old) != 0 || old.sa_handler != SIG_DFL)
		return;
	ignore.sa_handler = SIG_IGN;
	sigemptyset(&ignore.sa_mask);
	sigaction(SIGPIPE, &ignore, NULL);
}

static void
ucv_hypervisor_class_init(UcvHypervisorClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = ucv_hypervisor_dispose;
	object_class->finalize = ucv_hypervisor_finalize;

	signals[SIGNAL_DOMAIN_EVENT] =
		g_signal_new("domain-event", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			     NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_INT);
	signals[SIGNAL_CONNECTED] =
		g_signal_new("connected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			     NULL, NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_DISCONNECTED] =
		g_signal_new("disconnected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			     NULL, NULL, G_TYPE_NONE, 0);

	ucv_ignore_sigpipe();
	/* libvirt-glib puts libvirt's event loop on GLib's; it must precede every connection */
	gvir_init(NULL, NULL);
	gvir_event_register();
	ucv_libvirt_error_install_handler();
}

static void
ucv_hypervisor_init(UcvHypervisor *self)
{
	g_mutex_init(&self->lock);
	self->lifecycle_id = -1;
	self->backoff_ms = UCV_RECONNECT_FIRST_MS;
	self->cancellable = g_cancellable_new();
}

UcvHypervisor *
ucv_hypervisor_new(const gchar *uri)
{
	UcvHypervisor *self;

	g_return_val_if_fail(uri != NULL, NULL);

	self = g_object_new(UCV_TYPE_HYPERVISOR, NULL);
	self->uri = g_strdup(uri);
	return self;
}
