/* The call envelope UCloud's WebSocket clients use (Core's follow and the web client's shell). */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-ws-rpc.h"

#include <string.h>

#include "model/ucv-error.h"

void
ucv_ws_rpc_request_free(UcvWsRpcRequest *request)
{
	if (request == NULL)
		return;
	g_free(request->call);
	g_free(request->stream_id);
	g_clear_pointer(&request->payload, json_object_unref);
	g_free(request);
}

static const gchar *
string_member(JsonObject *obj, const gchar *name)
{
	JsonNode *node = json_object_get_member(obj, name);

	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

UcvWsRpcRequest *
ucv_ws_rpc_request_parse(GBytes *frame, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new_immutable();
	gsize len = 0;
	const gchar *text = g_bytes_get_data(frame, &len);
	JsonObject *obj;
	JsonNode *payload;
	UcvWsRpcRequest *request;

	if (!json_parser_load_from_data(parser, text, (gssize)len, NULL) ||
	    !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "the message is not a JSON object");
		return NULL;
	}
	obj = json_node_get_object(json_parser_get_root(parser));
	payload = json_object_get_member(obj, "payload");
	if (string_member(obj, "call") == NULL || string_member(obj, "streamId") == NULL ||
	    payload == NULL || !JSON_NODE_HOLDS_OBJECT(payload)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "the message needs a call, a streamId and a payload object");
		return NULL;
	}
	request = g_new0(UcvWsRpcRequest, 1);
	request->call = g_strdup(string_member(obj, "call"));
	request->stream_id = g_strdup(string_member(obj, "streamId"));
	request->payload = json_object_ref(json_node_get_object(payload));
	return request;
}

static GBytes *
frame_of(JsonObject *obj)
{
	g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
	gsize len = 0;
	gchar *text;

	json_node_take_object(root, obj);
	text = json_to_string(root, FALSE);
	len = strlen(text);
	return g_bytes_new_take(text, len);
}

GBytes *
ucv_ws_rpc_message(const gchar *stream_id, JsonNode *payload)
{
	JsonObject *obj = json_object_new();

	json_object_set_string_member(obj, "type", "message");
	json_object_set_string_member(obj, "streamId", stream_id);
	json_object_set_member(obj, "payload", payload);
	return frame_of(obj);
}

GBytes *
ucv_ws_rpc_response(const gchar *stream_id, guint status, JsonNode *payload)
{
	JsonObject *obj = json_object_new();

	json_object_set_string_member(obj, "type", "response");
	json_object_set_string_member(obj, "streamId", stream_id);
	json_object_set_int_member(obj, "status", status);
	json_object_set_member(obj, "payload", payload);
	return frame_of(obj);
}

JsonNode *
ucv_ws_rpc_typed_payload(const gchar *type)
{
	JsonObject *obj = json_object_new();
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);

	json_object_set_string_member(obj, "type", type);
	json_node_take_object(node, obj);
	return node;
}
