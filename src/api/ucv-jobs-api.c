/* The jobs calls: bulk bodies in, engine calls, bulk answers out (one response per item). */
#include "config.h"

#include "ucv-jobs-api.h"

#include <glib/gi18n.h>

#include "api/ucv-bulk.h"
#include "api/ucv-compute-support.h"
#include "api/ucv-utilization-api.h"
#include "model/ucv-error.h"
#include "model/ucv-json.h"

/* Parses every item as a Job, or fails naming the first bad item (1-based, as users count). */
static GPtrArray *
ucv_jobs_api_parse_jobs(JsonArray *items, gboolean unwrap, GError **error)
{
	g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func((GDestroyNotify)ucv_job_unref);

	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonNode *item = json_array_get_element(items, i);
		JsonObject *obj = JSON_NODE_HOLDS_OBJECT(item) ? json_node_get_object(item) : NULL;
		JsonNode *wrapped = obj != NULL ? json_object_get_member(obj, "job") : NULL;
		UcvJob *job;

		/* current Core wraps jobs as {"job":Job,…} in some calls */
		if (unwrap && wrapped != NULL && JSON_NODE_HOLDS_OBJECT(wrapped))
			item = wrapped;
		job = ucv_job_new_from_json(item, error);
		if (job == NULL) {
			g_prefix_error(error, _("item %u: "), i + 1);
			return NULL;
		}
		g_ptr_array_add(jobs, job);
	}
	return g_steal_pointer(&jobs);
}

JsonNode *
ucv_jobs_api_create(UcvApiRequest *request, GError **error)
{
	JsonArray *items = ucv_bulk_get_items(request->body, error);
	g_autoptr(GPtrArray) jobs = NULL;
	JsonArray *responses;

	if (items == NULL)
		return NULL;
	jobs = ucv_jobs_api_parse_jobs(items, FALSE, error);
	if (jobs == NULL)
		return NULL;
	if (!ucv_engine_create_jobs(request->engine, jobs, error))
		return NULL;
	responses = json_array_sized_new(jobs->len);
	for (guint i = 0; i < jobs->len; i++) {
		UcvJob *job = g_ptr_array_index(jobs, i);
		JsonObject *response = json_object_new();

		json_object_set_string_member(response, "id", job->id);
		json_array_add_object_element(responses, response);
	}
	return ucv_bulk_wrap_responses(responses);
}

/* The job ids of a bulk request whose items are Jobs, {"job":Job} or just {"id":…}: all three
 * parse as a Job. */
static GPtrArray *
ucv_jobs_api_item_ids(UcvApiRequest *request, GError **error)
{
	JsonArray *items = ucv_bulk_get_items(request->body, error);
	g_autoptr(GPtrArray) jobs = NULL;
	GPtrArray *ids;

	if (items == NULL)
		return NULL;
	jobs = ucv_jobs_api_parse_jobs(items, TRUE, error);
	if (jobs == NULL)
		return NULL;
	ids = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < jobs->len; i++) {
		UcvJob *job = g_ptr_array_index(jobs, i);
		g_ptr_array_add(ids, g_strdup(job->id));
	}
	return ids;
}

typedef gboolean (*UcvJobsCall)(UcvEngine *engine, GPtrArray *job_ids, GError **error);

static JsonNode *
ucv_jobs_api_call_with_ids(UcvApiRequest *request, UcvJobsCall call, GError **error)
{
	g_autoptr(GPtrArray) ids = ucv_jobs_api_item_ids(request, error);

	if (ids == NULL || !call(request->engine, ids, error))
		return NULL;
	return ucv_bulk_empty_responses(ids->len);
}

JsonNode *
ucv_jobs_api_terminate(UcvApiRequest *request, GError **error)
{
	return ucv_jobs_api_call_with_ids(request, ucv_engine_terminate_jobs, error);
}

JsonNode *
ucv_jobs_api_suspend(UcvApiRequest *request, GError **error)
{
	return ucv_jobs_api_call_with_ids(request, ucv_engine_suspend_jobs, error);
}

JsonNode *
ucv_jobs_api_unsuspend(UcvApiRequest *request, GError **error)
{
	return ucv_jobs_api_call_with_ids(request, ucv_engine_unsuspend_jobs, error);
}

/* {"job":Job,"requestedTime":SimpleDuration} → the job id and the milliseconds asked for. */
static gboolean
ucv_jobs_api_parse_extension(JsonNode *item, gchar **job_id, gint64 *added_ms, GError **error)
{
	JsonObject *obj = JSON_NODE_HOLDS_OBJECT(item) ? json_node_get_object(item) : NULL;
	JsonNode *job_node = ucv_json_member(obj, "job");
	g_autoptr(UcvJob) job = NULL;

	if (job_node == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, _("the item has no job"));
		return FALSE;
	}
	job = ucv_job_new_from_json(job_node, error);
	if (job == NULL)
		return FALSE;
	*added_ms = 0;
	if (!ucv_json_read_duration(obj, "requestedTime", added_ms, UCV_ERROR_INVALID, error))
		return FALSE;
	*job_id = g_strdup(job->id);
	return TRUE;
}

JsonNode *
ucv_jobs_api_extend(UcvApiRequest *request, GError **error)
{
	JsonArray *items = ucv_bulk_get_items(request->body, error);
	g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GArray) added = g_array_new(FALSE, FALSE, sizeof(gint64));

	if (items == NULL)
		return NULL;
	for (guint i = 0; i < json_array_get_length(items); i++) {
		gchar *job_id = NULL;
		gint64 ms = 0;

		if (!ucv_jobs_api_parse_extension(json_array_get_element(items, i), &job_id, &ms,
						  error)) {
			g_prefix_error(error, _("item %u: "), i + 1);
			return NULL;
		}
		g_ptr_array_add(ids, job_id);
		g_array_append_val(added, ms);
	}
	if (!ucv_engine_extend_jobs(request->engine, ids, added, error))
		return NULL;
	return ucv_bulk_empty_responses(ids->len);
}

JsonNode *
ucv_jobs_api_verify(UcvApiRequest *request, GError **error)
{
	JsonArray *items = ucv_bulk_get_items(request->body, error);
	g_autoptr(GPtrArray) jobs = NULL;

	if (items == NULL)
		return NULL;
	jobs = ucv_jobs_api_parse_jobs(items, TRUE, error);
	if (jobs == NULL || !ucv_engine_verify_jobs(request->engine, jobs, error))
		return NULL;
	/* the documented answer is an empty object */
	return json_node_init_object(json_node_alloc(), json_object_new());
}

JsonNode *
ucv_jobs_api_retrieve_products(UcvApiRequest *request, GError **error)
{
	GPtrArray *products = ucv_engine_get_products(request->engine);
	const UcvFeatures *features = ucv_engine_get_features(request->engine);
	JsonArray *responses = json_array_sized_new(products->len);

	for (guint i = 0; i < products->len; i++) {
		const UcvProduct *product = g_ptr_array_index(products, i);
		JsonNode *queue =
			ucv_utilization_api_queue_status(ucv_engine_get_scheduler(request->engine));

		/* one host serves every product: they share one queue */
		json_array_add_element(
			responses, ucv_compute_support_to_json(
					   product, features, request->config->provider_id, queue));
	}
	return ucv_bulk_wrap_responses(responses);
}

JsonNode *
ucv_jobs_api_update_acl(UcvApiRequest *request, GError **error)
{
	JsonArray *items = ucv_bulk_get_items(request->body, error);

	/* permissions matter to Core only; the provider has nothing to enforce */
	if (items == NULL)
		return NULL;
	return ucv_bulk_empty_responses(json_array_get_length(items));
}
