/* The host end of the agent protocol: the shared frame codec put on a stream. */
#define G_LOG_DOMAIN "ucv-container"

#include "config.h"

#include "ucv-agent-channel.h"

#include "agent/ucv-agent-frame.h"
#include "model/ucv-error.h"

/* One read's worth; the decoder holds at most one frame beyond it. */
#define READ_CHUNK (64 * 1024)
/* QEMU creates the socket while the domain starts. */
#define CONNECT_RETRY_MS 100
/* How long a closing channel waits for an agent that does not read its queued frames. */
#define CLOSE_FLUSH_MS 2000

typedef struct {
	GBytes *bytes; /* one or more whole frames */
	GTask *task;   /* NULL for frames nobody waits for */
} Outgoing;

struct _UcvAgentChannel {
	GObject parent_instance;
	GIOStream *stream;
	UcvAgentDecoder *decoder;  /* ~64 KiB: on the heap */
	GCancellable *cancellable; /* our own I/O: cancelled when the stream goes, and at dispose */
	GQueue outgoing;           /* of Outgoing, in call order */
	Outgoing *writing;         /* one write in flight keeps frames whole and in order */
	gboolean reading;
	gboolean closed;        /* no signals, no new writes: either side ended the channel */
	gboolean shutting_down; /* nothing more is written; the stream closes once I/O is idle */
	gboolean stream_closed; /* its close has begun */
	gboolean exited;        /* "exited" was emitted */
	guint flush_timeout_id;
	gchar *version;
};

enum {
	SIGNAL_HELLO,
	SIGNAL_STARTED,
	SIGNAL_OUTPUT,
	SIGNAL_EXITED,
	SIGNAL_SHELL_DATA,
	SIGNAL_SHELL_CLOSED,
	SIGNAL_CLOSED,
	SIGNAL_LAST
};

static guint signals[SIGNAL_LAST] = {0};

G_DEFINE_TYPE(UcvAgentChannel, ucv_agent_channel, G_TYPE_OBJECT)

static void
outgoing_free(Outgoing *entry)
{
	g_bytes_unref(entry->bytes);
	g_clear_object(&entry->task);
	g_free(entry);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Outgoing, outgoing_free)

static GError *
closed_error(void)
{
	return g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CLOSED, "agent channel is closed");
}

/* Task callbacks may run right here and call back into the channel: each entry leaves the queue
 * before its task completes. */
static void
fail_outgoing(UcvAgentChannel *self)
{
	Outgoing *entry;

	while ((entry = g_queue_pop_head(&self->outgoing)) != NULL) {
		g_autoptr(Outgoing) owned = entry;

		if (owned->task != NULL)
			g_task_return_error(owned->task, closed_error());
	}
}

static void
stream_close_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvAgentChannel) self = user_data;
	g_autoptr(GError) error = NULL;

	if (!g_io_stream_close_finish(G_IO_STREAM(source), res, &error))
		g_debug("closing the agent channel's stream failed: %s", error->message);
}

/* A stream with an operation pending refuses to close: wait for the cancelled ones to return. */
static void
close_stream_when_idle(UcvAgentChannel *self)
{
	if (!self->shutting_down || self->stream_closed || self->reading || self->writing != NULL)
		return;
	self->stream_closed = TRUE;
	g_io_stream_close_async(self->stream, G_PRIORITY_DEFAULT, NULL, stream_close_cb,
				g_object_ref(self));
}

static void
shut_down(UcvAgentChannel *self)
{
	self->shutting_down = TRUE;
	g_clear_handle_id(&self->flush_timeout_id, g_source_remove);
	g_cancellable_cancel(self->cancellable);
	fail_outgoing(self);
	close_stream_when_idle(self);
}

/* The agent is gone or broke the protocol: nothing queued can matter any more. `reason` NULL
 * stands for a clean hang-up. */
static void
end_channel(UcvAgentChannel *self, const gchar *reason)
{
	gboolean was_closed = self->closed;

	self->closed = TRUE;
	shut_down(self);
	if (!was_closed)
		g_signal_emit(self, signals[SIGNAL_CLOSED], 0, reason);
}

static gboolean
flush_timeout_cb(gpointer user_data)
{
	UcvAgentChannel *self = UCV_AGENT_CHANNEL(user_data);

	self->flush_timeout_id = 0;
	g_debug("the agent does not read; dropping what is queued for it");
	shut_down(self);
	return G_SOURCE_REMOVE;
}

static void write_next(UcvAgentChannel *self);

/* Takes `error`. Cancelled only because the stream goes: the frames never got out whole. */
static void
write_failed(UcvAgentChannel *self, Outgoing *entry, GError *error)
{
	g_autoptr(GError) owned = error;

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		if (entry->task != NULL)
			g_task_return_error(entry->task, closed_error());
		close_stream_when_idle(self);
		return;
	}
	g_debug("writing to the agent failed: %s", error->message);
	end_channel(self, error->message);
	if (entry->task != NULL)
		g_task_return_error(entry->task, g_steal_pointer(&owned));
}

static void
write_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvAgentChannel) self = user_data;
	g_autoptr(Outgoing) entry = g_steal_pointer(&self->writing);
	g_autoptr(GError) error = NULL;

	if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, &error)) {
		write_failed(self, entry, g_steal_pointer(&error));
		return;
	}
	if (entry->task != NULL)
		g_task_return_boolean(entry->task, TRUE);
	write_next(self);
}

/* An entry that needs no write: given up before its first byte, or empty. */
static gboolean
outgoing_done_early(Outgoing *entry)
{
	GCancellable *cancellable =
		entry->task != NULL ? g_task_get_cancellable(entry->task) : NULL;

	if (g_cancellable_is_cancelled(cancellable)) {
		g_task_return_error_if_cancelled(entry->task);
		return TRUE;
	}
	if (g_bytes_get_size(entry->bytes) > 0)
		return FALSE;
	if (entry->task != NULL)
		g_task_return_boolean(entry->task, TRUE);
	return TRUE;
}

/* Once a closing channel has written everything, its stream goes. */
static void
write_next(UcvAgentChannel *self)
{
	while (self->writing == NULL && !self->shutting_down) {
		g_autoptr(Outgoing) entry = g_queue_pop_head(&self->outgoing);

		if (entry == NULL) {
			if (self->closed)
				shut_down(self);
			return;
		}
		if (outgoing_done_early(entry))
			continue;
		self->writing = g_steal_pointer(&entry);
		g_output_stream_write_all_async(g_io_stream_get_output_stream(self->stream),
						g_bytes_get_data(self->writing->bytes, NULL),
						g_bytes_get_size(self->writing->bytes),
						G_PRIORITY_DEFAULT, self->cancellable, write_cb,
						g_object_ref(self));
	}
}

/* Takes `bytes` and `task`. */
static void
queue_bytes(UcvAgentChannel *self, GBytes *bytes, GTask *task)
{
	Outgoing *entry = g_new0(Outgoing, 1);

	entry->bytes = bytes;
	entry->task = task;
	g_queue_push_tail(&self->outgoing, entry);
	write_next(self);
}

/* A frame of the channel's own, `len` bytes the encoder wrote to `buf` (0: it refused). */
static void
queue_frame(UcvAgentChannel *self, const guint8 *buf, gsize len, const gchar *what)
{
	if (len == 0) {
		g_warning("not sending an invalid %s frame to the agent", what);
		return;
	}
	if (self->closed) {
		g_debug("agent channel closed: %s not sent", what);
		return;
	}
	queue_bytes(self, g_bytes_new(buf, len), NULL);
}

static void
queue_plain(UcvAgentChannel *self, guint8 type, guint32 channel, const guint8 *payload, gsize len)
{
	guint8 buf[UCV_AGENT_FRAME_HEADER + UCV_AGENT_PING_MAX];

	queue_frame(self, buf,
		    ucv_agent_frame_encode(buf, sizeof(buf), UCV_AGENT_PEER_HOST, type, channel,
					   payload, len),
		    ucv_agent_frame_type_name(type));
}

static void
handle_hello(UcvAgentChannel *self, const UcvAgentFrame *frame)
{
	guint16 protocol;
	const gchar *version;
	gsize version_len;

	ucv_agent_frame_parse_hello(frame, &protocol, &version, &version_len);
	g_free(self->version);
	/* the decoder let only printable ASCII through */
	self->version = g_strndup(version, version_len);
	g_signal_emit(self, signals[SIGNAL_HELLO], 0, (guint)protocol, self->version);
}

/* The agent repeats EXIT until it hears back; the owner hears of it once. */
static void
handle_exit(UcvAgentChannel *self, const UcvAgentFrame *frame)
{
	queue_plain(self, UCV_AGENT_FRAME_EXIT_ACK, 0, NULL, 0);
	if (self->exited)
		return;
	self->exited = TRUE;
	g_signal_emit(self, signals[SIGNAL_EXITED], 0, (gint)ucv_agent_frame_parse_exit(frame));
}

/* The payload lives in the decoder only until its next feed. */
static GBytes *
frame_payload(const UcvAgentFrame *frame)
{
	return g_bytes_new(frame->payload, frame->payload_len);
}

static void
emit_output(UcvAgentChannel *self, UcvAgentOutput stream, const UcvAgentFrame *frame)
{
	g_autoptr(GBytes) data = frame_payload(frame);

	g_signal_emit(self, signals[SIGNAL_OUTPUT], 0, (guint)stream, data);
}

static void
emit_shell_data(UcvAgentChannel *self, const UcvAgentFrame *frame)
{
	g_autoptr(GBytes) data = frame_payload(frame);

	g_signal_emit(self, signals[SIGNAL_SHELL_DATA], 0, (guint)frame->channel, data);
}

/* Only types the decoder accepts from the guest arrive here. */
static void
handle_frame(UcvAgentChannel *self, const UcvAgentFrame *frame)
{
	switch (frame->type) {
	case UCV_AGENT_FRAME_HELLO:
		handle_hello(self, frame);
		return;
	case UCV_AGENT_FRAME_STARTED:
		g_signal_emit(self, signals[SIGNAL_STARTED], 0);
		return;
	case UCV_AGENT_FRAME_STDOUT:
		emit_output(self, UCV_AGENT_OUTPUT_STDOUT, frame);
		return;
	case UCV_AGENT_FRAME_STDERR:
		emit_output(self, UCV_AGENT_OUTPUT_STDERR, frame);
		return;
	case UCV_AGENT_FRAME_EXIT:
		handle_exit(self, frame);
		return;
	case UCV_AGENT_FRAME_DATA:
		emit_shell_data(self, frame);
		return;
	case UCV_AGENT_FRAME_CLOSE:
		g_signal_emit(self, signals[SIGNAL_SHELL_CLOSED], 0, (guint)frame->channel);
		return;
	case UCV_AGENT_FRAME_PING:
		queue_plain(self, UCV_AGENT_FRAME_PONG, 0, frame->payload, frame->payload_len);
		return;
	default:
		g_debug("ignoring %s from the agent", ucv_agent_frame_type_name(frame->type));
		return;
	}
}

/* One read may hold several frames and end inside one. A handler may close the channel: the
 * frames after that are dropped. */
static void
handle_bytes(UcvAgentChannel *self, GBytes *bytes)
{
	gsize len;
	const guint8 *data = g_bytes_get_data(bytes, &len);
	gsize pos = 0;

	while (pos < len && !self->closed) {
		UcvAgentFrame frame;
		gsize used = 0;
		UcvAgentFeedResult result =
			ucv_agent_decoder_feed(self->decoder, data + pos, len - pos, &used, &frame);

		pos += used;
		if (result == UCV_AGENT_FEED_ERROR) {
			const gchar *reason = ucv_agent_decode_error_string(
				ucv_agent_decoder_error(self->decoder));

			g_debug("bad frame from the agent: %s", reason);
			end_channel(self, reason);
			return;
		}
		if (result == UCV_AGENT_FEED_FRAME)
			handle_frame(self, &frame);
	}
}

static void start_read(UcvAgentChannel *self);

/* A closing channel goes on reading while it flushes, and drops what it reads: an agent blocked
 * on a full port might not read what we write otherwise. */
static void
read_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvAgentChannel) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) bytes =
		g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), res, &error);

	self->reading = FALSE;
	if (self->shutting_down) {
		close_stream_when_idle(self);
		return;
	}
	if (bytes == NULL) {
		g_debug("reading from the agent failed: %s", error->message);
		end_channel(self, error->message);
		return;
	}
	if (g_bytes_get_size(bytes) == 0) {
		end_channel(self, NULL);
		return;
	}
	if (!self->closed)
		handle_bytes(self, bytes);
	start_read(self);
}

static void
start_read(UcvAgentChannel *self)
{
	if (self->reading || self->shutting_down)
		return;
	self->reading = TRUE;
	g_input_stream_read_bytes_async(g_io_stream_get_input_stream(self->stream), READ_CHUNK,
					G_PRIORITY_DEFAULT, self->cancellable, read_cb,
					g_object_ref(self));
}

void
ucv_agent_channel_start(UcvAgentChannel *self)
{
	g_return_if_fail(UCV_IS_AGENT_CHANNEL(self));

	if (self->closed)
		return;
	start_read(self);
}

void
ucv_agent_channel_open_shell(UcvAgentChannel *self, guint channel, guint32 uid, guint16 cols,
			     guint16 rows)
{
	guint8 buf[UCV_AGENT_FRAME_HEADER + 8];

	g_return_if_fail(UCV_IS_AGENT_CHANNEL(self));
	queue_frame(self, buf,
		    ucv_agent_frame_encode_shell_open(buf, sizeof(buf), channel, uid, cols, rows),
		    "SHELL_OPEN");
}

void
ucv_agent_channel_resize(UcvAgentChannel *self, guint channel, guint16 cols, guint16 rows)
{
	guint8 buf[UCV_AGENT_FRAME_HEADER + 4];

	g_return_if_fail(UCV_IS_AGENT_CHANNEL(self));
	queue_frame(self, buf, ucv_agent_frame_encode_resize(buf, sizeof(buf), channel, cols, rows),
		    "RESIZE");
}

void
ucv_agent_channel_signal(UcvAgentChannel *self, guint channel, gint signo)
{
	guint8 buf[UCV_AGENT_FRAME_HEADER + 4];

	g_return_if_fail(UCV_IS_AGENT_CHANNEL(self));
	queue_frame(self, buf, ucv_agent_frame_encode_signal(buf, sizeof(buf), channel, signo),
		    "SIGNAL");
}

void
ucv_agent_channel_close_shell(UcvAgentChannel *self, guint channel)
{
	g_return_if_fail(UCV_IS_AGENT_CHANNEL(self));
	queue_plain(self, UCV_AGENT_FRAME_CLOSE, channel, NULL, 0);
}

/* All of `data` as DATA frames back to back, so one write carries it. */
static GBytes *
encode_data(guint32 channel, GBytes *data)
{
	gsize len;
	const guint8 *bytes = g_bytes_get_data(data, &len);
	gsize n_frames = (len + UCV_AGENT_FRAME_MAX_PAYLOAD - 1) / UCV_AGENT_FRAME_MAX_PAYLOAD;
	g_autoptr(GByteArray) out =
		g_byte_array_sized_new((guint)(len + n_frames * UCV_AGENT_FRAME_HEADER));

	for (gsize pos = 0; pos < len; pos += UCV_AGENT_FRAME_MAX_PAYLOAD) {
		gsize chunk = MIN(len - pos, UCV_AGENT_FRAME_MAX_PAYLOAD);
		guint start = out->len;

		g_byte_array_set_size(out, (guint)(start + UCV_AGENT_FRAME_HEADER + chunk));
		/* cannot fail: the channel is not 0 and the chunk neither empty nor too long */
		ucv_agent_frame_encode(out->data + start, UCV_AGENT_FRAME_HEADER + chunk,
				       UCV_AGENT_PEER_HOST, UCV_AGENT_FRAME_DATA, channel,
				       bytes + pos, chunk);
	}
	return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

void
ucv_agent_channel_send_data_async(UcvAgentChannel *self, guint channel, GBytes *data,
				  GCancellable *cancellable, GAsyncReadyCallback callback,
				  gpointer user_data)
{
	g_autoptr(GTask) task = NULL;

	g_return_if_fail(UCV_IS_AGENT_CHANNEL(self));
	g_return_if_fail(channel != 0);
	g_return_if_fail(data != NULL);
	g_return_if_fail(cancellable == NULL || G_IS_CANCELLABLE(cancellable));

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ucv_agent_channel_send_data_async);
	/* data written is reported as written, even if cancelled meanwhile */
	g_task_set_check_cancellable(task, FALSE);
	if (self->closed) {
		g_task_return_error(task, closed_error());
		return;
	}
	queue_bytes(self, encode_data(channel, data), g_steal_pointer(&task));
}

gboolean
ucv_agent_channel_send_data_finish(UcvAgentChannel *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}

void
ucv_agent_channel_close(UcvAgentChannel *self)
{
	g_return_if_fail(UCV_IS_AGENT_CHANNEL(self));

	if (self->closed)
		return;
	self->closed = TRUE;
	self->flush_timeout_id = g_timeout_add(CLOSE_FLUSH_MS, flush_timeout_cb, self);
	write_next(self);
}

gboolean
ucv_agent_channel_is_closed(UcvAgentChannel *self)
{
	g_return_val_if_fail(UCV_IS_AGENT_CHANNEL(self), TRUE);
	return self->closed;
}

const gchar *
ucv_agent_channel_get_version(UcvAgentChannel *self)
{
	g_return_val_if_fail(UCV_IS_AGENT_CHANNEL(self), NULL);
	return self->version;
}

UcvAgentChannel *
ucv_agent_channel_new(GIOStream *stream)
{
	UcvAgentChannel *self;

	g_return_val_if_fail(G_IS_IO_STREAM(stream), NULL);

	self = g_object_new(UCV_TYPE_AGENT_CHANNEL, NULL);
	self->stream = g_object_ref(stream);
	return self;
}

typedef struct {
	gchar *path;
	GSocketAddress *address;
	GSocketClient *client;
	gint64 deadline; /* monotonic µs */
} ConnectHelper;

static void
connect_helper_free(ConnectHelper *helper)
{
	g_free(helper->path);
	g_clear_object(&helper->address);
	g_clear_object(&helper->client);
	g_free(helper);
}

static void connect_attempt(GTask *task);

static gboolean
connect_retry_cb(gpointer user_data)
{
	connect_attempt(G_TASK(user_data));
	return G_SOURCE_REMOVE;
}

/* Until the deadline, and not past it. */
static void
connect_later(GTask *task)
{
	ConnectHelper *helper = g_task_get_task_data(task);
	gint64 left_ms = (helper->deadline - g_get_monotonic_time()) / 1000;
	g_autoptr(GSource) source =
		g_timeout_source_new((guint)CLAMP(left_ms, 0, CONNECT_RETRY_MS));

	g_task_attach_source(task, source, connect_retry_cb);
}

/* What a socket QEMU has not created, or not started listening on, answers. */
static gboolean
connect_error_is_transient(const GError *error)
{
	return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
	       g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

static void
connect_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	ConnectHelper *helper = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocketConnection) connection =
		g_socket_client_connect_finish(G_SOCKET_CLIENT(source), res, &error);

	if (connection != NULL) {
		g_task_return_pointer(task, ucv_agent_channel_new(G_IO_STREAM(connection)),
				      g_object_unref);
		return;
	}
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (!connect_error_is_transient(error) || g_get_monotonic_time() >= helper->deadline) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_UNAVAILABLE,
					"cannot connect to the agent's socket %s: %s", helper->path,
					error->message);
		return;
	}
	connect_later(task);
}

static void
connect_attempt(GTask *task)
{
	ConnectHelper *helper = g_task_get_task_data(task);

	g_socket_client_connect_async(helper->client, G_SOCKET_CONNECTABLE(helper->address),
				      g_task_get_cancellable(task), connect_cb, g_object_ref(task));
}

void
ucv_agent_channel_connect_async(const gchar *socket_path, guint timeout_ms,
				GCancellable *cancellable, GAsyncReadyCallback callback,
				gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	ConnectHelper *helper;

	g_return_if_fail(socket_path != NULL);
	g_return_if_fail(cancellable == NULL || G_IS_CANCELLABLE(cancellable));

	task = g_task_new(NULL, cancellable, callback, user_data);
	g_task_set_source_tag(task, ucv_agent_channel_connect_async);
	helper = g_new0(ConnectHelper, 1);
	helper->path = g_strdup(socket_path);
	helper->address = g_unix_socket_address_new(socket_path);
	helper->client = g_socket_client_new();
	helper->deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	g_task_set_task_data(task, helper, (GDestroyNotify)connect_helper_free);
	connect_attempt(task);
}

UcvAgentChannel *
ucv_agent_channel_connect_finish(GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, NULL), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

static void
ucv_agent_channel_init(UcvAgentChannel *self)
{
	self->decoder = g_new0(UcvAgentDecoder, 1);
	ucv_agent_decoder_init(self->decoder, UCV_AGENT_PEER_GUEST);
	self->cancellable = g_cancellable_new();
	g_queue_init(&self->outgoing);
}

/* Every read, write and close in flight holds a reference, so this runs with I/O in flight only
 * when disposed on purpose; their callbacks then find the cancellation and stop. A stream with
 * operations pending cannot close yet: finalize closes it. */
static void
ucv_agent_channel_dispose(GObject *object)
{
	UcvAgentChannel *self = UCV_AGENT_CHANNEL(object);

	self->closed = TRUE;
	self->shutting_down = TRUE;
	self->stream_closed = TRUE;
	g_clear_handle_id(&self->flush_timeout_id, g_source_remove);
	g_cancellable_cancel(self->cancellable);
	fail_outgoing(self);
	G_OBJECT_CLASS(ucv_agent_channel_parent_class)->dispose(object);
}

static void
ucv_agent_channel_finalize(GObject *object)
{
	UcvAgentChannel *self = UCV_AGENT_CHANNEL(object);

	/* no I/O is in flight any more: each held a reference */
	if (!g_io_stream_is_closed(self->stream))
		g_io_stream_close(self->stream, NULL, NULL);
	g_clear_object(&self->stream);
	g_clear_pointer(&self->decoder, g_free);
	g_clear_object(&self->cancellable);
	g_free(self->version);
	G_OBJECT_CLASS(ucv_agent_channel_parent_class)->finalize(object);
}

static guint
new_signal(UcvAgentChannelClass *klass, const gchar *name, guint n_params, ...)
{
	va_list args;
	guint id;

	va_start(args, n_params);
	id = g_signal_new_valist(name, G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, NULL, NULL,
				 NULL, NULL, G_TYPE_NONE, n_params, args);
	va_end(args);
	return id;
}

/* The signals' meaning is documented in the header. */
static void
ucv_agent_channel_class_init(UcvAgentChannelClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = ucv_agent_channel_dispose;
	object_class->finalize = ucv_agent_channel_finalize;

	signals[SIGNAL_HELLO] = new_signal(klass, "hello", 2, G_TYPE_UINT, G_TYPE_STRING);
	signals[SIGNAL_STARTED] = new_signal(klass, "started", 0);
	signals[SIGNAL_OUTPUT] = new_signal(klass, "output", 2, G_TYPE_UINT, G_TYPE_BYTES);
	signals[SIGNAL_EXITED] = new_signal(klass, "exited", 1, G_TYPE_INT);
	signals[SIGNAL_SHELL_DATA] = new_signal(klass, "shell-data", 2, G_TYPE_UINT, G_TYPE_BYTES);
	signals[SIGNAL_SHELL_CLOSED] = new_signal(klass, "shell-closed", 1, G_TYPE_UINT);
	signals[SIGNAL_CLOSED] = new_signal(klass, "closed", 1, G_TYPE_STRING);
}
