/* Bodies and answers of UCloud's accounting calls, in Core's exact wire form. */
#include "config.h"

#include "ucv-accounting-calls.h"

#include "model/ucv-error.h"
#include "model/ucv-json.h"

/* current Core names the wallet's owner either by user or by project, never both */
static void
ucv_usage_add_owner(JsonBuilder *builder, const UcvUsageReport *report)
{
	gboolean project = report->project != NULL && report->project[0] != '\0';

	json_builder_set_member_name(builder, "owner");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "type");
	json_builder_add_string_value(builder, project ? "project" : "user");
	json_builder_set_member_name(builder, "username");
	json_builder_add_string_value(builder, project ? "" : report->created_by);
	json_builder_set_member_name(builder, "projectId");
	json_builder_add_string_value(builder, project ? report->project : "");
	json_builder_end_object(builder);
}

static void
ucv_usage_add_report(JsonBuilder *builder, const UcvUsageReport *report)
{
	g_autofree gchar *scope = g_strconcat("job-", report->job_id, NULL);

	json_builder_begin_object(builder);
	/* absolute usage per scope: a repeated or late report cannot charge twice */
	json_builder_set_member_name(builder, "isDeltaCharge");
	json_builder_add_boolean_value(builder, FALSE);
	ucv_usage_add_owner(builder, report);
	json_builder_set_member_name(builder, "categoryIdV2");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "name");
	json_builder_add_string_value(builder, report->category);
	json_builder_set_member_name(builder, "provider");
	json_builder_add_string_value(builder, report->provider);
	json_builder_end_object(builder);
	json_builder_set_member_name(builder, "usage");
	json_builder_add_int_value(builder, report->usage);
	json_builder_set_member_name(builder, "description");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "scope");
	json_builder_add_string_value(builder, scope);
	json_builder_set_member_name(builder, "description");
	json_builder_add_null_value(builder);
	json_builder_end_object(builder);
	json_builder_end_object(builder);
}

static gchar *
ucv_accounting_items_to_string(JsonBuilder *builder)
{
	g_autoptr(JsonNode) root = NULL;

	json_builder_end_array(builder);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return json_to_string(root, FALSE);
}

static void
ucv_accounting_begin_items(JsonBuilder *builder)
{
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "items");
	json_builder_begin_array(builder);
}

gchar *
ucv_usage_reports_to_json(const UcvUsageReport *reports, guint n_reports)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();

	ucv_accounting_begin_items(builder);
	for (guint i = 0; i < n_reports; i++)
		ucv_usage_add_report(builder, &reports[i]);
	return ucv_accounting_items_to_string(builder);
}

static gboolean
ucv_accounting_bad_answer(const gchar *call, GError **error)
{
	g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED,
		    "Core's answer to %s has an unexpected form", call);
	return FALSE;
}

gboolean
ucv_usage_reports_parse_answer(JsonNode *answer, guint n_reports, gboolean *accepted,
			       GError **error)
{
	JsonNode *responses;
	JsonArray *array;

	if (answer == NULL || !JSON_NODE_HOLDS_OBJECT(answer))
		return ucv_accounting_bad_answer("reportUsage", error);
	responses = json_object_get_member(json_node_get_object(answer), "responses");
	if (responses == NULL || !JSON_NODE_HOLDS_ARRAY(responses))
		return ucv_accounting_bad_answer("reportUsage", error);
	array = json_node_get_array(responses);
	if (json_array_get_length(array) != n_reports)
		return ucv_accounting_bad_answer("reportUsage", error);
	for (guint i = 0; i < n_reports; i++) {
		JsonNode *element = json_array_get_element(array, i);
		if (!JSON_NODE_HOLDS_VALUE(element) ||
		    json_node_get_value_type(element) != G_TYPE_BOOLEAN)
			return ucv_accounting_bad_answer("reportUsage", error);
		accepted[i] = json_node_get_boolean(element);
	}
	return TRUE;
}

gchar *
ucv_credit_charge_id(const gchar *job_id, gint64 period)
{
	return g_strdup_printf("job-%s-period-%" G_GINT64_FORMAT, job_id, period);
}

gchar *
ucv_credit_charge_to_json(const UcvCreditCharge *charge)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();

	ucv_accounting_begin_items(builder);
	for (gint64 period = charge->first_period; period <= charge->last_period; period++) {
		g_autofree gchar *charge_id = ucv_credit_charge_id(charge->job_id, period);

		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "id");
		json_builder_add_string_value(builder, charge->job_id);
		json_builder_set_member_name(builder, "chargeId");
		json_builder_add_string_value(builder, charge_id);
		json_builder_set_member_name(builder, "units");
		json_builder_add_int_value(builder, charge->units);
		json_builder_set_member_name(builder, "periods");
		json_builder_add_int_value(builder, 1);
		json_builder_end_object(builder);
	}
	return ucv_accounting_items_to_string(builder);
}

/* An absent or null list is an empty one: Core leaves out what it has nothing to say about. */
static gboolean
ucv_credit_list_names(JsonObject *root, const gchar *member, const gchar *job_id, gboolean *listed)
{
	JsonNode *node = json_object_get_member(root, member);
	JsonArray *array;

	*listed = FALSE;
	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return TRUE;
	if (!JSON_NODE_HOLDS_ARRAY(node))
		return FALSE;
	array = json_node_get_array(node);
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *element = json_array_get_element(array, i);
		g_autofree gchar *id = NULL;

		if (!JSON_NODE_HOLDS_OBJECT(element) ||
		    !ucv_json_read_string(json_node_get_object(element), "id", &id,
					  UCV_ERROR_FAILED, NULL))
			return FALSE;
		if (g_strcmp0(id, job_id) == 0)
			*listed = TRUE;
	}
	return TRUE;
}

gboolean
ucv_credit_charge_parse_answer(JsonNode *answer, const gchar *job_id, gboolean *insufficient,
			       GError **error)
{
	gboolean duplicate = FALSE;

	/* an empty body is an answer without complaints */
	if (answer == NULL) {
		*insufficient = FALSE;
		return TRUE;
	}
	if (!JSON_NODE_HOLDS_OBJECT(answer) ||
	    !ucv_credit_list_names(json_node_get_object(answer), "insufficientFunds", job_id,
				   insufficient) ||
	    !ucv_credit_list_names(json_node_get_object(answer), "duplicateCharges", job_id,
				   &duplicate))
		return ucv_accounting_bad_answer("chargeCredits", error);
	return TRUE;
}
