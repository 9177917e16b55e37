/* A follow's Core end for tests. */
#include "config.h"

#include "ucv-follow-client.h"

#include <string.h>

void
ucv_follow_client_free(UcvFollowClient *self)
{
	if (self == NULL)
		return;
	g_signal_handlers_disconnect_by_data(self->ws, self);
	if (soup_websocket_connection_get_state(self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
		soup_websocket_connection_close(self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
	g_object_unref(self->ws);
	for (guint i = 0; i < UCV_FOLLOW_MAX_RANKS; i++)
		g_string_free(self->logs[i], TRUE);
	g_free(self->follow_id);
	g_free(self->end_why);
	g_free(self);
}

static void
on_log(UcvFollowClient *self, JsonObject *payload)
{
	gint64 rank = json_object_get_int_member(payload, "rank");
	JsonNode *stdout_node = json_object_get_member(payload, "stdout");

	g_assert_cmpint(rank, >=, 0);
	g_assert_cmpint(rank, <, UCV_FOLLOW_MAX_RANKS);
	g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(payload, "stderr")));
	g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(payload, "channel")));
	if (self->follow_id == NULL)
		self->follow_id = g_strdup(json_object_get_string_member(payload, "streamId"));
	g_assert_cmpstr(json_object_get_string_member(payload, "streamId"), ==, self->follow_id);
	g_string_append(self->logs[rank], json_node_get_string(stdout_node));
}

static void
on_message(SoupWebsocketConnection *ws, gint type, GBytes *message, UcvFollowClient *self)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	gsize len = 0;
	const gchar *text = g_bytes_get_data(message, &len);
	JsonObject *frame;
	const gchar *frame_type;

	g_assert_cmpint(type, ==, SOUP_WEBSOCKET_DATA_TEXT);
	g_assert_true(json_parser_load_from_data(parser, text, (gssize)len, NULL));
	frame = json_node_get_object(json_parser_get_root(parser));
	g_assert_cmpstr(json_object_get_string_member(frame, "streamId"), ==, "0");
	g_assert_false(self->ended);
	frame_type = json_object_get_string_member(frame, "type");
	if (g_str_equal(frame_type, "message")) {
		on_log(self, json_object_get_object_member(frame, "payload"));
		return;
	}
	g_assert_cmpstr(frame_type, ==, "response");
	self->ended = TRUE;
	self->end_status = (gint)json_object_get_int_member(frame, "status");
	self->end_why = g_strdup(json_object_get_string_member_with_default(
		json_object_get_object_member(frame, "payload"), "why", NULL));
}

static void
on_closed(SoupWebsocketConnection *ws, UcvFollowClient *self)
{
	self->closed = TRUE;
}

UcvFollowClient *
ucv_follow_client_open(UcvHarness *h, const gchar *job_id)
{
	g_autofree gchar *job = ucv_harness_vm_job_json(job_id, 1);
	g_autofree gchar *init = g_strdup_printf(
		"{\"call\":\"jobs.provider.test.follow\",\"streamId\":\"0\",\"payload\":"
		"{\"type\":\"init\",\"job\":%s},\"bearer\":\"\",\"project\":null}",
		job);
	UcvFollowClient *self = g_new0(UcvFollowClient, 1);
	guint status = 0;

	self->ws = ucv_harness_ws_connect(
		h, "/ucloud/jobs.provider.test/websocket?usernameHint=X18=", TRUE, &status);
	g_assert_nonnull(self->ws);
	g_assert_cmpuint(status, ==, 101);
	for (guint i = 0; i < UCV_FOLLOW_MAX_RANKS; i++)
		self->logs[i] = g_string_new(NULL);
	g_signal_connect(self->ws, "message", G_CALLBACK(on_message), self);
	g_signal_connect(self->ws, "closed", G_CALLBACK(on_closed), self);
	soup_websocket_connection_send_text(self->ws, init);
	return self;
}

gsize
ucv_follow_client_wait(UcvFollowClient *self, guint rank, gsize from, const gchar *text,
		       guint timeout_s)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
	GString *log = self->logs[rank];

	for (;;) {
		const gchar *found = from <= log->len ? strstr(log->str + from, text) : NULL;
		if (found != NULL)
			return (gsize)(found - log->str) + strlen(text);
		if (g_get_monotonic_time() > deadline || self->ended || self->closed)
			g_error("follow: \"%s\" did not arrive within %u s (ended %d, closed %d); "
				"rank %u so far:\n%s",
				text, timeout_s, self->ended, self->closed, rank, log->str);
		ucv_harness_spin(20);
	}
}

void
ucv_follow_client_wait_end(UcvFollowClient *self, guint timeout_s)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;

	while (!self->ended) {
		if (g_get_monotonic_time() > deadline || self->closed)
			g_error("follow: the stream did not end within %u s", timeout_s);
		ucv_harness_spin(20);
	}
}
