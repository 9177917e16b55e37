/* The container-host agent protocol: frame codec with per-type validation (see the header). */
#include "ucv-agent-frame.h"

#include <string.h>

#define LEN_FIELD        4
#define TYPE_END         5 /* len + type */
#define LEN_AFTER_HEADER 5 /* type + channel, counted in len */

#define FROM_GUEST (1u << UCV_AGENT_PEER_GUEST)
#define FROM_HOST  (1u << UCV_AGENT_PEER_HOST)
#define FROM_BOTH  (FROM_GUEST | FROM_HOST)

typedef enum {
	CHANNEL_ZERO,  /* about the job as a whole */
	CHANNEL_SHELL, /* about one shell: never 0 */
	CHANNEL_ANY,   /* either */
} ChannelRule;

typedef struct {
	const char *name;
	unsigned senders;
	ChannelRule channel;
	uint32_t min_payload;
	uint32_t max_payload;
} FrameRule;

/* Indexed by type; index 0 is no type. */
static const FrameRule rules[] = {
	[UCV_AGENT_FRAME_HELLO] = {"HELLO", FROM_GUEST, CHANNEL_ZERO, 3, 2 + UCV_AGENT_VERSION_MAX},
	[UCV_AGENT_FRAME_STARTED] = {"STARTED", FROM_GUEST, CHANNEL_ZERO, 0, 0},
	[UCV_AGENT_FRAME_STDOUT] = {"STDOUT", FROM_GUEST, CHANNEL_ZERO, 1,
				    UCV_AGENT_FRAME_MAX_PAYLOAD},
	[UCV_AGENT_FRAME_STDERR] = {"STDERR", FROM_GUEST, CHANNEL_ZERO, 1,
				    UCV_AGENT_FRAME_MAX_PAYLOAD},
	[UCV_AGENT_FRAME_EXIT] = {"EXIT", FROM_GUEST, CHANNEL_ZERO, 4, 4},
	[UCV_AGENT_FRAME_EXIT_ACK] = {"EXIT_ACK", FROM_HOST, CHANNEL_ZERO, 0, 0},
	[UCV_AGENT_FRAME_SHELL_OPEN] = {"SHELL_OPEN", FROM_HOST, CHANNEL_SHELL, 8, 8},
	[UCV_AGENT_FRAME_DATA] = {"DATA", FROM_BOTH, CHANNEL_SHELL, 1, UCV_AGENT_FRAME_MAX_PAYLOAD},
	[UCV_AGENT_FRAME_RESIZE] = {"RESIZE", FROM_HOST, CHANNEL_SHELL, 4, 4},
	[UCV_AGENT_FRAME_SIGNAL] = {"SIGNAL", FROM_HOST, CHANNEL_ANY, 4, 4},
	[UCV_AGENT_FRAME_CLOSE] = {"CLOSE", FROM_BOTH, CHANNEL_SHELL, 0, 0},
	[UCV_AGENT_FRAME_PING] = {"PING", FROM_BOTH, CHANNEL_ZERO, 0, UCV_AGENT_PING_MAX},
	[UCV_AGENT_FRAME_PONG] = {"PONG", FROM_BOTH, CHANNEL_ZERO, 0, UCV_AGENT_PING_MAX},
};

#define N_RULES (sizeof(rules) / sizeof(rules[0]))

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint16_t
get_u16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static const FrameRule *
rule_of(uint8_t type)
{
	if (type >= N_RULES || rules[type].name == NULL)
		return NULL;
	return &rules[type];
}

static UcvAgentDecodeError
check_type(UcvAgentPeer sender, uint8_t type)
{
	const FrameRule *rule = rule_of(type);

	if (rule == NULL)
		return UCV_AGENT_DECODE_UNKNOWN_TYPE;
	if ((rule->senders & (1u << sender)) == 0)
		return UCV_AGENT_DECODE_WRONG_PEER;
	return UCV_AGENT_DECODE_OK;
}

/* What the header alone decides: channel and payload length. */
static UcvAgentDecodeError
check_header(uint8_t type, uint32_t channel, uint32_t payload_len)
{
	const FrameRule *rule = rule_of(type);

	if (rule == NULL)
		return UCV_AGENT_DECODE_UNKNOWN_TYPE;
	if (rule->channel != CHANNEL_ANY && (rule->channel == CHANNEL_ZERO) != (channel == 0))
		return UCV_AGENT_DECODE_BAD_CHANNEL;
	if (payload_len < rule->min_payload || payload_len > rule->max_payload)
		return UCV_AGENT_DECODE_BAD_LENGTH;
	return UCV_AGENT_DECODE_OK;
}

static int
is_printable_ascii(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	}
	return 1;
}

static UcvAgentDecodeError
check_payload(uint8_t type, const uint8_t *payload, uint32_t payload_len)
{
	if (type == UCV_AGENT_FRAME_HELLO && !is_printable_ascii(payload + 2, payload_len - 2))
		return UCV_AGENT_DECODE_BAD_PAYLOAD;
	if (type == UCV_AGENT_FRAME_SHELL_OPEN &&
	    (get_u16(payload + 4) == 0 || get_u16(payload + 6) == 0))
		return UCV_AGENT_DECODE_BAD_PAYLOAD;
	if (type == UCV_AGENT_FRAME_RESIZE && (get_u16(payload) == 0 || get_u16(payload + 2) == 0))
		return UCV_AGENT_DECODE_BAD_PAYLOAD;
	if (type == UCV_AGENT_FRAME_SIGNAL) {
		uint32_t signal_number = get_u32(payload);

		if (signal_number < 1 || signal_number > 64)
			return UCV_AGENT_DECODE_BAD_PAYLOAD;
	}
	return UCV_AGENT_DECODE_OK;
}

UcvAgentDecodeError
ucv_agent_frame_check(UcvAgentPeer sender, uint8_t type, uint32_t channel, const uint8_t *payload,
		      size_t payload_len)
{
	UcvAgentDecodeError error;

	if (payload_len > UCV_AGENT_FRAME_MAX_PAYLOAD)
		return UCV_AGENT_DECODE_TOO_LONG;
	error = check_type(sender, type);
	if (error != UCV_AGENT_DECODE_OK)
		return error;
	error = check_header(type, channel, (uint32_t)payload_len);
	if (error != UCV_AGENT_DECODE_OK)
		return error;
	return check_payload(type, payload, (uint32_t)payload_len);
}

void
ucv_agent_decoder_init(UcvAgentDecoder *decoder, UcvAgentPeer sender)
{
	decoder->sender = sender;
	decoder->error = UCV_AGENT_DECODE_OK;
	decoder->need = LEN_FIELD;
	decoder->fill = 0;
}

UcvAgentDecodeError
ucv_agent_decoder_error(const UcvAgentDecoder *decoder)
{
	return decoder->error;
}

/* The next point at which the bytes gathered so far can be checked. */
static uint32_t
next_stop(const UcvAgentDecoder *decoder)
{
	if (decoder->fill < LEN_FIELD)
		return LEN_FIELD;
	if (decoder->fill < TYPE_END)
		return TYPE_END;
	if (decoder->fill < UCV_AGENT_FRAME_HEADER)
		return UCV_AGENT_FRAME_HEADER;
	return decoder->need;
}

/* Checks what became known at `decoder->fill`; returns an error or OK. */
static UcvAgentDecodeError
check_stop(UcvAgentDecoder *decoder)
{
	const uint8_t *buf = decoder->buf;

	if (decoder->fill == LEN_FIELD) {
		uint32_t len = get_u32(buf);

		if (len < LEN_AFTER_HEADER)
			return UCV_AGENT_DECODE_TOO_SHORT;
		if (len - LEN_AFTER_HEADER > UCV_AGENT_FRAME_MAX_PAYLOAD)
			return UCV_AGENT_DECODE_TOO_LONG;
		decoder->need = LEN_FIELD + len;
		return UCV_AGENT_DECODE_OK;
	}
	if (decoder->fill == TYPE_END)
		return check_type(decoder->sender, buf[LEN_FIELD]);
	if (decoder->fill == UCV_AGENT_FRAME_HEADER)
		return check_header(buf[LEN_FIELD], get_u32(buf + TYPE_END),
				    decoder->need - UCV_AGENT_FRAME_HEADER);
	return UCV_AGENT_DECODE_OK;
}

static UcvAgentFeedResult
fail(UcvAgentDecoder *decoder, UcvAgentDecodeError error)
{
	decoder->error = error;
	return UCV_AGENT_FEED_ERROR;
}

UcvAgentFeedResult
ucv_agent_decoder_feed(UcvAgentDecoder *decoder, const uint8_t *data, size_t len, size_t *consumed,
		       UcvAgentFrame *frame)
{
	size_t taken = 0;

	*consumed = 0;
	if (decoder->error != UCV_AGENT_DECODE_OK)
		return UCV_AGENT_FEED_ERROR;
	while (taken < len) {
		uint32_t stop = next_stop(decoder);
		size_t n = stop - decoder->fill;
		UcvAgentDecodeError error;

		if (n > len - taken)
			n = len - taken;
		memcpy(decoder->buf + decoder->fill, data + taken, n);
		decoder->fill += (uint32_t)n;
		taken += n;
		*consumed = taken;
		if (decoder->fill < stop)
			break;
		error = check_stop(decoder);
		if (error != UCV_AGENT_DECODE_OK)
			return fail(decoder, error);
		if (decoder->fill < UCV_AGENT_FRAME_HEADER || decoder->fill < decoder->need)
			continue;

		/* a whole frame */
		frame->type = decoder->buf[LEN_FIELD];
		frame->channel = get_u32(decoder->buf + TYPE_END);
		frame->payload = decoder->buf + UCV_AGENT_FRAME_HEADER;
		frame->payload_len = decoder->need - UCV_AGENT_FRAME_HEADER;
		error = check_payload(frame->type, frame->payload, frame->payload_len);
		if (error != UCV_AGENT_DECODE_OK)
			return fail(decoder, error);
		decoder->fill = 0;
		decoder->need = LEN_FIELD;
		return UCV_AGENT_FEED_FRAME;
	}
	return UCV_AGENT_FEED_MORE;
}

const char *
ucv_agent_decode_error_string(UcvAgentDecodeError error)
{
	switch (error) {
	case UCV_AGENT_DECODE_OK:
		return "no error";
	case UCV_AGENT_DECODE_TOO_SHORT:
		return "frame length below the header size";
	case UCV_AGENT_DECODE_TOO_LONG:
		return "frame payload over 64 KiB";
	case UCV_AGENT_DECODE_UNKNOWN_TYPE:
		return "unknown frame type";
	case UCV_AGENT_DECODE_WRONG_PEER:
		return "frame type not allowed from this side";
	case UCV_AGENT_DECODE_BAD_CHANNEL:
		return "channel not allowed for this frame type";
	case UCV_AGENT_DECODE_BAD_LENGTH:
		return "payload length wrong for this frame type";
	case UCV_AGENT_DECODE_BAD_PAYLOAD:
		return "payload content invalid for this frame type";
	}
	return "unknown error";
}

const char *
ucv_agent_frame_type_name(uint8_t type)
{
	const FrameRule *rule = rule_of(type);

	return rule != NULL ? rule->name : "UNKNOWN";
}

size_t
ucv_agent_frame_encode(uint8_t *out, size_t out_size, UcvAgentPeer sender, uint8_t type,
		       uint32_t channel, const void *payload, size_t payload_len)
{
	if (ucv_agent_frame_check(sender, type, channel, payload, payload_len) !=
	    UCV_AGENT_DECODE_OK)
		return 0;
	if (out_size < UCV_AGENT_FRAME_HEADER + payload_len)
		return 0;
	put_u32(out, (uint32_t)(LEN_AFTER_HEADER + payload_len));
	out[LEN_FIELD] = type;
	put_u32(out + TYPE_END, channel);
	if (payload_len > 0)
		memcpy(out + UCV_AGENT_FRAME_HEADER, payload, payload_len);
	return UCV_AGENT_FRAME_HEADER + payload_len;
}

size_t
ucv_agent_frame_encode_hello(uint8_t *out, size_t out_size, const char *agent_version)
{
	uint8_t payload[2 + UCV_AGENT_VERSION_MAX];
	size_t len = strlen(agent_version);

	if (len > UCV_AGENT_VERSION_MAX)
		return 0;
	put_u16(payload, UCV_AGENT_PROTOCOL_VERSION);
	memcpy(payload + 2, agent_version, len);
	return ucv_agent_frame_encode(out, out_size, UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_HELLO, 0,
				      payload, 2 + len);
}

size_t
ucv_agent_frame_encode_exit(uint8_t *out, size_t out_size, int32_t code)
{
	uint8_t payload[4];

	put_u32(payload, (uint32_t)code);
	return ucv_agent_frame_encode(out, out_size, UCV_AGENT_PEER_GUEST, UCV_AGENT_FRAME_EXIT, 0,
				      payload, sizeof(payload));
}

size_t
ucv_agent_frame_encode_shell_open(uint8_t *out, size_t out_size, uint32_t channel, uint32_t uid,
				  uint16_t cols, uint16_t rows)
{
	uint8_t payload[8];

	put_u32(payload, uid);
	put_u16(payload + 4, cols);
	put_u16(payload + 6, rows);
	return ucv_agent_frame_encode(out, out_size, UCV_AGENT_PEER_HOST,
				      UCV_AGENT_FRAME_SHELL_OPEN, channel, payload,
				      sizeof(payload));
}

size_t
ucv_agent_frame_encode_resize(uint8_t *out, size_t out_size, uint32_t channel, uint16_t cols,
			      uint16_t rows)
{
	uint8_t payload[4];

	put_u16(payload, cols);
	put_u16(payload + 2, rows);
	return ucv_agent_frame_encode(out, out_size, UCV_AGENT_PEER_HOST, UCV_AGENT_FRAME_RESIZE,
				      channel, payload, sizeof(payload));
}

size_t
ucv_agent_frame_encode_signal(uint8_t *out, size_t out_size, uint32_t channel,
			      int32_t signal_number)
{
	uint8_t payload[4];

	put_u32(payload, (uint32_t)signal_number);
	return ucv_agent_frame_encode(out, out_size, UCV_AGENT_PEER_HOST, UCV_AGENT_FRAME_SIGNAL,
				      channel, payload, sizeof(payload));
}

void
ucv_agent_frame_parse_hello(const UcvAgentFrame *frame, uint16_t *protocol, const char **version,
			    size_t *version_len)
{
	*protocol = get_u16(frame->payload);
	*version = (const char *)frame->payload + 2;
	*version_len = frame->payload_len - 2;
}

int32_t
ucv_agent_frame_parse_exit(const UcvAgentFrame *frame)
{
	return (int32_t)get_u32(frame->payload);
}

void
ucv_agent_frame_parse_shell_open(const UcvAgentFrame *frame, uint32_t *uid, uint16_t *cols,
				 uint16_t *rows)
{
	*uid = get_u32(frame->payload);
	*cols = get_u16(frame->payload + 4);
	*rows = get_u16(frame->payload + 6);
}

void
ucv_agent_frame_parse_resize(const UcvAgentFrame *frame, uint16_t *cols, uint16_t *rows)
{
	*cols = get_u16(frame->payload);
	*rows = get_u16(frame->payload + 2);
}

int32_t
ucv_agent_frame_parse_signal(const UcvAgentFrame *frame)
{
	return (int32_t)get_u32(frame->payload);
}
