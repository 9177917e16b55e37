/* BulkRequest and BulkResponse, the envelope of most provider calls (spec §1). */
#define G_LOG_DOMAIN "ucv-api"

#include "config.h"

#include "api/ucv-bulk.h"

#include <glib/gi18n.h>

#include "model/ucv-error.h"

/* The items of a BulkRequest; null and absent items are the same mistake. */
JsonArray *
ucv_bulk_get_items(JsonNode *body, GError **error)
{
	JsonNode *items;

	if (body == NULL || !JSON_NODE_HOLDS_OBJECT(body)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    _("the request must be a JSON object with items"));
		return NULL;
	}
	items = json_object_get_member(json_node_get_object(body), "items");
	if (items == NULL || JSON_NODE_HOLDS_NULL(items)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    _("the request has no items"));
		return NULL;
	}
	if (!JSON_NODE_HOLDS_ARRAY(items)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    _("items must be an array"));
		return NULL;
	}
	return json_node_get_array(items);
}

JsonNode *
ucv_bulk_wrap_responses(JsonArray *responses)
{
	JsonObject *root = json_object_new();
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);

	json_object_set_array_member(root, "responses", responses);
	json_node_take_object(node, root);
	return node;
}

/* {"responses":[{},…]}: one empty object per item. */
JsonNode *
ucv_bulk_empty_responses(guint count)
{
	JsonArray *responses = json_array_sized_new(count);

	for (guint i = 0; i < count; i++)
		json_array_add_object_element(responses, json_object_new());
	return ucv_bulk_wrap_responses(responses);
}
