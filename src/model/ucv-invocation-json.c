/* JSON readers of the command-line builder, with the shapes and zero values UCloud's Go structs
 * give. */
#define G_LOG_DOMAIN "ucv-model"

#include "config.h"

#include "ucv-invocation-private.h"

#include "ucv-error.h"
#include "ucv-json.h"

/* Borrowed; NULL when absent or null. */
gboolean
ucv_invocation_get_string(JsonObject *obj, const gchar *name, const gchar **out, GError **error)
{
	JsonNode *node = ucv_json_member(obj, name);

	*out = NULL;
	if (node == NULL)
		return TRUE;
	if (json_node_get_value_type(node) != G_TYPE_STRING) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "%s must be a string", name);
		return FALSE;
	}
	*out = json_node_get_string(node);
	return TRUE;
}

/* Absent and null read as "", the zero value UCloud's Go structs give them. */
gboolean
ucv_invocation_get_text(JsonObject *obj, const gchar *name, const gchar **out, GError **error)
{
	if (!ucv_invocation_get_string(obj, name, out, error))
		return FALSE;
	if (*out == NULL)
		*out = "";
	return TRUE;
}

/* For the fields a value cannot do without. */
gboolean
ucv_invocation_require_string(JsonObject *obj, const gchar *name, const gchar **out, GError **error)
{
	if (!ucv_invocation_get_string(obj, name, out, error))
		return FALSE;
	if (*out == NULL) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "%s must be a string", name);
		return FALSE;
	}
	return TRUE;
}

/* Absent and null read as NULL, which callers treat as empty. */
gboolean
ucv_invocation_get_array(JsonObject *obj, const gchar *name, JsonArray **out, GError **error)
{
	JsonNode *node = ucv_json_member(obj, name);

	*out = NULL;
	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_ARRAY(node)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "%s must be an array", name);
		return FALSE;
	}
	*out = json_node_get_array(node);
	return TRUE;
}

guint
ucv_invocation_array_length(JsonArray *array)
{
	return array != NULL ? json_array_get_length(array) : 0;
}

gboolean
ucv_invocation_array_object(JsonArray *array, guint index, JsonObject **out, GError **error)
{
	JsonNode *node = json_array_get_element(array, index);

	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "entry %u must be an object",
			    index);
		return FALSE;
	}
	*out = json_node_get_object(node);
	return TRUE;
}

/* Type of a parameter already checked by ucv_invocation_index_params. */
const gchar *
ucv_invocation_param_type(JsonObject *param)
{
	return param != NULL ? json_object_get_string_member(param, "type") : "";
}
