/* Builds ComputeSupport (spec §6) with every flag spelled out as a boolean. */
#include "config.h"

#include "ucv-compute-support.h"

static void
ucv_compute_support_add_flag(JsonBuilder *builder, const gchar *name, gboolean value)
{
	json_builder_set_member_name(builder, name);
	json_builder_add_boolean_value(builder, value);
}

static void
ucv_compute_support_add_product(JsonBuilder *builder, const UcvProduct *product,
				const gchar *provider_id)
{
	json_builder_set_member_name(builder, "product");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "id");
	json_builder_add_string_value(builder, product->name);
	json_builder_set_member_name(builder, "category");
	json_builder_add_string_value(builder, product->category);
	json_builder_set_member_name(builder, "provider");
	json_builder_add_string_value(builder,
				      product->provider != NULL ? product->provider : provider_id);
	json_builder_end_object(builder);
}

static void
ucv_compute_support_add_docker(JsonBuilder *builder, const UcvFeatures *f)
{
	json_builder_set_member_name(builder, "docker");
	json_builder_begin_object(builder);
	ucv_compute_support_add_flag(builder, "enabled", f->docker_enabled);
	ucv_compute_support_add_flag(builder, "web", f->docker_web);
	ucv_compute_support_add_flag(builder, "vnc", f->docker_vnc);
	ucv_compute_support_add_flag(builder, "logs", f->docker_logs);
	ucv_compute_support_add_flag(builder, "terminal", f->docker_terminal);
	ucv_compute_support_add_flag(builder, "peers", f->docker_peers);
	ucv_compute_support_add_flag(builder, "timeExtension", f->docker_time_extension);
	ucv_compute_support_add_flag(builder, "utilization", f->docker_utilization);
	json_builder_end_object(builder);
}

static void
ucv_compute_support_add_vm(JsonBuilder *builder, const UcvFeatures *f)
{
	json_builder_set_member_name(builder, "virtualMachine");
	json_builder_begin_object(builder);
	ucv_compute_support_add_flag(builder, "enabled", f->vm_enabled);
	ucv_compute_support_add_flag(builder, "logs", f->vm_logs);
	ucv_compute_support_add_flag(builder, "vnc", f->vm_vnc);
	ucv_compute_support_add_flag(builder, "terminal", f->vm_terminal);
	ucv_compute_support_add_flag(builder, "timeExtension", f->vm_time_extension);
	ucv_compute_support_add_flag(builder, "suspension", f->vm_suspension);
	ucv_compute_support_add_flag(builder, "utilization", f->vm_utilization);
	json_builder_end_object(builder);
}

JsonNode *
ucv_compute_support_to_json(const UcvProduct *product, const UcvFeatures *features,
			    const gchar *provider_id)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();

	json_builder_begin_object(builder);
	ucv_compute_support_add_product(builder, product, provider_id);
	ucv_compute_support_add_docker(builder, features);
	ucv_compute_support_add_vm(builder, features);
	json_builder_set_member_name(builder, "native");
	json_builder_begin_object(builder);
	ucv_compute_support_add_flag(builder, "enabled", FALSE);
	json_builder_end_object(builder);
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}
