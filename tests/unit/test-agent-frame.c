/* Agent protocol frames: every type round-trips, any split of the stream decodes the same, and
 * short, oversized, unknown, misdirected and garbage frames are refused without over-reading. */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "agent/ucv-agent-frame.h"

#define FUZZ_ROUNDS 3000

typedef struct {
	guint8 type;
	guint32 channel;
	GBytes *payload;
} Decoded;

static void
decoded_free(gpointer data)
{
	Decoded *d = data;

	g_bytes_unref(d->payload);
	g_free(d);
}

/* Feeds `len` bytes in pieces of `piece` bytes (0: all at once), each piece in its own exactly
 * sized allocation so that a read past it is caught by the address sanitizer. Returns the frames;
 * `*result` says how the last feed ended. */
static GPtrArray *
decode_pieces(UcvAgentPeer sender, const guint8 *data, gsize len, gsize piece,
	      UcvAgentFeedResult *result)
{
	g_autofree UcvAgentDecoder *decoder = g_new0(UcvAgentDecoder, 1);
	GPtrArray *frames = g_ptr_array_new_with_free_func(decoded_free);
	gsize pos = 0;

	ucv_agent_decoder_init(decoder, sender);
	*result = UCV_AGENT_FEED_MORE;
	while (pos < len && *result != UCV_AGENT_FEED_ERROR) {
		gsize n = piece == 0 ? len - pos : MIN(piece, len - pos);
		g_autofree guint8 *chunk = g_memdup2(data + pos, n);
		gsize off = 0;

		while (off < n) {
			UcvAgentFrame frame;
			gsize used = 0;

			*result = ucv_agent_decoder_feed(decoder, chunk + off, n - off, &used,
							 &frame);
			g_assert_cmpuint(used, <=, n - off);
			off += used;
			if (*result == UCV_AGENT_FEED_ERROR)
				break;
			if (*result == UCV_AGENT_FEED_FRAME) {
				Decoded *d = g_new0(Decoded, 1);

				g_assert_cmpuint(frame.payload_len, <=,
						 UCV_AGENT_FRAME_MAX_PAYLOAD);
				d->type = frame.type;
				d->channel = frame.channel;
				d->payload = g_bytes_new(frame.payload, frame.payload_len);
				g_ptr_array_add(frames, d);
			} else {
				g_assert_cmpuint(off, ==, n);
			}
		}
		pos += n;
	}
	return frames;
}

static GPtrArray *
decode_all(UcvAgentPeer sender, GByteArray *stream, UcvAgentFeedResult *result)
{
	return decode_pieces(sender, stream->data, stream->len, 0, result);
}

static void
append_frame(GByteArray *stream, UcvAgentPeer sender, guint8 type, guint32 channel,
	     const void *payload, gsize len)
{
	g_autofree guint8 *out = g_malloc(UCV_AGENT_FRAME_MAX);
	gsize n = ucv_agent_frame_encode(out, UCV_AGENT_FRAME_MAX, sender, type, channel, payload,
					 len);

	g_assert_cmpuint(n, ==, UCV_AGENT_FRAME_HEADER + len);
	g_byte_array_append(stream, out, (guint)n);
}

/* A frame written by hand, whatever the rules say. */
static void
append_raw(GByteArray *stream, guint32 len_field, guint8 type, guint32 channel, const void *payload,
	   gsize payload_len)
{
	guint8 header[UCV_AGENT_FRAME_HEADER] = {
		(guint8)(len_field >> 24),
		(guint8)(len_field >> 16),
		(guint8)(len_field >> 8),
		(guint8)len_field,
		type,
		(guint8)(channel >> 24),
		(guint8)(channel >> 16),
		(guint8)(channel >> 8),
		(guint8)channel,
	};

	g_byte_array_append(stream, header, sizeof(header));
	if (payload_len > 0)
		g_byte_array_append(stream, payload, (guint)payload_len);
}

static void
assert_frame(GPtrArray *frames, guint i, guint8 type, guint32 channel, const void *payload,
	     gsize len)
{
	Decoded *d;
	gsize got_len;
	const guint8 *got;

	g_assert_cmpuint(i, <, frames->len);
	d = g_ptr_array_index(frames, i);
	g_assert_cmpuint(d->type, ==, type);
	g_assert_cmpuint(d->channel, ==, channel);
	got = g_bytes_get_data(d->payload, &got_len);
	g_assert_cmpmem(got, got_len, payload, len);
}

/* Every frame the guest sends, as one stream. */
static GByteArray *
guest_stream(void)
{
	GByteArray *stream = g_byte_array_new();
	guint8 out[64];
	gsize n;

	n = ucv_agent_frame_encode_hello(out, sizeof(out), "0.1.0+abc123");
	g_byte_array_append(stream, out, (guint)n);
	append_frame(stream, UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_STARTED, 0, NULL, 0);
	append_frame(stream, UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_STDOUT, 0, "hello\n", 6);
	append_frame(stream, UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_STDERR, 0, "oops\n", 5);
	append_frame(stream, UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_DATA, 7, "$ ", 2);
	append_frame(stream, UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_CLOSE, 7, NULL, 0);
	append_frame(stream, UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_PING, 0, "p1", 2);
	append_frame(stream, UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_PONG, 0, "p2", 2);
	n = ucv_agent_frame_encode_exit(out, sizeof(out), -3);
	g_byte_array_append(stream, out, (guint)n);
	return stream;
}

static void
assert_guest_frames(GPtrArray *frames)
{
	Decoded *hello;
	UcvAgentFrame frame = {0};
	guint16 protocol;
	const char *version;
	gsize version_len;
	gsize len;

	g_assert_cmpuint(frames->len, ==, 9);
	hello = g_ptr_array_index(frames, 0);
	g_assert_cmpuint(hello->type, ==, UCV_AGENT_FRAME_HELLO);
	frame.type = hello->type;
	frame.payload = g_bytes_get_data(hello->payload, &len);
	frame.payload_len = (guint32)len;
	ucv_agent_frame_parse_hello(&frame, &protocol, &version, &version_len);
	g_assert_cmpuint(protocol, ==, UCV_AGENT_PROTOCOL_VERSION);
	g_assert_cmpmem(version, version_len, "0.1.0+abc123", 12);

	assert_frame(frames, 1, UCV_AGENT_FRAME_STARTED, 0, NULL, 0);
	assert_frame(frames, 2, UCV_AGENT_FRAME_STDOUT, 0, "hello\n", 6);
	assert_frame(frames, 3, UCV_AGENT_FRAME_STDERR, 0, "oops\n", 5);
	assert_frame(frames, 4, UCV_AGENT_FRAME_DATA, 7, "$ ", 2);
	assert_frame(frames, 5, UCV_AGENT_FRAME_CLOSE, 7, NULL, 0);
	assert_frame(frames, 6, UCV_AGENT_FRAME_PING, 0, "p1", 2);
	assert_frame(frames, 7, UCV_AGENT_FRAME_PONG, 0, "p2", 2);
	assert_frame(frames, 8, UCV_AGENT_FRAME_EXIT, 0, "\xff\xff\xff\xfd", 4);
	frame.type = UCV_AGENT_FRAME_EXIT;
	frame.payload = (const guint8 *)"\xff\xff\xff\xfd";
	frame.payload_len = 4;
	g_assert_cmpint(ucv_agent_frame_parse_exit(&frame), ==, -3);
}

static void
test_guest_round_trip(void)
{
	g_autoptr(GByteArray) stream = guest_stream();
	g_autoptr(GPtrArray) frames = NULL;
	UcvAgentFeedResult result;

	frames = decode_all(UCV_AGENT_PEER_GUEST, stream, &result);
	g_assert_cmpint(result, ==, UCV_AGENT_FEED_FRAME);
	assert_guest_frames(frames);
}

static void
test_host_round_trip(void)
{
	g_autoptr(GByteArray) stream = g_byte_array_new();
	g_autoptr(GPtrArray) frames = NULL;
	UcvAgentFeedResult result;
	guint8 out[64];
	UcvAgentFrame frame = {0};
	Decoded *d;
	gsize len;
	guint32 uid;
	guint16 cols, rows;

	append_frame(stream, UCV_AGENT_PEER_HOST, UCV_AGENT_FRAME_EXIT_ACK, 0, NULL, 0);
	len = ucv_agent_frame_encode_shell_open(out, sizeof(out), 3, 11042, 80, 24);
	g_byte_array_append(stream, out, (guint)len);
	append_frame(stream, UCV_AGENT_PEER_HOST, UCV_AGENT_FRAME_DATA, 3, "ls\r", 3);
	len = ucv_agent_frame_encode_resize(out, sizeof(out), 3, 132, 43);
	g_byte_array_append(stream, out, (guint)len);
	len = ucv_agent_frame_encode_signal(out, sizeof(out), 3, 2);
	g_byte_array_append(stream, out, (guint)len);
	len = ucv_agent_frame_encode_signal(out, sizeof(out), 0, 15);
	g_byte_array_append(stream, out, (guint)len);
	append_frame(stream, UCV_AGENT_PEER_HOST, UCV_AGENT_FRAME_CLOSE, 3, NULL, 0);
	append_frame(stream, UCV_AGENT_PEER_HOST, UCV_AGENT_FRAME_PING, 0, NULL, 0);
	append_frame(stream, UCV_AGENT_PEER_HOST, UCV_AGENT_FRAME_PONG, 0, "x", 1);

	frames = decode_all(UCV_AGENT_PEER_HOST, stream, &result);
	g_assert_cmpint(result, ==, UCV_AGENT_FEED_FRAME);
	g_assert_cmpuint(frames->len, ==, 9);
	assert_frame(frames, 0, UCV_AGENT_FRAME_EXIT_ACK, 0, NULL, 0);

	d = g_ptr_array_index(frames, 1);
	g_assert_cmpuint(d->type, ==, UCV_AGENT_FRAME_SHELL_OPEN);
	g_assert_cmpuint(d->channel, ==, 3);
	frame.payload = g_bytes_get_data(d->payload, &len);
	frame.payload_len = (guint32)len;
	ucv_agent_frame_parse_shell_open(&frame, &uid, &cols, &rows);
	g_assert_cmpuint(uid, ==, 11042);
	g_assert_cmpuint(cols, ==, 80);
	g_assert_cmpuint(rows, ==, 24);

	assert_frame(frames, 2, UCV_AGENT_FRAME_DATA, 3, "ls\r", 3);
	d = g_ptr_array_index(frames, 3);
	frame.payload = g_bytes_get_data(d->payload, &len);
	frame.payload_len = (guint32)len;
	ucv_agent_frame_parse_resize(&frame, &cols, &rows);
	g_assert_cmpuint(cols, ==, 132);
	g_assert_cmpuint(rows, ==, 43);
	d = g_ptr_array_index(frames, 4);
	frame.payload = g_bytes_get_data(d->payload, &len);
	frame.payload_len = (guint32)len;
	g_assert_cmpint(ucv_agent_frame_parse_signal(&frame), ==, 2);
	/* channel 0: the container itself */
	assert_frame(frames, 5, UCV_AGENT_FRAME_SIGNAL, 0, "\0\0\0\x0f", 4);
	assert_frame(frames, 6, UCV_AGENT_FRAME_CLOSE, 3, NULL, 0);
	assert_frame(frames, 7, UCV_AGENT_FRAME_PING, 0, NULL, 0);
	assert_frame(frames, 8, UCV_AGENT_FRAME_PONG, 0, "x", 1);
}

/* The largest payload passes, in one piece and in odd pieces. */
static void
test_max_payload(void)
{
	g_autoptr(GByteArray) stream = g_byte_array_new();
	g_autofree guint8 *payload = g_malloc(UCV_AGENT_FRAME_MAX_PAYLOAD);
	UcvAgentFeedResult result;

	for (gsize i = 0; i < UCV_AGENT_FRAME_MAX_PAYLOAD; i++)
		payload[i] = (guint8)(i * 31 + 7);
	append_frame(stream, UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_STDOUT, 0, payload,
		     UCV_AGENT_FRAME_MAX_PAYLOAD);
	append_frame(stream, UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_STARTED, 0, NULL, 0);
	for (gsize piece = 0; piece < 5000; piece += 1237) {
		g_autoptr(GPtrArray) frames = decode_pieces(UCV_AGENT_PEER_GUEST, stream->data,
							    stream->len, piece, &result);

		g_assert_cmpint(result, ==, UCV_AGENT_FEED_FRAME);
		g_assert_cmpuint(frames->len, ==, 2);
		assert_frame(frames, 0, UCV_AGENT_FRAME_STDOUT, 0, payload,
			     UCV_AGENT_FRAME_MAX_PAYLOAD);
	}
}

/* Any two pieces, and one byte at a time, give the same frames. */
static void
test_split_everywhere(void)
{
	g_autoptr(GByteArray) stream = guest_stream();
	UcvAgentFeedResult result;
	g_autoptr(GPtrArray) bytewise =
		decode_pieces(UCV_AGENT_PEER_GUEST, stream->data, stream->len, 1, &result);

	g_assert_cmpint(result, ==, UCV_AGENT_FEED_FRAME);
	assert_guest_frames(bytewise);
	for (guint split = 1; split < stream->len; split++) {
		g_autofree UcvAgentDecoder *decoder = g_new0(UcvAgentDecoder, 1);
		g_autoptr(GPtrArray) frames = g_ptr_array_new_with_free_func(decoded_free);
		const guint8 *parts[2] = {stream->data, stream->data + split};
		gsize lens[2] = {split, stream->len - split};

		ucv_agent_decoder_init(decoder, UCV_AGENT_PEER_GUEST);
		for (guint p = 0; p < 2; p++) {
			g_autofree guint8 *chunk = g_memdup2(parts[p], lens[p]);
			gsize off = 0;

			while (off < lens[p]) {
				UcvAgentFrame frame;
				gsize used;

				result = ucv_agent_decoder_feed(decoder, chunk + off, lens[p] - off,
								&used, &frame);
				g_assert_cmpint(result, !=, UCV_AGENT_FEED_ERROR);
				off += used;
				if (result == UCV_AGENT_FEED_FRAME) {
					Decoded *d = g_new0(Decoded, 1);

					d->type = frame.type;
					d->channel = frame.channel;
					d->payload = g_bytes_new(frame.payload, frame.payload_len);
					g_ptr_array_add(frames, d);
				}
			}
		}
		assert_guest_frames(frames);
	}
}

/* Feeds a stream and expects `error` after consuming exactly `at` bytes of it in total. */
static void
assert_refused(UcvAgentPeer sender, GByteArray *stream, UcvAgentDecodeError error, gsize at)
{
	g_autofree UcvAgentDecoder *decoder = g_new0(UcvAgentDecoder, 1);
	g_autofree guint8 *data = g_memdup2(stream->data, stream->len);
	UcvAgentFeedResult result = UCV_AGENT_FEED_MORE;
	UcvAgentFrame frame;
	gsize pos = 0;
	gsize used = 0;

	ucv_agent_decoder_init(decoder, sender);
	while (pos < stream->len) {
		result = ucv_agent_decoder_feed(decoder, data + pos, stream->len - pos, &used,
						&frame);
		pos += used;
		if (result != UCV_AGENT_FEED_FRAME)
			break;
	}
	g_assert_cmpint(result, ==, UCV_AGENT_FEED_ERROR);
	g_assert_cmpint(ucv_agent_decoder_error(decoder), ==, error);
	g_assert_cmpuint(pos, ==, at);
	g_assert_nonnull(ucv_agent_decode_error_string(error));

	/* the error sticks, whatever comes next */
	result = ucv_agent_decoder_feed(decoder, stream->data, stream->len, &used, &frame);
	g_assert_cmpint(result, ==, UCV_AGENT_FEED_ERROR);
	g_assert_cmpuint(used, ==, 0);
}

static void
test_short(void)
{
	for (guint32 len = 0; len < 5; len++) {
		g_autoptr(GByteArray) stream = g_byte_array_new();

		append_raw(stream, len, UCV_AGENT_FRAME_STARTED, 0, NULL, 0);
		assert_refused(UCV_AGENT_PEER_GUEST, stream, UCV_AGENT_DECODE_TOO_SHORT, 4);
	}
}

/* Refused from the length field alone: the payload is never waited for. */
static void
test_oversized(void)
{
	const guint32 lens[] = {5 + UCV_AGENT_FRAME_MAX_PAYLOAD + 1, 0x7fffffff, 0xffffffff};

	for (guint i = 0; i < G_N_ELEMENTS(lens); i++) {
		g_autoptr(GByteArray) stream = g_byte_array_new();

		append_raw(stream, lens[i], UCV_AGENT_FRAME_STDOUT, 0, "abc", 3);
		assert_refused(UCV_AGENT_PEER_GUEST, stream, UCV_AGENT_DECODE_TOO_LONG, 4);
	}
}

static void
test_unknown_type(void)
{
	const guint8 types[] = {0, 14, 100, 255};

	for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
		g_autoptr(GByteArray) stream = g_byte_array_new();

		append_frame(stream, UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_STARTED, 0, NULL, 0);
		append_raw(stream, 5, types[i], 0, NULL, 0);
		assert_refused(UCV_AGENT_PEER_GUEST, stream, UCV_AGENT_DECODE_UNKNOWN_TYPE,
			       UCV_AGENT_FRAME_HEADER + 5);
		g_assert_cmpstr(ucv_agent_frame_type_name(types[i]), ==, "UNKNOWN");
	}
}

/* A guest may not acknowledge its own exit or open shells; a host may not say hello. */
static void
test_wrong_peer(void)
{
	const guint8 host_only[] = {UCV_AGENT_FRAME_EXIT_ACK, UCV_AGENT_FRAME_SHELL_OPEN,
				    UCV_AGENT_FRAME_RESIZE, UCV_AGENT_FRAME_SIGNAL};
	const guint8 guest_only[] = {UCV_AGENT_FRAME_HELLO, UCV_AGENT_FRAME_STARTED,
				     UCV_AGENT_FRAME_STDOUT, UCV_AGENT_FRAME_STDERR,
				     UCV_AGENT_FRAME_EXIT};

	for (guint i = 0; i < G_N_ELEMENTS(host_only); i++) {
		g_autoptr(GByteArray) stream = g_byte_array_new();

		append_raw(stream, 5, host_only[i], 0, NULL, 0);
		assert_refused(UCV_AGENT_PEER_GUEST, stream, UCV_AGENT_DECODE_WRONG_PEER, 5);
	}
	for (guint i = 0; i < G_N_ELEMENTS(guest_only); i++) {
		g_autoptr(GByteArray) stream = g_byte_array_new();

		append_raw(stream, 5, guest_only[i], 0, NULL, 0);
		assert_refused(UCV_AGENT_PEER_HOST, stream, UCV_AGENT_DECODE_WRONG_PEER, 5);
	}
}

static void
test_bad_channel(void)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GByteArray) data = g_byte_array_new();

	append_raw(out, 5 + 2, UCV_AGENT_FRAME_STDOUT, 1, "hi", 2);
	assert_refused(UCV_AGENT_PEER_GUEST, out, UCV_AGENT_DECODE_BAD_CHANNEL,
		       UCV_AGENT_FRAME_HEADER);
	append_raw(data, 5 + 2, UCV_AGENT_FRAME_DATA, 0, "hi", 2);
	assert_refused(UCV_AGENT_PEER_GUEST, data, UCV_AGENT_DECODE_BAD_CHANNEL,
		       UCV_AGENT_FRAME_HEADER);
}

/* Fixed-size payloads must have their size; the header is enough to tell. */
static void
test_bad_length(void)
{
	static const guint8 zeros[UCV_AGENT_PING_MAX + 1];
	struct {
		UcvAgentPeer sender;
		guint8 type;
		guint32 channel;
		gsize len;
	} cases[] = {
		{UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_STARTED, 0, 1},
		{UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_EXIT, 0, 3},
		{UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_EXIT, 0, 5},
		{UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_HELLO, 0, 2},
		{UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_STDOUT, 0, 0},
		{UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_CLOSE, 1, 4},
		{UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_PING, 0, UCV_AGENT_PING_MAX + 1},
		{UCV_AGENT_PEER_HOST, UCV_AGENT_FRAME_SHELL_OPEN, 1, 7},
		{UCV_AGENT_PEER_HOST, UCV_AGENT_FRAME_RESIZE, 1, 8},
		{UCV_AGENT_PEER_HOST, UCV_AGENT_FRAME_SIGNAL, 1, 0},
		{UCV_AGENT_PEER_HOST, UCV_AGENT_FRAME_EXIT_ACK, 0, 1},
	};
	guint8 out[256];

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GByteArray) stream = g_byte_array_new();

		append_raw(stream, (guint32)(5 + cases[i].len), cases[i].type, cases[i].channel,
			   zeros, cases[i].len);
		assert_refused(cases[i].sender, stream, UCV_AGENT_DECODE_BAD_LENGTH,
			       UCV_AGENT_FRAME_HEADER);
		g_assert_cmpuint(ucv_agent_frame_encode(out, sizeof(out), cases[i].sender,
							cases[i].type, cases[i].channel, zeros,
							cases[i].len),
				 ==, 0);
	}
}

static void
test_bad_payload(void)
{
	g_autoptr(GByteArray) hello = g_byte_array_new();
	g_autoptr(GByteArray) resize = g_byte_array_new();
	g_autoptr(GByteArray) signal_zero = g_byte_array_new();
	g_autoptr(GByteArray) signal_big = g_byte_array_new();
	guint8 out[64];

	append_raw(hello, 5 + 6, UCV_AGENT_FRAME_HELLO, 0, "\0\001ab\ncd", 6);
	assert_refused(UCV_AGENT_PEER_GUEST, hello, UCV_AGENT_DECODE_BAD_PAYLOAD,
		       UCV_AGENT_FRAME_HEADER + 6);
	append_raw(resize, 5 + 4, UCV_AGENT_FRAME_RESIZE, 1, "\0\0\0\x18", 4);
	assert_refused(UCV_AGENT_PEER_HOST, resize, UCV_AGENT_DECODE_BAD_PAYLOAD,
		       UCV_AGENT_FRAME_HEADER + 4);
	append_raw(signal_zero, 5 + 4, UCV_AGENT_FRAME_SIGNAL, 1, "\0\0\0\0", 4);
	assert_refused(UCV_AGENT_PEER_HOST, signal_zero, UCV_AGENT_DECODE_BAD_PAYLOAD,
		       UCV_AGENT_FRAME_HEADER + 4);
	append_raw(signal_big, 5 + 4, UCV_AGENT_FRAME_SIGNAL, 1, "\xff\xff\xff\xff", 4);
	assert_refused(UCV_AGENT_PEER_HOST, signal_big, UCV_AGENT_DECODE_BAD_PAYLOAD,
		       UCV_AGENT_FRAME_HEADER + 4);

	g_assert_cmpuint(ucv_agent_frame_encode_hello(out, sizeof(out), "a\tb"), ==, 0);
	g_assert_cmpuint(ucv_agent_frame_encode_hello(out, sizeof(out), ""), ==, 0);
	g_assert_cmpuint(ucv_agent_frame_encode_resize(out, sizeof(out), 1, 0, 24), ==, 0);
	g_assert_cmpuint(ucv_agent_frame_encode_shell_open(out, sizeof(out), 0, 0, 80, 24), ==, 0);
}

/* The encoder never writes past the buffer it was given. */
static void
test_encode_small_buffer(void)
{
	guint8 out[UCV_AGENT_FRAME_HEADER + 5];
	g_autofree guint8 *big = g_malloc0(UCV_AGENT_FRAME_MAX_PAYLOAD + 1);

	g_assert_cmpuint(ucv_agent_frame_encode(out, UCV_AGENT_FRAME_HEADER + 4,
						UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_STDOUT, 0,
						"hello", 5),
			 ==, 0);
	g_assert_cmpuint(ucv_agent_frame_encode(out, sizeof(out), UCV_AGENT_PEER_GUEST,
						UCV_AGENT_FRAME_STDOUT, 0, "hello", 5),
			 ==, sizeof(out));
	g_assert_cmpuint(ucv_agent_frame_encode(out, sizeof(out), UCV_AGENT_PEER_GUEST,
						UCV_AGENT_FRAME_STDOUT, 0, big,
						UCV_AGENT_FRAME_MAX_PAYLOAD + 1),
			 ==, 0);
	g_assert_cmpuint(ucv_agent_frame_encode_exit(out, 12, 1), ==, 0);
}

/* Random bytes and damaged valid streams, in random pieces: never a crash, an over-read or a
 * frame outside the limits; once failed, the decoder stays failed. */
static void
test_fuzz(void)
{
	g_autoptr(GByteArray) valid = guest_stream();

	for (guint round = 0; round < FUZZ_ROUNDS; round++) {
		UcvAgentPeer sender = round % 2 ? UCV_AGENT_PEER_GUEST : UCV_AGENT_PEER_HOST;
		gsize len = (gsize)g_test_rand_int_range(1, 600);
		g_autofree guint8 *data = g_malloc(len);
		g_autoptr(GPtrArray) frames = NULL;
		UcvAgentFeedResult result;

		if (round % 3 == 0) {
			/* a valid stream with a few bytes flipped */
			len = MIN(len, valid->len);
			memcpy(data, valid->data, len);
			for (guint flips = 0; flips < 3; flips++)
				data[g_test_rand_int_range(0, (gint32)len)] ^=
					(guint8)g_test_rand_int_range(1, 256);
		} else {
			for (gsize i = 0; i < len; i++)
				data[i] = (guint8)g_test_rand_int_range(0, 256);
			/* small lengths, so that whole frames happen too */
			if (round % 3 == 1 && len >= 4)
				data[0] = data[1] = data[2] = 0;
		}
		frames = decode_pieces(sender, data, len, (gsize)g_test_rand_int_range(0, 40),
				       &result);
		for (guint i = 0; i < frames->len; i++) {
			Decoded *d = g_ptr_array_index(frames, i);

			g_assert_cmpuint(g_bytes_get_size(d->payload), <=,
					 UCV_AGENT_FRAME_MAX_PAYLOAD);
			g_assert_cmpstr(ucv_agent_frame_type_name(d->type), !=, "UNKNOWN");
		}
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/agent-frame/guest-round-trip", test_guest_round_trip);
	g_test_add_func("/agent-frame/host-round-trip", test_host_round_trip);
	g_test_add_func("/agent-frame/max-payload", test_max_payload);
	g_test_add_func("/agent-frame/split-everywhere", test_split_everywhere);
	g_test_add_func("/agent-frame/short", test_short);
	g_test_add_func("/agent-frame/oversized", test_oversized);
	g_test_add_func("/agent-frame/unknown-type", test_unknown_type);
	g_test_add_func("/agent-frame/wrong-peer", test_wrong_peer);
	g_test_add_func("/agent-frame/bad-channel", test_bad_channel);
	g_test_add_func("/agent-frame/bad-length", test_bad_length);
	g_test_add_func("/agent-frame/bad-payload", test_bad_payload);
	g_test_add_func("/agent-frame/encode-small-buffer", test_encode_small_buffer);
	g_test_add_func("/agent-frame/fuzz", test_fuzz);
	return g_test_run();
}
