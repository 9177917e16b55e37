/* Capacity and queue as Core reads them: retrieveUtilization and ComputeSupport's queueStatus. */
#include "config.h"

#include "ucv-utilization-api.h"

#define UCV_MIB 1048576

static JsonNode *
capacity_to_json(gdouble cpus, guint64 memory_mib)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "cpu");
	json_builder_add_double_value(builder, cpus);
	json_builder_set_member_name(builder, "memory");
	json_builder_add_int_value(builder, (gint64)(memory_mib * UCV_MIB));
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

JsonNode *
ucv_utilization_api_queue_status(UcvScheduler *scheduler)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "running");
	json_builder_add_int_value(builder, ucv_scheduler_get_n_running(scheduler));
	json_builder_set_member_name(builder, "pending");
	json_builder_add_int_value(builder, ucv_scheduler_get_n_pending(scheduler));
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

JsonNode *
ucv_utilization_api_retrieve(UcvApiRequest *request, GError **error)
{
	UcvScheduler *scheduler = ucv_engine_get_scheduler(request->engine);
	JsonObject *root = json_object_new();
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);
	gdouble cpus = 0;
	guint64 memory_mib = 0;

	ucv_scheduler_get_capacity(scheduler, &cpus, &memory_mib, NULL);
	json_object_set_member(root, "capacity", capacity_to_json(cpus, memory_mib));
	ucv_scheduler_get_used(scheduler, &cpus, &memory_mib, NULL);
	json_object_set_member(root, "usedCapacity", capacity_to_json(cpus, memory_mib));
	json_object_set_member(root, "queueStatus", ucv_utilization_api_queue_status(scheduler));
	json_node_take_object(node, root);
	return node;
}
