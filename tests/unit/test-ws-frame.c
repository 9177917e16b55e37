/* WebSocket framing: client frames decoded in every length form and fed in any pieces, fragments
 * joined, every protocol rule enforced with its close code, server frames that decode again. */
#include "config.h"

#include <string.h>

#include "console/ucv-ws-frame.h"
#include "model/ucv-error.h"

#define MAX_MESSAGE (1024 * 1024)

#define FIN     0x80
#define RSV1    0x40
#define OP_CONT 0x0
#define OP_TEXT 0x1
#define OP_BIN  0x2
#define OP_CLOS 0x8
#define OP_PING 0x9
#define OP_PONG 0xA

/* the masking key of RFC 6455's examples */
static const guint8 mask_key[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Appends a header in the shortest length form; `mask_bit` is 0x80 for a client frame. */
static void
append_header(GByteArray *stream, guint8 first, guint64 len, guint8 mask_bit)
{
	guint8 header[10] = {first};
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
			header[2 + i] = (guint8)(len >> (56 - 8 * i));
		n = 10;
	}
	g_byte_array_append(stream, header, n);
}

static void
append_masked(GByteArray *stream, const guint8 *payload, gsize len)
{
	g_byte_array_append(stream, mask_key, sizeof(mask_key));
	for (gsize i = 0; i < len; i++) {
		guint8 b = payload[i] ^ mask_key[i % 4];

		g_byte_array_append(stream, &b, 1);
	}
}

/* A masked client frame; `first` carries FIN, RSV and opcode. */
static void
append_frame(GByteArray *stream, guint8 first, const void *payload, gsize len)
{
	append_header(stream, first, len, 0x80);
	append_masked(stream, payload, len);
}

static void
append_text(GByteArray *stream, guint8 first, const gchar *text)
{
	append_frame(stream, first, text, strlen(text));
}

static guint8 *
pattern(gsize len)
{
	guint8 *data = g_malloc(len + 1);

	for (gsize i = 0; i < len; i++)
		data[i] = (guint8)(i * 7 + 3);
	return data;
}

static void
feed(UcvWsFrameParser *parser, GByteArray *stream)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ucv_ws_frame_parser_feed(parser, stream->data, stream->len, &error));
	g_assert_no_error(error);
}

static UcvWsMessage *
next_message(UcvWsFrameParser *parser)
{
	g_autoptr(GError) error = NULL;
	UcvWsMessage *message = ucv_ws_frame_parser_next(parser, &error);

	g_assert_no_error(error);
	g_assert_nonnull(message);
	return message;
}

static void
assert_need_more(UcvWsFrameParser *parser)
{
	g_autoptr(GError) error = NULL;

	g_assert_null(ucv_ws_frame_parser_next(parser, &error));
	g_assert_no_error(error);
}

static void
assert_message(UcvWsMessage *message, UcvWsOpcode opcode, const void *payload, gsize len)
{
	gsize got_len;
	const guint8 *got = g_bytes_get_data(message->payload, &got_len);

	g_assert_cmpint(message->opcode, ==, opcode);
	g_assert_cmpmem(got, got_len, payload, len);
}

/* Feeds the stream and reads messages until the parser refuses it; the refusal must call for
 * `close_code` and stay. */
static void
assert_refused_max(GByteArray *stream, gsize max, guint16 close_code, gint error_code)
{
	g_autoptr(UcvWsFrameParser) parser = ucv_ws_frame_parser_new(max);
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) again = NULL;

	if (ucv_ws_frame_parser_feed(parser, stream->data, stream->len, &error)) {
		for (;;) {
			g_autoptr(UcvWsMessage) message = ucv_ws_frame_parser_next(parser, &error);

			if (message == NULL)
				break;
		}
	}
	g_assert_error(error, UCV_ERROR, error_code);
	g_test_message("refused: %s", error->message);
	g_assert_cmpuint(ucv_ws_frame_parser_get_close_code(parser), ==, close_code);
	g_assert_null(ucv_ws_frame_parser_next(parser, &again));
	g_assert_error(again, UCV_ERROR, error_code);
}

static void
assert_refused(GByteArray *stream, guint16 close_code)
{
	gint error_code =
		close_code == UCV_WS_CLOSE_TOO_BIG ? UCV_ERROR_TOO_LARGE : UCV_ERROR_INVALID;

	assert_refused_max(stream, MAX_MESSAGE, close_code, error_code);
}

/* The handshake example of RFC 6455 section 1.3. */
static void
test_accept_key(void)
{
	g_autofree gchar *accept = ucv_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==");

	g_assert_cmpstr(accept, ==, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* The masked "Hello" of RFC 6455 section 5.7, byte for byte. */
static void
test_rfc_example(void)
{
	static const guint8 frame[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
				       0x7f, 0x9f, 0x4d, 0x51, 0x58};
	g_autoptr(UcvWsFrameParser) parser = ucv_ws_frame_parser_new(MAX_MESSAGE);
	g_autoptr(UcvWsMessage) message = NULL;

	g_assert_true(ucv_ws_frame_parser_feed(parser, frame, sizeof(frame), NULL));
	message = next_message(parser);
	assert_message(message, UCV_WS_OPCODE_TEXT, "Hello", 5);
	assert_need_more(parser);
	g_assert_cmpuint(ucv_ws_frame_parser_get_close_code(parser), ==, 0);
}

/* Each length form at its edges, binary and text, and several frames in one feed. */
static void
test_length_forms(void)
{
	static const gsize sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
	g_autoptr(UcvWsFrameParser) parser = ucv_ws_frame_parser_new(MAX_MESSAGE);
	g_autoptr(GByteArray) stream = g_byte_array_new();

	for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
		g_autofree guint8 *data = pattern(sizes[i]);
		g_autofree gchar *text = g_strnfill(sizes[i], 'a');

		append_frame(stream, FIN | OP_BIN, data, sizes[i]);
		append_text(stream, FIN | OP_TEXT, text);
	}
	feed(parser, stream);
	for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
		g_autofree guint8 *data = pattern(sizes[i]);
		g_autofree gchar *text = g_strnfill(sizes[i], 'a');
		g_autoptr(UcvWsMessage) binary = next_message(parser);
		g_autoptr(UcvWsMessage) textual = next_message(parser);

		assert_message(binary, UCV_WS_OPCODE_BINARY, data, sizes[i]);
		assert_message(textual, UCV_WS_OPCODE_TEXT, text, sizes[i]);
	}
	assert_need_more(parser);
}

/* Bytes arriving one at a time yield the same messages, each as soon as its last byte is in. */
static void
test_byte_at_a_time(void)
{
	g_autoptr(UcvWsFrameParser) parser = ucv_ws_frame_parser_new(MAX_MESSAGE);
	g_autoptr(GByteArray) stream = g_byte_array_new();
	g_autofree guint8 *data = pattern(65536);
	g_autoptr(GPtrArray) messages =
		g_ptr_array_new_with_free_func((GDestroyNotify)ucv_ws_message_free);
	gsize ends[3];

	append_text(stream, FIN | OP_TEXT, "Grüße");
	ends[0] = stream->len;
	append_frame(stream, FIN | OP_BIN, data, 65536);
	ends[1] = stream->len;
	append_frame(stream, FIN | OP_BIN, data, 300);
	ends[2] = stream->len;
	for (gsize i = 0; i < stream->len; i++) {
		g_autoptr(GError) error = NULL;
		UcvWsMessage *message;

		g_assert_true(ucv_ws_frame_parser_feed(parser, stream->data + i, 1, &error));
		message = ucv_ws_frame_parser_next(parser, &error);
		g_assert_no_error(error);
		if (message == NULL)
			continue;
		g_assert_cmpuint(i + 1, ==, ends[messages->len]);
		g_ptr_array_add(messages, message);
		assert_need_more(parser);
	}
	g_assert_cmpuint(messages->len, ==, 3);
	assert_message(messages->pdata[0], UCV_WS_OPCODE_TEXT, "Grüße", strlen("Grüße"));
	assert_message(messages->pdata[1], UCV_WS_OPCODE_BINARY, data, 65536);
	assert_message(messages->pdata[2], UCV_WS_OPCODE_BINARY, data, 300);
}

/* A fragmented text message with a ping between its fragments: the ping comes out first, then
 * the joined text, even with a character split across two fragments. */
static void
test_fragments(void)
{
	g_autoptr(UcvWsFrameParser) parser = ucv_ws_frame_parser_new(MAX_MESSAGE);
	g_autoptr(GByteArray) stream = g_byte_array_new();
	g_autoptr(UcvWsMessage) ping = NULL;
	g_autoptr(UcvWsMessage) text = NULL;
	g_autoptr(UcvWsMessage) binary = NULL;
	static const gchar joined[] = "Hello wörld";

	append_frame(stream, OP_TEXT, joined, 7); /* "Hello w" */
	append_text(stream, FIN | OP_PING, "are you there");
	append_frame(stream, OP_CONT, joined + 7, 1); /* first byte of the ö */
	append_frame(stream, OP_CONT, NULL, 0);
	append_frame(stream, FIN | OP_CONT, joined + 8, strlen(joined) - 8);
	append_frame(stream, OP_BIN, "\x00\x01", 2);
	append_frame(stream, FIN | OP_CONT, "\x02", 1);
	feed(parser, stream);
	ping = next_message(parser);
	assert_message(ping, UCV_WS_OPCODE_PING, "are you there", 13);
	text = next_message(parser);
	assert_message(text, UCV_WS_OPCODE_TEXT, joined, strlen(joined));
	binary = next_message(parser);
	assert_message(binary, UCV_WS_OPCODE_BINARY, "\x00\x01\x02", 3);
	assert_need_more(parser);
}

/* A text message may hold U+0000: a terminal sends it for Ctrl+Space. */
static void
test_text_with_nul(void)
{
	g_autoptr(UcvWsFrameParser) parser = ucv_ws_frame_parser_new(MAX_MESSAGE);
	g_autoptr(GByteArray) stream = g_byte_array_new();
	g_autoptr(UcvWsMessage) message = NULL;

	append_frame(stream, FIN | OP_TEXT, "a\0\0é\0", 6);
	feed(parser, stream);
	message = next_message(parser);
	assert_message(message, UCV_WS_OPCODE_TEXT, "a\0\0é\0", 6);
}

static void
test_refuse_unmasked(void)
{
	g_autoptr(GByteArray) stream = g_byte_array_new();

	append_header(stream, FIN | OP_TEXT, 2, 0);
	g_byte_array_append(stream, (const guint8 *)"hi", 2);
	assert_refused(stream, UCV_WS_CLOSE_PROTOCOL_ERROR);
}

static void
test_refuse_rsv(void)
{
	static const guint8 rsv[] = {0x40, 0x20, 0x10};

	for (gsize i = 0; i < G_N_ELEMENTS(rsv); i++) {
		g_autoptr(GByteArray) stream = g_byte_array_new();

		append_text(stream, FIN | rsv[i] | OP_TEXT, "compressed?");
		assert_refused(stream, UCV_WS_CLOSE_PROTOCOL_ERROR);
	}
}

static void
test_refuse_unknown_opcode(void)
{
	static const guint8 opcodes[] = {0x3, 0x7, 0xB, 0xF};

	for (gsize i = 0; i < G_N_ELEMENTS(opcodes); i++) {
		g_autoptr(GByteArray) stream = g_byte_array_new();

		append_text(stream, FIN | opcodes[i], "x");
		assert_refused(stream, UCV_WS_CLOSE_PROTOCOL_ERROR);
	}
}

static void
test_refuse_bad_control(void)
{
	g_autofree guint8 *data = pattern(126);
	g_autoptr(GByteArray) big = g_byte_array_new();
	g_autoptr(GByteArray) fragmented = g_byte_array_new();
	g_autoptr(GByteArray) fragmented_close = g_byte_array_new();

	append_frame(big, FIN | OP_PING, data, 126);
	assert_refused(big, UCV_WS_CLOSE_PROTOCOL_ERROR);
	append_text(fragmented, OP_PING, "x");
	assert_refused(fragmented, UCV_WS_CLOSE_PROTOCOL_ERROR);
	append_frame(fragmented_close, OP_CLOS, "\x03\xe8", 2);
	assert_refused(fragmented_close, UCV_WS_CLOSE_PROTOCOL_ERROR);
}

static void
test_refuse_bad_sequence(void)
{
	g_autoptr(GByteArray) orphan = g_byte_array_new();
	g_autoptr(GByteArray) orphan_after_whole = g_byte_array_new();
	g_autoptr(GByteArray) interleaved = g_byte_array_new();

	append_text(orphan, FIN | OP_CONT, "lost");
	assert_refused(orphan, UCV_WS_CLOSE_PROTOCOL_ERROR);
	append_text(orphan_after_whole, FIN | OP_TEXT, "done");
	append_text(orphan_after_whole, FIN | OP_CONT, "more?");
	assert_refused(orphan_after_whole, UCV_WS_CLOSE_PROTOCOL_ERROR);
	append_text(interleaved, OP_TEXT, "first half");
	append_frame(interleaved, FIN | OP_BIN, "x", 1);
	assert_refused(interleaved, UCV_WS_CLOSE_PROTOCOL_ERROR);
}

/* A 64-bit length must fit in 63 bits; refused from the header alone. */
static void
test_refuse_length_top_bit(void)
{
	static const guint8 header[] = {FIN | OP_BIN, 0x80 | 127, 0x80, 0,   0, 0, 0, 0, 0, 5,
					0x37,         0xfa,       0x21, 0x3d};
	g_autoptr(GByteArray) stream = g_byte_array_new();

	g_byte_array_append(stream, header, sizeof(header));
	assert_refused(stream, UCV_WS_CLOSE_PROTOCOL_ERROR);
}

static void
test_refuse_bad_utf8(void)
{
	/* a stray byte, an overlong "/", a UTF-16 surrogate, past U+10FFFF, a truncated é */
	static const gchar *bad[] = {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
				     "ab\xc3"};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GByteArray) whole = g_byte_array_new();
		g_autoptr(GByteArray) fragmented = g_byte_array_new();

		append_text(whole, FIN | OP_TEXT, bad[i]);
		assert_refused(whole, UCV_WS_CLOSE_INVALID_DATA);
		append_text(fragmented, OP_TEXT, "fine ");
		append_text(fragmented, FIN | OP_CONT, bad[i]);
		assert_refused(fragmented, UCV_WS_CLOSE_INVALID_DATA);
	}
}

static void
test_refuse_bad_close(void)
{
	static const guint16 codes[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535};
	g_autoptr(GByteArray) one_byte = g_byte_array_new();
	g_autoptr(GByteArray) bad_reason = g_byte_array_new();

	append_frame(one_byte, FIN | OP_CLOS, "\x03", 1);
	assert_refused(one_byte, UCV_WS_CLOSE_PROTOCOL_ERROR);
	append_frame(bad_reason, FIN | OP_CLOS, "\x03\xe8\xff", 3);
	assert_refused(bad_reason, UCV_WS_CLOSE_INVALID_DATA);
	for (gsize i = 0; i < G_N_ELEMENTS(codes); i++) {
		g_autoptr(GByteArray) stream = g_byte_array_new();
		guint8 payload[] = {codes[i] >> 8, codes[i] & 0xff};

		append_frame(stream, FIN | OP_CLOS, payload, sizeof(payload));
		assert_refused(stream, UCV_WS_CLOSE_PROTOCOL_ERROR);
	}
}

/* A message over the limit is refused when its header is in, before any payload arrives; a
 * message of exactly the limit passes, also when fragmented. */
static void
test_size_limit(void)
{
	static const guint8 huge[] = {FIN | OP_BIN, 0x80 | 127, 0, 0, 1, 0, 0, 0, 0, 0};
	g_autofree guint8 *data = pattern(1000);
	g_autoptr(GByteArray) over = g_byte_array_new();
	g_autoptr(GByteArray) over_huge = g_byte_array_new();
	g_autoptr(GByteArray) over_fragmented = g_byte_array_new();
	g_autoptr(GByteArray) exact = g_byte_array_new();
	g_autoptr(UcvWsFrameParser) parser = ucv_ws_frame_parser_new(1000);
	g_autoptr(UcvWsMessage) whole = NULL;
	g_autoptr(UcvWsMessage) joined = NULL;

	append_header(over, FIN | OP_BIN, 1001, 0x80);
	g_byte_array_append(over, mask_key, sizeof(mask_key));
	g_assert_false(ucv_ws_frame_parser_feed(parser, over->data, over->len, NULL));
	g_assert_cmpuint(ucv_ws_frame_parser_get_close_code(parser), ==, UCV_WS_CLOSE_TOO_BIG);
	g_clear_pointer(&parser, ucv_ws_frame_parser_free);
	assert_refused_max(over, 1000, UCV_WS_CLOSE_TOO_BIG, UCV_ERROR_TOO_LARGE);

	g_byte_array_append(over_huge, huge, sizeof(huge));
	g_byte_array_append(over_huge, mask_key, sizeof(mask_key));
	assert_refused_max(over_huge, 1000, UCV_WS_CLOSE_TOO_BIG, UCV_ERROR_TOO_LARGE);

	append_frame(over_fragmented, OP_TEXT, "aaaaaaaaaa", 10);
	append_header(over_fragmented, FIN | OP_CONT, 991, 0x80);
	g_byte_array_append(over_fragmented, mask_key, sizeof(mask_key));
	assert_refused_max(over_fragmented, 1000, UCV_WS_CLOSE_TOO_BIG, UCV_ERROR_TOO_LARGE);

	parser = ucv_ws_frame_parser_new(1000);
	append_frame(exact, FIN | OP_BIN, data, 1000);
	append_frame(exact, OP_BIN, data, 600);
	append_frame(exact, FIN | OP_CONT, data + 600, 400);
	feed(parser, exact);
	whole = next_message(parser);
	assert_message(whole, UCV_WS_OPCODE_BINARY, data, 1000);
	joined = next_message(parser);
	assert_message(joined, UCV_WS_OPCODE_BINARY, data, 1000);
}

/* The server's frame with a mask put in, as a client would have sent it. */
static GByteArray *
masked_copy(GBytes *server_frame)
{
	gsize len;
	const guint8 *frame = g_bytes_get_data(server_frame, &len);
	guint8 len7 = frame[1] & 0x7f;
	gsize header_len = len7 == 127 ? 10 : len7 == 126 ? 4 : 2;
	GByteArray *client = g_byte_array_new();
	guint8 second = frame[1] | 0x80;

	g_byte_array_append(client, frame, 1);
	g_byte_array_append(client, &second, 1);
	g_byte_array_append(client, frame + 2, header_len - 2);
	append_masked(client, frame + header_len, len - header_len);
	return client;
}

/* Server frames: FIN set, never masked, the shortest length form, and they decode again. */
static void
test_encode_round_trip(void)
{
	static const gsize sizes[] = {0, 5, 125, 126, 65535, 65536, 100000};
	static const gsize header_lens[] = {2, 2, 2, 4, 4, 10, 10};
	static const UcvWsOpcode opcodes[] = {UCV_WS_OPCODE_BINARY, UCV_WS_OPCODE_TEXT};

	for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
		for (gsize j = 0; j < G_N_ELEMENTS(opcodes); j++) {
			g_autofree gchar *data = g_strnfill(sizes[i], 'z');
			g_autoptr(GBytes) frame =
				ucv_ws_frame_encode(opcodes[j], (const guint8 *)data, sizes[i]);
			const guint8 *bytes = g_bytes_get_data(frame, NULL);
			g_autoptr(GByteArray) client = masked_copy(frame);
			g_autoptr(UcvWsFrameParser) parser = ucv_ws_frame_parser_new(MAX_MESSAGE);
			g_autoptr(UcvWsMessage) message = NULL;

			g_assert_cmpuint(g_bytes_get_size(frame), ==, header_lens[i] + sizes[i]);
			g_assert_cmpuint(bytes[0], ==, 0x80 | opcodes[j]);
			g_assert_cmpuint(bytes[1] & 0x80, ==, 0);
			feed(parser, client);
			message = next_message(parser);
			assert_message(message, opcodes[j], data, sizes[i]);
		}
	}
}

static void
test_encode_control(void)
{
	static const UcvWsOpcode opcodes[] = {UCV_WS_OPCODE_PING, UCV_WS_OPCODE_PONG};
	g_autofree guint8 *data = pattern(125);

	for (gsize i = 0; i < G_N_ELEMENTS(opcodes); i++) {
		g_autoptr(GBytes) frame = ucv_ws_frame_encode(opcodes[i], data, 125);
		g_autoptr(GByteArray) client = masked_copy(frame);
		g_autoptr(UcvWsFrameParser) parser = ucv_ws_frame_parser_new(MAX_MESSAGE);
		g_autoptr(UcvWsMessage) message = NULL;

		feed(parser, client);
		message = next_message(parser);
		assert_message(message, opcodes[i], data, 125);
	}
}

static UcvWsMessage *
decode_one(GBytes *server_frame)
{
	g_autoptr(GByteArray) client = masked_copy(server_frame);
	g_autoptr(UcvWsFrameParser) parser = ucv_ws_frame_parser_new(MAX_MESSAGE);

	feed(parser, client);
	return next_message(parser);
}

/* Close frames: code and reason survive, an empty frame means 1005, a long reason is cut
 * without splitting a character. */
static void
test_close(void)
{
	g_autoptr(GBytes) going = ucv_ws_frame_encode_close(UCV_WS_CLOSE_GOING_AWAY, "bye");
	g_autoptr(GBytes) bare = ucv_ws_frame_encode_close(UCV_WS_CLOSE_NO_STATUS, NULL);
	g_autoptr(GBytes) no_reason = ucv_ws_frame_encode_close(4000, NULL);
	g_autofree gchar *long_reason = g_strnfill(200, 'x');
	g_autoptr(GString) accented = g_string_new("xx");
	g_autoptr(GBytes) cut_plain = NULL;
	g_autoptr(GBytes) cut_accented = NULL;
	g_autoptr(UcvWsMessage) message = NULL;
	gsize reason_len;
	const gchar *reason;

	g_assert_cmpmem(g_bytes_get_data(going, NULL), g_bytes_get_size(going),
			"\x88\x05\x03\xe9"
			"bye",
			7);
	message = decode_one(going);
	assert_message(message, UCV_WS_OPCODE_CLOSE, "bye", 3);
	g_assert_cmpuint(message->close_code, ==, UCV_WS_CLOSE_GOING_AWAY);
	g_clear_pointer(&message, ucv_ws_message_free);

	g_assert_cmpmem(g_bytes_get_data(bare, NULL), g_bytes_get_size(bare), "\x88\x00", 2);
	message = decode_one(bare);
	assert_message(message, UCV_WS_OPCODE_CLOSE, "", 0);
	g_assert_cmpuint(message->close_code, ==, UCV_WS_CLOSE_NO_STATUS);
	g_clear_pointer(&message, ucv_ws_message_free);

	message = decode_one(no_reason);
	assert_message(message, UCV_WS_OPCODE_CLOSE, "", 0);
	g_assert_cmpuint(message->close_code, ==, 4000);
	g_clear_pointer(&message, ucv_ws_message_free);

	cut_plain = ucv_ws_frame_encode_close(UCV_WS_CLOSE_PROTOCOL_ERROR, long_reason);
	g_assert_cmpuint(g_bytes_get_size(cut_plain), ==, 2 + 125);

	/* "xx" then two-byte characters: byte 123 of the reason is the second half of one */
	for (guint i = 0; i < 100; i++)
		g_string_append(accented, "é");
	cut_accented = ucv_ws_frame_encode_close(UCV_WS_CLOSE_TOO_BIG, accented->str);
	message = decode_one(cut_accented);
	g_assert_cmpuint(message->close_code, ==, UCV_WS_CLOSE_TOO_BIG);
	reason = g_bytes_get_data(message->payload, &reason_len);
	g_assert_cmpuint(reason_len, ==, 122);
	g_assert_true(g_utf8_validate(reason, reason_len, NULL));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ws-frame/accept-key", test_accept_key);
	g_test_add_func("/ws-frame/rfc-example", test_rfc_example);
	g_test_add_func("/ws-frame/length-forms", test_length_forms);
	g_test_add_func("/ws-frame/byte-at-a-time", test_byte_at_a_time);
	g_test_add_func("/ws-frame/fragments", test_fragments);
	g_test_add_func("/ws-frame/text-with-nul", test_text_with_nul);
	g_test_add_func("/ws-frame/refuse/unmasked", test_refuse_unmasked);
	g_test_add_func("/ws-frame/refuse/rsv", test_refuse_rsv);
	g_test_add_func("/ws-frame/refuse/unknown-opcode", test_refuse_unknown_opcode);
	g_test_add_func("/ws-frame/refuse/bad-control", test_refuse_bad_control);
	g_test_add_func("/ws-frame/refuse/bad-sequence", test_refuse_bad_sequence);
	g_test_add_func("/ws-frame/refuse/length-top-bit", test_refuse_length_top_bit);
	g_test_add_func("/ws-frame/refuse/bad-utf8", test_refuse_bad_utf8);
	g_test_add_func("/ws-frame/refuse/bad-close", test_refuse_bad_close);
	g_test_add_func("/ws-frame/size-limit", test_size_limit);
	g_test_add_func("/ws-frame/encode-round-trip", test_encode_round_trip);
	g_test_add_func("/ws-frame/encode-control", test_encode_control);
	g_test_add_func("/ws-frame/close", test_close);
	return g_test_run();
}
