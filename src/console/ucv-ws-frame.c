/* WebSocket framing (RFC 6455), server side, as a codec without I/O. */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-ws-frame.h"

#include <string.h>

#include "model/ucv-error.h"

/* RFC 6455 section 1.3: fixed, the same for every server */
#define WS_ACCEPT_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#define WS_FIN        0x80
#define WS_RSV        0x70
#define WS_OPCODE     0x0f
#define WS_MASKED     0x80
#define WS_LEN7       0x7f
#define WS_LEN16      126
#define WS_LEN64      127
#define WS_HEADER_MAX 14 /* 2 + 8 bytes of length + 4 of mask */

typedef struct {
	gboolean fin;
	guint8 rsv;
	guint8 opcode;
	gboolean masked;
	guint64 payload_len;
	guint8 mask[4];
	gsize header_len;
} UcvWsFrameHeader;

struct _UcvWsFrameParser {
	gsize max_message_bytes;
	GByteArray *buffer; /* bytes fed; those before `pos` are consumed */
	gsize pos;
	GByteArray *message;        /* unmasked payload of the fragmented data message, if open */
	UcvWsOpcode message_opcode; /* CONTINUATION while no fragmented message is open */
	guint16 close_code;         /* set on the first failure, which is final */
};

void
ucv_ws_message_free(UcvWsMessage *message)
{
	if (message == NULL)
		return;
	g_bytes_unref(message->payload);
	g_free(message);
}

static UcvWsMessage *
message_new(UcvWsOpcode opcode, GBytes *payload)
{
	UcvWsMessage *message = g_new0(UcvWsMessage, 1);

	message->opcode = opcode;
	message->payload = payload;
	return message;
}

UcvWsFrameParser *
ucv_ws_frame_parser_new(gsize max_message_bytes)
{
	UcvWsFrameParser *self = g_new0(UcvWsFrameParser, 1);

	/* the buffers count in guint: keep one frame and its header well inside that */
	self->max_message_bytes = MIN(max_message_bytes, G_MAXUINT32 / 2);
	self->buffer = g_byte_array_new();
	self->message = g_byte_array_new();
	self->message_opcode = UCV_WS_OPCODE_CONTINUATION;
	return self;
}

void
ucv_ws_frame_parser_free(UcvWsFrameParser *self)
{
	if (self == NULL)
		return;
	g_byte_array_unref(self->buffer);
	g_byte_array_unref(self->message);
	g_free(self);
}

guint16
ucv_ws_frame_parser_get_close_code(UcvWsFrameParser *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->close_code;
}

static gboolean fail(UcvWsFrameParser *self, guint16 close_code, GError **error,
		     const gchar *format, ...) G_GNUC_PRINTF(4, 5);

/* Records the close code the failure calls for; always FALSE. */
static gboolean
fail(UcvWsFrameParser *self, guint16 close_code, GError **error, const gchar *format, ...)
{
	gint code = close_code == UCV_WS_CLOSE_TOO_BIG ? UCV_ERROR_TOO_LARGE : UCV_ERROR_INVALID;
	g_autofree gchar *message = NULL;
	va_list args;

	self->close_code = close_code;
	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error_literal(error, UCV_ERROR, code, message);
	return FALSE;
}

/* A failed parser answers every later call the same way: what follows a broken frame cannot be
 * framed any more. */
static gboolean
check_not_failed(UcvWsFrameParser *self, GError **error)
{
	if (self->close_code == 0)
		return TRUE;
	return fail(self, self->close_code, error, "WebSocket stream already failed");
}

static gboolean
is_control(guint8 opcode)
{
	return (opcode & 0x08) != 0;
}

static gboolean
is_known_opcode(guint8 opcode)
{
	switch (opcode) {
	case UCV_WS_OPCODE_CONTINUATION:
	case UCV_WS_OPCODE_TEXT:
	case UCV_WS_OPCODE_BINARY:
	case UCV_WS_OPCODE_CLOSE:
	case UCV_WS_OPCODE_PING:
	case UCV_WS_OPCODE_PONG:
		return TRUE;
	default:
		return FALSE;
	}
}

/* Codes a close frame may carry (RFC 6455 7.4 and the IANA registry): 1005, 1006 and 1015 only
 * stand for conditions on this side, the rest below 3000 are unassigned. */
static gboolean
is_valid_close_code(guint16 code)
{
	if (code >= 1000 && code <= 1003)
		return TRUE;
	if (code >= 1007 && code <= 1014)
		return TRUE;
	return code >= 3000 && code <= 4999;
}

/* g_utf8_validate_len() refuses NUL bytes, yet U+0000 is valid UTF-8 and a terminal sends it
 * (Ctrl+Space): validate the stretches between NULs instead. */
static gboolean
is_valid_utf8(const guint8 *data, gsize len)
{
	while (len > 0) {
		const guint8 *nul = memchr(data, 0, len);
		gsize stretch = nul != NULL ? (gsize)(nul - data) : len;

		if (!g_utf8_validate_len((const gchar *)data, stretch, NULL))
			return FALSE;
		if (nul == NULL)
			break;
		data += stretch + 1;
		len -= stretch + 1;
	}
	return TRUE;
}

/* The header at the start of `data`; FALSE while it has not fully arrived. */
static gboolean
read_header(const guint8 *data, gsize len, UcvWsFrameHeader *header)
{
	guint8 len7;
	gsize need = 2;

	if (len < 2)
		return FALSE;
	header->fin = (data[0] & WS_FIN) != 0;
	header->rsv = data[0] & WS_RSV;
	header->opcode = data[0] & WS_OPCODE;
	header->masked = (data[1] & WS_MASKED) != 0;
	len7 = data[1] & WS_LEN7;
	if (len7 == WS_LEN16)
		need += 2;
	else if (len7 == WS_LEN64)
		need += 8;
	if (header->masked)
		need += 4;
	if (len < need)
		return FALSE;

	/* lengths that are not written in the shortest form are accepted: they are unambiguous */
	header->payload_len = len7;
	if (len7 == WS_LEN16 || len7 == WS_LEN64) {
		header->payload_len = 0;
		for (gsize i = 2; i < (len7 == WS_LEN16 ? 4 : 10); i++)
			header->payload_len = header->payload_len << 8 | data[i];
	}
	if (header->masked)
		memcpy(header->mask, data + need - 4, 4);
	header->header_len = need;
	return TRUE;
}

static gboolean
check_header(UcvWsFrameParser *self, const UcvWsFrameHeader *header, GError **error)
{
	gboolean open = self->message_opcode != UCV_WS_OPCODE_CONTINUATION;

	/* no extension is negotiated, so nothing may give the RSV bits a meaning */
	if (header->rsv != 0)
		return fail(self, UCV_WS_CLOSE_PROTOCOL_ERROR, error,
			    "WebSocket frame has RSV bits set without a negotiated extension");
	if (!is_known_opcode(header->opcode))
		return fail(self, UCV_WS_CLOSE_PROTOCOL_ERROR, error,
			    "WebSocket frame has unknown opcode 0x%x", header->opcode);
	/* the mask keeps a browser's payload from steering proxies in between (RFC 6455 10.3) */
	if (!header->masked)
		return fail(self, UCV_WS_CLOSE_PROTOCOL_ERROR, error,
			    "WebSocket client frame is not masked");
	if (header->payload_len >> 63 != 0)
		return fail(self, UCV_WS_CLOSE_PROTOCOL_ERROR, error,
			    "WebSocket frame length has its most significant bit set");
	if (is_control(header->opcode)) {
		if (!header->fin)
			return fail(self, UCV_WS_CLOSE_PROTOCOL_ERROR, error,
				    "WebSocket control frame is fragmented");
		if (header->payload_len > UCV_WS_CONTROL_MAX)
			return fail(self, UCV_WS_CLOSE_PROTOCOL_ERROR, error,
				    "WebSocket control frame carries more than 125 bytes");
		return TRUE;
	}
	if (header->opcode == UCV_WS_OPCODE_CONTINUATION && !open)
		return fail(self, UCV_WS_CLOSE_PROTOCOL_ERROR, error,
			    "WebSocket continuation frame without a message to continue");
	if (header->opcode != UCV_WS_OPCODE_CONTINUATION && open)
		return fail(self, UCV_WS_CLOSE_PROTOCOL_ERROR, error,
			    "WebSocket data frame starts a message while a fragmented one is open");
	/* checked on the header alone, so a huge announced length is never waited for */
	if (header->payload_len > self->max_message_bytes - self->message->len)
		return fail(self, UCV_WS_CLOSE_TOO_BIG, error,
			    "WebSocket message exceeds %" G_GSIZE_FORMAT " bytes",
			    self->max_message_bytes);
	return TRUE;
}

/* The header of the frame at hand, checked; header_len is 0 while it is incomplete. */
static gboolean
next_header(UcvWsFrameParser *self, UcvWsFrameHeader *header, GError **error)
{
	memset(header, 0, sizeof(*header));
	if (!read_header(self->buffer->data + self->pos, self->buffer->len - self->pos, header))
		return TRUE;
	return check_header(self, header, error);
}

gboolean
ucv_ws_frame_parser_feed(UcvWsFrameParser *self, const guint8 *data, gsize len, GError **error)
{
	UcvWsFrameHeader header;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);

	if (!check_not_failed(self, error))
		return FALSE;
	/* drop what _next() consumed, once per feed rather than once per frame */
	if (self->pos > 0) {
		g_byte_array_remove_range(self->buffer, 0, self->pos);
		self->pos = 0;
	}
	if (len > G_MAXUINT32 / 2 - self->buffer->len)
		return fail(self, UCV_WS_CLOSE_TOO_BIG, error,
			    "WebSocket input of %" G_GSIZE_FORMAT " bytes fed at once", len);
	g_byte_array_append(self->buffer, data, len);
	return next_header(self, &header, error);
}

/* Moves the frame's payload out of the buffer, unmasked, to the end of `out`. */
static void
take_payload(UcvWsFrameParser *self, const UcvWsFrameHeader *header, GByteArray *out)
{
	const guint8 *masked = self->buffer->data + self->pos + header->header_len;
	guint start = out->len;

	g_byte_array_set_size(out, out->len + header->payload_len);
	for (gsize i = 0; i < header->payload_len; i++)
		out->data[start + i] = masked[i] ^ header->mask[i % 4];
	self->pos += header->header_len + header->payload_len;
}

static UcvWsMessage *
close_message(UcvWsFrameParser *self, GByteArray *payload, GError **error)
{
	UcvWsMessage *message;
	guint16 code;

	if (payload->len == 0) {
		message = message_new(UCV_WS_OPCODE_CLOSE, g_bytes_new(NULL, 0));
		message->close_code = UCV_WS_CLOSE_NO_STATUS;
		return message;
	}
	if (payload->len == 1) {
		fail(self, UCV_WS_CLOSE_PROTOCOL_ERROR, error,
		     "WebSocket close frame carries a single byte");
		return NULL;
	}
	code = (guint16)(payload->data[0] << 8 | payload->data[1]);
	if (!is_valid_close_code(code)) {
		fail(self, UCV_WS_CLOSE_PROTOCOL_ERROR, error,
		     "WebSocket close frame carries invalid code %u", code);
		return NULL;
	}
	if (!is_valid_utf8(payload->data + 2, payload->len - 2)) {
		fail(self, UCV_WS_CLOSE_INVALID_DATA, error,
		     "WebSocket close reason is not valid UTF-8");
		return NULL;
	}
	message =
		message_new(UCV_WS_OPCODE_CLOSE, g_bytes_new(payload->data + 2, payload->len - 2));
	message->close_code = code;
	return message;
}

static UcvWsMessage *
control_message(UcvWsFrameParser *self, const UcvWsFrameHeader *header, GError **error)
{
	g_autoptr(GByteArray) payload = g_byte_array_sized_new(UCV_WS_CONTROL_MAX);

	take_payload(self, header, payload);
	if (header->opcode == UCV_WS_OPCODE_CLOSE)
		return close_message(self, payload, error);
	return message_new(header->opcode, g_byte_array_free_to_bytes(g_steal_pointer(&payload)));
}

/* The data message now complete; validated only as a whole, because fragments may split a
 * character. */
static UcvWsMessage *
data_message(UcvWsFrameParser *self, GError **error)
{
	UcvWsOpcode opcode = self->message_opcode;
	GByteArray *payload = self->message;

	if (opcode == UCV_WS_OPCODE_TEXT && !is_valid_utf8(payload->data, payload->len)) {
		fail(self, UCV_WS_CLOSE_INVALID_DATA, error,
		     "WebSocket text message is not valid UTF-8");
		return NULL;
	}
	self->message = g_byte_array_new();
	self->message_opcode = UCV_WS_OPCODE_CONTINUATION;
	return message_new(opcode, g_byte_array_free_to_bytes(payload));
}

UcvWsMessage *
ucv_ws_frame_parser_next(UcvWsFrameParser *self, GError **error)
{
	g_return_val_if_fail(self != NULL, NULL);

	if (!check_not_failed(self, error))
		return NULL;
	/* non-final fragments are gathered without returning, until a message is whole */
	for (;;) {
		UcvWsFrameHeader header;

		if (!next_header(self, &header, error))
			return NULL;
		if (header.header_len == 0 ||
		    self->buffer->len - self->pos < header.header_len + header.payload_len)
			return NULL;
		if (is_control(header.opcode))
			return control_message(self, &header, error);
		if (header.opcode != UCV_WS_OPCODE_CONTINUATION)
			self->message_opcode = header.opcode;
		take_payload(self, &header, self->message);
		if (header.fin)
			return data_message(self, error);
	}
}

GBytes *
ucv_ws_frame_encode(UcvWsOpcode opcode, const guint8 *payload, gsize len)
{
	guint8 *frame;
	gsize header_len = 2;

	g_return_val_if_fail(is_known_opcode(opcode), NULL);
	g_return_val_if_fail(opcode != UCV_WS_OPCODE_CONTINUATION, NULL);
	g_return_val_if_fail(!is_control(opcode) || len <= UCV_WS_CONTROL_MAX, NULL);
	g_return_val_if_fail(payload != NULL || len == 0, NULL);

	if (len > G_MAXUINT16)
		header_len += 8;
	else if (len >= WS_LEN16)
		header_len += 2;
	frame = g_malloc(header_len + len);
	frame[0] = WS_FIN | opcode;
	if (header_len == 2) {
		frame[1] = (guint8)len;
	} else {
		frame[1] = header_len == 4 ? WS_LEN16 : WS_LEN64;
		/* network byte order, the most significant byte first */
		for (gsize i = 2; i < header_len; i++)
			frame[i] = (guint8)((guint64)len >> (8 * (header_len - 1 - i)));
	}
	if (len > 0)
		memcpy(frame + header_len, payload, len);
	return g_bytes_new_take(frame, header_len + len);
}

/* The longest prefix of `reason` within `max` bytes that does not split a character. */
static gsize
reason_prefix_len(const gchar *reason, gsize max)
{
	gsize len = strlen(reason);

	if (len <= max)
		return len;
	len = max;
	while (len > 0 && ((guchar)reason[len] & 0xc0) == 0x80)
		len--;
	return len;
}

GBytes *
ucv_ws_frame_encode_close(guint16 code, const gchar *reason)
{
	guint8 payload[UCV_WS_CONTROL_MAX];
	gsize reason_len;

	if (code == UCV_WS_CLOSE_NO_STATUS)
		return ucv_ws_frame_encode(UCV_WS_OPCODE_CLOSE, NULL, 0);
	g_return_val_if_fail(is_valid_close_code(code), NULL);
	g_return_val_if_fail(reason == NULL || g_utf8_validate(reason, -1, NULL), NULL);

	reason_len = reason != NULL ? reason_prefix_len(reason, sizeof(payload) - 2) : 0;
	payload[0] = (guint8)(code >> 8);
	payload[1] = (guint8)(code & 0xff);
	if (reason_len > 0)
		memcpy(payload + 2, reason, reason_len);
	return ucv_ws_frame_encode(UCV_WS_OPCODE_CLOSE, payload, 2 + reason_len);
}

gchar *
ucv_ws_accept_key(const gchar *client_key)
{
	/* SHA-1 because RFC 6455 prescribes it: the answer only proves that the server understood
	 * the upgrade, it protects nothing */
	g_autoptr(GChecksum) sha1 = g_checksum_new(G_CHECKSUM_SHA1);
	guint8 digest[20];
	gsize digest_len = sizeof(digest);

	g_return_val_if_fail(client_key != NULL, NULL);

	g_checksum_update(sha1, (const guchar *)client_key, -1);
	g_checksum_update(sha1, (const guchar *)WS_ACCEPT_GUID, -1);
	g_checksum_get_digest(sha1, digest, &digest_len);
	return g_base64_encode(digest, digest_len);
}
