/* UCloud's shell frames (the web client's Shell.tsx is the reference): every browser frame is a
 * "….shell.open" call with a payload of type initialize, input or resize. */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-shell-protocol.h"

#include "console/ucv-ws-rpc.h"
#include "model/ucv-error.h"

/* no terminal is larger; anything above is a broken client */
#define MAX_DIMENSION 10000

void
ucv_shell_request_free(UcvShellRequest *request)
{
	if (request == NULL)
		return;
	g_free(request->stream_id);
	g_free(request->session_identifier);
	g_free(request->data);
	g_free(request);
}

static gboolean
read_string(JsonObject *payload, const gchar *name, gboolean required, gchar **out, GError **error)
{
	JsonNode *node = json_object_get_member(payload, name);

	if (node == NULL || JSON_NODE_HOLDS_NULL(node)) {
		if (required)
			g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "%s is missing", name);
		return !required;
	}
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "%s is not a string", name);
		return FALSE;
	}
	*out = g_strdup(json_node_get_string(node));
	return TRUE;
}

static gboolean
read_dimension(JsonObject *payload, const gchar *name, guint *out, GError **error)
{
	JsonNode *node = json_object_get_member(payload, name);
	gint64 value;

	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "%s is not an integer", name);
		return FALSE;
	}
	value = json_node_get_int(node);
	if (value < 0 || value > MAX_DIMENSION) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "%s is out of range", name);
		return FALSE;
	}
	*out = (guint)value;
	return TRUE;
}

static gboolean
parse_payload(JsonObject *payload, UcvShellRequest *request, GError **error)
{
	g_autofree gchar *type = NULL;

	if (!read_string(payload, "type", TRUE, &type, error))
		return FALSE;
	if (g_str_equal(type, "initialize")) {
		request->type = UCV_SHELL_INITIALIZE;
		return read_string(payload, "sessionIdentifier", TRUE, &request->session_identifier,
				   error) &&
		       read_dimension(payload, "cols", &request->cols, error) &&
		       read_dimension(payload, "rows", &request->rows, error);
	}
	if (g_str_equal(type, "input")) {
		request->type = UCV_SHELL_INPUT;
		return read_string(payload, "data", TRUE, &request->data, error);
	}
	if (g_str_equal(type, "resize")) {
		request->type = UCV_SHELL_RESIZE;
		return read_dimension(payload, "cols", &request->cols, error) &&
		       read_dimension(payload, "rows", &request->rows, error);
	}
	g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "unknown shell request type \"%s\"", type);
	return FALSE;
}

UcvShellRequest *
ucv_shell_request_parse(GBytes *frame, GError **error)
{
	g_autoptr(UcvWsRpcRequest) envelope = ucv_ws_rpc_request_parse(frame, error);
	g_autoptr(UcvShellRequest) request = NULL;

	if (envelope == NULL)
		return NULL;
	if (!g_str_has_suffix(envelope->call, ".shell.open")) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "\"%s\" is not a call of the shell", envelope->call);
		return NULL;
	}
	request = g_new0(UcvShellRequest, 1);
	request->stream_id = g_strdup(envelope->stream_id);
	if (!parse_payload(envelope->payload, request, error))
		return NULL;
	return g_steal_pointer(&request);
}

GBytes *
ucv_shell_reply_initialized(const gchar *stream_id)
{
	return ucv_ws_rpc_message(stream_id, ucv_ws_rpc_typed_payload("initialize"));
}

GBytes *
ucv_shell_reply_data(const gchar *stream_id, const gchar *text)
{
	JsonNode *payload = ucv_ws_rpc_typed_payload("data");

	json_object_set_string_member(json_node_get_object(payload), "data", text);
	return ucv_ws_rpc_message(stream_id, payload);
}

GBytes *
ucv_shell_reply_ack(const gchar *stream_id)
{
	return ucv_ws_rpc_message(stream_id, ucv_ws_rpc_typed_payload("ack"));
}
