/* Rendering one value as a word of the command line (JobDefaultArgBuilder of UCloud). */
#define G_LOG_DOMAIN "ucv-model"

#include "config.h"

#include "ucv-invocation-private.h"

#include "ucv-error.h"
#include "ucv-invocation-text.h"
#include "ucv-json.h"

static gchar *
ucv_invocation_render_string(JsonObject *value, const gchar *member, GError **error)
{
	const gchar *str = NULL;

	if (!ucv_invocation_require_string(value, member, &str, error))
		return NULL;
	return g_strdup(str);
}

/* The Go builder prints a job's number through an interface holding a float64, so an integer of
 * a million or more would come out as 1e+06; its own defaults (int64) and the Kotlin builder
 * print integers in plain decimal, which is what applications parse, so integers are decimal
 * here. Fractions follow Go's float formatting. */
static gchar *
ucv_invocation_render_number(JsonObject *value, gboolean integer, GError **error)
{
	JsonNode *node = ucv_json_member(value, "value");
	GType type = node != NULL ? json_node_get_value_type(node) : G_TYPE_INVALID;
	gdouble v;

	if (type == G_TYPE_INT64 && integer)
		return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(node));
	if (type != G_TYPE_INT64 && type != G_TYPE_DOUBLE) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, "value must be a number");
		return NULL;
	}
	v = json_node_get_double(node);
	if (integer && v > -9.0e15 && v < 9.0e15 && (gdouble)(gint64)v == v)
		return g_strdup_printf("%" G_GINT64_FORMAT, (gint64)v);
	return ucv_invocation_format_double(v);
}

static gchar *
ucv_invocation_render_boolean(const UcvInvocationValue *pv, GError **error)
{
	JsonNode *node = ucv_json_member(pv->value, "value");
	const gchar *word = NULL;
	gboolean b;

	if (node == NULL || json_node_get_value_type(node) != G_TYPE_BOOLEAN) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, "value must be a boolean");
		return NULL;
	}
	b = json_node_get_boolean(node);
	if (!ucv_invocation_get_string(pv->param, b ? "trueValue" : "falseValue", &word, error))
		return NULL;
	/* an empty trueValue/falseValue means the plain word */
	if (word == NULL || *word == '\0')
		word = b ? "true" : "false";
	return g_strdup(word);
}

/* The value names an option; the option's value is the word, or the value itself when no option
 * has that name. */
static gchar *
ucv_invocation_render_enumeration(const UcvInvocationValue *pv, GError **error)
{
	JsonArray *options = NULL;
	const gchar *chosen = NULL;

	if (!ucv_invocation_require_string(pv->value, "value", &chosen, error) ||
	    !ucv_invocation_get_array(pv->param, "options", &options, error))
		return NULL;
	for (guint i = 0; i < ucv_invocation_array_length(options); i++) {
		JsonObject *option = NULL;
		const gchar *name = NULL, *word = NULL;

		if (!ucv_invocation_array_object(options, i, &option, error) ||
		    !ucv_invocation_get_text(option, "name", &name, error) ||
		    !ucv_invocation_get_text(option, "value", &word, error)) {
			g_prefix_error(error, "options: ");
			return NULL;
		}
		if (g_strcmp0(name, chosen) == 0)
			return g_strdup(word);
	}
	return g_strdup(chosen);
}

/* Both UCloud builders put a mount without an explicit mountPath at /work/<its name>. */
static gchar *
ucv_invocation_default_file_path(const gchar *ucloud_path)
{
	g_auto(GStrv) parts = g_strsplit(ucloud_path, "/", -1);
	const gchar *last = NULL;

	for (guint i = 0; parts[i] != NULL; i++) {
		if (*parts[i] != '\0')
			last = parts[i];
	}
	/* no component at all: the path as given, as the Kotlin builder does */
	if (last == NULL)
		return g_strdup(ucloud_path);
	return g_build_filename("/work", last, NULL);
}

static gchar *
ucv_invocation_render_file(UcvInvocationBuilder *self, JsonObject *value, GError **error)
{
	const gchar *path = NULL;
	gchar *mapped;

	if (!ucv_invocation_require_string(value, "path", &path, error))
		return NULL;
	if (self->paths == NULL || self->paths->file_path == NULL)
		return ucv_invocation_default_file_path(path);
	mapped = self->paths->file_path(path, self->paths->user_data);
	if (mapped == NULL)
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "%s is not available inside the job", path);
	return mapped;
}

gchar *
ucv_invocation_render(UcvInvocationBuilder *self, const gchar *name, const UcvInvocationValue *pv,
		      GError **error)
{
	const gchar *type = ucv_invocation_param_type(pv->param);
	gchar *word = NULL;

	if (g_strcmp0(type, "text") == 0 || g_strcmp0(type, "textarea") == 0)
		word = ucv_invocation_render_string(pv->value, "value", error);
	else if (g_strcmp0(type, "integer") == 0)
		word = ucv_invocation_render_number(pv->value, TRUE, error);
	else if (g_strcmp0(type, "floating_point") == 0)
		word = ucv_invocation_render_number(pv->value, FALSE, error);
	else if (g_strcmp0(type, "boolean") == 0)
		word = ucv_invocation_render_boolean(pv, error);
	else if (g_strcmp0(type, "enumeration") == 0)
		word = ucv_invocation_render_enumeration(pv, error);
	else if (g_strcmp0(type, "input_file") == 0 || g_strcmp0(type, "input_directory") == 0)
		word = ucv_invocation_render_file(self, pv->value, error);
	else if (g_strcmp0(type, "peer") == 0)
		word = ucv_invocation_render_string(pv->value, "hostname", error);
	else if (g_strcmp0(type, "license_server") == 0 || g_strcmp0(type, "network_ip") == 0 ||
		 g_strcmp0(type, "ingress") == 0)
		/* UCloud's integration swaps a license id for its server address from the site's
		 * configuration first; this layer knows no such configuration */
		word = ucv_invocation_render_string(pv->value, "id", error);
	else
		/* workflow, modules, injected values and types UCloud's builder does not know */
		word = g_strdup("");
	if (word == NULL)
		g_prefix_error(error, "parameter '%s': ", name);
	return word;
}
