/* Values for the command-line builder: the application's defaults overlaid by the job's own. */
#define G_LOG_DOMAIN "ucv-model"

#include "config.h"

#include "ucv-invocation-private.h"

#include "ucv-error.h"
#include "ucv-json.h"

static UcvInvocationValue *
ucv_invocation_value_new(JsonObject *param, JsonObject *value)
{
	UcvInvocationValue *self = g_new0(UcvInvocationValue, 1);

	self->param = param;
	self->value = json_object_ref(value);
	return self;
}

void
ucv_invocation_value_free(UcvInvocationValue *self)
{
	json_object_unref(self->value);
	g_free(self);
}

/* The AppParameterValue type each ApplicationParameter type takes (JobVerifyParameterType); a
 * parameter type not listed takes any value. */
static const struct {
	const gchar *param_type;
	const gchar *value_type;
} ucv_invocation_value_types[] = {
	{"input_file", "file"},
	{"input_directory", "file"},
	{"boolean", "boolean"},
	{"floating_point", "floating_point"},
	{"ingress", "ingress"},
	{"integer", "integer"},
	{"license_server", "license_server"},
	{"network_ip", "network"},
	{"peer", "peer"},
	{"text", "text"},
	{"enumeration", "text"},
	{"textarea", "text"},
	/* the documented (Kotlin-era) API gives textarea values a type of their own */
	{"textarea", "textarea"},
	{"modules", "modules"},
};

static gboolean
ucv_invocation_value_fits(const gchar *param_type, const gchar *value_type)
{
	gboolean constrained = FALSE;

	for (guint i = 0; i < G_N_ELEMENTS(ucv_invocation_value_types); i++) {
		if (g_strcmp0(param_type, ucv_invocation_value_types[i].param_type) != 0)
			continue;
		if (g_strcmp0(value_type, ucv_invocation_value_types[i].value_type) == 0)
			return TRUE;
		constrained = TRUE;
	}
	return !constrained;
}

/* The parameter types that have defaults, with the JSON type the default must have
 * (jobReadDefaultValue). */
static const struct {
	const gchar *param_type;
	const gchar *value_type;
	GType json_type;
} ucv_invocation_default_types[] = {
	{"boolean", "boolean", G_TYPE_BOOLEAN},
	{"integer", "integer", G_TYPE_INT64},
	{"floating_point", "floating_point", G_TYPE_DOUBLE},
	{"text", "text", G_TYPE_STRING},
	{"textarea", "text", G_TYPE_STRING},
	{"enumeration", "text", G_TYPE_STRING},
};

static gboolean
ucv_invocation_default_fits(JsonNode *node, GType json_type)
{
	GType type;

	if (!JSON_NODE_HOLDS_VALUE(node))
		return FALSE;
	type = json_node_get_value_type(node);
	/* Go reads 2 as a float64 but refuses 2.0 for an int64 */
	return type == json_type || (json_type == G_TYPE_DOUBLE && type == G_TYPE_INT64);
}

/* Go's decoder leaves a field that is absent or null at its zero value. */
static JsonNode *
ucv_invocation_zero_node(GType json_type)
{
	JsonNode *node = json_node_new(JSON_NODE_VALUE);

	if (json_type == G_TYPE_BOOLEAN)
		json_node_set_boolean(node, FALSE);
	else if (json_type == G_TYPE_INT64)
		json_node_set_int(node, 0);
	else if (json_type == G_TYPE_DOUBLE)
		json_node_set_double(node, 0.0);
	else
		json_node_set_string(node, "");
	return node;
}

/* A defaultValue as an AppParameterValue: a bare JSON value of the parameter's type, or an
 * object holding it as "value" (both shapes occur). NULL when there is none to use. */
static JsonObject *
ucv_invocation_read_default(const gchar *param_type, JsonNode *node)
{
	JsonObject *value;
	JsonNode *inner;
	guint i;

	for (i = 0; i < G_N_ELEMENTS(ucv_invocation_default_types); i++) {
		if (g_strcmp0(param_type, ucv_invocation_default_types[i].param_type) == 0)
			break;
	}
	if (node == NULL || i == G_N_ELEMENTS(ucv_invocation_default_types))
		return NULL;
	if (JSON_NODE_HOLDS_OBJECT(node)) {
		inner = ucv_json_member(json_node_get_object(node), "value");
		if (inner == NULL)
			inner = ucv_invocation_zero_node(ucv_invocation_default_types[i].json_type);
		else if (ucv_invocation_default_fits(inner,
						     ucv_invocation_default_types[i].json_type))
			inner = json_node_copy(inner);
		else
			return NULL;
	} else if (ucv_invocation_default_fits(node, ucv_invocation_default_types[i].json_type)) {
		inner = json_node_copy(node);
	} else {
		return NULL;
	}
	value = json_object_new();
	json_object_set_string_member(value, "type", ucv_invocation_default_types[i].value_type);
	json_object_set_member(value, "value", inner);
	return value;
}

/* Checks every ApplicationParameter once, so later readers can rely on name and type. */
static gboolean
ucv_invocation_index_params(JsonArray *params, GHashTable *by_name, GError **error)
{
	for (guint i = 0; i < ucv_invocation_array_length(params); i++) {
		JsonObject *param = NULL;
		const gchar *name = NULL, *type = NULL;
		gboolean optional = FALSE;

		if (!ucv_invocation_array_object(params, i, &param, error) ||
		    !ucv_invocation_require_string(param, "name", &name, error) ||
		    !ucv_invocation_require_string(param, "type", &type, error) ||
		    !ucv_json_read_bool(param, "optional", &optional, UCV_ERROR_INVALID, error)) {
			g_prefix_error(error, "parameters[%u]: ", i);
			return FALSE;
		}
		/* the first of a name wins, as in UCloud's lookup */
		if (!g_hash_table_contains(by_name, name))
			g_hash_table_insert(by_name, (gpointer)name, param);
	}
	return TRUE;
}

static void
ucv_invocation_add_defaults(UcvInvocationBuilder *self, JsonArray *params)
{
	for (guint i = 0; i < ucv_invocation_array_length(params); i++) {
		JsonObject *param = json_array_get_object_element(params, i);
		const gchar *name = json_object_get_string_member(param, "name");
		JsonNode *node = ucv_json_member(param, "defaultValue");
		g_autoptr(JsonObject) value = NULL;

		value = ucv_invocation_read_default(ucv_invocation_param_type(param), node);
		if (value != NULL)
			g_hash_table_replace(self->values, g_strdup(name),
					     ucv_invocation_value_new(param, value));
	}
}

static gboolean
ucv_invocation_add_job_value(UcvInvocationBuilder *self, GHashTable *params, const gchar *name,
			     JsonNode *node, GError **error)
{
	JsonObject *param = g_hash_table_lookup(params, name);
	JsonObject *value;
	const gchar *type = NULL;

	if (JSON_NODE_HOLDS_NULL(node))
		return TRUE;
	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, "must be an object");
		return FALSE;
	}
	value = json_node_get_object(node);
	if (!ucv_invocation_get_text(value, "type", &type, error))
		return FALSE;
	/* values Core injects for the provider have no parameter of their own */
	if (g_str_has_prefix(name, "_injected_")) {
		g_hash_table_replace(self->values, g_strdup(name),
				     ucv_invocation_value_new(NULL, value));
		return TRUE;
	}
	/* unknown names (e.g. Core's ucMetricSampleRate) and values of another type are ignored,
	 * which leaves the default in place */
	if (param == NULL)
		return TRUE;
	if (!ucv_invocation_value_fits(ucv_invocation_param_type(param), type)) {
		g_debug("ignoring the %s value of %s parameter %s", type,
			ucv_invocation_param_type(param), name);
		return TRUE;
	}
	g_hash_table_replace(self->values, g_strdup(name), ucv_invocation_value_new(param, value));
	return TRUE;
}

static gboolean
ucv_invocation_add_job_values(UcvInvocationBuilder *self, GHashTable *params, JsonObject *given,
			      GError **error)
{
	JsonObjectIter iter;
	const gchar *name;
	JsonNode *node;

	if (given == NULL)
		return TRUE;
	json_object_iter_init(&iter, given);
	while (json_object_iter_next(&iter, &name, &node)) {
		if (!ucv_invocation_add_job_value(self, params, name, node, error)) {
			g_prefix_error(error, "specification.parameters.%s: ", name);
			return FALSE;
		}
	}
	return TRUE;
}

/* Core refuses a job that lacks a value for a parameter that is neither optional nor has a
 * defaultValue (core2/pkg/orchestrator/job.go); a value of the wrong type counts as none here. */
static gboolean
ucv_invocation_check_required(UcvInvocationBuilder *self, JsonArray *params, GError **error)
{
	for (guint i = 0; i < ucv_invocation_array_length(params); i++) {
		JsonObject *param = json_array_get_object_element(params, i);
		const gchar *name = json_object_get_string_member(param, "name");
		gboolean optional = FALSE;

		if (!ucv_json_read_bool(param, "optional", &optional, UCV_ERROR_INVALID, error))
			return FALSE;
		if (optional || ucv_json_member(param, "defaultValue") != NULL ||
		    g_hash_table_contains(self->values, name))
			continue;
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "missing value for required parameter '%s'", name);
		return FALSE;
	}
	return TRUE;
}

gboolean
ucv_invocation_collect_values(UcvInvocationBuilder *builder, JsonArray *params, JsonObject *given,
			      GError **error)
{
	g_autoptr(GHashTable) by_name = g_hash_table_new(g_str_hash, g_str_equal);

	if (!ucv_invocation_index_params(params, by_name, error))
		return FALSE;
	ucv_invocation_add_defaults(builder, params);
	if (!ucv_invocation_add_job_values(builder, by_name, given, error))
		return FALSE;
	return ucv_invocation_check_required(builder, params, error);
}
