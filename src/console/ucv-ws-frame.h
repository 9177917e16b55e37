/* WebSocket framing (RFC 6455), server side, as a codec without I/O: the console proxy owns the
 * connection after the upgrade and decides itself when to read, so it can hold back a fast peer. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	UCV_WS_OPCODE_CONTINUATION = 0x0,
	UCV_WS_OPCODE_TEXT = 0x1,
	UCV_WS_OPCODE_BINARY = 0x2,
	UCV_WS_OPCODE_CLOSE = 0x8,
	UCV_WS_OPCODE_PING = 0x9,
	UCV_WS_OPCODE_PONG = 0xA,
} UcvWsOpcode;

/* Close codes of RFC 6455 section 7.4.1 that the proxy sends or reports. */
#define UCV_WS_CLOSE_NORMAL         1000
#define UCV_WS_CLOSE_GOING_AWAY     1001
#define UCV_WS_CLOSE_PROTOCOL_ERROR 1002
#define UCV_WS_CLOSE_NO_STATUS      1005 /* never sent: stands for a close frame without a code */
#define UCV_WS_CLOSE_INVALID_DATA   1007
#define UCV_WS_CLOSE_POLICY         1008
#define UCV_WS_CLOSE_TOO_BIG        1009
#define UCV_WS_CLOSE_INTERNAL_ERROR 1011

/* The largest payload a control frame may carry. */
#define UCV_WS_CONTROL_MAX 125

/* One whole message from the client: a data message with its fragments joined, or a control
 * frame. `payload` is never NULL; for CLOSE it holds only the reason (valid UTF-8), and
 * `close_code` the code, UCV_WS_CLOSE_NO_STATUS when the frame had none. */
typedef struct {
	UcvWsOpcode opcode;
	GBytes *payload;
	guint16 close_code;
} UcvWsMessage;

void ucv_ws_message_free(UcvWsMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvWsMessage, ucv_ws_message_free)

typedef struct _UcvWsFrameParser UcvWsFrameParser;

/* Data messages over `max_message_bytes` are refused as soon as a frame header announces them,
 * so the parser holds at most one frame of that size plus what one feed brought. */
UcvWsFrameParser *ucv_ws_frame_parser_new(gsize max_message_bytes);
void ucv_ws_frame_parser_free(UcvWsFrameParser *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvWsFrameParser, ucv_ws_frame_parser_free)

/* Appends bytes read from the client. Call _next() until it returns NULL before feeding more.
 * Fails when the frame at hand already breaks a rule (see _get_close_code()). */
gboolean ucv_ws_frame_parser_feed(UcvWsFrameParser *self, const guint8 *data, gsize len,
				  GError **error);

/* The next complete message, or NULL: without an error, more bytes are needed. Control frames
 * sent between the fragments of a data message come out at once. After any error the parser
 * stays failed, and the connection is to be closed. */
UcvWsMessage *ucv_ws_frame_parser_next(UcvWsFrameParser *self, GError **error);

/* The close code to send after a failure: UCV_WS_CLOSE_PROTOCOL_ERROR, _INVALID_DATA (text that
 * is not UTF-8) or _TOO_BIG (error UCV_ERROR_TOO_LARGE); 0 while the parser has not failed. */
guint16 ucv_ws_frame_parser_get_close_code(UcvWsFrameParser *self);

/* A single unmasked frame from the server, FIN set; control frames take at most
 * UCV_WS_CONTROL_MAX bytes. */
GBytes *ucv_ws_frame_encode(UcvWsOpcode opcode, const guint8 *payload, gsize len);

/* A close frame; `reason` (UTF-8, may be NULL) is cut at a character boundary to fit. With
 * UCV_WS_CLOSE_NO_STATUS the frame is empty. */
GBytes *ucv_ws_frame_encode_close(guint16 code, const gchar *reason);

/* The Sec-WebSocket-Accept value answering the client's Sec-WebSocket-Key. */
gchar *ucv_ws_accept_key(const gchar *client_key);

G_END_DECLS
