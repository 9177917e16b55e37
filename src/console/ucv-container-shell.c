/* A shell session owns one viewer and one terminal: unlike the shared serial console, each
 * browser gets its own shell, so whichever side ends first takes the other with it. */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-container-shell.h"

#include <glib/gi18n.h>

#include "console/ucv-utf8-chunker.h"

struct _UcvContainerShell {
	GObject parent_instance;
	UcvShellViewer *viewer;
	UcvTerminal *terminal;
	UcvUtf8Chunker *chunker;
	gboolean finished;
};

static void ucv_container_shell_session_init(UcvConsoleSessionInterface *iface);

G_DEFINE_TYPE_WITH_CODE(UcvContainerShell, ucv_container_shell, G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(UCV_TYPE_CONSOLE_SESSION,
					      ucv_container_shell_session_init))

static void
disconnect(UcvContainerShell *self)
{
	g_signal_handlers_disconnect_by_data(self->viewer, self);
	g_signal_handlers_disconnect_by_data(self->terminal, self);
}

/* Ends the viewer with `message` (if it is still there), closes the terminal (if it is still
 * open) and finishes; idempotent. */
static void
finish(UcvContainerShell *self, const gchar *message)
{
	g_autoptr(UcvContainerShell) keep = g_object_ref(self);

	if (self->finished)
		return;
	self->finished = TRUE;
	disconnect(self);
	ucv_terminal_close(self->terminal);
	ucv_shell_viewer_end(self->viewer, message);
	ucv_console_session_emit_finished(UCV_CONSOLE_SESSION(self));
}

static void
send_text(UcvContainerShell *self, gchar *text, gsize len)
{
	g_autofree gchar *owned = text;

	if (len > 0)
		ucv_shell_viewer_send_output(self->viewer, owned);
}

static void
on_output(UcvTerminal *terminal, GBytes *data, UcvContainerShell *self)
{
	gsize len = 0;
	const guint8 *bytes = g_bytes_get_data(data, &len);
	gchar *text = ucv_utf8_chunker_push(self->chunker, bytes, len, &len);

	send_text(self, text, len);
}

static void
on_terminal_closed(UcvTerminal *terminal, const gchar *why, UcvContainerShell *self)
{
	g_autofree gchar *message = why != NULL ? g_strdup_printf(_("The shell ended: %s"), why)
						: g_strdup(_("The shell ended"));
	gsize len = 0;
	gchar *rest = ucv_utf8_chunker_flush(self->chunker, &len);

	/* the terminal is done: its last bytes still reach the browser before the message */
	send_text(self, rest, len);
	finish(self, message);
}

static void
on_viewer_finished(UcvShellViewer *viewer, UcvContainerShell *self)
{
	finish(self, NULL);
}

UcvContainerShell *
ucv_container_shell_new(UcvShellViewer *viewer, UcvTerminal *terminal)
{
	UcvContainerShell *self;

	g_return_val_if_fail(UCV_IS_SHELL_VIEWER(viewer), NULL);
	g_return_val_if_fail(UCV_IS_TERMINAL(terminal), NULL);

	self = g_object_new(UCV_TYPE_CONTAINER_SHELL, NULL);
	self->viewer = g_object_ref(viewer);
	self->terminal = g_object_ref(terminal);
	/* the browser may have left while the shell was being asked for */
	if (ucv_shell_viewer_is_finished(viewer)) {
		finish(self, NULL);
		return self;
	}
	g_signal_connect(terminal, "output", G_CALLBACK(on_output), self);
	g_signal_connect(terminal, "closed", G_CALLBACK(on_terminal_closed), self);
	g_signal_connect(viewer, "finished", G_CALLBACK(on_viewer_finished), self);
	ucv_shell_viewer_attach_terminal(viewer, terminal, NULL);
	return self;
}

static void
ucv_container_shell_session_stop(UcvConsoleSession *session, const gchar *reason)
{
	finish(UCV_CONTAINER_SHELL(session), reason);
}

static gboolean
ucv_container_shell_session_is_finished(UcvConsoleSession *session)
{
	return UCV_CONTAINER_SHELL(session)->finished;
}

static void
ucv_container_shell_session_init(UcvConsoleSessionInterface *iface)
{
	iface->stop = ucv_container_shell_session_stop;
	iface->is_finished = ucv_container_shell_session_is_finished;
}

static void
ucv_container_shell_dispose(GObject *object)
{
	UcvContainerShell *self = UCV_CONTAINER_SHELL(object);

	if (self->viewer != NULL) {
		disconnect(self);
		ucv_terminal_close(self->terminal);
	}
	g_clear_object(&self->viewer);
	g_clear_object(&self->terminal);
	G_OBJECT_CLASS(ucv_container_shell_parent_class)->dispose(object);
}

static void
ucv_container_shell_finalize(GObject *object)
{
	UcvContainerShell *self = UCV_CONTAINER_SHELL(object);

	ucv_utf8_chunker_free(self->chunker);
	G_OBJECT_CLASS(ucv_container_shell_parent_class)->finalize(object);
}

static void
ucv_container_shell_class_init(UcvContainerShellClass *klass)
{
	G_OBJECT_CLASS(klass)->dispose = ucv_container_shell_dispose;
	G_OBJECT_CLASS(klass)->finalize = ucv_container_shell_finalize;
}

static void
ucv_container_shell_init(UcvContainerShell *self)
{
	self->chunker = ucv_utf8_chunker_new();
}
