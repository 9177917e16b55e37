/* The container-host agent protocol: frames on the virtio-serial port between the host and the
 * agent (PID 1 in the guest). Plain C99 without GLib: the static agent and the host share it.
 *
 * A frame is `u32 len | u8 type | u32 channel | payload`, big-endian, len = 5 + payload length,
 * at most UCV_AGENT_FRAME_MAX_PAYLOAD bytes of payload. Every frame the host receives comes from
 * the guest and is untrusted: the decoder checks the length, the type, the direction, the channel
 * and the payload length of each type before it hands a frame out. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UCV_AGENT_PROTOCOL_VERSION 1
#define UCV_AGENT_PORT_NAME        "org.ucloud.virt.agent"

#define UCV_AGENT_FRAME_HEADER      9 /* len, type, channel */
#define UCV_AGENT_FRAME_MAX_PAYLOAD (64 * 1024)
#define UCV_AGENT_FRAME_MAX         (UCV_AGENT_FRAME_HEADER + UCV_AGENT_FRAME_MAX_PAYLOAD)
#define UCV_AGENT_VERSION_MAX       128 /* bytes of the agent version string in HELLO */
#define UCV_AGENT_PING_MAX          64  /* bytes of opaque PING data, echoed by PONG */

/* The numbers are part of the protocol: never renumber, only add. */
typedef enum {
	UCV_AGENT_FRAME_HELLO = 1,      /* guest: u16 protocol version, agent version (ASCII) */
	UCV_AGENT_FRAME_STARTED = 2,    /* guest: the container runs */
	UCV_AGENT_FRAME_STDOUT = 3,     /* guest: bytes the container wrote to stdout */
	UCV_AGENT_FRAME_STDERR = 4,     /* guest: bytes the container wrote to stderr */
	UCV_AGENT_FRAME_EXIT = 5,       /* guest: i32 exit code, repeated until EXIT_ACK */
	UCV_AGENT_FRAME_EXIT_ACK = 6,   /* host: EXIT arrived */
	UCV_AGENT_FRAME_SHELL_OPEN = 7, /* host, channel: u32 uid, u16 cols, u16 rows */
	UCV_AGENT_FRAME_DATA = 8,       /* both, channel: terminal bytes */
	UCV_AGENT_FRAME_RESIZE = 9,     /* host, channel: u16 cols, u16 rows */
	UCV_AGENT_FRAME_SIGNAL = 10,    /* host, channel or 0 (the container): i32 signal number */
	UCV_AGENT_FRAME_CLOSE = 11,     /* both, channel: the shell ended or is to end */
	UCV_AGENT_FRAME_PING = 12,      /* both: opaque data, answered by PONG */
	UCV_AGENT_FRAME_PONG = 13,      /* both: the PING's data */
} UcvAgentFrameType;

/* Who wrote the frames a decoder reads: each side accepts only what the other may send. */
typedef enum {
	UCV_AGENT_PEER_GUEST,
	UCV_AGENT_PEER_HOST,
} UcvAgentPeer;

typedef enum {
	UCV_AGENT_DECODE_OK = 0,
	UCV_AGENT_DECODE_TOO_SHORT,    /* len < 5 */
	UCV_AGENT_DECODE_TOO_LONG,     /* payload over UCV_AGENT_FRAME_MAX_PAYLOAD */
	UCV_AGENT_DECODE_UNKNOWN_TYPE, /* a type this version does not know */
	UCV_AGENT_DECODE_WRONG_PEER,   /* a known type the sender may not send */
	UCV_AGENT_DECODE_BAD_CHANNEL,  /* channel 0 where a shell is meant, or the reverse */
	UCV_AGENT_DECODE_BAD_LENGTH,   /* payload length not the one of its type */
	UCV_AGENT_DECODE_BAD_PAYLOAD,  /* e.g. a HELLO version string that is not printable */
} UcvAgentDecodeError;

/* A decoded frame. `payload` points into the decoder and stays valid until its next feed. */
typedef struct {
	uint8_t type;
	uint32_t channel;
	const uint8_t *payload;
	uint32_t payload_len;
} UcvAgentFrame;

/* Holds at most one frame; no allocation, so it may live on the stack of the static agent. */
typedef struct {
	UcvAgentPeer sender;
	UcvAgentDecodeError error; /* the first error, final */
	uint32_t need;             /* bytes of the frame at hand: header first, then all of it */
	uint32_t fill;
	uint8_t buf[UCV_AGENT_FRAME_MAX];
} UcvAgentDecoder;

typedef enum {
	UCV_AGENT_FEED_MORE,  /* every byte taken, no frame complete yet */
	UCV_AGENT_FEED_FRAME, /* `*frame` holds a frame; feed the rest of the bytes after it */
	UCV_AGENT_FEED_ERROR, /* the stream is bad: end the connection (ucv_agent_decoder_error) */
} UcvAgentFeedResult;

void ucv_agent_decoder_init(UcvAgentDecoder *decoder, UcvAgentPeer sender);

/* Takes bytes up to the end of the next frame. `*consumed` says how many of `len` were taken:
 * call again with the rest after handling a frame. Once it has failed, it fails for good. */
UcvAgentFeedResult ucv_agent_decoder_feed(UcvAgentDecoder *decoder, const uint8_t *data, size_t len,
					  size_t *consumed, UcvAgentFrame *frame);

UcvAgentDecodeError ucv_agent_decoder_error(const UcvAgentDecoder *decoder);
const char *ucv_agent_decode_error_string(UcvAgentDecodeError error);
const char *ucv_agent_frame_type_name(uint8_t type);

/* Checks a whole frame's fields as the decoder does for frames from `sender`. */
UcvAgentDecodeError ucv_agent_frame_check(UcvAgentPeer sender, uint8_t type, uint32_t channel,
					  const uint8_t *payload, size_t payload_len);

/* Writes a frame to `out` and returns its size, or 0 when `out_size` is too small or the frame
 * breaks a rule of its type (checked as the receiving side will). */
size_t ucv_agent_frame_encode(uint8_t *out, size_t out_size, UcvAgentPeer sender, uint8_t type,
			      uint32_t channel, const void *payload, size_t payload_len);

/* Encoders for the frames with a structured payload. */
size_t ucv_agent_frame_encode_hello(uint8_t *out, size_t out_size, const char *agent_version);
size_t ucv_agent_frame_encode_exit(uint8_t *out, size_t out_size, int32_t code);
size_t ucv_agent_frame_encode_shell_open(uint8_t *out, size_t out_size, uint32_t channel,
					 uint32_t uid, uint16_t cols, uint16_t rows);
size_t ucv_agent_frame_encode_resize(uint8_t *out, size_t out_size, uint32_t channel, uint16_t cols,
				     uint16_t rows);
size_t ucv_agent_frame_encode_signal(uint8_t *out, size_t out_size, uint32_t channel,
				     int32_t signal_number);

/* Readers for frames the decoder accepted (their payload lengths are already checked). The
 * HELLO version string is not NUL-terminated: it is `*version_len` bytes at `*version`. */
void ucv_agent_frame_parse_hello(const UcvAgentFrame *frame, uint16_t *protocol,
				 const char **version, size_t *version_len);
int32_t ucv_agent_frame_parse_exit(const UcvAgentFrame *frame);
void ucv_agent_frame_parse_shell_open(const UcvAgentFrame *frame, uint32_t *uid, uint16_t *cols,
				      uint16_t *rows);
void ucv_agent_frame_parse_resize(const UcvAgentFrame *frame, uint16_t *cols, uint16_t *rows);
int32_t ucv_agent_frame_parse_signal(const UcvAgentFrame *frame);

#ifdef __cplusplus
}
#endif
