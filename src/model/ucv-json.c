/* Tolerant json-glib member readers shared by the model parsers: absent and null read as unset. */
#include "config.h"

#include "ucv-json.h"

JsonNode *
ucv_json_member(JsonObject *obj, const gchar *name)
{
	JsonNode *node;

	if (obj == NULL)
		return NULL;
	node = json_object_get_member(obj, name);
	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return NULL;
	return node;
}

gboolean
ucv_json_read_object(JsonObject *obj, const gchar *name, JsonObject **out, UcvError code,
		     GError **error)
{
	/* looked up before *out is cleared: callers may walk a path with obj and out the same */
	JsonNode *node = ucv_json_member(obj, name);

	*out = NULL;
	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error(error, UCV_ERROR, code, "%s must be an object", name);
		return FALSE;
	}
	*out = json_node_get_object(node);
	return TRUE;
}

gboolean
ucv_json_read_string(JsonObject *obj, const gchar *name, gchar **out, UcvError code, GError **error)
{
	JsonNode *node = ucv_json_member(obj, name);

	g_clear_pointer(out, g_free);
	if (node == NULL)
		return TRUE;
	if (json_node_get_value_type(node) != G_TYPE_STRING) {
		g_set_error(error, UCV_ERROR, code, "%s must be a string", name);
		return FALSE;
	}
	*out = g_strdup(json_node_get_string(node));
	return TRUE;
}

gboolean
ucv_json_read_bool(JsonObject *obj, const gchar *name, gboolean *out, UcvError code, GError **error)
{
	JsonNode *node = ucv_json_member(obj, name);

	*out = FALSE;
	if (node == NULL)
		return TRUE;
	if (json_node_get_value_type(node) != G_TYPE_BOOLEAN) {
		g_set_error(error, UCV_ERROR, code, "%s must be a boolean", name);
		return FALSE;
	}
	*out = json_node_get_boolean(node);
	return TRUE;
}

static gboolean
ucv_json_node_to_int(JsonNode *node, gboolean whole_doubles, gint64 *out)
{
	GType type = json_node_get_value_type(node);
	gdouble value;

	if (type == G_TYPE_INT64) {
		*out = json_node_get_int(node);
		return TRUE;
	}
	if (type != G_TYPE_DOUBLE || !whole_doubles)
		return FALSE;
	value = json_node_get_double(node);
	/* the range check keeps the cast defined; the comparison rejects fractions */
	if (!(value > -9.0e15 && value < 9.0e15) || (gdouble)(gint64)value != value)
		return FALSE;
	*out = (gint64)value;
	return TRUE;
}

static gboolean
ucv_json_read_int_full(JsonObject *obj, const gchar *name, gint64 min, gint64 max,
		       gboolean whole_doubles, gint64 *out, UcvError code, GError **error)
{
	JsonNode *node = ucv_json_member(obj, name);
	gint64 value = 0;

	if (node == NULL)
		return TRUE;
	if (!ucv_json_node_to_int(node, whole_doubles, &value) || value < min || value > max) {
		g_set_error(error, UCV_ERROR, code,
			    "%s must be an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
			    name, min, max);
		return FALSE;
	}
	*out = value;
	return TRUE;
}

gboolean
ucv_json_read_int(JsonObject *obj, const gchar *name, gint64 min, gint64 max, gint64 *out,
		  UcvError code, GError **error)
{
	return ucv_json_read_int_full(obj, name, min, max, TRUE, out, code, error);
}

gboolean
ucv_json_read_int_strict(JsonObject *obj, const gchar *name, gint64 min, gint64 max, gint64 *out,
			 UcvError code, GError **error)
{
	return ucv_json_read_int_full(obj, name, min, max, FALSE, out, code, error);
}

/* Three centuries: more than any allocation, far below where milliseconds overflow. */
#define UCV_JSON_MAX_HOURS ((gint64)300 * 365 * 24)

gboolean
ucv_json_read_duration(JsonObject *obj, const gchar *name, gint64 *ms_out, UcvError code,
		       GError **error)
{
	JsonObject *duration = NULL;
	gint64 hours = 0, minutes = 0, seconds = 0;

	if (!ucv_json_read_object(obj, name, &duration, code, error))
		return FALSE;
	if (duration == NULL)
		return TRUE;
	if (!ucv_json_read_int(duration, "hours", 0, UCV_JSON_MAX_HOURS, &hours, code, error) ||
	    !ucv_json_read_int(duration, "minutes", 0, UCV_JSON_MAX_HOURS * 60, &minutes, code,
			       error) ||
	    !ucv_json_read_int(duration, "seconds", 0, UCV_JSON_MAX_HOURS * 3600, &seconds, code,
			       error)) {
		g_prefix_error(error, "%s: ", name);
		return FALSE;
	}
	*ms_out = ((hours * 60 + minutes) * 60 + seconds) * 1000;
	return TRUE;
}
