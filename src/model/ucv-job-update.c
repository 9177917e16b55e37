/* Builds JobUpdate objects in current Core's wire form for jobs/control/update. */
#include "config.h"

#include "ucv-job-update.h"

UcvJobUpdate *
ucv_job_update_new(void)
{
	return g_new0(UcvJobUpdate, 1);
}

UcvJobUpdate *
ucv_job_update_new_state(UcvJobState state, const gchar *status)
{
	UcvJobUpdate *self = ucv_job_update_new();

	self->has_state = TRUE;
	self->state = state;
	self->status = g_strdup(status);
	return self;
}

UcvJobUpdate *
ucv_job_update_new_status(const gchar *status)
{
	UcvJobUpdate *self = ucv_job_update_new();

	self->status = g_strdup(status);
	return self;
}

void
ucv_job_update_free(UcvJobUpdate *self)
{
	if (self == NULL)
		return;
	g_free(self->status);
	g_free(self);
}

static void
ucv_job_update_add_null(JsonBuilder *builder, const gchar *name)
{
	json_builder_set_member_name(builder, name);
	json_builder_add_null_value(builder);
}

static void
ucv_job_update_add_string_or_null(JsonBuilder *builder, const gchar *name, const gchar *value)
{
	json_builder_set_member_name(builder, name);
	if (value != NULL)
		json_builder_add_string_value(builder, value);
	else
		json_builder_add_null_value(builder);
}

JsonNode *
ucv_job_update_to_json(const UcvJobUpdate *self)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	const gchar *state = self->has_state ? ucv_job_state_to_string(self->state) : NULL;

	json_builder_begin_object(builder);
	ucv_job_update_add_string_or_null(builder, "state", state);
	ucv_job_update_add_null(builder, "outputFolder");
	ucv_job_update_add_string_or_null(builder, "status", self->status);
	ucv_job_update_add_null(builder, "expectedState");
	ucv_job_update_add_null(builder, "expectedDifferentState");
	json_builder_set_member_name(builder, "newTimeAllocation");
	if (self->new_time_allocation_ms > 0)
		json_builder_add_int_value(builder, self->new_time_allocation_ms);
	else
		json_builder_add_null_value(builder);
	ucv_job_update_add_null(builder, "allowRestart");
	ucv_job_update_add_null(builder, "resourceList");
	/* current Core rejects "timestamp": null with 400; it stamps the time itself */
	json_builder_set_member_name(builder, "timestamp");
	json_builder_add_int_value(builder, 0);
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

gchar *
ucv_job_update_to_string(const UcvJobUpdate *self)
{
	g_autoptr(JsonNode) node = ucv_job_update_to_json(self);

	return json_to_string(node, FALSE);
}
