/* The host end of the agent protocol over a real socket pair, the other end a fake agent that
 * speaks with the shared codec: signals in order, frames however they are cut, every way the
 * channel ends, writes paced by the agent, and connecting to a socket that appears late. */
#include "config.h"

#include <string.h>

#include "agent/ucv-agent-frame.h"
#include "container/ucv-agent-channel.h"
#include "model/ucv-error.h"
#include "ucv-fake-agent.h"
#include "ucv-test-files.h"

#define SMALL_SNDBUF 4096

typedef struct {
	UcvFakeAgent *agent;
	UcvAgentChannel *channel;
	GPtrArray *events; /* what the channel emitted, as text, in order */
	guint closed_count;
	guint watchdog_id;
} Fixture;

static gchar *
bytes_text(GBytes *bytes)
{
	gsize len;
	const gchar *data = g_bytes_get_data(bytes, &len);

	return g_strndup(data, len);
}

static void
hello_cb(UcvAgentChannel *channel, guint protocol, const gchar *version, Fixture *fx)
{
	g_ptr_array_add(fx->events, g_strdup_printf("hello %u %s", protocol, version));
}

static void
started_cb(UcvAgentChannel *channel, Fixture *fx)
{
	g_ptr_array_add(fx->events, g_strdup("started"));
}

static void
output_cb(UcvAgentChannel *channel, guint stream, GBytes *data, Fixture *fx)
{
	g_autofree gchar *text = bytes_text(data);

	g_assert_true(stream == UCV_AGENT_OUTPUT_STDOUT || stream == UCV_AGENT_OUTPUT_STDERR);
	g_ptr_array_add(fx->events,
			g_strdup_printf("%s %s",
					stream == UCV_AGENT_OUTPUT_STDOUT ? "stdout" : "stderr",
					text));
}

static void
exited_cb(UcvAgentChannel *channel, gint code, Fixture *fx)
{
	g_ptr_array_add(fx->events, g_strdup_printf("exited %d", code));
}

static void
shell_data_cb(UcvAgentChannel *channel, guint shell, GBytes *data, Fixture *fx)
{
	g_autofree gchar *text = bytes_text(data);

	g_ptr_array_add(fx->events, g_strdup_printf("data %u %s", shell, text));
}

static void
shell_closed_cb(UcvAgentChannel *channel, guint shell, Fixture *fx)
{
	g_ptr_array_add(fx->events, g_strdup_printf("shell-closed %u", shell));
}

/* The stream is already on its way to being closed when the owner hears of it. */
static void
closed_cb(UcvAgentChannel *channel, const gchar *reason, Fixture *fx)
{
	g_assert_true(ucv_agent_channel_is_closed(channel));
	fx->closed_count++;
	g_ptr_array_add(fx->events, g_strdup_printf("closed %s", reason != NULL ? reason : "EOF"));
}

static void
connect_signals(Fixture *fx)
{
	g_signal_connect(fx->channel, "hello", G_CALLBACK(hello_cb), fx);
	g_signal_connect(fx->channel, "started", G_CALLBACK(started_cb), fx);
	g_signal_connect(fx->channel, "output", G_CALLBACK(output_cb), fx);
	g_signal_connect(fx->channel, "exited", G_CALLBACK(exited_cb), fx);
	g_signal_connect(fx->channel, "shell-data", G_CALLBACK(shell_data_cb), fx);
	g_signal_connect(fx->channel, "shell-closed", G_CALLBACK(shell_closed_cb), fx);
	g_signal_connect(fx->channel, "closed", G_CALLBACK(closed_cb), fx);
}

/* `host_sndbuf` 0 keeps the system's socket buffer. */
static Fixture *
fixture_new_full(gint host_sndbuf)
{
	Fixture *fx = g_new0(Fixture, 1);

	fx->agent = ucv_fake_agent_new_full(host_sndbuf);
	fx->channel = ucv_agent_channel_new(ucv_fake_agent_get_host_stream(fx->agent));
	fx->events = g_ptr_array_new_with_free_func(g_free);
	connect_signals(fx);
	ucv_agent_channel_start(fx->channel);
	fx->watchdog_id = ucv_test_add_watchdog(30);
	return fx;
}

static Fixture *
fixture_new(void)
{
	return fixture_new_full(0);
}

static GIOStream *
host_stream(Fixture *fx)
{
	return ucv_fake_agent_get_host_stream(fx->agent);
}

/* Also proves that nothing in flight still holds the channel once it is closed. */
static void
fixture_free(Fixture *fx)
{
	ucv_agent_channel_close(fx->channel);
	ucv_test_unref_and_wait(g_steal_pointer(&fx->channel));
	g_assert_true(g_io_stream_is_closed(host_stream(fx)));
	g_clear_handle_id(&fx->watchdog_id, g_source_remove);
	ucv_fake_agent_free(fx->agent);
	g_ptr_array_unref(fx->events);
	g_free(fx);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Fixture, fixture_free)

static void
append_text(GByteArray *out, guint8 type, guint32 channel, const gchar *text)
{
	ucv_fake_agent_append_frame(out, type, channel, text, strlen(text));
}

static void
append_hello(GByteArray *out, const gchar *version)
{
	guint8 buf[UCV_AGENT_FRAME_HEADER + 2 + UCV_AGENT_VERSION_MAX];
	gsize n = ucv_agent_frame_encode_hello(buf, sizeof(buf), version);

	g_assert_cmpuint(n, >, 0);
	g_byte_array_append(out, buf, n);
}

static void
append_exit(GByteArray *out, gint32 code)
{
	guint8 buf[UCV_AGENT_FRAME_HEADER + 4];
	gsize n = ucv_agent_frame_encode_exit(buf, sizeof(buf), code);

	g_assert_cmpuint(n, >, 0);
	g_byte_array_append(out, buf, n);
}

static void
append_u32(GByteArray *out, guint32 value)
{
	guint8 bytes[4] = {value >> 24, value >> 16, value >> 8, value};

	g_byte_array_append(out, bytes, sizeof(bytes));
}

/* A frame no encoder would write: `len_field` and the rest as given. */
static void
append_raw(GByteArray *out, guint32 len_field, guint8 type, guint32 channel, const void *payload,
	   gsize payload_len)
{
	append_u32(out, len_field);
	g_byte_array_append(out, &type, 1);
	append_u32(out, channel);
	g_byte_array_append(out, payload, payload_len);
}

static void
agent_send(Fixture *fx, GByteArray *out)
{
	ucv_fake_agent_write(fx->agent, out->data, out->len);
	g_byte_array_set_size(out, 0);
}

static void
agent_expect_exit_ack(Fixture *fx)
{
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_EXIT_ACK, 0, NULL, 0);
}

static void
send_data_start(Fixture *fx, guint channel, GBytes *data, GAsyncResult **slot)
{
	ucv_agent_channel_send_data_async(fx->channel, channel, data, NULL,
					  ucv_test_store_result_cb, slot);
}

static void
assert_send_fails_closed(Fixture *fx)
{
	g_autoptr(GBytes) data = g_bytes_new_static("late", 4);
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;

	send_data_start(fx, 1, data, &res);
	g_assert_false(ucv_agent_channel_send_data_finish(fx->channel, ucv_test_wait_result(&res),
							  &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

static GBytes *
pattern(gsize len)
{
	guint8 *data = g_malloc(len);

	for (gsize i = 0; i < len; i++)
		data[i] = (guint8)(i * 7 + i / 251);
	return g_bytes_new_take(data, len);
}

/* Runs the loop for a while without waiting on it, as time passes for a writer. */
static void
run_loop_for_ms(guint ms)
{
	gint64 until = g_get_monotonic_time() + ms * 1000;

	while (g_get_monotonic_time() < until) {
		ucv_test_settle();
		g_usleep(1000);
	}
}

static void
test_job_flow(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(GByteArray) out = g_byte_array_new();
	const gchar *expected[] = {"hello 1 0.1.0+abc123", "started",  "stdout hello world\n",
				   "stderr oops\n",        "exited 3", NULL};

	g_assert_null(ucv_agent_channel_get_version(fx->channel));
	append_hello(out, "0.1.0+abc123");
	agent_send(fx, out);
	ucv_test_events_wait(fx->events, 1);
	g_assert_cmpstr(ucv_agent_channel_get_version(fx->channel), ==, "0.1.0+abc123");
	ucv_fake_agent_append_frame(out, UCV_AGENT_FRAME_STARTED, 0, NULL, 0);
	agent_send(fx, out);
	ucv_test_events_wait(fx->events, 2);
	append_text(out, UCV_AGENT_FRAME_STDOUT, 0, "hello world\n");
	agent_send(fx, out);
	ucv_test_events_wait(fx->events, 3);
	append_text(out, UCV_AGENT_FRAME_STDERR, 0, "oops\n");
	agent_send(fx, out);
	ucv_test_events_wait(fx->events, 4);
	append_exit(out, 3);
	agent_send(fx, out);
	ucv_test_events_assert(fx->events, expected);
	agent_expect_exit_ack(fx);
	g_assert_false(ucv_agent_channel_is_closed(fx->channel));
	g_assert_cmpuint(fx->closed_count, ==, 0);
}

static void
test_exit_repeated(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(GByteArray) out = g_byte_array_new();
	const gchar *expected[] = {"exited -9", NULL};

	for (guint i = 0; i < 3; i++) {
		append_exit(out, -9);
		agent_send(fx, out);
		agent_expect_exit_ack(fx);
	}
	ucv_test_events_assert(fx->events, expected);
}

static void
test_split_byte_by_byte(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(GByteArray) out = g_byte_array_new();
	const gchar *expected[] = {"hello 1 v1", "stdout cut into single bytes", "data 3 x",
				   "exited 0", NULL};

	append_hello(out, "v1");
	append_text(out, UCV_AGENT_FRAME_STDOUT, 0, "cut into single bytes");
	append_text(out, UCV_AGENT_FRAME_DATA, 3, "x");
	append_exit(out, 0);
	/* the loop runs between bytes, so each read brings one */
	for (guint i = 0; i < out->len; i++) {
		ucv_fake_agent_write(fx->agent, out->data + i, 1);
		ucv_test_settle();
	}
	ucv_test_events_assert(fx->events, expected);
	agent_expect_exit_ack(fx);
}

static void
test_many_in_one_write(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(GByteArray) out = g_byte_array_new();
	const gchar *expected[] = {"hello 1 v2",     "started",  "stdout a",
				   "stdout b",       "stderr c", "data 4 $",
				   "shell-closed 4", "exited 1", NULL};

	append_hello(out, "v2");
	ucv_fake_agent_append_frame(out, UCV_AGENT_FRAME_STARTED, 0, NULL, 0);
	append_text(out, UCV_AGENT_FRAME_STDOUT, 0, "a");
	append_text(out, UCV_AGENT_FRAME_STDOUT, 0, "b");
	append_text(out, UCV_AGENT_FRAME_STDERR, 0, "c");
	append_text(out, UCV_AGENT_FRAME_DATA, 4, "$");
	ucv_fake_agent_append_frame(out, UCV_AGENT_FRAME_CLOSE, 4, NULL, 0);
	append_text(out, UCV_AGENT_FRAME_PING, 0, "p");
	append_exit(out, 1);
	agent_send(fx, out);
	ucv_test_events_assert(fx->events, expected);
	/* answers go out in the order their frames came */
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_PONG, 0, "p", 1);
	agent_expect_exit_ack(fx);
}

/* `bad` between two good frames in one write: the first is emitted, then "closed", then nothing;
 * the agent sees its end closed. */
static void
check_malformed(GByteArray *bad, UcvAgentDecodeError error)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autofree gchar *closed =
		g_strdup_printf("closed %s", ucv_agent_decode_error_string(error));
	const gchar *expected[] = {"stdout before", closed, NULL};

	append_text(out, UCV_AGENT_FRAME_STDOUT, 0, "before");
	g_byte_array_append(out, bad->data, bad->len);
	append_text(out, UCV_AGENT_FRAME_STDOUT, 0, "after");
	append_exit(out, 0);
	agent_send(fx, out);
	ucv_test_events_assert(fx->events, expected);
	g_assert_true(ucv_agent_channel_is_closed(fx->channel));
	ucv_fake_agent_expect_eof(fx->agent);
	g_assert_true(g_io_stream_is_closed(host_stream(fx)));
	assert_send_fails_closed(fx);
	g_assert_cmpuint(fx->closed_count, ==, 1);
}

static void
test_malformed_unknown_type(void)
{
	g_autoptr(GByteArray) bad = g_byte_array_new();

	append_raw(bad, 5, 99, 0, NULL, 0);
	check_malformed(bad, UCV_AGENT_DECODE_UNKNOWN_TYPE);
}

/* Refused from the length alone, before any payload arrives. */
static void
test_malformed_oversize(void)
{
	g_autoptr(GByteArray) bad = g_byte_array_new();

	append_raw(bad, 5 + UCV_AGENT_FRAME_MAX_PAYLOAD + 1, UCV_AGENT_FRAME_STDOUT, 0, NULL, 0);
	check_malformed(bad, UCV_AGENT_DECODE_TOO_LONG);
}

static void
test_malformed_hello_version(void)
{
	g_autoptr(GByteArray) bad = g_byte_array_new();
	const guint8 payload[] = {0, 1, 'v', 0x01, '\n'};

	append_raw(bad, 5 + sizeof(payload), UCV_AGENT_FRAME_HELLO, 0, payload, sizeof(payload));
	check_malformed(bad, UCV_AGENT_DECODE_BAD_PAYLOAD);
}

static void
test_malformed_wrong_peer(void)
{
	g_autoptr(GByteArray) bad = g_byte_array_new();

	append_raw(bad, 5, UCV_AGENT_FRAME_EXIT_ACK, 0, NULL, 0);
	check_malformed(bad, UCV_AGENT_DECODE_WRONG_PEER);
}

static void
test_eof(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(GByteArray) out = g_byte_array_new();
	const gchar *expected[] = {"hello 1 v3", "closed EOF", NULL};

	append_hello(out, "v3");
	agent_send(fx, out);
	ucv_fake_agent_hang_up(fx->agent);
	ucv_test_events_assert(fx->events, expected);
	ucv_fake_agent_expect_eof(fx->agent);
	assert_send_fails_closed(fx);
	/* dropped without a word */
	ucv_agent_channel_open_shell(fx->channel, 1, 0, 80, 24);
	ucv_agent_channel_close(fx->channel);
	ucv_test_settle();
	g_assert_cmpuint(fx->closed_count, ==, 1);
	g_assert_true(g_io_stream_is_closed(host_stream(fx)));
}

static void
test_ping(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GBytes) longest = pattern(UCV_AGENT_PING_MAX);
	const gchar *none[] = {NULL};

	append_text(out, UCV_AGENT_FRAME_PING, 0, "are you there");
	ucv_fake_agent_append_frame(out, UCV_AGENT_FRAME_PING, 0, NULL, 0);
	ucv_fake_agent_append_frame(out, UCV_AGENT_FRAME_PING, 0, g_bytes_get_data(longest, NULL),
				    UCV_AGENT_PING_MAX);
	append_text(out, UCV_AGENT_FRAME_PONG, 0, "unasked");
	agent_send(fx, out);
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_PONG, 0, "are you there", 13);
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_PONG, 0, NULL, 0);
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_PONG, 0,
				    g_bytes_get_data(longest, NULL), UCV_AGENT_PING_MAX);
	ucv_test_events_assert(fx->events, none);
}

/* The bytes written down by hand from the protocol, not by the encoder. */
static void
test_control_frames(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	const guint8 shell_open[] = {0, 0, 0, 13, 7, 0, 0, 0, 5, 0, 0, 0x2b, 0x22, 0, 80, 0, 24};
	const guint8 resize[] = {0, 0, 0, 9, 9, 0, 0, 0, 5, 0, 100, 0, 30};
	const guint8 signal_container[] = {0, 0, 0, 9, 10, 0, 0, 0, 0, 0, 0, 0, 15};
	const guint8 signal_shell[] = {0, 0, 0, 9, 10, 0, 0, 0, 5, 0, 0, 0, 2};
	const guint8 close_shell[] = {0, 0, 0, 5, 11, 0, 0, 0, 5};

	ucv_agent_channel_open_shell(fx->channel, 5, 11042, 80, 24);
	ucv_agent_channel_resize(fx->channel, 5, 100, 30);
	ucv_agent_channel_signal(fx->channel, 0, 15);
	ucv_agent_channel_signal(fx->channel, 5, 2);
	ucv_agent_channel_close_shell(fx->channel, 5);
	ucv_fake_agent_expect_bytes(fx->agent, shell_open, sizeof(shell_open));
	ucv_fake_agent_expect_bytes(fx->agent, resize, sizeof(resize));
	ucv_fake_agent_expect_bytes(fx->agent, signal_container, sizeof(signal_container));
	ucv_fake_agent_expect_bytes(fx->agent, signal_shell, sizeof(signal_shell));
	ucv_fake_agent_expect_bytes(fx->agent, close_shell, sizeof(close_shell));
}

/* What the agent would refuse never leaves: the next frame is the next valid one. */
static void
test_invalid_control_frames(void)
{
	g_autoptr(Fixture) fx = fixture_new();

	g_test_expect_message("ucv-container", G_LOG_LEVEL_WARNING, "*invalid SHELL_OPEN*");
	ucv_agent_channel_open_shell(fx->channel, 0, 1000, 80, 24);
	g_test_expect_message("ucv-container", G_LOG_LEVEL_WARNING, "*invalid RESIZE*");
	ucv_agent_channel_resize(fx->channel, 2, 0, 24);
	g_test_expect_message("ucv-container", G_LOG_LEVEL_WARNING, "*invalid SIGNAL*");
	ucv_agent_channel_signal(fx->channel, 2, 0);
	g_test_expect_message("ucv-container", G_LOG_LEVEL_WARNING, "*invalid CLOSE*");
	ucv_agent_channel_close_shell(fx->channel, 0);
	g_test_assert_expected_messages();
	ucv_agent_channel_close_shell(fx->channel, 2);
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_CLOSE, 2, NULL, 0);
}

/* The callback waits for the agent to take the data: with a small socket buffer most of the
 * 200 KiB is still ours until the agent reads it. */
static void
test_send_data_paced(void)
{
	g_autoptr(Fixture) fx = fixture_new_full(SMALL_SNDBUF);
	g_autoptr(GBytes) data = pattern(200 * 1024);
	g_autoptr(GByteArray) received = g_byte_array_new();
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	guint frames = 0;

	ucv_agent_channel_resize(fx->channel, 3, 90, 20);
	send_data_start(fx, 3, data, &res);
	ucv_agent_channel_close_shell(fx->channel, 3);
	run_loop_for_ms(200);
	g_assert_null(res);

	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_RESIZE, 3,
				    (const guint8[]){0, 90, 0, 20}, 4);
	while (received->len < g_bytes_get_size(data)) {
		g_autoptr(UcvFakeAgentFrame) frame = ucv_fake_agent_read_frame(fx->agent);

		g_assert_cmpuint(frame->type, ==, UCV_AGENT_FRAME_DATA);
		g_assert_cmpuint(frame->channel, ==, 3);
		g_assert_cmpuint(g_bytes_get_size(frame->payload), <=, UCV_AGENT_FRAME_MAX_PAYLOAD);
		g_byte_array_append(received, g_bytes_get_data(frame->payload, NULL),
				    g_bytes_get_size(frame->payload));
		/* after the first frame, more than the socket holds is still to go */
		if (++frames == 1)
			g_assert_null(res);
	}
	g_assert_cmpuint(frames, >=, 4);
	g_assert_cmpmem(received->data, received->len, g_bytes_get_data(data, NULL),
			g_bytes_get_size(data));
	g_assert_true(ucv_agent_channel_send_data_finish(fx->channel, ucv_test_wait_result(&res),
							 &error));
	g_assert_no_error(error);
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_CLOSE, 3, NULL, 0);
}

/* Queued frames still go out after close; nothing new is taken, and the owner hears no
 * "closed". */
static void
test_close(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(GBytes) data = g_bytes_new_static("ls\n", 3);
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;

	ucv_agent_channel_open_shell(fx->channel, 1, 11042, 80, 24);
	send_data_start(fx, 1, data, &res);
	ucv_agent_channel_close(fx->channel);
	g_assert_true(ucv_agent_channel_is_closed(fx->channel));
	ucv_agent_channel_resize(fx->channel, 1, 100, 30);
	assert_send_fails_closed(fx);
	ucv_agent_channel_close(fx->channel);

	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_SHELL_OPEN, 1,
				    (const guint8[]){0, 0, 0x2b, 0x22, 0, 80, 0, 24}, 8);
	ucv_fake_agent_expect_frame(fx->agent, UCV_AGENT_FRAME_DATA, 1, "ls\n", 3);
	ucv_fake_agent_expect_eof(fx->agent);
	g_assert_true(ucv_agent_channel_send_data_finish(fx->channel, ucv_test_wait_result(&res),
							 &error));
	g_assert_no_error(error);
	ucv_test_settle();
	g_assert_true(g_io_stream_is_closed(host_stream(fx)));
	g_assert_cmpuint(fx->closed_count, ==, 0);
}

static void
close_on_exit_cb(UcvAgentChannel *channel, gint code, gpointer user_data)
{
	ucv_agent_channel_close(channel);
}

/* The owner closes as soon as the job exited: the EXIT_ACK still reaches the agent, and what
 * came after EXIT in the same read is not emitted. */
static void
test_close_in_handler(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	g_autoptr(GByteArray) out = g_byte_array_new();
	const gchar *expected[] = {"exited 9", NULL};

	g_signal_connect(fx->channel, "exited", G_CALLBACK(close_on_exit_cb), NULL);
	append_exit(out, 9);
	append_text(out, UCV_AGENT_FRAME_STDOUT, 0, "late");
	append_exit(out, 9);
	agent_send(fx, out);
	ucv_test_events_assert(fx->events, expected);
	agent_expect_exit_ack(fx);
	ucv_fake_agent_expect_eof(fx->agent);
}

/* An agent that never reads holds a close up for the flush time only. */
static void
test_close_agent_not_reading(void)
{
	g_autoptr(Fixture) fx = fixture_new_full(SMALL_SNDBUF);
	g_autoptr(GBytes) data = pattern(1024 * 1024);
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	gint64 start;

	send_data_start(fx, 2, data, &res);
	run_loop_for_ms(50);
	start = g_get_monotonic_time();
	ucv_agent_channel_close(fx->channel);
	g_assert_false(ucv_agent_channel_send_data_finish(fx->channel, ucv_test_wait_result(&res),
							  &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
	g_assert_cmpint(g_get_monotonic_time() - start, >=, 1900 * 1000);
	while (!g_io_stream_is_closed(host_stream(fx)))
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(fx->closed_count, ==, 0);
}

/* Disposed on purpose with a read and a write in flight: their callbacks find the object
 * disposed and stop; the waiting write fails. */
static void
test_dispose_in_flight(void)
{
	g_autoptr(Fixture) fx = fixture_new_full(SMALL_SNDBUF);
	g_autoptr(GBytes) data = pattern(1024 * 1024);
	g_autoptr(GBytes) more = pattern(10);
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GAsyncResult) res_more = NULL;
	g_autoptr(GError) error = NULL;

	send_data_start(fx, 2, data, &res);
	send_data_start(fx, 2, more, &res_more);
	run_loop_for_ms(50);
	g_object_run_dispose(G_OBJECT(fx->channel));
	g_assert_false(ucv_agent_channel_send_data_finish(fx->channel, ucv_test_wait_result(&res),
							  &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
	g_clear_error(&error);
	g_assert_false(ucv_agent_channel_send_data_finish(fx->channel,
							  ucv_test_wait_result(&res_more), &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
	ucv_test_settle();
	g_assert_cmpuint(fx->closed_count, ==, 0);
}

typedef struct {
	gchar *dir;
	gchar *path;
	GSocketListener *listener;
	guint watchdog_id;
} SocketDir;

static SocketDir *
socket_dir_new(void)
{
	g_autoptr(GError) error = NULL;
	SocketDir *sd = g_new0(SocketDir, 1);

	sd->dir = g_dir_make_tmp("ucv-agent-channel-XXXXXX", &error);
	g_assert_no_error(error);
	sd->path = g_build_filename(sd->dir, "agent.sock", NULL);
	sd->watchdog_id = ucv_test_add_watchdog(30);
	return sd;
}

static void
socket_dir_free(SocketDir *sd)
{
	if (sd->listener != NULL)
		g_socket_listener_close(sd->listener);
	g_clear_object(&sd->listener);
	ucv_test_remove_tree(sd->dir);
	g_clear_handle_id(&sd->watchdog_id, g_source_remove);
	g_free(sd->path);
	g_free(sd->dir);
	g_free(sd);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SocketDir, socket_dir_free)

/* As QEMU does, some time after the domain was asked to start. */
static gboolean
listen_cb(gpointer user_data)
{
	SocketDir *sd = user_data;
	g_autoptr(GSocketAddress) address = g_unix_socket_address_new(sd->path);
	g_autoptr(GError) error = NULL;

	sd->listener = g_socket_listener_new();
	g_socket_listener_add_address(sd->listener, address, G_SOCKET_TYPE_STREAM,
				      G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, &error);
	g_assert_no_error(error);
	return G_SOURCE_REMOVE;
}

static UcvAgentChannel *
connect_channel(SocketDir *sd, guint timeout_ms, gint64 *elapsed_ms, GError **error)
{
	g_autoptr(GAsyncResult) res = NULL;
	gint64 start = g_get_monotonic_time();

	ucv_agent_channel_connect_async(sd->path, timeout_ms, NULL, ucv_test_store_result_cb, &res);
	ucv_test_wait_result(&res);
	*elapsed_ms = (g_get_monotonic_time() - start) / 1000;
	return ucv_agent_channel_connect_finish(res, error);
}

static void
hello_version_cb(UcvAgentChannel *channel, guint protocol, const gchar *version, gchar **slot)
{
	*slot = g_strdup(version);
}

/* The connected channel reaches the socket's listener: a HELLO sent there arrives. */
static void
assert_channel_reaches(SocketDir *sd, UcvAgentChannel *channel)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocketConnection) agent =
		g_socket_listener_accept(sd->listener, NULL, NULL, &error);
	g_autofree gchar *version = NULL;
	guint8 hello[UCV_AGENT_FRAME_HEADER + 2 + UCV_AGENT_VERSION_MAX];
	gsize n = ucv_agent_frame_encode_hello(hello, sizeof(hello), "late-socket");

	g_assert_no_error(error);
	g_assert_true(g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(agent)),
						hello, n, NULL, NULL, &error));
	g_assert_no_error(error);
	g_signal_connect(channel, "hello", G_CALLBACK(hello_version_cb), &version);
	ucv_agent_channel_start(channel);
	while (version == NULL)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpstr(version, ==, "late-socket");
	g_signal_handlers_disconnect_by_data(channel, &version);
}

/* Closes and releases the channel, and waits until nothing in flight holds it. */
static void
drop_channel(UcvAgentChannel *channel)
{
	ucv_agent_channel_close(channel);
	ucv_test_unref_and_wait(channel);
}

static void
test_connect_socket_appears(void)
{
	g_autoptr(SocketDir) sd = socket_dir_new();
	UcvAgentChannel *channel;
	g_autoptr(GError) error = NULL;
	gint64 elapsed_ms;

	g_timeout_add(300, listen_cb, sd);
	channel = connect_channel(sd, 5000, &elapsed_ms, &error);
	g_assert_no_error(error);
	g_assert_nonnull(channel);
	g_assert_cmpint(elapsed_ms, >=, 300);
	g_assert_cmpint(elapsed_ms, <, 2000);
	assert_channel_reaches(sd, channel);
	drop_channel(channel);
}

static void
test_connect_socket_never_appears(void)
{
	g_autoptr(SocketDir) sd = socket_dir_new();
	g_autoptr(UcvAgentChannel) channel = NULL;
	g_autoptr(GError) error = NULL;
	gint64 elapsed_ms;

	channel = connect_channel(sd, 300, &elapsed_ms, &error);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE);
	g_assert_null(channel);
	g_assert_cmpint(elapsed_ms, >=, 300);
	g_assert_cmpint(elapsed_ms, <, 2000);
}

/* A socket file nobody listens on yet (QEMU between bind and listen) is tried again too. */
static void
test_connect_socket_refuses(void)
{
	g_autoptr(SocketDir) sd = socket_dir_new();
	g_autoptr(GSocketAddress) address = g_unix_socket_address_new(sd->path);
	g_autoptr(GSocket) bound = NULL;
	g_autoptr(UcvAgentChannel) channel = NULL;
	g_autoptr(GError) error = NULL;
	gint64 elapsed_ms;

	bound = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
			     &error);
	g_assert_no_error(error);
	g_assert_true(g_socket_bind(bound, address, FALSE, &error));
	g_assert_no_error(error);
	channel = connect_channel(sd, 300, &elapsed_ms, &error);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE);
	g_assert_null(channel);
	g_assert_cmpint(elapsed_ms, >=, 300);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/agent-channel/job-flow", test_job_flow);
	g_test_add_func("/agent-channel/exit-repeated", test_exit_repeated);
	g_test_add_func("/agent-channel/split-byte-by-byte", test_split_byte_by_byte);
	g_test_add_func("/agent-channel/many-in-one-write", test_many_in_one_write);
	g_test_add_func("/agent-channel/malformed/unknown-type", test_malformed_unknown_type);
	g_test_add_func("/agent-channel/malformed/oversize", test_malformed_oversize);
	g_test_add_func("/agent-channel/malformed/hello-version", test_malformed_hello_version);
	g_test_add_func("/agent-channel/malformed/wrong-peer", test_malformed_wrong_peer);
	g_test_add_func("/agent-channel/eof", test_eof);
	g_test_add_func("/agent-channel/ping", test_ping);
	g_test_add_func("/agent-channel/control-frames", test_control_frames);
	g_test_add_func("/agent-channel/invalid-control-frames", test_invalid_control_frames);
	g_test_add_func("/agent-channel/send-data-paced", test_send_data_paced);
	g_test_add_func("/agent-channel/close", test_close);
	g_test_add_func("/agent-channel/close-in-handler", test_close_in_handler);
	g_test_add_func("/agent-channel/close-agent-not-reading", test_close_agent_not_reading);
	g_test_add_func("/agent-channel/dispose-in-flight", test_dispose_in_flight);
	g_test_add_func("/agent-channel/connect/socket-appears", test_connect_socket_appears);
	g_test_add_func("/agent-channel/connect/socket-never-appears",
			test_connect_socket_never_appears);
	g_test_add_func("/agent-channel/connect/socket-refuses", test_connect_socket_refuses);
	return g_test_run();
}
