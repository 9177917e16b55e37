/* The shell's frames: what the web client sends is read exactly, anything else is refused with a
 * reason, and what goes back is the JSON the web client expects. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "console/ucv-shell-protocol.h"
#include "console/ucv-ws-rpc.h"
#include "model/ucv-error.h"

static UcvShellRequest *
parse(const gchar *text, GError **error)
{
	g_autoptr(GBytes) frame = g_bytes_new(text, strlen(text));

	return ucv_shell_request_parse(frame, error);
}

static gchar *
frame_of(const gchar *stream_id, const gchar *payload)
{
	return g_strdup_printf("{\"call\":\"jobs.compute.example.shell.open\",\"streamId\":\"%s\","
			       "\"payload\":%s,\"bearer\":\"\",\"project\":null}",
			       stream_id, payload);
}

static void
test_initialize(void)
{
	g_autofree gchar *text = frame_of(
		"0",
		"{\"type\":\"initialize\",\"sessionIdentifier\":\"abc\",\"cols\":80,\"rows\":24}");
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvShellRequest) request = parse(text, &error);

	g_assert_no_error(error);
	g_assert_cmpint(request->type, ==, UCV_SHELL_INITIALIZE);
	g_assert_cmpstr(request->stream_id, ==, "0");
	g_assert_cmpstr(request->session_identifier, ==, "abc");
	g_assert_cmpuint(request->cols, ==, 80);
	g_assert_cmpuint(request->rows, ==, 24);
}

/* Input is taken byte for byte, quotes, escapes, control characters and all. */
static void
test_input_and_resize(void)
{
	g_autofree gchar *input =
		frame_of("7", "{\"type\":\"input\",\"data\":\"ls \\\"x\\\"\\r\\u0003\\u00e6\"}");
	g_autofree gchar *resize = frame_of("8", "{\"type\":\"resize\",\"cols\":120,\"rows\":40}");
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvShellRequest) typed = parse(input, &error);
	g_autoptr(UcvShellRequest) resized = NULL;

	g_assert_no_error(error);
	g_assert_cmpint(typed->type, ==, UCV_SHELL_INPUT);
	g_assert_cmpstr(typed->stream_id, ==, "7");
	g_assert_cmpstr(typed->data, ==, "ls \"x\"\r\003\xc3\xa6");
	resized = parse(resize, &error);
	g_assert_no_error(error);
	g_assert_cmpint(resized->type, ==, UCV_SHELL_RESIZE);
	g_assert_cmpuint(resized->cols, ==, 120);
	g_assert_cmpuint(resized->rows, ==, 40);
}

static void
test_refused(void)
{
	const struct {
		const gchar *text;
		const gchar *why;
	} cases[] = {
		{"not json", "JSON"},
		{"[1,2]", "JSON object"},
		{"{\"streamId\":\"0\",\"payload\":{}}", "call"},
		{"{\"call\":\"x.shell.open\",\"payload\":{}}", "streamId"},
		{"{\"call\":\"x.shell.open\",\"streamId\":\"0\",\"payload\":\"input\"}", "payload"},
		{"{\"call\":\"x.follow\",\"streamId\":\"0\",\"payload\":{\"type\":\"input\"}}",
		 "shell"},
		{"{\"call\":\"x.shell.open\",\"streamId\":\"0\",\"payload\":{}}", "type"},
		{"{\"call\":\"x.shell.open\",\"streamId\":\"0\",\"payload\":{\"type\":\"exec\"}}",
		 "exec"},
		{"{\"call\":\"x.shell.open\",\"streamId\":\"0\",\"payload\":{\"type\":\"input\"}}",
		 "data"},
		{"{\"call\":\"x.shell.open\",\"streamId\":\"0\",\"payload\":{\"type\":\"input\","
		 "\"data\":5}}",
		 "data"},
		{"{\"call\":\"x.shell.open\",\"streamId\":\"0\",\"payload\":{\"type\":"
		 "\"initialize\"}}",
		 "sessionIdentifier"},
		{"{\"call\":\"x.shell.open\",\"streamId\":\"0\",\"payload\":{\"type\":\"resize\","
		 "\"cols\":-1}}",
		 "cols"},
		{"{\"call\":\"x.shell.open\",\"streamId\":\"0\",\"payload\":{\"type\":\"resize\","
		 "\"rows\":99999999}}",
		 "rows"},
		{"{\"call\":\"x.shell.open\",\"streamId\":\"0\",\"payload\":{\"type\":\"resize\","
		 "\"cols\":\"80\"}}",
		 "cols"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UcvShellRequest) request = parse(cases[i].text, &error);

		g_assert_null(request);
		g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
		if (strstr(error->message, cases[i].why) == NULL)
			g_error("%s: \"%s\" does not mention %s", cases[i].text, error->message,
				cases[i].why);
	}
}

static JsonObject *
parse_reply(GBytes *frame)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	gsize len = 0;
	const gchar *text = g_bytes_get_data(frame, &len);

	g_assert_true(json_parser_load_from_data(parser, text, (gssize)len, NULL));
	return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

/* Output, acks and the initialize answer are messages on the stream they belong to; output text
 * survives JSON whatever it holds. */
static void
test_replies(void)
{
	const gchar *text = "line \"one\"\r\n\x1b[1mbold\x1b[0m \\ \xe2\x82\xac";
	g_autoptr(GBytes) data = ucv_shell_reply_data("0", text);
	g_autoptr(GBytes) ack = ucv_shell_reply_ack("12");
	g_autoptr(GBytes) initialized = ucv_shell_reply_initialized("0");
	g_autoptr(JsonObject) data_obj = parse_reply(data);
	g_autoptr(JsonObject) ack_obj = parse_reply(ack);
	g_autoptr(JsonObject) init_obj = parse_reply(initialized);
	JsonObject *payload;

	g_assert_cmpstr(json_object_get_string_member(data_obj, "type"), ==, "message");
	g_assert_cmpstr(json_object_get_string_member(data_obj, "streamId"), ==, "0");
	payload = json_object_get_object_member(data_obj, "payload");
	g_assert_cmpstr(json_object_get_string_member(payload, "type"), ==, "data");
	g_assert_cmpstr(json_object_get_string_member(payload, "data"), ==, text);
	g_assert_cmpstr(json_object_get_string_member(ack_obj, "streamId"), ==, "12");
	g_assert_cmpstr(json_object_get_string_member(
				json_object_get_object_member(ack_obj, "payload"), "type"),
			==, "ack");
	g_assert_cmpstr(json_object_get_string_member(
				json_object_get_object_member(init_obj, "payload"), "type"),
			==, "initialize");
}

static void
test_response(void)
{
	g_autoptr(GBytes) frame = ucv_ws_rpc_response("3", 404, ucv_ws_rpc_typed_payload("x"));
	g_autoptr(JsonObject) obj = parse_reply(frame);

	g_assert_cmpstr(json_object_get_string_member(obj, "type"), ==, "response");
	g_assert_cmpstr(json_object_get_string_member(obj, "streamId"), ==, "3");
	g_assert_cmpint(json_object_get_int_member(obj, "status"), ==, 404);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/shell-protocol/initialize", test_initialize);
	g_test_add_func("/shell-protocol/input-and-resize", test_input_and_resize);
	g_test_add_func("/shell-protocol/refused", test_refused);
	g_test_add_func("/shell-protocol/replies", test_replies);
	g_test_add_func("/shell-protocol/response", test_response);
	return g_test_run();
}
