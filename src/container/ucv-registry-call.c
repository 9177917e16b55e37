/* Registry requests: a 401 with a bearer challenge fetches a token from the realm it names and
 * repeats the request once; bodies are read in chunks with a cap, so a hostile registry cannot
 * make the daemon hold more than it asked for. */
#define G_LOG_DOMAIN "ucv-container"

#include "config.h"

#include "ucv-registry-call.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "model/ucv-error.h"

#define MAX_TOKEN (64 * 1024)
#define CHUNK     (64 * 1024)
void
ucv_registry_call_free(UcvRegistryCall *call)
{
	g_clear_object(&call->client);
	ucv_image_ref_free(call->ref);
	g_free(call->url);
	g_clear_pointer(&call->sink.buffer, g_byte_array_unref);
	g_clear_object(&call->sink.file);
	g_clear_pointer(&call->sink.checksum, g_checksum_free);
	g_clear_pointer(&call->token_sink.buffer, g_byte_array_unref);
	g_clear_object(&call->body);
	if (call->temp_path != NULL)
		g_unlink(call->temp_path);
	g_free(call->temp_path);
	g_free(call->blob_digest);
	g_free(call->blob_path);
	g_free(call);
}

UcvRegistryCall *
ucv_registry_call_new(UcvRegistryClient *client, const UcvImageRef *ref)
{
	UcvRegistryCall *call = g_new0(UcvRegistryCall, 1);

	call->client = g_object_ref(client);
	call->ref = ucv_image_ref_copy(ref);
	call->active = &call->sink;
	return call;
}

static gchar *
token_key(const UcvImageRef *ref)
{
	return g_strdup_printf("%s/%s", ref->registry, ref->repository);
}

/* A failure to reach the registry at all, as the job's status will say it. */
static void
return_unreachable(GTask *task, const UcvImageRef *ref, const GError *cause)
{
	g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_UNAVAILABLE,
				"the registry %s cannot be reached: %s", ref->registry,
				cause->message);
}

static void
return_status(GTask *task, UcvRegistryCall *call, guint status)
{
	g_autofree gchar *image = ucv_image_ref_to_string(call->ref);

	if (status == SOUP_STATUS_NOT_FOUND)
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_NOT_FOUND,
					"the image %s does not exist in its registry", image);
	else if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN)
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
					"the registry refuses access to %s (HTTP %u)", image,
					status);
	else
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_UNAVAILABLE,
					"the registry answered HTTP %u for %s", status, image);
}

/* Body pumping
 * ---------------------------------------------------------------------------------------------- */

static gboolean
sink_take(UcvBodySink *sink, GBytes *chunk, GError **error)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(chunk, &len);

	sink->received += len;
	if (sink->received > sink->max_bytes) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_TOO_LARGE,
			    "the registry sent more than the %" G_GUINT64_FORMAT " bytes expected",
			    sink->max_bytes);
		return FALSE;
	}
	if (sink->buffer != NULL)
		g_byte_array_append(sink->buffer, data, len);
	if (sink->checksum != NULL)
		g_checksum_update(sink->checksum, data, len);
	if (sink->file != NULL &&
	    !g_output_stream_write_all(sink->file, data, len, NULL, NULL, error))
		return FALSE;
	if (sink->progress != NULL)
		sink->progress(sink->received, sink->expected, sink->progress_data);
	return TRUE;
}

static void pump(GTask *task);
static void on_token_body(GTask *task);

static void
on_chunk(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GTask *task = user_data;
	UcvRegistryCall *call = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) chunk =
		g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), res, &error);

	if (chunk == NULL) {
		return_unreachable(task, call->ref, error);
		g_object_unref(task);
		return;
	}
	if (g_bytes_get_size(chunk) == 0) {
		if (call->active == &call->token_sink)
			on_token_body(task);
		else
			call->done(task);
		g_object_unref(task);
		return;
	}
	if (!sink_take(call->active, chunk, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		g_object_unref(task);
		return;
	}
	pump(task);
}

/* Reads the body chunk by chunk into the active sink, then goes on with what follows it. */
static void
pump(GTask *task)
{
	UcvRegistryCall *call = g_task_get_task_data(task);

	g_input_stream_read_bytes_async(call->body, CHUNK, G_PRIORITY_LOW,
					g_task_get_cancellable(task), on_chunk, task);
}

/* Sending, with one token fetch on a bearer challenge
 * ---------------------------------------------------------------------------------------------- */

/* realm, service and scope of `Bearer realm="…",service="…",scope="…"` */
static GHashTable *
parse_challenge(const gchar *header)
{
	if (header == NULL || g_ascii_strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	return soup_header_parse_param_list(header + 7);
}

static void
on_token_body(GTask *task)
{
	UcvRegistryCall *call = g_task_get_task_data(task);
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonObject *root;
	const gchar *token = NULL;

	if (json_parser_load_from_data(parser, (const gchar *)call->token_sink.buffer->data,
				       call->token_sink.buffer->len, NULL) &&
	    JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
		root = json_node_get_object(json_parser_get_root(parser));
		token = json_object_get_string_member_with_default(root, "token", NULL);
		if (token == NULL)
			token = json_object_get_string_member_with_default(root, "access_token",
									   NULL);
	}
	if (token == NULL) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
					"the registry %s gave no usable access token",
					call->ref->registry);
		return;
	}
	g_hash_table_insert(ucv_registry_client_get_tokens(call->client), token_key(call->ref),
			    g_strdup(token));
	call->active = &call->sink;
	call->retried = TRUE;
	ucv_registry_call_send(g_object_ref(task));
}

static void
on_token_sent(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GTask *task = user_data;
	UcvRegistryCall *call = g_task_get_task_data(task);
	SoupMessage *msg = soup_session_get_async_result_message(SOUP_SESSION(source), res);
	g_autoptr(GError) error = NULL;

	call->body = soup_session_send_finish(SOUP_SESSION(source), res, &error);
	if (call->body == NULL) {
		return_unreachable(task, call->ref, error);
		g_object_unref(task);
		return;
	}
	if (!SOUP_STATUS_IS_SUCCESSFUL(soup_message_get_status(msg))) {
		return_status(task, call, soup_message_get_status(msg));
		g_object_unref(task);
		return;
	}
	g_clear_pointer(&call->token_sink.buffer, g_byte_array_unref);
	call->token_sink.buffer = g_byte_array_new();
	call->token_sink.received = 0;
	call->token_sink.max_bytes = MAX_TOKEN;
	call->active = &call->token_sink;
	pump(task);
}

static const gchar *
lookup_or_empty(GHashTable *params, const gchar *name)
{
	const gchar *value = g_hash_table_lookup(params, name);

	return value != NULL ? value : "";
}

/* Asks the challenge's realm for a pull token; FALSE when the challenge is not one to follow. */
static gboolean
fetch_token(GTask *task, const gchar *header)
{
	UcvRegistryCall *call = g_task_get_task_data(task);
	g_autoptr(GHashTable) params = parse_challenge(header);
	const gchar *realm = params != NULL ? g_hash_table_lookup(params, "realm") : NULL;
	g_autoptr(GUri) uri = realm != NULL ? g_uri_parse(realm, G_URI_FLAGS_NONE, NULL) : NULL;
	g_autofree gchar *query = NULL;
	g_autoptr(SoupMessage) msg = NULL;
	g_autofree gchar *url = NULL;

	if (call->retried || uri == NULL ||
	    (g_strcmp0(g_uri_get_scheme(uri), "https") != 0 &&
	     g_strcmp0(g_uri_get_scheme(uri), "http") != 0))
		return FALSE;
	query = soup_form_encode("service", lookup_or_empty(params, "service"), "scope",
				 lookup_or_empty(params, "scope"), NULL);
	url = g_strdup_printf("%s%s%s", realm, strchr(realm, '?') != NULL ? "&" : "?", query);
	msg = soup_message_new("GET", url);
	if (msg == NULL)
		return FALSE;
	g_clear_object(&call->body);
	soup_session_send_async(ucv_registry_client_get_session(call->client), msg, G_PRIORITY_LOW,
				g_task_get_cancellable(task), on_token_sent, task);
	return TRUE;
}

static void
on_sent(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GTask *task = user_data;
	UcvRegistryCall *call = g_task_get_task_data(task);
	SoupMessage *msg = soup_session_get_async_result_message(SOUP_SESSION(source), res);
	g_autoptr(GError) error = NULL;
	guint status;

	call->body = soup_session_send_finish(SOUP_SESSION(source), res, &error);
	if (call->body == NULL) {
		return_unreachable(task, call->ref, error);
		g_object_unref(task);
		return;
	}
	status = soup_message_get_status(msg);
	if (status == SOUP_STATUS_UNAUTHORIZED &&
	    fetch_token(task, soup_message_headers_get_one(soup_message_get_response_headers(msg),
							   "WWW-Authenticate")))
		return;
	if (!SOUP_STATUS_IS_SUCCESSFUL(status)) {
		return_status(task, call, status);
		g_object_unref(task);
		return;
	}
	pump(task);
}

/* With the repository's token, if there is one. */
void
ucv_registry_call_send(GTask *task)
{
	UcvRegistryCall *call = g_task_get_task_data(task);
	g_autoptr(SoupMessage) msg = soup_message_new("GET", call->url);
	g_autofree gchar *key = token_key(call->ref);
	const gchar *token = g_hash_table_lookup(ucv_registry_client_get_tokens(call->client), key);
	SoupMessageHeaders *headers;

	headers = soup_message_get_request_headers(msg);
	if (call->accept != NULL)
		soup_message_headers_replace(headers, "Accept", call->accept);
	if (token != NULL) {
		g_autofree gchar *bearer = g_strdup_printf("Bearer %s", token);
		soup_message_headers_replace(headers, "Authorization", bearer);
	}
	g_clear_object(&call->body);
	soup_session_send_async(ucv_registry_client_get_session(call->client), msg, G_PRIORITY_LOW,
				g_task_get_cancellable(task), on_sent, task);
}
