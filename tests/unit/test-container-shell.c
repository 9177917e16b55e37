/* A browser's own shell, without a container: a shell viewer on a real WebSocket (libsoup's client
 * at the other end of a socket pair) and a fake terminal. Input and resizes reach the terminal,
 * its output reaches the browser as text, and whichever side ends first ends the other. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/socket.h>

#include "console/ucv-container-shell.h"
#include "console/ucv-console-hub.h"
#include "console/ucv-ws-connection.h"

#define SESSION "c2Vzc2lvbi1pZGVudGlmaWVy"

/* A terminal that records what it is told and completes writes at once. */
#define TEST_TYPE_TERMINAL (test_terminal_get_type())
G_DECLARE_FINAL_TYPE(TestTerminal, test_terminal, TEST, TERMINAL, GObject)

struct _TestTerminal {
	GObject parent_instance;
	GString *input;
	GPtrArray *events; /* resizes and the close, as text */
	gboolean closed;
};

static void test_terminal_iface_init(UcvTerminalInterface *iface);

G_DEFINE_TYPE_WITH_CODE(TestTerminal, test_terminal, G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(UCV_TYPE_TERMINAL, test_terminal_iface_init))

static void
terminal_write_async(UcvTerminal *terminal, GBytes *data, GCancellable *cancellable,
		     GAsyncReadyCallback callback, gpointer user_data)
{
	TestTerminal *self = TEST_TERMINAL(terminal);
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	gsize len = 0;
	const gchar *bytes = g_bytes_get_data(data, &len);

	g_string_append_len(self->input, bytes, (gssize)len);
	g_task_return_boolean(task, TRUE);
}

static gboolean
terminal_write_finish(UcvTerminal *terminal, GAsyncResult *res, GError **error)
{
	return g_task_propagate_boolean(G_TASK(res), error);
}

static void
terminal_resize(UcvTerminal *terminal, guint16 cols, guint16 rows)
{
	g_ptr_array_add(TEST_TERMINAL(terminal)->events,
			g_strdup_printf("resize %ux%u", cols, rows));
}

static void
terminal_close(UcvTerminal *terminal)
{
	TestTerminal *self = TEST_TERMINAL(terminal);

	if (self->closed)
		return;
	self->closed = TRUE;
	g_ptr_array_add(self->events, g_strdup("close"));
}

static void
test_terminal_iface_init(UcvTerminalInterface *iface)
{
	iface->write_async = terminal_write_async;
	iface->write_finish = terminal_write_finish;
	iface->resize = terminal_resize;
	iface->close = terminal_close;
}

static void
test_terminal_finalize(GObject *object)
{
	TestTerminal *self = TEST_TERMINAL(object);

	g_string_free(self->input, TRUE);
	g_ptr_array_unref(self->events);
	G_OBJECT_CLASS(test_terminal_parent_class)->finalize(object);
}

static void
test_terminal_class_init(TestTerminalClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = test_terminal_finalize;
}

static void
test_terminal_init(TestTerminal *self)
{
	self->input = g_string_new(NULL);
	self->events = g_ptr_array_new_with_free_func(g_free);
}

typedef struct {
	SoupWebsocketConnection *browser;
	GIOStream *server_stream;
	UcvWsConnection *conn;
	UcvShellViewer *viewer;
	TestTerminal *terminal;
	UcvContainerShell *session;
	GString *output; /* every "data" text */
	guint acks;
	gboolean browser_closed;
	gboolean finished;
	guint watchdog_id;
} Fixture;

static gboolean
watchdog_cb(gpointer user_data)
{
	g_error("test timed out");
	return G_SOURCE_REMOVE;
}

static void
on_message(SoupWebsocketConnection *ws, gint type, GBytes *message, Fixture *fx)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	gsize len = 0;
	const gchar *text = g_bytes_get_data(message, &len);
	JsonObject *payload;
	const gchar *kind;

	g_assert_true(json_parser_load_from_data(parser, text, (gssize)len, NULL));
	payload = json_object_get_object_member(json_node_get_object(json_parser_get_root(parser)),
						"payload");
	kind = json_object_get_string_member(payload, "type");
	if (g_str_equal(kind, "ack"))
		fx->acks++;
	else if (g_str_equal(kind, "data"))
		g_string_append(fx->output, json_object_get_string_member(payload, "data"));
}

static void
on_browser_closed(SoupWebsocketConnection *ws, Fixture *fx)
{
	fx->browser_closed = TRUE;
}

static void
on_finished(UcvConsoleSession *session, Fixture *fx)
{
	g_assert_false(fx->finished);
	fx->finished = TRUE;
}

/* The browser initialized: it gets its own shell, as the shell endpoint does it. */
static void
on_initialized(UcvShellViewer *viewer, Fixture *fx)
{
	fx->terminal = g_object_new(TEST_TYPE_TERMINAL, NULL);
	fx->session = ucv_container_shell_new(viewer, UCV_TERMINAL(fx->terminal));
	g_signal_connect(fx->session, "finished", G_CALLBACK(on_finished), fx);
}

static void
send_request(Fixture *fx, const gchar *payload)
{
	g_autofree gchar *text = g_strdup_printf(
		"{\"call\":\"jobs.compute.test.shell.open\",\"streamId\":\"s\",\"payload\":%s,"
		"\"bearer\":\"\",\"project\":null}",
		payload);

	soup_websocket_connection_send_text(fx->browser, text);
}

static void
spin_until(gboolean *flag)
{
	while (!*flag)
		g_main_context_iteration(NULL, TRUE);
}

static void
wait_acks(Fixture *fx, guint n)
{
	while (fx->acks < n)
		g_main_context_iteration(NULL, TRUE);
}

static void
wait_output(Fixture *fx, const gchar *text)
{
	while (strstr(fx->output->str, text) == NULL)
		g_main_context_iteration(NULL, TRUE);
}

static Fixture *
fixture_new(void)
{
	Fixture *fx = g_new0(Fixture, 1);
	g_autoptr(GSocket) server = NULL;
	g_autoptr(GSocket) client = NULL;
	g_autoptr(GIOStream) client_stream = NULL;
	g_autoptr(GUri) uri = g_uri_parse("ws://localhost/websocket", G_URI_FLAGS_NONE, NULL);
	g_autoptr(GError) error = NULL;
	int fds[2];

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
	client = g_socket_new_from_fd(fds[0], &error);
	g_assert_no_error(error);
	server = g_socket_new_from_fd(fds[1], &error);
	g_assert_no_error(error);
	client_stream = G_IO_STREAM(g_socket_connection_factory_create_connection(client));
	fx->browser = soup_websocket_connection_new(
		client_stream, uri, SOUP_WEBSOCKET_CONNECTION_CLIENT, NULL, NULL, NULL);
	g_signal_connect(fx->browser, "message", G_CALLBACK(on_message), fx);
	g_signal_connect(fx->browser, "closed", G_CALLBACK(on_browser_closed), fx);
	fx->server_stream = G_IO_STREAM(g_socket_connection_factory_create_connection(server));
	fx->conn = ucv_ws_connection_new(fx->server_stream, 1024 * 1024);
	fx->viewer = ucv_shell_viewer_new(fx->conn, SESSION);
	g_signal_connect(fx->viewer, "initialized", G_CALLBACK(on_initialized), fx);
	ucv_shell_viewer_start(fx->viewer);
	fx->output = g_string_new(NULL);
	fx->watchdog_id = g_timeout_add_seconds(30, watchdog_cb, NULL);

	send_request(fx, "{\"type\":\"initialize\",\"sessionIdentifier\":\"" SESSION "\","
			 "\"cols\":120,\"rows\":40}");
	while (fx->session == NULL)
		g_main_context_iteration(NULL, TRUE);
	return fx;
}

static void
fixture_free(Fixture *fx)
{
	g_signal_handlers_disconnect_by_data(fx->browser, fx);
	if (soup_websocket_connection_get_state(fx->browser) == SOUP_WEBSOCKET_STATE_OPEN)
		soup_websocket_connection_close(fx->browser, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
	g_clear_object(&fx->session);
	g_clear_object(&fx->viewer);
	g_clear_object(&fx->terminal);
	g_clear_object(&fx->conn);
	g_clear_object(&fx->server_stream);
	g_clear_object(&fx->browser);
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_clear_handle_id(&fx->watchdog_id, g_source_remove);
	g_string_free(fx->output, TRUE);
	g_free(fx);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Fixture, fixture_free)

static void
assert_events(Fixture *fx, const gchar *const *expected)
{
	guint n = g_strv_length((gchar **)expected);

	for (guint i = 0; i < MIN(n, fx->terminal->events->len); i++)
		g_assert_cmpstr(g_ptr_array_index(fx->terminal->events, i), ==, expected[i]);
	g_assert_cmpuint(fx->terminal->events->len, ==, n);
}

/* The initialize's size is the viewer's; input is written and acknowledged; a resize (and a
 * second initialize) reaches the terminal and is acknowledged; no greeting comes first; output
 * cut inside a character arrives as whole text. */
static void
test_both_ways(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	const guint8 euro[] = {0xe2, 0x82, 0xac};
	g_autoptr(GBytes) first = g_bytes_new(euro, 1);
	g_autoptr(GBytes) rest = g_bytes_new(euro + 1, 2);
	g_autoptr(GBytes) prompt = g_bytes_new_static(" $ ", 3);
	const gchar *resized[] = {"resize 100x30", "resize 90x20", NULL};
	guint16 cols = 0;
	guint16 rows = 0;

	ucv_shell_viewer_get_size(fx->viewer, &cols, &rows);
	g_assert_cmpuint(cols, ==, 120);
	g_assert_cmpuint(rows, ==, 40);

	send_request(fx, "{\"type\":\"input\",\"data\":\"ls\\r\"}");
	wait_acks(fx, 1);
	g_assert_cmpstr(fx->terminal->input->str, ==, "ls\r");
	send_request(fx, "{\"type\":\"resize\",\"cols\":100,\"rows\":30}");
	send_request(fx, "{\"type\":\"resize\",\"cols\":0,\"rows\":30}");
	send_request(fx, "{\"type\":\"initialize\",\"sessionIdentifier\":\"" SESSION "\","
			 "\"cols\":90,\"rows\":20}");
	wait_acks(fx, 4);
	assert_events(fx, resized);
	ucv_shell_viewer_get_size(fx->viewer, &cols, &rows);
	g_assert_cmpuint(cols, ==, 90);

	ucv_terminal_emit_output(UCV_TERMINAL(fx->terminal), first);
	ucv_terminal_emit_output(UCV_TERMINAL(fx->terminal), rest);
	ucv_terminal_emit_output(UCV_TERMINAL(fx->terminal), prompt);
	wait_output(fx, " $ ");
	g_assert_cmpstr(fx->output->str, ==, "€ $ ");
	g_assert_false(fx->finished);
	g_assert_false(fx->terminal->closed);
}

/* The shell exits: the browser is told and let go, the session finishes, nothing is closed that
 * ended by itself. */
static void
test_shell_ends(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	const guint8 cut[] = {'b', 'y', 'e', 0xe2, 0x82};
	g_autoptr(GBytes) last = g_bytes_new(cut, sizeof(cut));

	ucv_terminal_emit_output(UCV_TERMINAL(fx->terminal), last);
	ucv_terminal_emit_closed(UCV_TERMINAL(fx->terminal), NULL);
	g_assert_true(fx->finished);
	g_assert_true(ucv_console_session_is_finished(UCV_CONSOLE_SESSION(fx->session)));
	spin_until(&fx->browser_closed);
	/* the cut character shows as one replacement, before the message */
	g_assert_cmpstr(fx->output->str, ==, "bye\xef\xbf\xbd\r\n[The shell ended]\r\n");
	g_assert_true(ucv_shell_viewer_is_finished(fx->viewer));
}

/* The far end's reason is shown. */
static void
test_shell_ends_with_reason(void)
{
	g_autoptr(Fixture) fx = fixture_new();

	ucv_terminal_emit_closed(UCV_TERMINAL(fx->terminal), "the container host went away");
	spin_until(&fx->browser_closed);
	g_assert_nonnull(
		strstr(fx->output->str, "[The shell ended: the container host went away]"));
}

/* The browser leaves: the shell is closed, the session finishes, and later output of the
 * terminal goes nowhere. */
static void
test_browser_leaves(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(GBytes) late = g_bytes_new_static("late", 4);
	const gchar *closed[] = {"close", NULL};

	soup_websocket_connection_close(fx->browser, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
	spin_until(&fx->finished);
	assert_events(fx, closed);
	ucv_terminal_emit_output(UCV_TERMINAL(fx->terminal), late);
	ucv_terminal_emit_closed(UCV_TERMINAL(fx->terminal), NULL);
	g_assert_null(strstr(fx->output->str, "late"));
}

/* The hub stops the job's terminals: each browser is told why, each shell closed. */
static void
test_hub_stops(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(UcvConsoleHub) hub = ucv_console_hub_new();
	const gchar *closed[] = {"close", NULL};

	ucv_console_hub_add(hub, "job-1", UCV_CONSOLE_INTERACTIVE,
			    UCV_CONSOLE_SESSION(fx->session));
	g_assert_cmpuint(ucv_console_hub_count(hub, "job-1", UCV_CONSOLE_INTERACTIVE), ==, 1);
	ucv_console_hub_stop_job(hub, "job-1", UCV_CONSOLE_INTERACTIVE, "the job ended");
	g_assert_true(fx->finished);
	assert_events(fx, closed);
	g_assert_cmpuint(ucv_console_hub_count(hub, "job-1", UCV_CONSOLE_INTERACTIVE), ==, 0);
	spin_until(&fx->browser_closed);
	g_assert_nonnull(strstr(fx->output->str, "[the job ended]"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/container-shell/both-ways", test_both_ways);
	g_test_add_func("/container-shell/shell-ends", test_shell_ends);
	g_test_add_func("/container-shell/shell-ends-with-reason", test_shell_ends_with_reason);
	g_test_add_func("/container-shell/browser-leaves", test_browser_leaves);
	g_test_add_func("/container-shell/hub-stops", test_hub_stops);
	return g_test_run();
}
