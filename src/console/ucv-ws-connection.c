/* A server-side WebSocket connection: the codec of ucv-ws-frame.c put on a stream, paced by its
 * owner. */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-ws-connection.h"

/* One read's worth: all the connection takes from the client beyond the message asked for. */
#define READ_CHUNK (64 * 1024)

/* Never sent: stands for a connection that ended without a close frame (RFC 6455 7.1.5). */
#define CLOSE_ABNORMAL 1006

typedef struct {
	GBytes *frame;
	GTask *task;       /* NULL for the connection's own control frames */
	gboolean is_close; /* the stream closes once this frame is out */
} UcvWsOutgoing;

struct _UcvWsConnection {
	GObject parent_instance;
	GIOStream *stream;
	UcvWsFrameParser *parser;
	GCancellable *cancellable; /* our own I/O: cancelled when the stream goes, and at dispose */
	GQueue outgoing;           /* of UcvWsOutgoing, in the order they go out */
	UcvWsOutgoing *writing;    /* the frame being written; one at a time keeps frames whole */
	gboolean reading;
	GTask *receive_task;
	GSource *receive_cancel; /* watches the caller's cancellable while a receive waits */
	gboolean closing;        /* no messages any more either way */
	gboolean stream_closing; /* the stream closes as soon as no read or write is in flight */
	gboolean stream_closed;  /* its close has begun, and "closed" follows once */
	guint16 close_code;
};

enum { SIGNAL_CLOSED, SIGNAL_LAST };

static guint signals[SIGNAL_LAST] = {0};

G_DEFINE_TYPE(UcvWsConnection, ucv_ws_connection, G_TYPE_OBJECT)

static void
outgoing_free(UcvWsOutgoing *entry)
{
	g_bytes_unref(entry->frame);
	g_clear_object(&entry->task);
	g_free(entry);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvWsOutgoing, outgoing_free)

static GError *
closed_error(void)
{
	return g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CLOSED, "WebSocket connection is closed");
}

/* The pending receive, taken out first: its callback may ask for the next one at once. */
static GTask *
take_receive(UcvWsConnection *self)
{
	if (self->receive_cancel != NULL) {
		g_source_destroy(self->receive_cancel);
		g_clear_pointer(&self->receive_cancel, g_source_unref);
	}
	return g_steal_pointer(&self->receive_task);
}

/* NULL tells the owner that the connection closed without trouble. */
static void
complete_receive(UcvWsConnection *self, UcvWsMessage *message)
{
	g_autoptr(GTask) task = take_receive(self);

	if (task == NULL) {
		ucv_ws_message_free(message);
		return;
	}
	g_task_return_pointer(task, message, (GDestroyNotify)ucv_ws_message_free);
}

static void
fail_receive(UcvWsConnection *self, GError *error)
{
	g_autoptr(GTask) task = take_receive(self);

	if (task == NULL) {
		g_error_free(error);
		return;
	}
	g_task_return_error(task, error);
}

static void
fail_outgoing(UcvWsConnection *self)
{
	UcvWsOutgoing *entry;

	while ((entry = g_queue_pop_head(&self->outgoing)) != NULL) {
		if (entry->task != NULL)
			g_task_return_error(entry->task, closed_error());
		outgoing_free(entry);
	}
}

static void
stream_close_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWsConnection) self = user_data;
	g_autoptr(GError) error = NULL;

	if (!g_io_stream_close_finish(G_IO_STREAM(source), res, &error))
		g_debug("closing the WebSocket stream failed: %s", error->message);
	g_signal_emit(self, signals[SIGNAL_CLOSED], 0);
}

/* Waits for the cancelled read and write to come back: a stream with an operation pending
 * refuses to close. */
static void
close_stream_when_idle(UcvWsConnection *self)
{
	if (!self->stream_closing || self->stream_closed || self->reading || self->writing != NULL)
		return;
	self->stream_closed = TRUE;
	g_io_stream_close_async(self->stream, G_PRIORITY_DEFAULT, NULL, stream_close_cb,
				g_object_ref(self));
}

static void
close_stream(UcvWsConnection *self)
{
	self->closing = TRUE;
	self->stream_closing = TRUE;
	g_cancellable_cancel(self->cancellable);
	close_stream_when_idle(self);
}

/* The client is gone or the stream broke: nothing more can reach it, so whatever waits fails
 * and the stream goes at once. `receive_error` NULL completes a pending receive as closed. */
static void
abort_connection(UcvWsConnection *self, GError *receive_error)
{
	self->closing = TRUE;
	if (self->close_code == 0)
		self->close_code = CLOSE_ABNORMAL;
	close_stream(self);
	fail_outgoing(self);
	if (receive_error != NULL)
		fail_receive(self, receive_error);
	else
		complete_receive(self, NULL);
}

static void write_next(UcvWsConnection *self);

static void
write_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWsConnection) self = user_data;
	g_autoptr(UcvWsOutgoing) entry = g_steal_pointer(&self->writing);
	g_autoptr(GError) error = NULL;

	if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, &error)) {
		/* cancelled only because the stream goes: the frame never got out whole */
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
			if (entry->task != NULL)
				g_task_return_error(entry->task, closed_error());
			close_stream_when_idle(self);
			return;
		}
		g_debug("WebSocket write failed: %s", error->message);
		abort_connection(self, closed_error());
		if (entry->task != NULL)
			g_task_return_error(entry->task, g_steal_pointer(&error));
		return;
	}
	if (entry->task != NULL)
		g_task_return_boolean(entry->task, TRUE);
	if (entry->is_close) {
		close_stream(self);
		return;
	}
	write_next(self);
}

static void
write_next(UcvWsConnection *self)
{
	while (self->writing == NULL && !self->stream_closing) {
		UcvWsOutgoing *entry = g_queue_pop_head(&self->outgoing);
		GCancellable *cancellable;

		if (entry == NULL)
			return;
		/* a frame can be given up only before its first byte is written */
		cancellable = entry->task != NULL ? g_task_get_cancellable(entry->task) : NULL;
		if (g_cancellable_is_cancelled(cancellable)) {
			g_task_return_error_if_cancelled(entry->task);
			outgoing_free(entry);
			continue;
		}
		self->writing = entry;
		g_output_stream_write_all_async(g_io_stream_get_output_stream(self->stream),
						g_bytes_get_data(entry->frame, NULL),
						g_bytes_get_size(entry->frame), G_PRIORITY_DEFAULT,
						self->cancellable, write_cb, g_object_ref(self));
	}
}

/* Takes `frame` and `task`. */
static void
queue_frame(UcvWsConnection *self, GBytes *frame, GTask *task, gboolean is_close)
{
	UcvWsOutgoing *entry = g_new0(UcvWsOutgoing, 1);

	entry->frame = frame;
	entry->task = task;
	entry->is_close = is_close;
	g_queue_push_tail(&self->outgoing, entry);
	write_next(self);
}

/* Our close frame goes behind what is queued, and the stream closes once it is out. */
static void
queue_close(UcvWsConnection *self, GBytes *frame, guint16 code)
{
	self->closing = TRUE;
	if (self->close_code == 0)
		self->close_code = code;
	queue_frame(self, frame, NULL, TRUE);
}

static void
answer_close(UcvWsConnection *self, const UcvWsMessage *message)
{
	guint16 code = message->close_code;

	/* the client's own code is what the owner learns, "none" included */
	self->close_code = code;
	/* RFC 6455 5.5.1: the answer echoes the code; a close without one gets a normal close */
	if (code == UCV_WS_CLOSE_NO_STATUS)
		code = UCV_WS_CLOSE_NORMAL;
	queue_close(self, ucv_ws_frame_encode_close(code, NULL), code);
	complete_receive(self, NULL);
}

/* Takes `error`. The browser learns what went wrong from the close reason. */
static void
protocol_failed(UcvWsConnection *self, GError *error)
{
	guint16 code = ucv_ws_frame_parser_get_close_code(self->parser);

	g_debug("closing WebSocket with %u: %s", code, error->message);
	queue_close(self, ucv_ws_frame_encode_close(code, error->message), code);
	fail_receive(self, error);
}

/* Takes `message`; the data messages go to the owner, control frames are dealt with here. */
static void
handle_message(UcvWsConnection *self, UcvWsMessage *message)
{
	g_autoptr(UcvWsMessage) control = message;
	const guint8 *data;
	gsize len;

	switch (message->opcode) {
	case UCV_WS_OPCODE_PING:
		data = g_bytes_get_data(message->payload, &len);
		queue_frame(self, ucv_ws_frame_encode(UCV_WS_OPCODE_PONG, data, len), NULL, FALSE);
		return;
	case UCV_WS_OPCODE_PONG:
		return;
	case UCV_WS_OPCODE_CLOSE:
		answer_close(self, message);
		return;
	default:
		complete_receive(self, g_steal_pointer(&control));
		return;
	}
}

static void start_read(UcvWsConnection *self);

/* Serves the pending receive from what the parser holds, and reads only when that is nothing:
 * a client that sends faster than the owner takes fills its own socket, not our memory. */
static void
pump_input(UcvWsConnection *self)
{
	while (self->receive_task != NULL && !self->closing) {
		g_autoptr(GError) error = NULL;
		UcvWsMessage *message = ucv_ws_frame_parser_next(self->parser, &error);

		if (error != NULL) {
			protocol_failed(self, g_steal_pointer(&error));
			return;
		}
		if (message == NULL) {
			start_read(self);
			return;
		}
		handle_message(self, message);
	}
}

static void
read_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWsConnection) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes =
		g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), res, &error);
	const guint8 *data;
	gsize len;

	self->reading = FALSE;
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		close_stream_when_idle(self);
		return;
	}
	if (bytes == NULL) {
		g_debug("WebSocket read failed: %s", error->message);
		abort_connection(self, g_steal_pointer(&error));
		return;
	}
	data = g_bytes_get_data(bytes, &len);
	/* also ends a close of ours that a client no longer reading would hold up forever */
	if (len == 0) {
		abort_connection(self, NULL);
		return;
	}
	/* after our close frame the client has nothing more to say that matters */
	if (self->closing)
		return;
	if (!ucv_ws_frame_parser_feed(self->parser, data, len, &error)) {
		protocol_failed(self, g_steal_pointer(&error));
		return;
	}
	pump_input(self);
}

static void
start_read(UcvWsConnection *self)
{
	if (self->reading)
		return;
	self->reading = TRUE;
	g_input_stream_read_bytes_async(g_io_stream_get_input_stream(self->stream), READ_CHUNK,
					G_PRIORITY_DEFAULT, self->cancellable, read_cb,
					g_object_ref(self));
}

/* A read in flight stays: what it brings waits in the parser for the next receive. */
static gboolean
receive_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
	UcvWsConnection *self = UCV_WS_CONNECTION(user_data);
	g_autoptr(GTask) task = take_receive(self);

	g_task_return_error_if_cancelled(task);
	return G_SOURCE_REMOVE;
}

/* The pending task holds a reference on self, and the source goes with the task. */
static void
watch_receive_cancellable(UcvWsConnection *self, GCancellable *cancellable)
{
	if (cancellable == NULL)
		return;
	self->receive_cancel = g_cancellable_source_new(cancellable);
	g_source_set_callback(self->receive_cancel, G_SOURCE_FUNC(receive_cancelled_cb), self,
			      NULL);
	g_source_attach(self->receive_cancel, g_main_context_get_thread_default());
}

void
ucv_ws_connection_receive_async(UcvWsConnection *self, GCancellable *cancellable,
				GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = NULL;

	g_return_if_fail(UCV_IS_WS_CONNECTION(self));
	g_return_if_fail(cancellable == NULL || G_IS_CANCELLABLE(cancellable));

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ucv_ws_connection_receive_async);
	/* a message once taken from the parser is delivered, cancelled or not, or it is lost */
	g_task_set_check_cancellable(task, FALSE);
	if (self->receive_task != NULL) {
		g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_PENDING,
					"a WebSocket receive is already pending");
		return;
	}
	if (self->closing) {
		g_task_return_error(task, closed_error());
		return;
	}
	if (g_task_return_error_if_cancelled(task))
		return;
	self->receive_task = g_steal_pointer(&task);
	watch_receive_cancellable(self, cancellable);
	pump_input(self);
}

UcvWsMessage *
ucv_ws_connection_receive_finish(UcvWsConnection *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

void
ucv_ws_connection_send_async(UcvWsConnection *self, UcvWsOpcode opcode, GBytes *payload,
			     GCancellable *cancellable, GAsyncReadyCallback callback,
			     gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	const guint8 *data;
	gsize len;

	g_return_if_fail(UCV_IS_WS_CONNECTION(self));
	g_return_if_fail(opcode == UCV_WS_OPCODE_TEXT || opcode == UCV_WS_OPCODE_BINARY);
	g_return_if_fail(payload != NULL);
	g_return_if_fail(cancellable == NULL || G_IS_CANCELLABLE(cancellable));

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ucv_ws_connection_send_async);
	/* a frame written is reported as written, even if cancelled meanwhile */
	g_task_set_check_cancellable(task, FALSE);
	if (self->closing) {
		g_task_return_error(task, closed_error());
		return;
	}
	data = g_bytes_get_data(payload, &len);
	queue_frame(self, ucv_ws_frame_encode(opcode, data, len), g_steal_pointer(&task), FALSE);
}

gboolean
ucv_ws_connection_send_finish(UcvWsConnection *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}

void
ucv_ws_connection_close(UcvWsConnection *self, guint16 code, const gchar *reason)
{
	g_autoptr(UcvWsConnection) keep = NULL;
	GBytes *frame;

	g_return_if_fail(UCV_IS_WS_CONNECTION(self));

	if (self->closing)
		return;
	frame = ucv_ws_frame_encode_close(code, reason);
	if (frame == NULL)
		return;
	/* the failed receive's callback may drop the caller's reference */
	keep = g_object_ref(self);
	queue_close(self, frame, code);
	fail_receive(self, closed_error());
}

gboolean
ucv_ws_connection_is_closed(UcvWsConnection *self)
{
	g_return_val_if_fail(UCV_IS_WS_CONNECTION(self), TRUE);
	return self->closing;
}

guint16
ucv_ws_connection_get_close_code(UcvWsConnection *self)
{
	g_return_val_if_fail(UCV_IS_WS_CONNECTION(self), 0);
	return self->close_code;
}

UcvWsConnection *
ucv_ws_connection_new(GIOStream *stream, gsize max_message_bytes)
{
	UcvWsConnection *self;

	g_return_val_if_fail(G_IS_IO_STREAM(stream), NULL);

	self = g_object_new(UCV_TYPE_WS_CONNECTION, NULL);
	self->stream = g_object_ref(stream);
	self->parser = ucv_ws_frame_parser_new(max_message_bytes);
	return self;
}

static void
ucv_ws_connection_init(UcvWsConnection *self)
{
	self->cancellable = g_cancellable_new();
	g_queue_init(&self->outgoing);
}

/* Every read, write and close in flight holds a reference, so this runs with I/O in flight
 * only when disposed on purpose; their callbacks then find the cancellation and stop. */
static void
ucv_ws_connection_dispose(GObject *object)
{
	UcvWsConnection *self = UCV_WS_CONNECTION(object);

	self->closing = TRUE;
	g_cancellable_cancel(self->cancellable);
	fail_outgoing(self);
	fail_receive(self, closed_error());
	G_OBJECT_CLASS(ucv_ws_connection_parent_class)->dispose(object);
}

static void
ucv_ws_connection_finalize(GObject *object)
{
	UcvWsConnection *self = UCV_WS_CONNECTION(object);

	g_clear_object(&self->stream);
	g_clear_pointer(&self->parser, ucv_ws_frame_parser_free);
	g_clear_object(&self->cancellable);
	G_OBJECT_CLASS(ucv_ws_connection_parent_class)->finalize(object);
}

static void
ucv_ws_connection_class_init(UcvWsConnectionClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = ucv_ws_connection_dispose;
	object_class->finalize = ucv_ws_connection_finalize;

	/* once per connection, whichever side closed and however */
	signals[SIGNAL_CLOSED] = g_signal_new("closed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
					      0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}
