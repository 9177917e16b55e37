/* The integration calls: this provider maps no users, so both answers are constant. */
#include "config.h"

#include "ucv-integration-api.h"

JsonNode *
ucv_integration_api_retrieve_manifest(UcvApiRequest *request, GError **error)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "enabled");
	json_builder_add_boolean_value(builder, FALSE);
	json_builder_set_member_name(builder, "expireAfterMs");
	json_builder_add_null_value(builder);
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

JsonNode *
ucv_integration_api_init(UcvApiRequest *request, GError **error)
{
	/* Core calls this after a 449/503 and then retries; there is nothing to prepare */
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);

	json_node_take_object(node, json_object_new());
	return node;
}
