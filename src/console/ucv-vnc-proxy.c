/* One browser's view of one machine's display: RFB bytes pumped between the browser's WebSocket
 * and the display's stream. Each direction reads the next buffer only when the last one has been
 * written on the other side, so a slow browser slows the display down instead of filling memory,
 * and the other way round. */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-vnc-proxy.h"

#define READ_BYTES (64 * 1024)

struct _UcvVncProxy {
	GObject parent_instance;
	UcvWsConnection *browser;
	GIOStream *display;
	GCancellable *cancellable;
	GBytes *to_display; /* the browser's message being written to the display */
	gulong closed_id;
	gboolean started;
	gboolean finished;
};

static void ucv_vnc_proxy_session_init(UcvConsoleSessionInterface *iface);

G_DEFINE_TYPE_WITH_CODE(UcvVncProxy, ucv_vnc_proxy, G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(UCV_TYPE_CONSOLE_SESSION, ucv_vnc_proxy_session_init))

static void
finish(UcvVncProxy *self, guint16 code, const gchar *reason)
{
	if (self->finished)
		return;
	self->finished = TRUE;
	g_debug("display session ends (%u): %s", code, reason != NULL ? reason : "");
	g_cancellable_cancel(self->cancellable);
	ucv_ws_connection_close(self->browser, code, reason);
	g_io_stream_close_async(self->display, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
	ucv_console_session_emit_finished(UCV_CONSOLE_SESSION(self));
}

static gboolean
stopped(UcvVncProxy *self, GError *error)
{
	return self->finished || g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* --- display → browser --------------------------------------------------------------------- */

static void read_display(UcvVncProxy *self);

static void
on_sent_to_browser(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvVncProxy) self = user_data;
	g_autoptr(GError) error = NULL;

	if (!ucv_ws_connection_send_finish(UCV_WS_CONNECTION(source), res, &error)) {
		if (!stopped(self, error))
			finish(self, UCV_WS_CLOSE_GOING_AWAY, NULL);
		return;
	}
	read_display(self);
}

static void
on_display_read(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvVncProxy) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes =
		g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), res, &error);

	if (bytes == NULL) {
		if (!stopped(self, error))
			finish(self, UCV_WS_CLOSE_INTERNAL_ERROR, "the display failed");
		return;
	}
	if (g_bytes_get_size(bytes) == 0) {
		finish(self, UCV_WS_CLOSE_NORMAL, "the display closed");
		return;
	}
	ucv_ws_connection_send_async(self->browser, UCV_WS_OPCODE_BINARY, bytes, self->cancellable,
				     on_sent_to_browser, g_object_ref(self));
}

static void
read_display(UcvVncProxy *self)
{
	if (self->finished)
		return;
	g_input_stream_read_bytes_async(g_io_stream_get_input_stream(self->display), READ_BYTES,
					G_PRIORITY_DEFAULT, self->cancellable, on_display_read,
					g_object_ref(self));
}

/* --- browser → display --------------------------------------------------------------------- */

static void receive_from_browser(UcvVncProxy *self);

static void
on_written_to_display(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvVncProxy) self = user_data;
	g_autoptr(GError) error = NULL;

	g_clear_pointer(&self->to_display, g_bytes_unref);
	if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, &error)) {
		if (!stopped(self, error))
			finish(self, UCV_WS_CLOSE_INTERNAL_ERROR, "the display failed");
		return;
	}
	receive_from_browser(self);
}

static void
on_browser_message(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvVncProxy) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvWsMessage) message =
		ucv_ws_connection_receive_finish(UCV_WS_CONNECTION(source), res, &error);
	gsize len = 0;
	const guint8 *data;

	if (message == NULL) {
		/* the browser closed, cleanly or not: the display goes too */
		if (!stopped(self, error))
			finish(self, UCV_WS_CLOSE_NORMAL, NULL);
		return;
	}
	/* RFB travels in binary frames; noVNC sends nothing else */
	if (message->opcode != UCV_WS_OPCODE_BINARY) {
		receive_from_browser(self);
		return;
	}
	self->to_display = g_bytes_ref(message->payload);
	data = g_bytes_get_data(self->to_display, &len);
	g_output_stream_write_all_async(g_io_stream_get_output_stream(self->display), data, len,
					G_PRIORITY_DEFAULT, self->cancellable,
					on_written_to_display, g_object_ref(self));
}

static void
receive_from_browser(UcvVncProxy *self)
{
	if (self->finished)
		return;
	ucv_ws_connection_receive_async(self->browser, self->cancellable, on_browser_message,
					g_object_ref(self));
}

/* --- life ---------------------------------------------------------------------------------- */

static void
on_browser_closed(UcvWsConnection *browser, UcvVncProxy *self)
{
	finish(self, ucv_ws_connection_get_close_code(browser), NULL);
}

void
ucv_vnc_proxy_start(UcvVncProxy *self)
{
	g_return_if_fail(UCV_IS_VNC_PROXY(self));
	g_return_if_fail(!self->started);

	self->started = TRUE;
	self->closed_id =
		g_signal_connect(self->browser, "closed", G_CALLBACK(on_browser_closed), self);
	/* RFB: the server speaks first, but the browser may answer while a large update flows */
	read_display(self);
	receive_from_browser(self);
}

void
ucv_vnc_proxy_stop(UcvVncProxy *self, guint16 code, const gchar *reason)
{
	g_return_if_fail(UCV_IS_VNC_PROXY(self));
	finish(self, code, reason);
}

static void
ucv_vnc_proxy_session_stop(UcvConsoleSession *session, const gchar *reason)
{
	finish(UCV_VNC_PROXY(session), UCV_WS_CLOSE_GOING_AWAY, reason);
}

static gboolean
ucv_vnc_proxy_session_is_finished(UcvConsoleSession *session)
{
	return UCV_VNC_PROXY(session)->finished;
}

static void
ucv_vnc_proxy_session_init(UcvConsoleSessionInterface *iface)
{
	iface->stop = ucv_vnc_proxy_session_stop;
	iface->is_finished = ucv_vnc_proxy_session_is_finished;
}

static void
ucv_vnc_proxy_dispose(GObject *object)
{
	UcvVncProxy *self = UCV_VNC_PROXY(object);

	g_clear_signal_handler(&self->closed_id, self->browser);
	g_cancellable_cancel(self->cancellable);
	G_OBJECT_CLASS(ucv_vnc_proxy_parent_class)->dispose(object);
}

static void
ucv_vnc_proxy_finalize(GObject *object)
{
	UcvVncProxy *self = UCV_VNC_PROXY(object);

	g_clear_pointer(&self->to_display, g_bytes_unref);
	g_object_unref(self->browser);
	g_object_unref(self->display);
	g_object_unref(self->cancellable);
	G_OBJECT_CLASS(ucv_vnc_proxy_parent_class)->finalize(object);
}

static void
ucv_vnc_proxy_class_init(UcvVncProxyClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = ucv_vnc_proxy_dispose;
	object_class->finalize = ucv_vnc_proxy_finalize;
}

static void
ucv_vnc_proxy_init(UcvVncProxy *self)
{
	self->cancellable = g_cancellable_new();
}

UcvVncProxy *
ucv_vnc_proxy_new(UcvWsConnection *browser, GIOStream *display)
{
	UcvVncProxy *self = g_object_new(UCV_TYPE_VNC_PROXY, NULL);

	self->browser = g_object_ref(browser);
	self->display = g_object_ref(display);
	return self;
}
