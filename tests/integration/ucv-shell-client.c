/* A shell session's browser end for tests and benchmarks. */
#include "config.h"

#include "ucv-shell-client.h"

#include <string.h>

#define USERNAME_HINT "dGVzdHVzZXI=" /* base64 of "testuser", as the web client adds it */

void
ucv_shell_client_free(UcvShellClient *self)
{
	if (self == NULL)
		return;
	g_signal_handlers_disconnect_by_data(self->ws, self);
	if (soup_websocket_connection_get_state(self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
		soup_websocket_connection_close(self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
	g_object_unref(self->ws);
	g_string_free(self->output, TRUE);
	g_hash_table_unref(self->acks);
	g_free(self->out_stream);
	g_free(self->close_reason);
	g_free(self);
}

gchar *
ucv_shell_client_new_session(UcvHarness *h, const gchar *job_id)
{
	g_autoptr(JsonObject) session = ucv_harness_open_session(h, job_id, "SHELL");

	g_assert_cmpstr(json_object_get_string_member(session, "type"), ==, "shell");
	g_assert_cmpstr(json_object_get_string_member(session, "jobId"), ==, job_id);
	g_assert_cmpint(json_object_get_int_member(session, "rank"), ==, 0);
	g_assert_cmpstr(json_object_get_string_member(session, "domainOverride"), ==, "");
	return g_strdup(json_object_get_string_member(session, "sessionIdentifier"));
}

static void
on_frame(UcvShellClient *self, const gchar *stream_id, JsonObject *payload)
{
	const gchar *type = json_object_get_string_member_with_default(payload, "type", "");

	if (g_str_equal(type, "ack")) {
		guint n = GPOINTER_TO_UINT(g_hash_table_lookup(self->acks, stream_id));
		g_hash_table_insert(self->acks, g_strdup(stream_id), GUINT_TO_POINTER(n + 1));
	} else if (g_str_equal(type, "initialize") && self->out_stream == NULL) {
		self->out_stream = g_strdup(stream_id);
	} else if (g_str_equal(type, "data") && g_strcmp0(stream_id, self->out_stream) == 0) {
		g_string_append(self->output, json_object_get_string_member(payload, "data"));
	} else {
		self->stray_frames++;
	}
}

static void
on_message(SoupWebsocketConnection *ws, gint type, GBytes *message, UcvShellClient *self)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	gsize len = 0;
	const gchar *text = g_bytes_get_data(message, &len);
	JsonObject *frame;

	g_assert_cmpint(type, ==, SOUP_WEBSOCKET_DATA_TEXT);
	g_assert_true(json_parser_load_from_data(parser, text, (gssize)len, NULL));
	frame = json_node_get_object(json_parser_get_root(parser));
	g_assert_cmpstr(json_object_get_string_member(frame, "type"), ==, "message");
	on_frame(self, json_object_get_string_member(frame, "streamId"),
		 json_object_get_object_member(frame, "payload"));
}

static void
on_closed(SoupWebsocketConnection *ws, UcvShellClient *self)
{
	self->closed = TRUE;
	self->close_code = soup_websocket_connection_get_close_code(ws);
	self->close_reason = g_strdup(soup_websocket_connection_get_close_data(ws));
}

UcvShellClient *
ucv_shell_client_connect(UcvHarness *h, const gchar *session, guint *status)
{
	g_autofree gchar *path = g_strdup_printf(
		"/ucloud/test/websocket?session=%s&usernameHint=" USERNAME_HINT, session);
	SoupWebsocketConnection *ws = ucv_harness_ws_connect(h, path, FALSE, status);
	UcvShellClient *self;

	if (ws == NULL)
		return NULL;
	self = g_new0(UcvShellClient, 1);
	self->ws = ws;
	self->output = g_string_new(NULL);
	self->acks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_signal_connect(ws, "message", G_CALLBACK(on_message), self);
	g_signal_connect(ws, "closed", G_CALLBACK(on_closed), self);
	return self;
}

/* One request frame in the envelope; returns its streamId. */
static gchar *
send_request(UcvShellClient *self, JsonObject *payload)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *text = NULL;
	gchar *stream_id = g_strdup_printf("%u", self->next_stream++);
	JsonNode *payload_node = json_node_new(JSON_NODE_OBJECT);

	json_node_take_object(payload_node, payload);
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "call");
	json_builder_add_string_value(builder, "jobs.compute.test.shell.open");
	json_builder_set_member_name(builder, "streamId");
	json_builder_add_string_value(builder, stream_id);
	json_builder_set_member_name(builder, "payload");
	json_builder_add_value(builder, payload_node);
	json_builder_set_member_name(builder, "bearer");
	json_builder_add_string_value(builder, "");
	json_builder_set_member_name(builder, "project");
	json_builder_add_null_value(builder);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	text = json_to_string(root, FALSE);
	soup_websocket_connection_send_text(self->ws, text);
	return stream_id;
}

static void
wait_until(UcvShellClient *self, gboolean (*done)(UcvShellClient *, gconstpointer),
	   gconstpointer data, guint timeout_s, const gchar *what)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;

	while (!done(self, data)) {
		if (g_get_monotonic_time() > deadline || self->closed)
			g_error("shell: %s did not happen within %u s (closed %d, code %u, reason "
				"%s); output so far:\n%s",
				what, timeout_s, self->closed, self->close_code,
				self->close_reason != NULL ? self->close_reason : "",
				self->output->str);
		ucv_harness_spin(20);
	}
}

static gboolean
is_initialized(UcvShellClient *self, gconstpointer unused)
{
	return self->out_stream != NULL;
}

gchar *
ucv_shell_client_send_initialize(UcvShellClient *self, const gchar *session, guint cols, guint rows)
{
	JsonObject *payload = json_object_new();

	json_object_set_string_member(payload, "type", "initialize");
	json_object_set_string_member(payload, "sessionIdentifier", session);
	json_object_set_int_member(payload, "cols", cols);
	json_object_set_int_member(payload, "rows", rows);
	return send_request(self, payload);
}

void
ucv_shell_client_initialize(UcvShellClient *self, const gchar *session, guint cols, guint rows)
{
	g_autofree gchar *stream_id = ucv_shell_client_send_initialize(self, session, cols, rows);

	wait_until(self, is_initialized, NULL, 30, "the initialize answer");
	g_assert_cmpstr(self->out_stream, ==, stream_id);
}

gchar *
ucv_shell_client_input(UcvShellClient *self, const gchar *data)
{
	JsonObject *payload = json_object_new();

	json_object_set_string_member(payload, "type", "input");
	json_object_set_string_member(payload, "data", data);
	return send_request(self, payload);
}

gchar *
ucv_shell_client_resize(UcvShellClient *self, guint cols, guint rows)
{
	JsonObject *payload = json_object_new();

	json_object_set_string_member(payload, "type", "resize");
	json_object_set_int_member(payload, "cols", cols);
	json_object_set_int_member(payload, "rows", rows);
	return send_request(self, payload);
}

guint
ucv_shell_client_acks(UcvShellClient *self, const gchar *stream_id)
{
	return GPOINTER_TO_UINT(g_hash_table_lookup(self->acks, stream_id));
}

static gboolean
is_acked(UcvShellClient *self, gconstpointer stream_id)
{
	return ucv_shell_client_acks(self, stream_id) > 0;
}

void
ucv_shell_client_wait_ack(UcvShellClient *self, const gchar *stream_id, guint timeout_s)
{
	wait_until(self, is_acked, stream_id, timeout_s, "an ack");
}

typedef struct {
	gsize from;
	const gchar *text;
	gsize end;
} OutputSearch;

static gboolean
has_output(UcvShellClient *self, gconstpointer data)
{
	OutputSearch *search = (OutputSearch *)data;
	const gchar *found;

	if (search->from > self->output->len)
		return FALSE;
	found = strstr(self->output->str + search->from, search->text);
	if (found == NULL)
		return FALSE;
	search->end = (gsize)(found - self->output->str) + strlen(search->text);
	return TRUE;
}

gsize
ucv_shell_client_wait_output(UcvShellClient *self, gsize from, const gchar *text, guint timeout_s)
{
	OutputSearch search = {from, text, 0};
	g_autofree gchar *what = g_strdup_printf("output \"%s\"", text);

	wait_until(self, has_output, &search, timeout_s, what);
	return search.end;
}

void
ucv_shell_client_wait_closed(UcvShellClient *self, guint timeout_s)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;

	while (!self->closed) {
		if (g_get_monotonic_time() > deadline)
			g_error("shell: the socket was not closed within %u s", timeout_s);
		ucv_harness_spin(20);
	}
}
