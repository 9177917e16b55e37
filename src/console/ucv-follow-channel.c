/* One Core socket carrying follow streams. Everything sent is counted until written: above a high
 * mark every stream stops reading its logs, below a low mark they go on, so a slow Core makes the
 * log files the buffer. */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-follow-channel.h"

#include "console/ucv-follow-stream.h"
#include "console/ucv-ws-rpc.h"
#include "model/ucv-error.h"

#define HIGH_WATER (1024 * 1024)
#define LOW_WATER  (256 * 1024)

struct _UcvFollowChannel {
	GObject parent_instance;
	UcvWsConnection *core;
	gchar *call;
	gsize backlog_bytes;
	UcvConsoleHub *hub;
	UcvFollowResolveFunc resolve;
	gpointer resolve_data;
	GPtrArray *streams; /* UcvFollowStream */
	GCancellable *cancellable;
	gsize queued;
	gboolean paused;
	gulong closed_id;
};

G_DEFINE_TYPE(UcvFollowChannel, ucv_follow_channel, G_TYPE_OBJECT)

typedef struct {
	UcvFollowChannel *channel;
	gsize len;
} UcvQueuedFrame;

static void
set_paused(UcvFollowChannel *self, gboolean paused)
{
	if (self->paused == paused)
		return;
	self->paused = paused;
	for (guint i = 0; i < self->streams->len; i++)
		ucv_follow_stream_set_paused(g_ptr_array_index(self->streams, i), paused);
}

static void
on_sent(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvQueuedFrame *queued = user_data;
	UcvFollowChannel *self = queued->channel;

	ucv_ws_connection_send_finish(UCV_WS_CONNECTION(source), res, NULL);
	self->queued -= MIN(queued->len, self->queued);
	if (self->queued < LOW_WATER)
		set_paused(self, FALSE);
	g_object_unref(self);
	g_free(queued);
}

static void
send_frame(GBytes *frame, gpointer user_data)
{
	UcvFollowChannel *self = user_data;
	UcvQueuedFrame *queued = g_new0(UcvQueuedFrame, 1);

	queued->channel = g_object_ref(self);
	queued->len = g_bytes_get_size(frame);
	self->queued += queued->len;
	ucv_ws_connection_send_async(self->core, UCV_WS_OPCODE_TEXT, frame, NULL, on_sent, queued);
	if (self->queued > HIGH_WATER)
		set_paused(self, TRUE);
}

/* A call that cannot be served ends its stream at once, with the reason as Core reads errors. */
static void
refuse(UcvFollowChannel *self, const gchar *stream_id, guint status, const gchar *why)
{
	JsonNode *payload = json_node_new(JSON_NODE_OBJECT);
	JsonObject *obj = json_object_new();
	g_autoptr(GBytes) frame = NULL;

	json_object_set_string_member(obj, "why", why);
	json_object_set_null_member(obj, "errorCode");
	json_node_take_object(payload, obj);
	frame = ucv_ws_rpc_response(stream_id, status, payload);
	send_frame(frame, self);
}

static void
on_stream_finished(UcvFollowStream *stream, UcvFollowChannel *self)
{
	g_signal_handlers_disconnect_by_data(stream, self);
	g_ptr_array_remove(self->streams, stream);
}

static const gchar *
job_id_of(JsonObject *payload)
{
	JsonNode *job = json_object_get_member(payload, "job");
	JsonObject *obj =
		job != NULL && JSON_NODE_HOLDS_OBJECT(job) ? json_node_get_object(job) : NULL;

	if (obj == NULL)
		return NULL;
	return json_object_get_string_member_with_default(obj, "id", NULL);
}

static void
open_stream(UcvFollowChannel *self, const UcvWsRpcRequest *request)
{
	const gchar *job_id = job_id_of(request->payload);
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) logs = NULL;
	g_autoptr(UcvFollowStream) stream = NULL;
	gboolean ended = FALSE;

	if (job_id == NULL) {
		refuse(self, request->stream_id, 400, "the follow request names no job");
		return;
	}
	logs = self->resolve(job_id, &ended, self->resolve_data, &error);
	if (logs == NULL) {
		refuse(self, request->stream_id, 404, error->message);
		return;
	}
	stream = ucv_follow_stream_new(request->stream_id, (const gchar *const *)logs,
				       self->backlog_bytes, send_frame, self);
	g_ptr_array_add(self->streams, g_object_ref(stream));
	g_signal_connect(stream, "finished", G_CALLBACK(on_stream_finished), self);
	ucv_console_hub_add(self->hub, job_id, UCV_CONSOLE_FOLLOW, UCV_CONSOLE_SESSION(stream));
	ucv_follow_stream_set_paused(stream, self->paused);
	g_debug("job %s: follow %s opened", job_id, ucv_follow_stream_get_id(stream));
	ucv_follow_stream_start(stream);
	/* a finished job's logs are all there is: the backlog, then the end */
	if (ended)
		ucv_console_session_stop(UCV_CONSOLE_SESSION(stream), NULL);
}

static void
cancel_stream(UcvFollowChannel *self, const UcvWsRpcRequest *request)
{
	const gchar *id =
		json_object_get_string_member_with_default(request->payload, "streamId", "");

	for (guint i = 0; i < self->streams->len; i++) {
		UcvFollowStream *stream = g_ptr_array_index(self->streams, i);
		if (g_strcmp0(ucv_follow_stream_get_id(stream), id) == 0) {
			ucv_console_session_stop(UCV_CONSOLE_SESSION(stream), NULL);
			return;
		}
	}
}

static void receive_next(UcvFollowChannel *self);

static void
handle(UcvFollowChannel *self, GBytes *frame)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvWsRpcRequest) request = ucv_ws_rpc_request_parse(frame, &error);
	const gchar *type;

	if (request == NULL) {
		ucv_ws_connection_close(self->core, UCV_WS_CLOSE_POLICY, error->message);
		return;
	}
	if (!g_str_equal(request->call, self->call)) {
		refuse(self, request->stream_id, 404, "this socket serves follow calls only");
		return;
	}
	type = json_object_get_string_member_with_default(request->payload, "type", "");
	if (g_str_equal(type, "init"))
		open_stream(self, request);
	else if (g_str_equal(type, "cancel"))
		cancel_stream(self, request);
	else
		refuse(self, request->stream_id, 400, "unknown follow request type");
}

static void
on_received(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvFollowChannel) self = user_data;
	g_autoptr(UcvWsMessage) message =
		ucv_ws_connection_receive_finish(UCV_WS_CONNECTION(source), res, NULL);

	if (message == NULL)
		return;
	if (message->opcode == UCV_WS_OPCODE_TEXT)
		handle(self, message->payload);
	receive_next(self);
}

static void
receive_next(UcvFollowChannel *self)
{
	if (ucv_ws_connection_is_closed(self->core))
		return;
	ucv_ws_connection_receive_async(self->core, self->cancellable, on_received,
					g_object_ref(self));
}

/* Core left: its streams have nobody to send to. */
static void
on_core_closed(UcvWsConnection *core, UcvFollowChannel *self)
{
	g_autoptr(UcvFollowChannel) keep = g_object_ref(self);
	g_autoptr(GPtrArray) streams =
		g_ptr_array_copy(self->streams, (GCopyFunc)(void (*)(void))g_object_ref, NULL);

	g_ptr_array_set_free_func(streams, g_object_unref);
	for (guint i = 0; i < streams->len; i++)
		ucv_follow_stream_abandon(g_ptr_array_index(streams, i));
	g_clear_signal_handler(&self->closed_id, self->core);
	g_cancellable_cancel(self->cancellable);
	/* the reference taken at start */
	g_object_unref(self);
}

UcvFollowChannel *
ucv_follow_channel_new(UcvWsConnection *core, const gchar *call, gsize backlog_bytes,
		       UcvConsoleHub *hub, UcvFollowResolveFunc resolve, gpointer resolve_data)
{
	UcvFollowChannel *self = g_object_new(UCV_TYPE_FOLLOW_CHANNEL, NULL);

	self->core = g_object_ref(core);
	self->call = g_strdup(call);
	self->backlog_bytes = backlog_bytes;
	self->hub = g_object_ref(hub);
	self->resolve = resolve;
	self->resolve_data = resolve_data;
	return self;
}

void
ucv_follow_channel_start(UcvFollowChannel *self)
{
	g_return_if_fail(UCV_IS_FOLLOW_CHANNEL(self));

	/* alive while Core is connected */
	g_object_ref(self);
	self->closed_id = g_signal_connect(self->core, "closed", G_CALLBACK(on_core_closed), self);
	receive_next(self);
}

static void
ucv_follow_channel_dispose(GObject *object)
{
	UcvFollowChannel *self = UCV_FOLLOW_CHANNEL(object);

	g_clear_signal_handler(&self->closed_id, self->core);
	g_cancellable_cancel(self->cancellable);
	for (guint i = 0; self->streams != NULL && i < self->streams->len; i++)
		g_signal_handlers_disconnect_by_data(g_ptr_array_index(self->streams, i), self);
	g_clear_pointer(&self->streams, g_ptr_array_unref);
	G_OBJECT_CLASS(ucv_follow_channel_parent_class)->dispose(object);
}

static void
ucv_follow_channel_finalize(GObject *object)
{
	UcvFollowChannel *self = UCV_FOLLOW_CHANNEL(object);

	g_object_unref(self->core);
	g_object_unref(self->hub);
	g_object_unref(self->cancellable);
	g_free(self->call);
	G_OBJECT_CLASS(ucv_follow_channel_parent_class)->finalize(object);
}

static void
ucv_follow_channel_class_init(UcvFollowChannelClass *klass)
{
	G_OBJECT_CLASS(klass)->dispose = ucv_follow_channel_dispose;
	G_OBJECT_CLASS(klass)->finalize = ucv_follow_channel_finalize;
}

static void
ucv_follow_channel_init(UcvFollowChannel *self)
{
	self->streams = g_ptr_array_new_with_free_func(g_object_unref);
	self->cancellable = g_cancellable_new();
}
