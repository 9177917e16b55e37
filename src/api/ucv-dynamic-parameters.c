/* requestDynamicParameters: the parameters the provider adds to an application's own. */
#include "config.h"

#include "ucv-dynamic-parameters.h"

#include <glib/gi18n.h>

#include "model/ucv-error.h"
#include "model/ucv-json.h"

/* application.invocation.tool.tool.description.backend, or NULL. */
static gchar *
application_backend(JsonNode *body, GError **error)
{
	const gchar *path[] = {"application", "invocation", "tool", "tool", "description"};
	JsonObject *obj =
		body != NULL && JSON_NODE_HOLDS_OBJECT(body) ? json_node_get_object(body) : NULL;
	g_autofree gchar *backend = NULL;

	if (obj == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    _("the request must be a JSON object with an application"));
		return NULL;
	}
	for (guint i = 0; i < G_N_ELEMENTS(path) && obj != NULL; i++) {
		if (!ucv_json_read_object(obj, path[i], &obj, UCV_ERROR_INVALID, error))
			return NULL;
	}
	if (!ucv_json_read_string(obj, "backend", &backend, UCV_ERROR_INVALID, error))
		return NULL;
	return g_steal_pointer(&backend);
}

static void
add_disk_size(JsonBuilder *builder, const UcvConfig *config)
{
	g_autofree gchar *description =
		g_strdup_printf(_("The size of the virtual machine's disk, from %u to %u GiB"),
				config->disk_min_gib, config->disk_max_gib);

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "type");
	json_builder_add_string_value(builder, "integer");
	json_builder_set_member_name(builder, "name");
	json_builder_add_string_value(builder, "diskSize");
	json_builder_set_member_name(builder, "optional");
	json_builder_add_boolean_value(builder, TRUE);
	json_builder_set_member_name(builder, "title");
	json_builder_add_string_value(builder, _("Disk size (GiB)"));
	json_builder_set_member_name(builder, "description");
	json_builder_add_string_value(builder, description);
	json_builder_set_member_name(builder, "min");
	json_builder_add_int_value(builder, config->disk_min_gib);
	json_builder_set_member_name(builder, "max");
	json_builder_add_int_value(builder, config->disk_max_gib);
	json_builder_set_member_name(builder, "step");
	json_builder_add_int_value(builder, 1);
	if (config->disk_default_gib > 0) {
		json_builder_set_member_name(builder, "defaultValue");
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "type");
		json_builder_add_string_value(builder, "integer");
		json_builder_set_member_name(builder, "value");
		json_builder_add_int_value(builder, config->disk_default_gib);
		json_builder_end_object(builder);
	}
	json_builder_end_object(builder);
}

JsonNode *
ucv_dynamic_parameters_request(UcvApiRequest *request, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *backend = application_backend(request->body, &error_local);
	g_autoptr(JsonBuilder) builder = json_builder_new();

	if (error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "parameters");
	json_builder_begin_array(builder);
	if (g_strcmp0(backend, "VIRTUAL_MACHINE") == 0)
		add_disk_size(builder, request->config);
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}
