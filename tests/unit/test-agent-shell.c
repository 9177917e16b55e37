/* A shell channel of the agent channel over a real socket pair, the other end a fake agent that
 * speaks with the shared codec: the frames each call sends, output and ends of its own channel
 * only, writes that complete once written, and every way a shell ends. */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "agent/ucv-agent-frame.h"
#include "container/ucv-agent-shell.h"
#include "virt/ucv-console-stream.h"

typedef struct {
	GSocket *guest; /* the fake agent's end */
	GIOStream *host_stream;
	UcvAgentChannel *channel;
	UcvAgentDecoder *decoder; /* reads what the host writes, as the agent does */
	guint watchdog_id;
} Fixture;

/* What one shell emitted, as text, in order. */
typedef struct {
	GPtrArray *events;
} Recorder;

static gboolean
watchdog_cb(gpointer user_data)
{
	g_error("test timed out");
	return G_SOURCE_REMOVE;
}

static Fixture *
fixture_new(void)
{
	Fixture *fx = g_new0(Fixture, 1);
	g_autoptr(GSocket) host = NULL;
	g_autoptr(GError) error = NULL;
	int fds[2];

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
	fx->guest = g_socket_new_from_fd(fds[0], &error);
	g_assert_no_error(error);
	host = g_socket_new_from_fd(fds[1], &error);
	g_assert_no_error(error);
	fx->host_stream = G_IO_STREAM(g_socket_connection_factory_create_connection(host));
	fx->channel = ucv_agent_channel_new(fx->host_stream);
	fx->decoder = g_new0(UcvAgentDecoder, 1);
	ucv_agent_decoder_init(fx->decoder, UCV_AGENT_PEER_HOST);
	ucv_agent_channel_start(fx->channel);
	fx->watchdog_id = g_timeout_add_seconds(30, watchdog_cb, NULL);
	return fx;
}

static void
fixture_free(Fixture *fx)
{
	ucv_agent_channel_close(fx->channel);
	g_object_add_weak_pointer(G_OBJECT(fx->channel), (gpointer *)&fx->channel);
	g_object_unref(fx->channel);
	while (fx->channel != NULL)
		g_main_context_iteration(NULL, TRUE);
	g_clear_handle_id(&fx->watchdog_id, g_source_remove);
	g_clear_object(&fx->host_stream);
	g_clear_object(&fx->guest);
	g_free(fx->decoder);
	g_free(fx);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Fixture, fixture_free)

static void
settle(void)
{
	while (g_main_context_iteration(NULL, FALSE))
		;
}

static void
guest_write_frame(Fixture *fx, guint8 type, guint32 channel, const gchar *text)
{
	gsize len = text != NULL ? strlen(text) : 0;
	g_autofree guint8 *buf = g_malloc(UCV_AGENT_FRAME_HEADER + len);
	gsize n = ucv_agent_frame_encode(buf, UCV_AGENT_FRAME_HEADER + len, UCV_AGENT_PEER_GUEST,
					 type, channel, text, len);
	g_autoptr(GError) error = NULL;

	g_assert_cmpuint(n, ==, UCV_AGENT_FRAME_HEADER + len);
	g_assert_cmpint(
		g_socket_send_with_blocking(fx->guest, (const gchar *)buf, n, TRUE, NULL, &error),
		==, (gssize)n);
	g_assert_no_error(error);
}

static void
guest_read_exact(Fixture *fx, guint8 *buf, gsize len)
{
	gsize done = 0;

	while (done < len) {
		g_autoptr(GError) error = NULL;
		gssize n = g_socket_receive_with_blocking(fx->guest, (gchar *)buf + done,
							  len - done, FALSE, NULL, &error);

		if (n < 0) {
			g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
			g_main_context_iteration(NULL, TRUE);
			continue;
		}
		g_assert_cmpint(n, >, 0);
		done += (gsize)n;
	}
}

/* The next frame the host wrote, checked by the agent's own decoder, as its bytes. */
static void
guest_expect_frame(Fixture *fx, guint8 type, guint32 channel, const void *payload, gsize len)
{
	g_autofree guint8 *buf = g_malloc(UCV_AGENT_FRAME_MAX);
	UcvAgentFrame frame;
	gsize used = 0;
	guint32 frame_len;

	guest_read_exact(fx, buf, 4);
	frame_len = (guint32)buf[0] << 24 | (guint32)buf[1] << 16 | (guint32)buf[2] << 8 | buf[3];
	g_assert_cmpuint(frame_len, >=, 5);
	g_assert_cmpuint(frame_len, <=, UCV_AGENT_FRAME_MAX - 4);
	guest_read_exact(fx, buf + 4, frame_len);
	g_assert_cmpint(ucv_agent_decoder_feed(fx->decoder, buf, 4 + frame_len, &used, &frame), ==,
			UCV_AGENT_FEED_FRAME);
	g_assert_cmpstr(ucv_agent_frame_type_name(frame.type), ==, ucv_agent_frame_type_name(type));
	g_assert_cmpuint(frame.channel, ==, channel);
	g_assert_cmpmem(frame.payload, frame.payload_len, payload, len);
}

/* Nothing more was written (the loop has run dry). */
static void
guest_expect_nothing(Fixture *fx)
{
	guint8 byte;
	g_autoptr(GError) error = NULL;

	settle();
	g_assert_cmpint(
		g_socket_receive_with_blocking(fx->guest, (gchar *)&byte, 1, FALSE, NULL, &error),
		==, -1);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
}

static void
output_cb(UcvTerminal *terminal, GBytes *data, Recorder *rec)
{
	gsize len = 0;
	const gchar *bytes = g_bytes_get_data(data, &len);

	g_ptr_array_add(rec->events, g_strdup_printf("output %.*s", (gint)len, bytes));
}

static void
closed_cb(UcvTerminal *terminal, const gchar *why, Recorder *rec)
{
	g_ptr_array_add(rec->events, g_strdup_printf("closed %s", why != NULL ? why : "(exit)"));
}

static Recorder *
recorder_new(UcvAgentShell *shell)
{
	Recorder *rec = g_new0(Recorder, 1);

	rec->events = g_ptr_array_new_with_free_func(g_free);
	g_signal_connect(shell, "output", G_CALLBACK(output_cb), rec);
	g_signal_connect(shell, "closed", G_CALLBACK(closed_cb), rec);
	return rec;
}

static void
recorder_free(Recorder *rec)
{
	g_ptr_array_unref(rec->events);
	g_free(rec);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Recorder, recorder_free)

static void
wait_events(Recorder *rec, guint n)
{
	while (rec->events->len < n)
		g_main_context_iteration(NULL, TRUE);
}

/* Exactly these, and nothing more once the loop has run dry. */
static void
assert_events(Recorder *rec, const gchar *const *expected)
{
	guint n = g_strv_length((gchar **)expected);

	wait_events(rec, n);
	settle();
	for (guint i = 0; i < MIN(n, rec->events->len); i++)
		g_assert_cmpstr(g_ptr_array_index(rec->events, i), ==, expected[i]);
	g_assert_cmpuint(rec->events->len, ==, n);
}

static void
store_result_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **slot = user_data;

	g_assert_null(*slot);
	*slot = g_object_ref(res);
}

/* Writes `text` through the terminal interface and waits for the result. */
static gboolean
write_text(UcvAgentShell *shell, const gchar *text, GError **error)
{
	g_autoptr(GBytes) data = g_bytes_new(text, strlen(text));
	g_autoptr(GAsyncResult) res = NULL;

	ucv_terminal_write_async(UCV_TERMINAL(shell), data, NULL, store_result_cb, &res);
	while (res == NULL)
		g_main_context_iteration(NULL, TRUE);
	return ucv_terminal_write_finish(UCV_TERMINAL(shell), res, error);
}

static const guint8 open_3[] = {0, 0, 0x2b, 0x22, 0, 80, 0, 24}; /* uid 11042, 80×24 */

/* SHELL_OPEN with the uid and size; input as DATA once written; a resize as RESIZE (one of 0
 * columns is not sent); output of its channel; close as CLOSE, after which nothing is emitted. */
static void
test_frames(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(UcvAgentShell) shell = ucv_agent_shell_new(fx->channel, 3, 11042, 80, 24);
	g_autoptr(Recorder) rec = recorder_new(shell);
	g_autoptr(GError) error = NULL;
	const guint8 resize[] = {0, 132, 0, 43};
	const gchar *expected[] = {"output $ ", "output hello\r\n", NULL};

	g_assert_true(UCV_IS_TERMINAL(shell));
	g_assert_cmpuint(ucv_agent_shell_get_channel_number(shell), ==, 3);
	guest_expect_frame(fx, UCV_AGENT_FRAME_SHELL_OPEN, 3, open_3, sizeof(open_3));

	g_assert_true(write_text(shell, "echo hello\r", &error));
	g_assert_no_error(error);
	guest_expect_frame(fx, UCV_AGENT_FRAME_DATA, 3, "echo hello\r", 11);
	/* nothing to send is taken at once */
	g_assert_true(write_text(shell, "", &error));
	g_assert_no_error(error);

	ucv_terminal_resize(UCV_TERMINAL(shell), 0, 43);
	ucv_terminal_resize(UCV_TERMINAL(shell), 132, 43);
	guest_expect_frame(fx, UCV_AGENT_FRAME_RESIZE, 3, resize, sizeof(resize));

	guest_write_frame(fx, UCV_AGENT_FRAME_DATA, 3, "$ ");
	guest_write_frame(fx, UCV_AGENT_FRAME_DATA, 3, "hello\r\n");
	assert_events(rec, expected);

	ucv_terminal_close(UCV_TERMINAL(shell));
	g_assert_false(ucv_agent_shell_is_open(shell));
	guest_expect_frame(fx, UCV_AGENT_FRAME_CLOSE, 3, NULL, 0);
	/* idempotent, and what the agent still had on its way reaches nobody */
	ucv_agent_shell_close(shell);
	guest_write_frame(fx, UCV_AGENT_FRAME_DATA, 3, "late");
	guest_write_frame(fx, UCV_AGENT_FRAME_CLOSE, 3, NULL);
	ucv_terminal_resize(UCV_TERMINAL(shell), 100, 30);
	assert_events(rec, expected);
	guest_expect_nothing(fx);
	g_assert_false(write_text(shell, "more", &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

/* Two shells on one channel: each sees only its own output and its own end. */
static void
test_filtering(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(UcvAgentShell) first = ucv_agent_shell_new(fx->channel, 1, 0, 80, 24);
	g_autoptr(UcvAgentShell) second = ucv_agent_shell_new(fx->channel, 2, 11042, 100, 30);
	g_autoptr(Recorder) first_rec = recorder_new(first);
	g_autoptr(Recorder) second_rec = recorder_new(second);
	g_autoptr(GError) error = NULL;
	const guint8 open_1[] = {0, 0, 0, 0, 0, 80, 0, 24};
	const guint8 open_2[] = {0, 0, 0x2b, 0x22, 0, 100, 0, 30};
	const gchar *first_expected[] = {"output one", "output one again", "closed (exit)", NULL};
	const gchar *second_expected[] = {"output two", "output two again", NULL};

	guest_expect_frame(fx, UCV_AGENT_FRAME_SHELL_OPEN, 1, open_1, sizeof(open_1));
	guest_expect_frame(fx, UCV_AGENT_FRAME_SHELL_OPEN, 2, open_2, sizeof(open_2));
	guest_write_frame(fx, UCV_AGENT_FRAME_DATA, 1, "one");
	guest_write_frame(fx, UCV_AGENT_FRAME_DATA, 2, "two");
	guest_write_frame(fx, UCV_AGENT_FRAME_DATA, 7, "nobody's");
	guest_write_frame(fx, UCV_AGENT_FRAME_DATA, 1, "one again");
	guest_write_frame(fx, UCV_AGENT_FRAME_CLOSE, 1, NULL);
	guest_write_frame(fx, UCV_AGENT_FRAME_CLOSE, 7, NULL);
	guest_write_frame(fx, UCV_AGENT_FRAME_DATA, 2, "two again");
	assert_events(first_rec, first_expected);
	assert_events(second_rec, second_expected);

	/* the ended shell takes no input and sends no CLOSE of its own */
	g_assert_false(ucv_agent_shell_is_open(first));
	g_assert_false(write_text(first, "ls\r", &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
	g_clear_error(&error);
	ucv_agent_shell_close(first);
	g_assert_true(write_text(second, "ls\r", &error));
	g_assert_no_error(error);
	guest_expect_frame(fx, UCV_AGENT_FRAME_DATA, 2, "ls\r", 3);
	guest_expect_nothing(fx);
}

/* The agent hanging up ends every open shell with a reason; one that is already closed hears
 * nothing. */
static void
test_channel_closed(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(UcvAgentShell) open = ucv_agent_shell_new(fx->channel, 1, 0, 80, 24);
	g_autoptr(UcvAgentShell) closed = ucv_agent_shell_new(fx->channel, 2, 0, 80, 24);
	g_autoptr(Recorder) open_rec = recorder_new(open);
	g_autoptr(Recorder) closed_rec = recorder_new(closed);
	g_autoptr(GError) error = NULL;
	const gchar *expected[] = {"closed the container host went away", NULL};
	const gchar *nothing[] = {NULL};

	ucv_agent_shell_close(closed);
	g_assert_true(g_socket_shutdown(fx->guest, FALSE, TRUE, &error));
	g_assert_no_error(error);
	assert_events(open_rec, expected);
	assert_events(closed_rec, nothing);
	g_assert_false(ucv_agent_shell_is_open(open));
}

/* A frame that breaks the protocol ends the shells with the decoder's reason. */
static void
test_protocol_error(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(UcvAgentShell) shell = ucv_agent_shell_new(fx->channel, 1, 0, 80, 24);
	g_autoptr(Recorder) rec = recorder_new(shell);
	const guint8 bad[] = {0, 0, 0, 5, 0x7f, 0, 0, 0, 1}; /* an unknown type */
	g_autoptr(GError) error = NULL;
	const gchar *closed;

	g_assert_cmpint(g_socket_send(fx->guest, (const gchar *)bad, sizeof(bad), NULL, &error), ==,
			sizeof(bad));
	g_assert_no_error(error);
	wait_events(rec, 1);
	closed = g_ptr_array_index(rec->events, 0);
	g_assert_true(g_str_has_prefix(closed, "closed the container host broke the connection: "));
}

/* A shell of a channel that is closed already reports so from the loop, not at once. */
static void
test_open_on_closed_channel(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(UcvAgentShell) shell = NULL;
	g_autoptr(Recorder) rec = NULL;
	const gchar *expected[] = {"closed the container host went away", NULL};

	ucv_agent_channel_close(fx->channel);
	shell = ucv_agent_shell_new(fx->channel, 1, 0, 80, 24);
	rec = recorder_new(shell);
	g_assert_cmpuint(rec->events->len, ==, 0);
	assert_events(rec, expected);
}

/* Dropping an open shell ends it in the container and leaves no handler on the channel. */
static void
test_dispose(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	UcvAgentShell *shell = ucv_agent_shell_new(fx->channel, 4, 0, 80, 24);
	guint data_signal = g_signal_lookup("shell-data", UCV_TYPE_AGENT_CHANNEL);
	guint closed_signal = g_signal_lookup("closed", UCV_TYPE_AGENT_CHANNEL);

	g_assert_true(g_signal_has_handler_pending(fx->channel, data_signal, 0, FALSE));
	guest_expect_frame(fx, UCV_AGENT_FRAME_SHELL_OPEN, 4,
			   (const guint8[]){0, 0, 0, 0, 0, 80, 0, 24}, 8);
	g_object_unref(shell);
	guest_expect_frame(fx, UCV_AGENT_FRAME_CLOSE, 4, NULL, 0);
	g_assert_false(g_signal_has_handler_pending(fx->channel, data_signal, 0, FALSE));
	g_assert_false(g_signal_has_handler_pending(fx->channel, closed_signal, 0, FALSE));
	guest_write_frame(fx, UCV_AGENT_FRAME_DATA, 4, "late");
	guest_expect_nothing(fx);
}

/* The serial console is the other terminal: same interface, its own "ended" kept. */
static void
test_console_stream_is_terminal(void)
{
	/* its signals exist once the class does */
	g_autoptr(GTypeClass) klass = g_type_class_ref(UCV_TYPE_CONSOLE_STREAM);

	g_assert_true(g_type_is_a(UCV_TYPE_CONSOLE_STREAM, UCV_TYPE_TERMINAL));
	g_assert_cmpuint(g_signal_lookup("output", UCV_TYPE_CONSOLE_STREAM), ==,
			 g_signal_lookup("output", UCV_TYPE_TERMINAL));
	g_assert_cmpuint(g_signal_lookup("ended", UCV_TYPE_CONSOLE_STREAM), !=, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/agent-shell/frames", test_frames);
	g_test_add_func("/agent-shell/filtering", test_filtering);
	g_test_add_func("/agent-shell/channel-closed", test_channel_closed);
	g_test_add_func("/agent-shell/protocol-error", test_protocol_error);
	g_test_add_func("/agent-shell/open-on-closed-channel", test_open_on_closed_channel);
	g_test_add_func("/agent-shell/dispose", test_dispose);
	g_test_add_func("/agent-shell/console-stream-is-terminal", test_console_stream_is_terminal);
	return g_test_run();
}
