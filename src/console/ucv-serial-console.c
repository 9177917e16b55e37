/* The shared console: output is made valid UTF-8 once and sent to every viewer; each viewer
 * writes its input to the one stream, whose writes keep their order. */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-serial-console.h"

#include <string.h>

#include "console/ucv-utf8-chunker.h"

struct _UcvSerialConsole {
	GObject parent_instance;
	guint rank;
	UcvConsoleStream *stream; /* NULL while opening */
	UcvUtf8Chunker *chunker;
	GPtrArray *viewers; /* UcvShellViewer */
	gboolean finished;
};

static void ucv_serial_console_session_init(UcvConsoleSessionInterface *iface);

G_DEFINE_TYPE_WITH_CODE(UcvSerialConsole, ucv_serial_console, G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(UCV_TYPE_CONSOLE_SESSION,
					      ucv_serial_console_session_init))

/* Ends every viewer with `message`, lets the console go and finishes; idempotent. */
static void
finish(UcvSerialConsole *self, const gchar *message)
{
	g_autoptr(UcvSerialConsole) keep = g_object_ref(self);
	g_autoptr(GPtrArray) viewers = NULL;

	if (self->finished)
		return;
	self->finished = TRUE;
	viewers = g_steal_pointer(&self->viewers);
	self->viewers = g_ptr_array_new_with_free_func(g_object_unref);
	for (guint i = 0; i < viewers->len; i++) {
		UcvShellViewer *viewer = g_ptr_array_index(viewers, i);
		g_signal_handlers_disconnect_by_data(viewer, self);
		ucv_shell_viewer_end(viewer, message);
	}
	if (self->stream != NULL) {
		g_signal_handlers_disconnect_by_data(self->stream, self);
		ucv_console_stream_close(self->stream);
	}
	ucv_console_session_emit_finished(UCV_CONSOLE_SESSION(self));
}

static void
on_viewer_finished(UcvShellViewer *viewer, UcvSerialConsole *self)
{
	g_signal_handlers_disconnect_by_data(viewer, self);
	g_ptr_array_remove(self->viewers, viewer);
	/* nobody watches: the console is let go, so an admin's virsh console can have it */
	if (self->viewers->len == 0)
		finish(self, NULL);
}

static void
on_output(UcvConsoleStream *stream, GBytes *data, UcvSerialConsole *self)
{
	g_autoptr(UcvSerialConsole) keep = g_object_ref(self);
	gsize len = 0;
	const guint8 *bytes = g_bytes_get_data(data, &len);
	g_autofree gchar *text = ucv_utf8_chunker_push(self->chunker, bytes, len, &len);
	g_autoptr(GPtrArray) viewers = NULL;

	if (len == 0)
		return;
	/* a viewer too slow to take it leaves during the loop: walk a copy */
	viewers = g_ptr_array_copy(self->viewers, (GCopyFunc)(void (*)(void))g_object_ref, NULL);
	g_ptr_array_set_free_func(viewers, g_object_unref);
	for (guint i = 0; i < viewers->len; i++)
		ucv_shell_viewer_send_output(g_ptr_array_index(viewers, i), text);
}

static void
on_stream_ended(UcvConsoleStream *stream, const gchar *why, UcvSerialConsole *self)
{
	g_autofree gchar *message =
		why != NULL ? g_strdup_printf("The console closed: %s", why)
			    : g_strdup("The console closed (the machine stopped, or another "
				       "client took the console over)");

	finish(self, message);
}

static void
attach(UcvSerialConsole *self, UcvShellViewer *viewer)
{
	ucv_shell_viewer_attach(viewer, self->stream);
}

void
ucv_serial_console_take_stream(UcvSerialConsole *self, UcvConsoleStream *stream)
{
	g_return_if_fail(UCV_IS_SERIAL_CONSOLE(self));
	g_return_if_fail(self->stream == NULL);

	self->stream = g_object_ref(stream);
	if (self->finished) {
		ucv_console_stream_close(stream);
		return;
	}
	g_signal_connect(stream, "output", G_CALLBACK(on_output), self);
	g_signal_connect(stream, "ended", G_CALLBACK(on_stream_ended), self);
	for (guint i = 0; i < self->viewers->len; i++)
		attach(self, g_ptr_array_index(self->viewers, i));
	ucv_console_stream_start(stream);
}

void
ucv_serial_console_fail(UcvSerialConsole *self, const gchar *why)
{
	g_return_if_fail(UCV_IS_SERIAL_CONSOLE(self));
	finish(self, why);
}

void
ucv_serial_console_add_viewer(UcvSerialConsole *self, UcvShellViewer *viewer)
{
	g_return_if_fail(UCV_IS_SERIAL_CONSOLE(self));

	if (self->finished || ucv_shell_viewer_is_finished(viewer)) {
		ucv_shell_viewer_end(viewer, "The console is not available");
		return;
	}
	g_ptr_array_add(self->viewers, g_object_ref(viewer));
	g_signal_connect(viewer, "finished", G_CALLBACK(on_viewer_finished), self);
	if (self->stream != NULL)
		attach(self, viewer);
}

guint
ucv_serial_console_get_n_viewers(UcvSerialConsole *self)
{
	g_return_val_if_fail(UCV_IS_SERIAL_CONSOLE(self), 0);
	return self->viewers->len;
}

guint
ucv_serial_console_get_rank(UcvSerialConsole *self)
{
	g_return_val_if_fail(UCV_IS_SERIAL_CONSOLE(self), 0);
	return self->rank;
}

static void
ucv_serial_console_session_stop(UcvConsoleSession *session, const gchar *reason)
{
	finish(UCV_SERIAL_CONSOLE(session), reason);
}

static gboolean
ucv_serial_console_session_is_finished(UcvConsoleSession *session)
{
	return UCV_SERIAL_CONSOLE(session)->finished;
}

static void
ucv_serial_console_session_init(UcvConsoleSessionInterface *iface)
{
	iface->stop = ucv_serial_console_session_stop;
	iface->is_finished = ucv_serial_console_session_is_finished;
}

static void
ucv_serial_console_dispose(GObject *object)
{
	UcvSerialConsole *self = UCV_SERIAL_CONSOLE(object);

	if (self->stream != NULL) {
		g_signal_handlers_disconnect_by_data(self->stream, self);
		ucv_console_stream_close(self->stream);
	}
	for (guint i = 0; self->viewers != NULL && i < self->viewers->len; i++)
		g_signal_handlers_disconnect_by_data(g_ptr_array_index(self->viewers, i), self);
	g_clear_pointer(&self->viewers, g_ptr_array_unref);
	G_OBJECT_CLASS(ucv_serial_console_parent_class)->dispose(object);
}

static void
ucv_serial_console_finalize(GObject *object)
{
	UcvSerialConsole *self = UCV_SERIAL_CONSOLE(object);

	g_clear_object(&self->stream);
	ucv_utf8_chunker_free(self->chunker);
	G_OBJECT_CLASS(ucv_serial_console_parent_class)->finalize(object);
}

static void
ucv_serial_console_class_init(UcvSerialConsoleClass *klass)
{
	G_OBJECT_CLASS(klass)->dispose = ucv_serial_console_dispose;
	G_OBJECT_CLASS(klass)->finalize = ucv_serial_console_finalize;
}

static void
ucv_serial_console_init(UcvSerialConsole *self)
{
	self->chunker = ucv_utf8_chunker_new();
	self->viewers = g_ptr_array_new_with_free_func(g_object_unref);
}

UcvSerialConsole *
ucv_serial_console_new(guint rank)
{
	UcvSerialConsole *self = g_object_new(UCV_TYPE_SERIAL_CONSOLE, NULL);

	self->rank = rank;
	return self;
}
