/* UCloud's envelope for calls over a WebSocket: requests
 * {"call","streamId","payload",…}, stream items {"type":"message","streamId","payload"} and the
 * end of a stream {"type":"response","streamId","status","payload"}. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct {
	gchar *call;
	gchar *stream_id;
	JsonObject *payload;
} UcvWsRpcRequest;

void ucv_ws_rpc_request_free(UcvWsRpcRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvWsRpcRequest, ucv_ws_rpc_request_free)

/* One text frame as a request; anything but an object with a string call, a string streamId
 * and an object payload is UCV_ERROR_INVALID. */
UcvWsRpcRequest *ucv_ws_rpc_request_parse(GBytes *frame, GError **error);

/* Frames to send; both take `payload`. */
GBytes *ucv_ws_rpc_message(const gchar *stream_id, JsonNode *payload);
GBytes *ucv_ws_rpc_response(const gchar *stream_id, guint status, JsonNode *payload);

/* {"type":"<type>"}, the payload of the simplest items. */
JsonNode *ucv_ws_rpc_typed_payload(const gchar *type);

G_END_DECLS
