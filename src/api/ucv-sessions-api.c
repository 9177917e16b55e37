/* interactiveSession (current) and openInteractiveSession (documented): one handler. Items are
 * {"job":Job,"rank":0,"sessionType":"VNC",…} (current) or {"id":"…","rank":0,…} (documented). */
#define G_LOG_DOMAIN "ucv-api"

#include "config.h"

#include "api/ucv-sessions-api.h"

#include <glib/gi18n.h>

#include "api/ucv-bulk.h"
#include "api/ucv-web-proxy.h"
#include "model/ucv-error.h"
#include "model/ucv-json.h"
#include "model/ucv-job.h"

typedef struct {
	gchar *job_id;
	guint rank;
	gchar *type;
} UcvSessionRequest;

static void
session_request_clear(UcvSessionRequest *request)
{
	g_free(request->job_id);
	g_free(request->type);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UcvSessionRequest, session_request_clear)

static gboolean
parse_item(JsonNode *item, UcvSessionRequest *out, GError **error)
{
	JsonObject *obj = JSON_NODE_HOLDS_OBJECT(item) ? json_node_get_object(item) : NULL;
	JsonNode *wrapped = ucv_json_member(obj, "job");
	g_autoptr(UcvJob) job = NULL;
	gint64 rank = 0;

	if (obj == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    _("the item is not an object"));
		return FALSE;
	}
	/* a Job either way: the documented item carries the job's id itself */
	job = ucv_job_new_from_json(wrapped != NULL ? wrapped : item, error);
	if (job == NULL)
		return FALSE;
	if (!ucv_json_read_int(obj, "rank", 0, G_MAXUINT, &rank, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_string(obj, "sessionType", &out->type, UCV_ERROR_INVALID, error))
		return FALSE;
	if (out->type == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    _("the item has no sessionType"));
		return FALSE;
	}
	out->job_id = g_strdup(job->id);
	out->rank = (guint)rank;
	return TRUE;
}

/* {"type":"vnc","jobId","rank","domainOverride":"","url","password"} */
static JsonNode *
vnc_session(UcvApiRequest *request, const UcvSessionRequest *item, GError **error)
{
	g_autofree gchar *token = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *password = NULL;
	JsonObject *obj;
	JsonNode *node;

	if (!ucv_engine_check_display(request->engine, item->job_id, item->rank, error))
		return NULL;
	token = ucv_session_tokens_issue(request->sessions, item->job_id, item->rank,
					 UCV_SESSION_VNC, error);
	if (token == NULL)
		return NULL;
	url = g_strdup_printf("%s/ucloud/%s" UCV_VNC_PATH_SUFFIX "?token=%s",
			      request->config->public_url, request->config->provider_id, token);
	obj = json_object_new();
	json_object_set_string_member(obj, "type", "vnc");
	json_object_set_string_member(obj, "jobId", item->job_id);
	json_object_set_int_member(obj, "rank", item->rank);
	json_object_set_string_member(obj, "domainOverride", "");
	json_object_set_string_member(obj, "url", url);
	/* a machine's display needs no password beyond the URL's token (libvirt skips VNC
	 * authentication); a VNC application in a container has its own */
	password = ucv_engine_get_vnc_password(request->engine, item->job_id);
	if (password != NULL)
		json_object_set_string_member(obj, "password", password);
	else
		json_object_set_null_member(obj, "password");
	node = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(node, obj);
	return node;
}

/* {"type":"shell","jobId","rank","domainOverride":"","sessionIdentifier"}: the browser opens
 * <public-url>/ucloud/<provider id>/websocket?session=… with it. */
static JsonNode *
shell_session(UcvApiRequest *request, const UcvSessionRequest *item, GError **error)
{
	g_autofree gchar *token = NULL;
	JsonObject *obj;
	JsonNode *node;

	if (!ucv_engine_check_console(request->engine, item->job_id, item->rank, error))
		return NULL;
	token = ucv_session_tokens_issue(request->sessions, item->job_id, item->rank,
					 UCV_SESSION_SHELL, error);
	if (token == NULL)
		return NULL;
	obj = json_object_new();
	json_object_set_string_member(obj, "type", "shell");
	json_object_set_string_member(obj, "jobId", item->job_id);
	json_object_set_int_member(obj, "rank", item->rank);
	json_object_set_string_member(obj, "domainOverride", "");
	json_object_set_string_member(obj, "sessionIdentifier", token);
	node = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(node, obj);
	return node;
}

/* {"type":"web","jobId","rank","domainOverride":"","redirectClientTo"}: the browser goes to the
 * application's own host, which turns the one-time token into a cookie of that host. */
static JsonNode *
web_session(UcvApiRequest *request, const UcvSessionRequest *item, GError **error)
{
	g_autofree gchar *probe = NULL;
	g_autofree gchar *token = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *url = NULL;
	JsonObject *obj;
	JsonNode *node;

	/* the site offers web applications and the job id fits a host name, before anything else */
	probe = ucv_web_proxy_build_app_url(request->config, item->job_id, item->rank, NULL, error);
	if (probe == NULL)
		return NULL;
	if (!ucv_engine_check_web_app(request->engine, item->job_id, item->rank, error))
		return NULL;
	token = ucv_session_tokens_issue(request->sessions, item->job_id, item->rank,
					 UCV_SESSION_WEB, error);
	if (token == NULL)
		return NULL;
	path = g_strdup_printf(UCV_WEB_AUTHORIZE_PATH "?token=%s", token);
	url = ucv_web_proxy_build_app_url(request->config, item->job_id, item->rank, path, error);
	if (url == NULL)
		return NULL;
	obj = json_object_new();
	json_object_set_string_member(obj, "type", "web");
	json_object_set_string_member(obj, "jobId", item->job_id);
	json_object_set_int_member(obj, "rank", item->rank);
	json_object_set_string_member(obj, "domainOverride", "");
	json_object_set_string_member(obj, "redirectClientTo", url);
	node = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(node, obj);
	return node;
}

static JsonNode *
open_one(UcvApiRequest *request, JsonNode *item, guint index, GError **error)
{
	g_auto(UcvSessionRequest) parsed = {0};
	JsonNode *session = NULL;

	if (parse_item(item, &parsed, error)) {
		if (g_strcmp0(parsed.type, "VNC") == 0)
			session = vnc_session(request, &parsed, error);
		else if (g_strcmp0(parsed.type, "SHELL") == 0)
			session = shell_session(request, &parsed, error);
		else if (g_strcmp0(parsed.type, "WEB") == 0)
			session = web_session(request, &parsed, error);
		else
			g_set_error(error, UCV_ERROR, UCV_ERROR_NOT_SUPPORTED,
				    _("Sessions of type %s are not supported by this provider "
				      "yet"),
				    parsed.type);
	}
	if (session == NULL)
		g_prefix_error(error, _("item %u: "), index + 1);
	return session;
}

JsonNode *
ucv_sessions_api_open(UcvApiRequest *request, GError **error)
{
	JsonArray *items = ucv_bulk_get_items(request->body, error);
	g_autoptr(JsonArray) responses = NULL;

	if (items == NULL)
		return NULL;
	responses = json_array_new();
	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonNode *session = open_one(request, json_array_get_element(items, i), i, error);
		if (session == NULL)
			return NULL;
		json_array_add_element(responses, session);
	}
	return ucv_bulk_wrap_responses(g_steal_pointer(&responses));
}
