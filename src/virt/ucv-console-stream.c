/* A domain's serial console on the GLib loop. libvirt-glib runs libvirt's event loop on ours, so
 * the stream's callback arrives here like any other source; reads and writes never block. */
#define G_LOG_DOMAIN "ucv-virt"

#include "config.h"

#include "ucv-console-stream.h"

#include <libvirt/virterror.h>

#include "model/ucv-error.h"
#include "virt/ucv-libvirt-error.h"

/* Read at most this much per wakeup, so one chatty console cannot hold the loop */
#define READ_BUDGET (64 * 1024)
#define READ_CHUNK  (16 * 1024)

struct _UcvConsoleStream {
	GObject parent_instance;
	virStreamPtr stream;
	gchar *domain_name;
	gboolean watching; /* the stream callback is registered */
	gboolean open;
	gboolean paused;
	GQueue writes; /* GTask, data GBytes; the head may be partly sent */
	gsize head_sent;
};

static void ucv_console_stream_terminal_init(UcvTerminalInterface *iface);

G_DEFINE_TYPE_WITH_CODE(UcvConsoleStream, ucv_console_stream, G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(UCV_TYPE_TERMINAL, ucv_console_stream_terminal_init))

/* "output" is the terminal interface's */
enum { SIGNAL_ENDED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
update_events(UcvConsoleStream *self)
{
	int events = VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;

	if (!self->watching)
		return;
	if (!self->paused)
		events |= VIR_STREAM_EVENT_READABLE;
	if (!g_queue_is_empty(&self->writes))
		events |= VIR_STREAM_EVENT_WRITABLE;
	virStreamEventUpdateCallback(self->stream, events);
}

static void
fail_writes(UcvConsoleStream *self)
{
	GTask *task;

	while ((task = g_queue_pop_head(&self->writes)) != NULL) {
		g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CLOSED,
					"the console of %s is closed", self->domain_name);
		g_object_unref(task);
	}
	self->head_sent = 0;
}

/* Stops watching and lets libvirt end the stream; idempotent. */
static void
release(UcvConsoleStream *self)
{
	if (!self->open)
		return;
	self->open = FALSE;
	if (self->watching)
		virStreamEventRemoveCallback(self->stream);
	self->watching = FALSE;
	virStreamAbort(self->stream);
	fail_writes(self);
}

static void
end(UcvConsoleStream *self, const gchar *why)
{
	if (!self->open)
		return;
	release(self);
	g_debug("console of %s ended: %s", self->domain_name, why != NULL ? why : "end of stream");
	ucv_terminal_emit_closed(UCV_TERMINAL(self), why);
	g_signal_emit(self, signals[SIGNAL_ENDED], 0, why);
}

static void
end_with_libvirt_error(UcvConsoleStream *self, const gchar *what)
{
	g_autoptr(GError) error = NULL;

	ucv_set_libvirt_error(&error, UCV_ERROR_LIBVIRT, "%s", what);
	end(self, error->message);
}

static void
read_available(UcvConsoleStream *self)
{
	gsize budget = READ_BUDGET;

	while (self->open && !self->paused && budget > 0) {
		g_autofree gchar *buffer = g_malloc(READ_CHUNK);
		int n = virStreamRecv(self->stream, buffer, MIN(READ_CHUNK, budget));
		g_autoptr(GBytes) data = NULL;

		if (n == -2)
			return;
		if (n == 0) {
			end(self, NULL);
			return;
		}
		if (n < 0) {
			end_with_libvirt_error(self, "the console stream failed");
			return;
		}
		budget -= (gsize)n;
		data = g_bytes_new_take(g_steal_pointer(&buffer), (gsize)n);
		ucv_terminal_emit_output(UCV_TERMINAL(self), data);
	}
}

/* Sends queued input until libvirt would block; each write completes when its last byte went. */
static void
flush_writes(UcvConsoleStream *self)
{
	GTask *task;

	while (self->open && (task = g_queue_peek_head(&self->writes)) != NULL) {
		GBytes *data = g_task_get_task_data(task);
		gsize len = 0;
		const gchar *bytes = g_bytes_get_data(data, &len);
		int n = 0;

		if (self->head_sent < len)
			n = virStreamSend(self->stream, bytes + self->head_sent,
					  len - self->head_sent);
		if (n == -2)
			break;
		if (n < 0) {
			end_with_libvirt_error(self, "cannot write to the console");
			return;
		}
		self->head_sent += (gsize)n;
		if (self->head_sent < len)
			continue;
		g_queue_pop_head(&self->writes);
		self->head_sent = 0;
		g_task_return_boolean(task, TRUE);
		g_object_unref(task);
	}
	update_events(self);
}

static void
on_stream_event(virStreamPtr stream, int events, void *opaque)
{
	g_autoptr(UcvConsoleStream) self = g_object_ref(UCV_CONSOLE_STREAM(opaque));

	/* output that came with a hangup is still the guest's: read it first */
	if (events & VIR_STREAM_EVENT_READABLE)
		read_available(self);
	if (events & VIR_STREAM_EVENT_WRITABLE)
		flush_writes(self);
	if (events & (VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP))
		end(self, events & VIR_STREAM_EVENT_ERROR ? "the console stream failed" : NULL);
}

UcvConsoleStream *
ucv_console_stream_new(virStreamPtr stream, const gchar *domain_name)
{
	UcvConsoleStream *self = g_object_new(UCV_TYPE_CONSOLE_STREAM, NULL);

	g_return_val_if_fail(stream != NULL, NULL);

	self->stream = stream;
	self->domain_name = g_strdup(domain_name);
	self->open = TRUE;
	return self;
}

void
ucv_console_stream_start(UcvConsoleStream *self)
{
	int events = VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;

	g_return_if_fail(UCV_IS_CONSOLE_STREAM(self));

	if (!self->open || self->watching)
		return;
	/* no reference: the callback is removed before self goes */
	if (virStreamEventAddCallback(self->stream, events, on_stream_event, self, NULL) < 0) {
		end_with_libvirt_error(self, "cannot watch the console stream");
		return;
	}
	self->watching = TRUE;
	update_events(self);
}

void
ucv_console_stream_write_async(UcvConsoleStream *self, GBytes *data, GCancellable *cancellable,
			       GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = NULL;

	g_return_if_fail(UCV_IS_CONSOLE_STREAM(self));
	g_return_if_fail(data != NULL);

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ucv_console_stream_write_async);
	if (!self->open) {
		g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CLOSED,
					"the console of %s is closed", self->domain_name);
		return;
	}
	g_task_set_task_data(task, g_bytes_ref(data), (GDestroyNotify)g_bytes_unref);
	g_queue_push_tail(&self->writes, g_steal_pointer(&task));
	if (g_queue_get_length(&self->writes) == 1)
		flush_writes(self);
}

gboolean
ucv_console_stream_write_finish(UcvConsoleStream *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}

void
ucv_console_stream_set_paused(UcvConsoleStream *self, gboolean paused)
{
	g_return_if_fail(UCV_IS_CONSOLE_STREAM(self));

	if (self->paused == paused)
		return;
	self->paused = paused;
	update_events(self);
}

void
ucv_console_stream_close(UcvConsoleStream *self)
{
	g_return_if_fail(UCV_IS_CONSOLE_STREAM(self));
	release(self);
}

gboolean
ucv_console_stream_is_open(UcvConsoleStream *self)
{
	g_return_val_if_fail(UCV_IS_CONSOLE_STREAM(self), FALSE);
	return self->open;
}

const gchar *
ucv_console_stream_get_domain_name(UcvConsoleStream *self)
{
	g_return_val_if_fail(UCV_IS_CONSOLE_STREAM(self), NULL);
	return self->domain_name;
}

static void
terminal_write_async(UcvTerminal *terminal, GBytes *data, GCancellable *cancellable,
		     GAsyncReadyCallback callback, gpointer user_data)
{
	ucv_console_stream_write_async(UCV_CONSOLE_STREAM(terminal), data, cancellable, callback,
				       user_data);
}

static gboolean
terminal_write_finish(UcvTerminal *terminal, GAsyncResult *res, GError **error)
{
	return ucv_console_stream_write_finish(UCV_CONSOLE_STREAM(terminal), res, error);
}

static void
terminal_close(UcvTerminal *terminal)
{
	ucv_console_stream_close(UCV_CONSOLE_STREAM(terminal));
}

/* A serial line has no window size: no resize. */
static void
ucv_console_stream_terminal_init(UcvTerminalInterface *iface)
{
	iface->write_async = terminal_write_async;
	iface->write_finish = terminal_write_finish;
	iface->close = terminal_close;
}

static void
ucv_console_stream_finalize(GObject *object)
{
	UcvConsoleStream *self = UCV_CONSOLE_STREAM(object);

	release(self);
	virStreamFree(self->stream);
	g_free(self->domain_name);
	G_OBJECT_CLASS(ucv_console_stream_parent_class)->finalize(object);
}

static void
ucv_console_stream_class_init(UcvConsoleStreamClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->finalize = ucv_console_stream_finalize;
	signals[SIGNAL_ENDED] = g_signal_new("ended", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
					     0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
ucv_console_stream_init(UcvConsoleStream *self)
{
	g_queue_init(&self->writes);
}
