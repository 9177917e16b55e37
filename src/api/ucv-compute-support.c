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

typedef struct {
	const gchar *name;
	gboolean value;
} UcvComputeSupportFlag;

static void
ucv_compute_support_add_group(JsonBuilder *builder, const gchar *name,
			      const UcvComputeSupportFlag *flags, gsize n_flags)
{
	json_builder_set_member_name(builder, name);
	json_builder_begin_object(builder);
	for (gsize i = 0; i < n_flags; i++)
		ucv_compute_support_add_flag(builder, flags[i].name, flags[i].value);
	json_builder_end_object(builder);
}

/* Each table lists its flags in the order they appear on the wire. */
static void
ucv_compute_support_add_features(JsonBuilder *builder, const UcvFeatures *f)
{
	const UcvComputeSupportFlag docker[] = {
		{"enabled", f->docker_enabled},
		{"web", f->docker_web},
		{"vnc", f->docker_vnc},
		{"logs", f->docker_logs},
		{"terminal", f->docker_terminal},
		{"peers", f->docker_peers},
		{"timeExtension", f->docker_time_extension},
		{"utilization", f->docker_utilization},
	};
	const UcvComputeSupportFlag vm[] = {
		{"enabled", f->vm_enabled},
		{"logs", f->vm_logs},
		{"vnc", f->vm_vnc},
		{"terminal", f->vm_terminal},
		{"timeExtension", f->vm_time_extension},
		{"suspension", f->vm_suspension},
		{"utilization", f->vm_utilization},
	};
	const UcvComputeSupportFlag native[] = {
		{"enabled", FALSE},
	};

	ucv_compute_support_add_group(builder, "docker", docker, G_N_ELEMENTS(docker));
	ucv_compute_support_add_group(builder, "virtualMachine", vm, G_N_ELEMENTS(vm));
	ucv_compute_support_add_group(builder, "native", native, G_N_ELEMENTS(native));
}

JsonNode *
ucv_compute_support_to_json(const UcvProduct *product, const UcvFeatures *features,
			    const gchar *provider_id, JsonNode *queue_status)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();

	json_builder_begin_object(builder);
	ucv_compute_support_add_product(builder, product, provider_id);
	ucv_compute_support_add_features(builder, features);
	if (queue_status != NULL) {
		json_builder_set_member_name(builder, "queueStatus");
		json_builder_add_value(builder, queue_status);
	}
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}
