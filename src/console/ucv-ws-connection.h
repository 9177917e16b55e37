/* A server-side WebSocket over a raw stream (after the HTTP upgrade), one message in flight each
 * way: the owner asks for the next message only when it has dealt with the last one, and sends
 * the next only when the last is written, so neither side is ever buffered without bound. */
#pragma once

#include <gio/gio.h>

#include "console/ucv-ws-frame.h"

G_BEGIN_DECLS

#define UCV_TYPE_WS_CONNECTION (ucv_ws_connection_get_type())
G_DECLARE_FINAL_TYPE(UcvWsConnection, ucv_ws_connection, UCV, WS_CONNECTION, GObject)

/* Takes over `stream` (the client's connection, the 101 response already sent). Client messages
 * over `max_message_bytes` close the connection with 1009. */
UcvWsConnection *ucv_ws_connection_new(GIOStream *stream, gsize max_message_bytes);

/* The next data message (TEXT or BINARY). Pings are answered and pongs dropped on the way; the
 * client's close is answered. NULL without error: the connection closed cleanly (then
 * ucv_ws_connection_get_close_code() tells how). A protocol error closes the connection with the
 * codec's code and fails the call. One receive at a time. */
void ucv_ws_connection_receive_async(UcvWsConnection *self, GCancellable *cancellable,
				     GAsyncReadyCallback callback, gpointer user_data);
UcvWsMessage *ucv_ws_connection_receive_finish(UcvWsConnection *self, GAsyncResult *res,
					       GError **error);

/* Sends one unfragmented message; completes once it is written to the stream. Sends and the
 * connection's own control frames are written in order, one after the other. */
void ucv_ws_connection_send_async(UcvWsConnection *self, UcvWsOpcode opcode, GBytes *payload,
				  GCancellable *cancellable, GAsyncReadyCallback callback,
				  gpointer user_data);
gboolean ucv_ws_connection_send_finish(UcvWsConnection *self, GAsyncResult *res, GError **error);

/* Sends a close frame (after anything queued) and closes the stream; pending and later calls
 * fail with G_IO_ERROR_CLOSED. Idempotent. Emits "closed" once, whichever side closed. */
void ucv_ws_connection_close(UcvWsConnection *self, guint16 code, const gchar *reason);

gboolean ucv_ws_connection_is_closed(UcvWsConnection *self);
/* The code the connection closed with (the client's or ours); 0 while open. */
guint16 ucv_ws_connection_get_close_code(UcvWsConnection *self);

G_END_DECLS
