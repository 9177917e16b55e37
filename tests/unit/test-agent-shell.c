/* A shell channel of the agent channel over a real socket pair, the other end a fake agent that
 * speaks with the shared codec: the frames each call sends, output and ends of its own channel
 * only, writes that complete once written, and every way a shell ends. */
#include "config.h"

#include <string.h>

#include "agent/ucv-agent-frame.h"
#include "container/ucv-agent-shell.h"
#include "ucv-fake-agent.h"
#include "virt/ucv-console-stream.h"

typedef struct {
	UcvFakeAgent *agent;
	UcvAgentChannel *channel;
	guint watchdog_id;
} Fixture;

/* What one shell emitted, as text, in order. */
typedef struct {
	GPtrArray *events;
} Recorder;

static Fixture *
fixture_new(void)
{
	Fixture *fx = g_new0(Fixture, 1);

	fx->agent = ucv_fake_agent_new();
	fx->channel = ucv_agent_channel_new(ucv_fake_agent_get_host_stream(fx->agent));
	ucv_agent_channel_start(fx->channel);
	fx->watchdog_id = ucv_test_add_watchdog(30);
	return fx;
}

static void
fixture_free(Fixture *fx)
{
	ucv_agent_channel_close(fx->channel);
	ucv_test_unref_and_wait(g_steal_pointer(&fx->channel));
	g_clear_handle_id(&fx->watchdog_id, g_source_remove);
	ucv_fake_agent_free(fx->agent);
	g_free(fx);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Fixture, fixture_free)

/* `text` NULL for none. */
static void
agent_write_text(Fixture *fx, guint8 type, guint32 channel, const gchar *text)
{
	ucv_fake_agent_write_frame(fx->agent, type, channel, text, text != NULL ? strlen(text) : 0);
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

/* Writes `text` through the terminal interface and waits for the result. */
static gboolean
write_text(UcvAgentShell *shell, const gchar *text, GError **error)
{
	g_autoptr(GBytes) data = g_bytes_new(text, strlen(text));
	g_autoptr(GAsyncResult) res = NULL;

	ucv_terminal_write_async(UCV_TERMINAL(shell), data, NULL, ucv_test_store_result_cb, &res);
	return ucv_terminal_write_finish(UCV_TERMINAL(shell), ucv_test_wait_result(&res), error);
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
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_SHELL_OPEN, 3, open_3,
				    sizeof(open_3));

	g_assert_true(write_text(shell, "echo hello\r", &error));
	g_assert_no_error(error);
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_DATA, 3, "echo hello\r", 11);
	/* nothing to send is taken at once */
	g_assert_true(write_text(shell, "", &error));
	g_assert_no_error(error);

	ucv_terminal_resize(UCV_TERMINAL(shell), 0, 43);
	ucv_terminal_resize(UCV_TERMINAL(shell), 132, 43);
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_RESIZE, 3, resize, sizeof(resize));

	agent_write_text(fx, UCV_AGENT_FRAME_DATA, 3, "$ ");
	agent_write_text(fx, UCV_AGENT_FRAME_DATA, 3, "hello\r\n");
	ucv_test_events_assert(rec->events, expected);

	ucv_terminal_close(UCV_TERMINAL(shell));
	g_assert_false(ucv_agent_shell_is_open(shell));
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_CLOSE, 3, NULL, 0);
	/* idempotent, and what the agent still had on its way reaches nobody */
	ucv_agent_shell_close(shell);
	agent_write_text(fx, UCV_AGENT_FRAME_DATA, 3, "late");
	agent_write_text(fx, UCV_AGENT_FRAME_CLOSE, 3, NULL);
	ucv_terminal_resize(UCV_TERMINAL(shell), 100, 30);
	ucv_test_events_assert(rec->events, expected);
	ucv_fake_agent_expect_nothing(fx->agent);
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

	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_SHELL_OPEN, 1, open_1,
				    sizeof(open_1));
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_SHELL_OPEN, 2, open_2,
				    sizeof(open_2));
	agent_write_text(fx, UCV_AGENT_FRAME_DATA, 1, "one");
	agent_write_text(fx, UCV_AGENT_FRAME_DATA, 2, "two");
	agent_write_text(fx, UCV_AGENT_FRAME_DATA, 7, "nobody's");
	agent_write_text(fx, UCV_AGENT_FRAME_DATA, 1, "one again");
	agent_write_text(fx, UCV_AGENT_FRAME_CLOSE, 1, NULL);
	agent_write_text(fx, UCV_AGENT_FRAME_CLOSE, 7, NULL);
	agent_write_text(fx, UCV_AGENT_FRAME_DATA, 2, "two again");
	ucv_test_events_assert(first_rec->events, first_expected);
	ucv_test_events_assert(second_rec->events, second_expected);

	/* the ended shell takes no input and sends no CLOSE of its own */
	g_assert_false(ucv_agent_shell_is_open(first));
	g_assert_false(write_text(first, "ls\r", &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
	g_clear_error(&error);
	ucv_agent_shell_close(first);
	g_assert_true(write_text(second, "ls\r", &error));
	g_assert_no_error(error);
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_DATA, 2, "ls\r", 3);
	ucv_fake_agent_expect_nothing(fx->agent);
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
	const gchar *expected[] = {"closed the container host went away", NULL};
	const gchar *nothing[] = {NULL};

	ucv_agent_shell_close(closed);
	ucv_fake_agent_hang_up(fx->agent);
	ucv_test_events_assert(open_rec->events, expected);
	ucv_test_events_assert(closed_rec->events, nothing);
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
	const gchar *closed;

	ucv_fake_agent_write(fx->agent, bad, sizeof(bad));
	ucv_test_events_wait(rec->events, 1);
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
	ucv_test_events_assert(rec->events, expected);
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
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_SHELL_OPEN, 4,
				    (const guint8[]){0, 0, 0, 0, 0, 80, 0, 24}, 8);
	g_object_unref(shell);
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_CLOSE, 4, NULL, 0);
	g_assert_false(g_signal_has_handler_pending(fx->channel, data_signal, 0, FALSE));
	g_assert_false(g_signal_has_handler_pending(fx->channel, closed_signal, 0, FALSE));
	agent_write_text(fx, UCV_AGENT_FRAME_DATA, 4, "late");
	ucv_fake_agent_expect_nothing(fx->agent);
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
