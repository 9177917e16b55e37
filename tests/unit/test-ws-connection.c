/* The WebSocket connection over a real socket pair: messages both ways, control frames answered
 * on the way, every closing path, and a connection that reads only as fast as its owner asks. */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "console/ucv-ws-connection.h"
#include "model/ucv-error.h"

#define MAX_MESSAGE (1024 * 1024)

#define FIN     0x80
#define OP_CONT 0x0
#define OP_TEXT 0x1
#define OP_BIN  0x2
#define OP_CLOS 0x8
#define OP_PING 0x9
#define OP_PONG 0xA

/* the connection reports it for a client gone without a close frame; it never goes on the wire */
#define CLOSE_ABNORMAL 1006

static const guint8 mask_key[4] = {0x37, 0xfa, 0x21, 0x3d};

typedef struct {
	GSocket *client; /* the browser's end, spoken by hand */
	GIOStream *server_stream;
	UcvWsConnection *conn;
	guint closed_count;
	guint watchdog_id;
} Fixture;

/* A hung test fails here instead of waiting for the harness to kill it. */
static gboolean
watchdog_cb(gpointer user_data)
{
	g_error("test timed out");
	return G_SOURCE_REMOVE;
}

static void
closed_cb(UcvWsConnection *conn, Fixture *fx)
{
	fx->closed_count++;
}

static void
fixture_setup(Fixture *fx, gconstpointer data)
{
	gsize max_message = data != NULL ? *(const gsize *)data : MAX_MESSAGE;
	g_autoptr(GSocket) server = NULL;
	g_autoptr(GError) error = NULL;
	int fds[2];

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
	fx->client = g_socket_new_from_fd(fds[0], &error);
	g_assert_no_error(error);
	server = g_socket_new_from_fd(fds[1], &error);
	g_assert_no_error(error);
	fx->server_stream = G_IO_STREAM(g_socket_connection_factory_create_connection(server));
	fx->conn = ucv_ws_connection_new(fx->server_stream, max_message);
	g_signal_connect(fx->conn, "closed", G_CALLBACK(closed_cb), fx);
	fx->watchdog_id = g_timeout_add_seconds(30, watchdog_cb, NULL);
}

static void
wait_closed(Fixture *fx)
{
	while (fx->closed_count == 0)
		g_main_context_iteration(NULL, TRUE);
}

/* Also proves that no callback still holds the connection once it is closed. */
static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
	if (!ucv_ws_connection_is_closed(fx->conn))
		ucv_ws_connection_close(fx->conn, UCV_WS_CLOSE_GOING_AWAY, NULL);
	wait_closed(fx);
	g_assert_cmpuint(fx->closed_count, ==, 1);
	g_object_add_weak_pointer(G_OBJECT(fx->conn), (gpointer *)&fx->conn);
	g_object_unref(fx->conn);
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_assert_null(fx->conn);
	g_clear_handle_id(&fx->watchdog_id, g_source_remove);
	g_clear_object(&fx->server_stream);
	g_clear_object(&fx->client);
}

/* A masked client frame; `first` carries FIN and opcode. */
static void
append_frame_masked(GByteArray *out, guint8 first, const void *payload, gsize len, gboolean masked)
{
	guint8 header[10] = {first};
	guint8 mask_bit = masked ? 0x80 : 0;
	gsize n = 2;

	if (len < 126) {
		header[1] = mask_bit | (guint8)len;
	} else if (len <= G_MAXUINT16) {
		header[1] = mask_bit | 126;
		header[2] = (guint8)(len >> 8);
		header[3] = (guint8)len;
		n = 4;
	} else {
		header[1] = mask_bit | 127;
		for (gsize i = 0; i < 8; i++)
			header[2 + i] = (guint8)((guint64)len >> (56 - 8 * i));
		n = 10;
	}
	g_byte_array_append(out, header, n);
	if (masked)
		g_byte_array_append(out, mask_key, sizeof(mask_key));
	for (gsize i = 0; i < len; i++) {
		guint8 b = ((const guint8 *)payload)[i] ^ (masked ? mask_key[i % 4] : 0);

		g_byte_array_append(out, &b, 1);
	}
}

static void
append_frame(GByteArray *out, guint8 first, const void *payload, gsize len)
{
	append_frame_masked(out, first, payload, len, TRUE);
}

static void
append_text(GByteArray *out, guint8 first, const gchar *text)
{
	append_frame(out, first, text, strlen(text));
}

static void
append_close(GByteArray *out, guint16 code, const gchar *reason)
{
	g_autoptr(GByteArray) payload = g_byte_array_new();
	guint8 code_bytes[2] = {(guint8)(code >> 8), (guint8)code};

	g_byte_array_append(payload, code_bytes, 2);
	g_byte_array_append(payload, (const guint8 *)reason, strlen(reason));
	append_frame(out, FIN | OP_CLOS, payload->data, payload->len);
}

/* Small writes fit the socket buffer, so the client may block without the server's loop. */
static void
client_write(Fixture *fx, GByteArray *bytes)
{
	g_autoptr(GError) error = NULL;
	gsize done = 0;

	while (done < bytes->len) {
		gssize n =
			g_socket_send_with_blocking(fx->client, (const gchar *)bytes->data + done,
						    bytes->len - done, TRUE, NULL, &error);

		g_assert_no_error(error);
		done += n;
	}
}

/* Reads up to `len` bytes, running the server's loop until some arrive; 0 at EOF. */
static gsize
client_read_some(Fixture *fx, guint8 *buf, gsize len)
{
	for (;;) {
		g_autoptr(GError) error = NULL;
		gssize n = g_socket_receive_with_blocking(fx->client, (gchar *)buf, len, FALSE,
							  NULL, &error);

		if (n >= 0)
			return n;
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
		g_main_context_iteration(NULL, TRUE);
	}
}

static void
client_read_exact(Fixture *fx, guint8 *buf, gsize len)
{
	gsize done = 0;

	while (done < len) {
		gsize n = client_read_some(fx, buf + done, len - done);

		g_assert_cmpuint(n, >, 0);
		done += n;
	}
}

static void
client_expect_eof(Fixture *fx)
{
	guint8 byte;

	g_assert_cmpuint(client_read_some(fx, &byte, 1), ==, 0);
}

/* One server frame: unmasked and final, as the connection never fragments. */
static GBytes *
client_read_frame(Fixture *fx, guint8 *opcode)
{
	guint8 header[2];
	guint8 ext[8];
	guint64 len;
	guint8 *payload;

	client_read_exact(fx, header, 2);
	g_assert_cmphex(header[0] & 0xf0, ==, FIN);
	g_assert_cmphex(header[1] & 0x80, ==, 0);
	*opcode = header[0] & 0x0f;
	len = header[1] & 0x7f;
	if (len == 126 || len == 127) {
		gsize n = len == 126 ? 2 : 8;

		client_read_exact(fx, ext, n);
		len = 0;
		for (gsize i = 0; i < n; i++)
			len = len << 8 | ext[i];
	}
	payload = g_malloc(len + 1);
	client_read_exact(fx, payload, len);
	return g_bytes_new_take(payload, len);
}

static void
client_expect_frame(Fixture *fx, guint8 opcode, const void *payload, gsize len)
{
	guint8 got_opcode;
	g_autoptr(GBytes) got = client_read_frame(fx, &got_opcode);

	g_assert_cmphex(got_opcode, ==, opcode);
	g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got), payload, len);
}

/* The close frame's code; its reason is only checked when `reason` is given. */
static void
client_expect_close(Fixture *fx, guint16 code, const gchar *reason)
{
	guint8 opcode;
	g_autoptr(GBytes) got = client_read_frame(fx, &opcode);
	gsize len;
	const guint8 *data = g_bytes_get_data(got, &len);

	g_assert_cmphex(opcode, ==, OP_CLOS);
	g_assert_cmpuint(len, >=, 2);
	g_assert_cmpuint(data[0] << 8 | data[1], ==, code);
	if (reason != NULL)
		g_assert_cmpmem(data + 2, len - 2, reason, strlen(reason));
}

static void
store_result_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **slot = user_data;

	g_assert_null(*slot);
	*slot = g_object_ref(res);
}

static GAsyncResult *
wait_result(GAsyncResult **slot)
{
	while (*slot == NULL)
		g_main_context_iteration(NULL, TRUE);
	return *slot;
}

static UcvWsMessage *
receive(Fixture *fx, GError **error)
{
	g_autoptr(GAsyncResult) res = NULL;

	ucv_ws_connection_receive_async(fx->conn, NULL, store_result_cb, &res);
	return ucv_ws_connection_receive_finish(fx->conn, wait_result(&res), error);
}

static void
assert_message(UcvWsMessage *message, UcvWsOpcode opcode, const void *payload, gsize len)
{
	g_assert_nonnull(message);
	g_assert_cmpint(message->opcode, ==, opcode);
	g_assert_cmpmem(g_bytes_get_data(message->payload, NULL),
			g_bytes_get_size(message->payload), payload, len);
}

static void
receive_expect(Fixture *fx, UcvWsOpcode opcode, const void *payload, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvWsMessage) message = receive(fx, &error);

	g_assert_no_error(error);
	assert_message(message, opcode, payload, len);
}

static void
send_start(Fixture *fx, UcvWsOpcode opcode, const void *payload, gsize len, GAsyncResult **slot)
{
	g_autoptr(GBytes) bytes = g_bytes_new(payload, len);

	ucv_ws_connection_send_async(fx->conn, opcode, bytes, NULL, store_result_cb, slot);
}

static gboolean
send_finish(Fixture *fx, GAsyncResult *res, GError **error)
{
	return ucv_ws_connection_send_finish(fx->conn, res, error);
}

static guint8 *
pattern(gsize len, guint seed)
{
	guint8 *data = g_malloc(len + 1);

	for (gsize i = 0; i < len; i++)
		data[i] = (guint8)(i * 7 + seed);
	return data;
}

/* Once closed, both directions refuse with G_IO_ERROR_CLOSED and a second close is nothing. */
static void
assert_closed_for_good(Fixture *fx, guint16 code)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(UcvWsMessage) message = receive(fx, &error);

	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
	g_assert_null(message);
	g_clear_error(&error);
	send_start(fx, UCV_WS_OPCODE_TEXT, "late", 4, &res);
	g_assert_false(send_finish(fx, wait_result(&res), &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
	ucv_ws_connection_close(fx->conn, UCV_WS_CLOSE_NORMAL, NULL);
	wait_closed(fx);
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_assert_cmpuint(fx->closed_count, ==, 1);
	g_assert_true(ucv_ws_connection_is_closed(fx->conn));
	g_assert_cmpuint(ucv_ws_connection_get_close_code(fx->conn), ==, code);
	g_assert_true(g_io_stream_is_closed(fx->server_stream));
}

static void
test_messages(Fixture *fx, gconstpointer data)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autofree guint8 *big = pattern(70000, 3);
	const guint8 binary[] = {0x00, 0xff, 0x10, 0x80};
	g_autoptr(GAsyncResult) res1 = NULL;
	g_autoptr(GAsyncResult) res2 = NULL;
	g_autoptr(GError) error = NULL;

	append_frame(out, FIN | OP_BIN, binary, sizeof(binary));
	append_text(out, FIN | OP_TEXT, "héllo");
	append_frame(out, FIN | OP_BIN, big, 70000);
	client_write(fx, out);
	receive_expect(fx, UCV_WS_OPCODE_BINARY, binary, sizeof(binary));
	receive_expect(fx, UCV_WS_OPCODE_TEXT, "héllo", strlen("héllo"));
	receive_expect(fx, UCV_WS_OPCODE_BINARY, big, 70000);
	g_assert_false(ucv_ws_connection_is_closed(fx->conn));
	g_assert_cmpuint(ucv_ws_connection_get_close_code(fx->conn), ==, 0);

	send_start(fx, UCV_WS_OPCODE_TEXT, "wörld", strlen("wörld"), &res1);
	send_start(fx, UCV_WS_OPCODE_BINARY, binary, sizeof(binary), &res2);
	client_expect_frame(fx, OP_TEXT, "wörld", strlen("wörld"));
	client_expect_frame(fx, OP_BIN, binary, sizeof(binary));
	g_assert_true(send_finish(fx, wait_result(&res1), &error));
	g_assert_no_error(error);
	g_assert_true(send_finish(fx, wait_result(&res2), &error));
	g_assert_no_error(error);
}

static void
test_ping(Fixture *fx, gconstpointer data)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvWsMessage) message = NULL;

	ucv_ws_connection_receive_async(fx->conn, NULL, store_result_cb, &res);
	append_text(out, FIN | OP_PING, "are you there");
	append_text(out, FIN | OP_PONG, "unasked");
	client_write(fx, out);
	client_expect_frame(fx, OP_PONG, "are you there", 13);
	/* neither control frame is a message for the owner */
	g_assert_null(res);

	g_byte_array_set_size(out, 0);
	append_text(out, FIN | OP_TEXT, "after");
	client_write(fx, out);
	message = ucv_ws_connection_receive_finish(fx->conn, wait_result(&res), &error);
	g_assert_no_error(error);
	assert_message(message, UCV_WS_OPCODE_TEXT, "after", 5);
}

static void
test_fragmented(Fixture *fx, gconstpointer data)
{
	g_autoptr(GByteArray) out = g_byte_array_new();

	append_text(out, OP_TEXT, "frag");
	append_text(out, FIN | OP_PING, "mid");
	append_text(out, OP_CONT, "men");
	append_text(out, FIN | OP_CONT, "ted");
	client_write(fx, out);
	receive_expect(fx, UCV_WS_OPCODE_TEXT, "fragmented", 10);
	client_expect_frame(fx, OP_PONG, "mid", 3);
}

static void
test_client_close(Fixture *fx, gconstpointer data)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvWsMessage) message = NULL;

	append_close(out, UCV_WS_CLOSE_GOING_AWAY, "bye");
	client_write(fx, out);
	message = receive(fx, &error);
	g_assert_no_error(error);
	g_assert_null(message);
	g_assert_true(ucv_ws_connection_is_closed(fx->conn));
	client_expect_close(fx, UCV_WS_CLOSE_GOING_AWAY, "");
	client_expect_eof(fx);
	wait_closed(fx);
	assert_closed_for_good(fx, UCV_WS_CLOSE_GOING_AWAY);
}

static void
test_client_close_no_code(Fixture *fx, gconstpointer data)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvWsMessage) message = NULL;

	append_frame(out, FIN | OP_CLOS, NULL, 0);
	client_write(fx, out);
	message = receive(fx, &error);
	g_assert_no_error(error);
	g_assert_null(message);
	client_expect_close(fx, UCV_WS_CLOSE_NORMAL, "");
	client_expect_eof(fx);
	assert_closed_for_good(fx, UCV_WS_CLOSE_NO_STATUS);
}

static void
test_server_close(Fixture *fx, gconstpointer data)
{
	g_autoptr(GAsyncResult) receive_res = NULL;
	g_autoptr(GAsyncResult) send_res = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvWsMessage) message = NULL;

	ucv_ws_connection_receive_async(fx->conn, NULL, store_result_cb, &receive_res);
	send_start(fx, UCV_WS_OPCODE_BINARY, "last", 4, &send_res);
	ucv_ws_connection_close(fx->conn, UCV_WS_CLOSE_NORMAL, "done");
	g_assert_true(ucv_ws_connection_is_closed(fx->conn));
	message = ucv_ws_connection_receive_finish(fx->conn, wait_result(&receive_res), &error);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
	g_assert_null(message);
	g_clear_error(&error);

	/* what was queued goes out before the close frame */
	client_expect_frame(fx, OP_BIN, "last", 4);
	client_expect_close(fx, UCV_WS_CLOSE_NORMAL, "done");
	client_expect_eof(fx);
	g_assert_true(send_finish(fx, wait_result(&send_res), &error));
	g_assert_no_error(error);
	wait_closed(fx);
	assert_closed_for_good(fx, UCV_WS_CLOSE_NORMAL);
}

static void
test_protocol_error(Fixture *fx, gconstpointer data)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvWsMessage) message = NULL;

	ucv_ws_connection_receive_async(fx->conn, NULL, store_result_cb, &res);
	append_frame_masked(out, FIN | OP_BIN, "bare", 4, FALSE);
	client_write(fx, out);
	message = ucv_ws_connection_receive_finish(fx->conn, wait_result(&res), &error);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_assert_null(message);
	client_expect_close(fx, UCV_WS_CLOSE_PROTOCOL_ERROR, NULL);
	client_expect_eof(fx);
	assert_closed_for_good(fx, UCV_WS_CLOSE_PROTOCOL_ERROR);
}

static const gsize small_max = 1000;

static void
test_too_big(Fixture *fx, gconstpointer data)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autofree guint8 *big = pattern(small_max + 1, 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvWsMessage) message = NULL;

	append_frame(out, FIN | OP_BIN, big, small_max + 1);
	client_write(fx, out);
	message = receive(fx, &error);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_TOO_LARGE);
	g_assert_null(message);
	client_expect_close(fx, UCV_WS_CLOSE_TOO_BIG, NULL);
	client_expect_eof(fx);
	assert_closed_for_good(fx, UCV_WS_CLOSE_TOO_BIG);
}

static void
test_eof(Fixture *fx, gconstpointer data)
{
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvWsMessage) message = NULL;

	ucv_ws_connection_receive_async(fx->conn, NULL, store_result_cb, &res);
	g_assert_true(g_socket_shutdown(fx->client, FALSE, TRUE, &error));
	message = ucv_ws_connection_receive_finish(fx->conn, wait_result(&res), &error);
	g_assert_no_error(error);
	g_assert_null(message);
	/* no close frame: the stream just ends */
	client_expect_eof(fx);
	wait_closed(fx);
	assert_closed_for_good(fx, CLOSE_ABNORMAL);
}

static void
test_cancel_receive(Fixture *fx, gconstpointer data)
{
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvWsMessage) message = NULL;

	ucv_ws_connection_receive_async(fx->conn, cancellable, store_result_cb, &res);
	g_cancellable_cancel(cancellable);
	message = ucv_ws_connection_receive_finish(fx->conn, wait_result(&res), &error);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_null(message);
	g_assert_false(ucv_ws_connection_is_closed(fx->conn));

	/* the read left in flight keeps what it brings for the next receive */
	append_text(out, FIN | OP_TEXT, "still here");
	client_write(fx, out);
	receive_expect(fx, UCV_WS_OPCODE_TEXT, "still here", 10);
}

static void
test_one_receive_at_a_time(Fixture *fx, gconstpointer data)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GAsyncResult) first = NULL;
	g_autoptr(GAsyncResult) second = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvWsMessage) message = NULL;

	ucv_ws_connection_receive_async(fx->conn, NULL, store_result_cb, &first);
	ucv_ws_connection_receive_async(fx->conn, NULL, store_result_cb, &second);
	message = ucv_ws_connection_receive_finish(fx->conn, wait_result(&second), &error);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_PENDING);
	g_clear_error(&error);
	append_text(out, FIN | OP_TEXT, "one");
	client_write(fx, out);
	message = ucv_ws_connection_receive_finish(fx->conn, wait_result(&first), &error);
	g_assert_no_error(error);
	assert_message(message, UCV_WS_OPCODE_TEXT, "one", 3);
}

typedef struct {
	Fixture *fx;
	guint received;
	guint expected;
} Drain;

static void
drain_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Drain *drain = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvWsMessage) message =
		ucv_ws_connection_receive_finish(UCV_WS_CONNECTION(source), res, &error);
	g_autofree guint8 *payload = pattern(1000, drain->received);

	g_assert_no_error(error);
	assert_message(message, UCV_WS_OPCODE_BINARY, payload, 1000);
	if (++drain->received < drain->expected)
		ucv_ws_connection_receive_async(drain->fx->conn, NULL, drain_cb, drain);
}

/* Writes what the socket takes without blocking; FALSE when it took nothing. */
static gboolean
client_write_some(Fixture *fx, GByteArray *bytes, gsize *written)
{
	g_autoptr(GError) error = NULL;
	gssize n;

	if (*written == bytes->len)
		return FALSE;
	n = g_socket_send_with_blocking(fx->client, (const gchar *)bytes->data + *written,
					bytes->len - *written, FALSE, NULL, &error);
	if (n < 0) {
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
		return FALSE;
	}
	*written += n;
	return TRUE;
}

/* Writes for a while, running the server's loop in between, so a server that reads without
 * being asked would let all of it through. */
static void
fill_socket(Fixture *fx, GByteArray *bytes, gsize *written)
{
	gint64 end = g_get_monotonic_time() + 200 * G_TIME_SPAN_MILLISECOND;

	while (g_get_monotonic_time() < end) {
		gboolean progressed = client_write_some(fx, bytes, written);

		while (g_main_context_iteration(NULL, FALSE))
			;
		if (!progressed)
			g_usleep(G_TIME_SPAN_MILLISECOND);
	}
}

static void
test_backpressure(Fixture *fx, gconstpointer data)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree guint8 *first_payload = NULL;
	Drain drain = {fx, 0, 0};
	gsize written = 0;
	gsize first;

	/* a small send buffer makes "the socket is full" come early, the same on every machine */
	g_assert_true(g_socket_set_option(fx->client, SOL_SOCKET, SO_SNDBUF, 16 * 1024, &error));
	g_assert_no_error(error);
	while (out->len < 1024 * 1024) {
		g_autofree guint8 *payload = pattern(1000, drain.expected++);

		append_frame(out, FIN | OP_BIN, payload, 1000);
	}

	/* nobody asks for a message: the server leaves the socket alone */
	fill_socket(fx, out, &written);
	g_test_message("written before any receive: %" G_GSIZE_FORMAT " bytes", written);
	g_assert_cmpuint(written, >, 0);
	g_assert_cmpuint(written, <, out->len / 4);
	first = written;

	/* one message asked for and delivered; one read buffer at most may stay behind it */
	first_payload = pattern(1000, drain.received++);
	receive_expect(fx, UCV_WS_OPCODE_BINARY, first_payload, 1000);
	fill_socket(fx, out, &written);
	g_test_message("written after one receive: %" G_GSIZE_FORMAT " bytes", written);
	g_assert_cmpuint(written, <, out->len / 4);
	g_assert_cmpuint(written - first, <, 2 * 64 * 1024);

	/* asked for messages one after the other, the server takes all of it */
	ucv_ws_connection_receive_async(fx->conn, NULL, drain_cb, &drain);
	while (drain.received < drain.expected) {
		gboolean progressed = client_write_some(fx, out, &written);

		g_main_context_iteration(NULL, !progressed);
	}
	g_assert_cmpuint(written, ==, out->len);
}

typedef struct {
	GArray *order;
	guint index;
} SendDone;

static void
send_done_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	SendDone *done = user_data;
	g_autoptr(GError) error = NULL;

	g_assert_true(ucv_ws_connection_send_finish(UCV_WS_CONNECTION(source), res, &error));
	g_assert_no_error(error);
	g_array_append_val(done->order, done->index);
}

static void
test_send_queue(Fixture *fx, gconstpointer data)
{
	const gsize sizes[] = {5, 300, 200 * 1024, 0, 70000};
	g_autoptr(GArray) order = g_array_new(FALSE, FALSE, sizeof(guint));
	SendDone done[G_N_ELEMENTS(sizes)];

	/* big enough together to fill the socket: the later ones wait for the earlier */
	for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
		g_autoptr(GBytes) payload = g_bytes_new_take(pattern(sizes[i], i), sizes[i]);

		done[i] = (SendDone){order, i};
		ucv_ws_connection_send_async(fx->conn, UCV_WS_OPCODE_BINARY, payload, NULL,
					     send_done_cb, &done[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
		g_autofree guint8 *expected = pattern(sizes[i], i);

		client_expect_frame(fx, OP_BIN, expected, sizes[i]);
	}
	while (order->len < G_N_ELEMENTS(sizes))
		g_main_context_iteration(NULL, TRUE);
	for (guint i = 0; i < G_N_ELEMENTS(sizes); i++)
		g_assert_cmpuint(g_array_index(order, guint, i), ==, i);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, func, data) g_test_add(path, Fixture, data, fixture_setup, func, fixture_teardown)
	ADD("/ws-connection/messages", test_messages, NULL);
	ADD("/ws-connection/ping", test_ping, NULL);
	ADD("/ws-connection/fragmented", test_fragmented, NULL);
	ADD("/ws-connection/client-close", test_client_close, NULL);
	ADD("/ws-connection/client-close-no-code", test_client_close_no_code, NULL);
	ADD("/ws-connection/server-close", test_server_close, NULL);
	ADD("/ws-connection/protocol-error", test_protocol_error, NULL);
	ADD("/ws-connection/too-big", test_too_big, &small_max);
	ADD("/ws-connection/eof", test_eof, NULL);
	ADD("/ws-connection/cancel-receive", test_cancel_receive, NULL);
	ADD("/ws-connection/one-receive-at-a-time", test_one_receive_at_a_time, NULL);
	ADD("/ws-connection/backpressure", test_backpressure, NULL);
	ADD("/ws-connection/send-queue", test_send_queue, NULL);
#undef ADD
	return g_test_run();
}
