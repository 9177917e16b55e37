/* Turns GErrors into HTTP answers that UCloud/Core understands (CommonErrorMessage). */
#include "config.h"

#define G_LOG_DOMAIN "ucv-api"

#include "ucv-http-error.h"

#include <string.h>

#include "model/ucv-error.h"

guint
ucv_http_error_status(const GError *error)
{
	if (error == NULL || error->domain != UCV_ERROR)
		return SOUP_STATUS_INTERNAL_SERVER_ERROR;
	switch ((UcvError)error->code) {
	case UCV_ERROR_INVALID:
	case UCV_ERROR_NOT_SUPPORTED:
		return SOUP_STATUS_BAD_REQUEST;
	case UCV_ERROR_NOT_FOUND:
		return SOUP_STATUS_NOT_FOUND;
	case UCV_ERROR_UNAUTHORIZED:
		return SOUP_STATUS_UNAUTHORIZED;
	case UCV_ERROR_TOO_LARGE:
		return SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE;
	case UCV_ERROR_PAYMENT_REQUIRED:
		return SOUP_STATUS_PAYMENT_REQUIRED;
	case UCV_ERROR_UNAVAILABLE:
		/* Core answers 503 by calling integration/init and retrying */
		return SOUP_STATUS_SERVICE_UNAVAILABLE;
	default:
		return SOUP_STATUS_INTERNAL_SERVER_ERROR;
	}
}

const gchar *
ucv_http_error_code(const GError *error)
{
	if (g_error_matches(error, UCV_ERROR, UCV_ERROR_NOT_SUPPORTED))
		return "NOT_SUPPORTED";
	return NULL;
}

gchar *
ucv_http_error_body(guint status, const gchar *why, const gchar *error_code)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "statusCode");
	json_builder_add_int_value(builder, status);
	json_builder_set_member_name(builder, "why");
	json_builder_add_string_value(builder, why != NULL ? why : soup_status_get_phrase(status));
	if (error_code != NULL) {
		json_builder_set_member_name(builder, "errorCode");
		json_builder_add_string_value(builder, error_code);
	}
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return json_to_string(root, FALSE);
}

static void
ucv_http_set_json_body(SoupServerMessage *msg, gchar *json)
{
	soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, json,
					 strlen(json));
}

void
ucv_http_respond_status(SoupServerMessage *msg, guint status, const gchar *why,
			const gchar *error_code)
{
	if (status == SOUP_STATUS_UNAUTHORIZED)
		soup_message_headers_replace(soup_server_message_get_response_headers(msg),
					     "WWW-Authenticate", "Bearer");
	soup_server_message_set_status(msg, status, NULL);
	ucv_http_set_json_body(msg, ucv_http_error_body(status, why, error_code));
}

void
ucv_http_error_respond(SoupServerMessage *msg, const GError *error)
{
	guint status = ucv_http_error_status(error);
	const gchar *why = error != NULL ? error->message : NULL;

	/* Core hides 5xx texts from users; the log is where an admin will look */
	if (status >= 500)
		g_warning("%s %s: %s", soup_server_message_get_method(msg),
			  g_uri_get_path(soup_server_message_get_uri(msg)), why);
	ucv_http_respond_status(msg, status, why, ucv_http_error_code(error));
}

void
ucv_http_respond_json(SoupServerMessage *msg, JsonNode *node)
{
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	ucv_http_set_json_body(msg, json_to_string(node, FALSE));
}
