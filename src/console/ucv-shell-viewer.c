/* A browser's shell WebSocket. One frame from the browser is handled at a time: an input frame
 * is acknowledged when the console has taken it, and only then is the next one read, so a
 * browser pasting faster than the console takes it is slowed down, not buffered. */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-shell-viewer.h"

#include <string.h>

#include "console/ucv-shell-protocol.h"

#define INITIALIZE_TIMEOUT_MS (30 * 1000)
/* a serial console shows nothing until the guest writes: say where the user is */
#define GREETING "[Connected to the machine's serial console. Press Enter for a prompt.]\r\n"
/* what a terminal is told before the browser said its size */
#define DEFAULT_COLS 80
#define DEFAULT_ROWS 24
/* Output a browser may have outstanding before it counts as gone: many seconds of a busy
 * serial console */
#define MAX_QUEUED_OUTPUT (4 * 1024 * 1024)

struct _UcvShellViewer {
	GObject parent_instance;
	UcvWsConnection *browser;
	gchar *session_identifier;
	gchar *stream_id; /* the initialize frame's: all output goes there */
	UcvTerminal *terminal;
	guint16 cols, rows; /* the browser's latest window size */
	GCancellable *cancellable;
	guint initialize_timeout_ms;
	guint initialize_timer;
	gulong closed_id;
	gsize queued_output;
	gboolean finished;
};

G_DEFINE_TYPE(UcvShellViewer, ucv_shell_viewer, G_TYPE_OBJECT)

enum { SIGNAL_INITIALIZED, SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* A frame on its way to the browser, counted until written. */
typedef struct {
	UcvShellViewer *viewer;
	gsize len;
} UcvSentFrame;

/* An input frame on its way to the console; acknowledged once there. */
typedef struct {
	UcvShellViewer *viewer;
	gchar *stream_id;
} UcvPendingInput;

static void receive_next(UcvShellViewer *self);

static void
finish(UcvShellViewer *self)
{
	if (self->finished)
		return;
	self->finished = TRUE;
	g_clear_handle_id(&self->initialize_timer, g_source_remove);
	g_cancellable_cancel(self->cancellable);
	g_signal_emit(self, signals[SIGNAL_FINISHED], 0);
}

static void
close_browser(UcvShellViewer *self, guint16 code, const gchar *reason)
{
	g_autoptr(UcvShellViewer) keep = g_object_ref(self);

	g_debug("shell session ends (%u): %s", code, reason != NULL ? reason : "");
	ucv_ws_connection_close(self->browser, code, reason);
	finish(self);
}

static void
on_sent(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvSentFrame *sent = user_data;
	UcvShellViewer *self = sent->viewer;

	/* a failed send means the socket is going: "closed" tells the rest */
	ucv_ws_connection_send_finish(UCV_WS_CONNECTION(source), res, NULL);
	self->queued_output -= MIN(sent->len, self->queued_output);
	g_object_unref(self);
	g_free(sent);
}

static void
send_frame(UcvShellViewer *self, GBytes *frame)
{
	UcvSentFrame *sent = g_new0(UcvSentFrame, 1);

	sent->viewer = g_object_ref(self);
	sent->len = g_bytes_get_size(frame);
	self->queued_output += sent->len;
	ucv_ws_connection_send_async(self->browser, UCV_WS_OPCODE_TEXT, frame, NULL, on_sent, sent);
}

static void
acknowledge(UcvShellViewer *self, const gchar *stream_id)
{
	g_autoptr(GBytes) ack = ucv_shell_reply_ack(stream_id);

	send_frame(self, ack);
	receive_next(self);
}

static void
on_input_written(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvPendingInput *pending = user_data;
	g_autoptr(UcvShellViewer) self = pending->viewer;
	g_autofree gchar *stream_id = pending->stream_id;
	g_autoptr(GError) error = NULL;

	g_free(pending);
	/* a console that is gone ends its viewers with the reason itself */
	if (!ucv_terminal_write_finish(UCV_TERMINAL(source), res, &error))
		g_debug("shell input not delivered: %s", error->message);
	else if (!self->finished)
		acknowledge(self, stream_id);
}

static void
handle_input(UcvShellViewer *self, UcvShellRequest *request)
{
	gsize len = strlen(request->data);
	g_autoptr(GBytes) input = NULL;
	UcvPendingInput *pending;

	if (len == 0) {
		acknowledge(self, request->stream_id);
		return;
	}
	input = g_bytes_new_take(g_steal_pointer(&request->data), len);
	pending = g_new0(UcvPendingInput, 1);
	pending->viewer = g_object_ref(self);
	pending->stream_id = g_strdup(request->stream_id);
	ucv_terminal_write_async(self->terminal, input, NULL, on_input_written, pending);
}

/* Comparing every byte whatever the first difference, so timing tells nothing of the session. */
static gboolean
same_session(const gchar *expected, const gchar *given)
{
	gsize len = strlen(expected);
	gsize given_len = strlen(given);
	guchar diff = given_len != len;

	for (gsize i = 0; i < len; i++)
		diff |= (guchar)expected[i] ^ (guchar)(i < given_len ? given[i] : 0);
	return diff == 0;
}

/* Remembers the window size a request gives (absent: 0), clamped to what a terminal holds. */
static gboolean
take_size(UcvShellViewer *self, UcvShellRequest *request)
{
	if (request->cols == 0 || request->rows == 0)
		return FALSE;
	self->cols = (guint16)MIN(request->cols, G_MAXUINT16);
	self->rows = (guint16)MIN(request->rows, G_MAXUINT16);
	return TRUE;
}

static void
handle_initialize(UcvShellViewer *self, UcvShellRequest *request)
{
	g_autoptr(GBytes) reply = NULL;

	if (request->type != UCV_SHELL_INITIALIZE) {
		close_browser(self, UCV_WS_CLOSE_POLICY, "the shell must be initialized first");
		return;
	}
	if (!same_session(self->session_identifier, request->session_identifier)) {
		close_browser(self, UCV_WS_CLOSE_POLICY, "this is not the session of this socket");
		return;
	}
	g_clear_handle_id(&self->initialize_timer, g_source_remove);
	self->stream_id = g_strdup(request->stream_id);
	take_size(self, request);
	reply = ucv_shell_reply_initialized(self->stream_id);
	send_frame(self, reply);
	/* nothing more is read until a console is attached */
	g_signal_emit(self, signals[SIGNAL_INITIALIZED], 0);
}

static void
handle_request(UcvShellViewer *self, UcvShellRequest *request)
{
	if (self->stream_id == NULL) {
		handle_initialize(self, request);
		return;
	}
	if (request->type == UCV_SHELL_INPUT) {
		handle_input(self, request);
		return;
	}
	/* a second initialize is a resize in the web client's eyes; a terminal without a size (a
	 * serial line) ignores it, and either way it is acknowledged at once */
	if (take_size(self, request))
		ucv_terminal_resize(self->terminal, self->cols, self->rows);
	acknowledge(self, request->stream_id);
}

static void
on_received(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvShellViewer) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvWsMessage) message =
		ucv_ws_connection_receive_finish(UCV_WS_CONNECTION(source), res, &error);
	g_autoptr(UcvShellRequest) request = NULL;

	if (message == NULL || self->finished) {
		finish(self);
		return;
	}
	if (message->opcode != UCV_WS_OPCODE_TEXT) {
		close_browser(self, UCV_WS_CLOSE_POLICY, "the shell speaks in text frames");
		return;
	}
	request = ucv_shell_request_parse(message->payload, &error);
	if (request == NULL) {
		close_browser(self, UCV_WS_CLOSE_POLICY, error->message);
		return;
	}
	handle_request(self, request);
}

static void
receive_next(UcvShellViewer *self)
{
	if (self->finished)
		return;
	ucv_ws_connection_receive_async(self->browser, self->cancellable, on_received,
					g_object_ref(self));
}

static gboolean
on_initialize_timeout(gpointer user_data)
{
	UcvShellViewer *self = user_data;

	self->initialize_timer = 0;
	close_browser(self, UCV_WS_CLOSE_POLICY, "the shell was not initialized in time");
	return G_SOURCE_REMOVE;
}

static void
on_browser_closed(UcvWsConnection *browser, UcvShellViewer *self)
{
	finish(self);
}

UcvShellViewer *
ucv_shell_viewer_new(UcvWsConnection *browser, const gchar *session_identifier)
{
	UcvShellViewer *self = g_object_new(UCV_TYPE_SHELL_VIEWER, NULL);

	g_return_val_if_fail(session_identifier != NULL, NULL);

	self->browser = g_object_ref(browser);
	self->session_identifier = g_strdup(session_identifier);
	return self;
}

void
ucv_shell_viewer_start(UcvShellViewer *self)
{
	g_return_if_fail(UCV_IS_SHELL_VIEWER(self));

	self->closed_id =
		g_signal_connect(self->browser, "closed", G_CALLBACK(on_browser_closed), self);
	self->initialize_timer =
		g_timeout_add(self->initialize_timeout_ms, on_initialize_timeout, self);
	receive_next(self);
}

void
ucv_shell_viewer_attach_terminal(UcvShellViewer *self, UcvTerminal *terminal, const gchar *greeting)
{
	g_return_if_fail(UCV_IS_SHELL_VIEWER(self));
	g_return_if_fail(UCV_IS_TERMINAL(terminal));
	g_return_if_fail(self->stream_id != NULL && self->terminal == NULL);

	self->terminal = g_object_ref(terminal);
	if (greeting != NULL) {
		g_autoptr(GBytes) frame = ucv_shell_reply_data(self->stream_id, greeting);
		send_frame(self, frame);
	}
	receive_next(self);
}

void
ucv_shell_viewer_attach(UcvShellViewer *self, UcvConsoleStream *console)
{
	ucv_shell_viewer_attach_terminal(self, UCV_TERMINAL(console), GREETING);
}

void
ucv_shell_viewer_get_size(UcvShellViewer *self, guint16 *cols, guint16 *rows)
{
	g_return_if_fail(UCV_IS_SHELL_VIEWER(self));

	*cols = self->cols != 0 ? self->cols : DEFAULT_COLS;
	*rows = self->rows != 0 ? self->rows : DEFAULT_ROWS;
}

void
ucv_shell_viewer_send_output(UcvShellViewer *self, const gchar *text)
{
	g_autoptr(GBytes) frame = NULL;

	g_return_if_fail(UCV_IS_SHELL_VIEWER(self));

	if (self->finished || self->terminal == NULL)
		return;
	if (self->queued_output > MAX_QUEUED_OUTPUT) {
		close_browser(self, UCV_WS_CLOSE_POLICY, "the terminal could not keep up");
		return;
	}
	frame = ucv_shell_reply_data(self->stream_id, text);
	send_frame(self, frame);
}

void
ucv_shell_viewer_end(UcvShellViewer *self, const gchar *message)
{
	g_return_if_fail(UCV_IS_SHELL_VIEWER(self));

	if (self->finished)
		return;
	if (self->stream_id != NULL && message != NULL) {
		g_autofree gchar *line = g_strdup_printf("\r\n[%s]\r\n", message);
		g_autoptr(GBytes) frame = ucv_shell_reply_data(self->stream_id, line);
		send_frame(self, frame);
	}
	close_browser(self, UCV_WS_CLOSE_NORMAL, message);
}

gboolean
ucv_shell_viewer_is_finished(UcvShellViewer *self)
{
	g_return_val_if_fail(UCV_IS_SHELL_VIEWER(self), TRUE);
	return self->finished;
}

void
ucv_shell_viewer_set_initialize_timeout(UcvShellViewer *self, guint timeout_ms)
{
	g_return_if_fail(UCV_IS_SHELL_VIEWER(self));
	self->initialize_timeout_ms = timeout_ms;
}

static void
ucv_shell_viewer_dispose(GObject *object)
{
	UcvShellViewer *self = UCV_SHELL_VIEWER(object);

	g_clear_signal_handler(&self->closed_id, self->browser);
	g_clear_handle_id(&self->initialize_timer, g_source_remove);
	g_cancellable_cancel(self->cancellable);
	G_OBJECT_CLASS(ucv_shell_viewer_parent_class)->dispose(object);
}

static void
ucv_shell_viewer_finalize(GObject *object)
{
	UcvShellViewer *self = UCV_SHELL_VIEWER(object);

	g_object_unref(self->browser);
	g_clear_object(&self->terminal);
	g_object_unref(self->cancellable);
	g_free(self->session_identifier);
	g_free(self->stream_id);
	G_OBJECT_CLASS(ucv_shell_viewer_parent_class)->finalize(object);
}

static void
ucv_shell_viewer_class_init(UcvShellViewerClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = ucv_shell_viewer_dispose;
	object_class->finalize = ucv_shell_viewer_finalize;
	signals[SIGNAL_INITIALIZED] =
		g_signal_new("initialized", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			     NULL, NULL, G_TYPE_NONE, 0);
	signals[SIGNAL_FINISHED] =
		g_signal_new("finished", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
			     NULL, G_TYPE_NONE, 0);
}

static void
ucv_shell_viewer_init(UcvShellViewer *self)
{
	self->cancellable = g_cancellable_new();
	self->initialize_timeout_ms = INITIALIZE_TIMEOUT_MS;
}
