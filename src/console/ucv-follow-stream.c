/* A follow: one log follower per rank, their output framed as Core's follow messages
 * ({"streamId","rank","stdout","stderr","channel"} payloads, as UCloud's providers send them). */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-follow-stream.h"

#include <json-glib/json-glib.h>

#include "console/ucv-log-follower.h"
#include "console/ucv-ws-rpc.h"

struct _UcvFollowStream {
	GObject parent_instance;
	gchar *ws_stream_id;
	gchar *id;
	GPtrArray *followers; /* UcvLogFollower, index = rank */
	guint n_finished;
	UcvFollowSendFunc send;
	gpointer send_data;
	gboolean stopping;
	gboolean finished;
};

static void ucv_follow_stream_session_init(UcvConsoleSessionInterface *iface);

G_DEFINE_TYPE_WITH_CODE(UcvFollowStream, ucv_follow_stream, G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(UCV_TYPE_CONSOLE_SESSION,
					      ucv_follow_stream_session_init))

/* {"streamId":<ours>,"rank":r,"stdout":text|null,"stderr":null,"channel":null} */
static JsonNode *
log_payload(UcvFollowStream *self, guint rank, const gchar *text)
{
	JsonObject *obj = json_object_new();
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);

	json_object_set_string_member(obj, "streamId", self->id);
	json_object_set_int_member(obj, "rank", rank);
	if (text != NULL)
		json_object_set_string_member(obj, "stdout", text);
	else
		json_object_set_null_member(obj, "stdout");
	json_object_set_null_member(obj, "stderr");
	json_object_set_null_member(obj, "channel");
	json_node_take_object(node, obj);
	return node;
}

static void
stop_followers(UcvFollowStream *self)
{
	for (guint i = 0; i < self->followers->len; i++) {
		UcvLogFollower *follower = g_ptr_array_index(self->followers, i);
		g_signal_handlers_disconnect_by_data(follower, self);
		ucv_log_follower_stop(follower);
	}
}

static void
finish(UcvFollowStream *self, gboolean respond)
{
	g_autoptr(UcvFollowStream) keep = g_object_ref(self);

	if (self->finished)
		return;
	self->finished = TRUE;
	stop_followers(self);
	if (respond) {
		g_autoptr(GBytes) frame =
			ucv_ws_rpc_response(self->ws_stream_id, 200, log_payload(self, 0, NULL));
		self->send(frame, self->send_data);
	}
	g_debug("follow %s ends", self->id);
	ucv_console_session_emit_finished(UCV_CONSOLE_SESSION(self));
}

static void
on_output(UcvLogFollower *follower, const gchar *text, guint64 length, UcvFollowStream *self)
{
	guint rank = 0;
	g_autoptr(GBytes) frame = NULL;

	g_ptr_array_find(self->followers, follower, &rank);
	frame = ucv_ws_rpc_message(self->ws_stream_id, log_payload(self, rank, text));
	self->send(frame, self->send_data);
}

static void
on_follower_finished(UcvLogFollower *follower, UcvFollowStream *self)
{
	if (++self->n_finished == self->followers->len)
		finish(self, TRUE);
}

UcvFollowStream *
ucv_follow_stream_new(const gchar *ws_stream_id, const gchar *const *logs, gsize backlog_bytes,
		      UcvFollowSendFunc send, gpointer send_data)
{
	UcvFollowStream *self = g_object_new(UCV_TYPE_FOLLOW_STREAM, NULL);
	guint8 id[8];

	self->ws_stream_id = g_strdup(ws_stream_id);
	for (guint i = 0; i < sizeof(id); i++)
		id[i] = (guint8)g_random_int_range(0, 256);
	self->id = g_compute_checksum_for_data(G_CHECKSUM_MD5, id, sizeof(id));
	self->send = send;
	self->send_data = send_data;
	for (guint i = 0; logs[i] != NULL; i++) {
		UcvLogFollower *follower = ucv_log_follower_new(logs[i], backlog_bytes);
		g_signal_connect(follower, "output", G_CALLBACK(on_output), self);
		g_signal_connect(follower, "finished", G_CALLBACK(on_follower_finished), self);
		g_ptr_array_add(self->followers, follower);
	}
	return self;
}

void
ucv_follow_stream_start(UcvFollowStream *self)
{
	g_return_if_fail(UCV_IS_FOLLOW_STREAM(self));

	for (guint i = 0; i < self->followers->len; i++)
		ucv_log_follower_start(g_ptr_array_index(self->followers, i));
	if (self->followers->len == 0)
		finish(self, TRUE);
}

const gchar *
ucv_follow_stream_get_id(UcvFollowStream *self)
{
	g_return_val_if_fail(UCV_IS_FOLLOW_STREAM(self), NULL);
	return self->id;
}

void
ucv_follow_stream_set_paused(UcvFollowStream *self, gboolean paused)
{
	g_return_if_fail(UCV_IS_FOLLOW_STREAM(self));

	for (guint i = 0; i < self->followers->len; i++)
		ucv_log_follower_set_paused(g_ptr_array_index(self->followers, i), paused);
}

void
ucv_follow_stream_abandon(UcvFollowStream *self)
{
	g_return_if_fail(UCV_IS_FOLLOW_STREAM(self));
	finish(self, FALSE);
}

/* The job ended or Core cancelled: the logs' last lines go out first. */
static void
ucv_follow_stream_session_stop(UcvConsoleSession *session, const gchar *reason)
{
	UcvFollowStream *self = UCV_FOLLOW_STREAM(session);

	if (self->stopping || self->finished)
		return;
	self->stopping = TRUE;
	for (guint i = 0; i < self->followers->len; i++)
		ucv_log_follower_finish(g_ptr_array_index(self->followers, i));
}

static gboolean
ucv_follow_stream_session_is_finished(UcvConsoleSession *session)
{
	return UCV_FOLLOW_STREAM(session)->finished;
}

static void
ucv_follow_stream_session_init(UcvConsoleSessionInterface *iface)
{
	iface->stop = ucv_follow_stream_session_stop;
	iface->is_finished = ucv_follow_stream_session_is_finished;
}

static void
ucv_follow_stream_dispose(GObject *object)
{
	UcvFollowStream *self = UCV_FOLLOW_STREAM(object);

	if (self->followers != NULL)
		stop_followers(self);
	g_clear_pointer(&self->followers, g_ptr_array_unref);
	G_OBJECT_CLASS(ucv_follow_stream_parent_class)->dispose(object);
}

static void
ucv_follow_stream_finalize(GObject *object)
{
	UcvFollowStream *self = UCV_FOLLOW_STREAM(object);

	g_free(self->ws_stream_id);
	g_free(self->id);
	G_OBJECT_CLASS(ucv_follow_stream_parent_class)->finalize(object);
}

static void
ucv_follow_stream_class_init(UcvFollowStreamClass *klass)
{
	G_OBJECT_CLASS(klass)->dispose = ucv_follow_stream_dispose;
	G_OBJECT_CLASS(klass)->finalize = ucv_follow_stream_finalize;
}

static void
ucv_follow_stream_init(UcvFollowStream *self)
{
	self->followers = g_ptr_array_new_with_free_func(g_object_unref);
}
