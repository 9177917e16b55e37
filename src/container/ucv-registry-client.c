/* Registry calls on the main loop. Each call is a GTask; a 401 with a bearer challenge fetches a
 * token from the realm it names and repeats the call once. Bodies are read in chunks with a cap,
 * so a hostile registry cannot make the daemon hold more than it asked for. */
#define G_LOG_DOMAIN "ucv-container"

#include "config.h"

#include "ucv-registry-client.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "model/ucv-error.h"

#define MAX_MANIFEST (4 * 1024 * 1024)
#define MAX_TOKEN    (64 * 1024)
#define CHUNK        (64 * 1024)
/* an index leads to a manifest; anything deeper is a loop */
#define MAX_HOPS 2

static const gchar *const manifest_types = UCV_MEDIA_OCI_INDEX
	", " UCV_MEDIA_DOCKER_LIST ", " UCV_MEDIA_OCI_MANIFEST ", " UCV_MEDIA_DOCKER_MANIFEST;

struct _UcvRegistryClient {
	GObject parent_instance;
	SoupSession *session;
	GStrv insecure;
	GHashTable *tokens; /* "registry/repository" -> bearer token */
};

G_DEFINE_TYPE(UcvRegistryClient, ucv_registry_client, G_TYPE_OBJECT)

/* Where a body goes: a buffer (manifests, tokens) or a file with its running checksum (blobs). */
typedef struct {
	guint64 max_bytes;
	guint64 received;
	GByteArray *buffer;
	GOutputStream *file;
	GChecksum *checksum;
	guint64 expected;
	UcvRegistryProgressFunc progress;
	gpointer progress_data;
} UcvBodySink;

typedef void (*UcvBodyDone)(GTask *task);

/* One call: what to ask, of whom, and what became of it. */
typedef struct {
	UcvRegistryClient *client;
	UcvImageRef ref; /* the parts borrowed from the caller's copy below */
	UcvImageRef *owned_ref;
	gchar *url;
	const gchar *accept;
	gboolean retried;
	guint hops;
	UcvBodySink sink;       /* the answer's body */
	UcvBodySink token_sink; /* a token realm's answer, on the way */
	UcvBodySink *active;    /* the one being read */
	UcvBodyDone done;       /* what follows the answer's body */
	GInputStream *body;
	gchar *blob_digest;
	gchar *blob_path;
	gchar *temp_path;
} UcvRegistryCall;

static void
call_free(UcvRegistryCall *call)
{
	g_clear_object(&call->client);
	ucv_image_ref_free(call->owned_ref);
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

static UcvRegistryCall *
call_new(UcvRegistryClient *client, const UcvImageRef *ref)
{
	UcvRegistryCall *call = g_new0(UcvRegistryCall, 1);

	call->client = g_object_ref(client);
	call->owned_ref = g_new0(UcvImageRef, 1);
	call->owned_ref->registry = g_strdup(ref->registry);
	call->owned_ref->repository = g_strdup(ref->repository);
	call->owned_ref->tag = g_strdup(ref->tag);
	call->owned_ref->digest = g_strdup(ref->digest);
	call->ref = *call->owned_ref;
	call->active = &call->sink;
	return call;
}

static gchar *
registry_url(UcvRegistryClient *self, const UcvImageRef *ref, const gchar *kind,
	     const gchar *reference)
{
	gboolean insecure = self->insecure != NULL &&
			    g_strv_contains((const gchar *const *)self->insecure, ref->registry);

	return g_strdup_printf("%s://%s/v2/%s/%s/%s", insecure ? "http" : "https", ref->registry,
			       ref->repository, kind, reference);
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
	g_autofree gchar *image = ucv_image_ref_to_string(&call->ref);

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
		return_unreachable(task, &call->ref, error);
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

static void send_call(GTask *task);

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
					call->ref.registry);
		return;
	}
	g_hash_table_insert(call->client->tokens, token_key(&call->ref), g_strdup(token));
	call->active = &call->sink;
	call->retried = TRUE;
	send_call(g_object_ref(task));
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
		return_unreachable(task, &call->ref, error);
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
	soup_session_send_async(call->client->session, msg, G_PRIORITY_LOW,
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
		return_unreachable(task, &call->ref, error);
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

/* Sends the call's GET (with the repository's token, if any); takes the task reference. */
static void
send_call(GTask *task)
{
	UcvRegistryCall *call = g_task_get_task_data(task);
	g_autoptr(SoupMessage) msg = soup_message_new("GET", call->url);
	g_autofree gchar *key = token_key(&call->ref);
	const gchar *token = g_hash_table_lookup(call->client->tokens, key);
	SoupMessageHeaders *headers;

	headers = soup_message_get_request_headers(msg);
	if (call->accept != NULL)
		soup_message_headers_replace(headers, "Accept", call->accept);
	if (token != NULL) {
		g_autofree gchar *bearer = g_strdup_printf("Bearer %s", token);
		soup_message_headers_replace(headers, "Authorization", bearer);
	}
	g_clear_object(&call->body);
	soup_session_send_async(call->client->session, msg, G_PRIORITY_LOW,
				g_task_get_cancellable(task), on_sent, task);
}

/* Manifests
 * ---------------------------------------------------------------------------------------------- */

static void on_manifest_body(GTask *task);

static void
request_manifest(GTask *task, const gchar *reference)
{
	UcvRegistryCall *call = g_task_get_task_data(task);

	g_free(call->url);
	call->url = registry_url(call->client, &call->ref, "manifests", reference);
	call->accept = manifest_types;
	g_clear_pointer(&call->sink.buffer, g_byte_array_unref);
	call->sink.buffer = g_byte_array_new();
	call->sink.received = 0;
	call->sink.max_bytes = MAX_MANIFEST;
	call->done = on_manifest_body;
	send_call(g_object_ref(task));
}

static void
on_manifest_body(GTask *task)
{
	UcvRegistryCall *call = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *index_choice = NULL;
	UcvImageManifest *manifest =
		ucv_image_manifest_parse((const gchar *)call->sink.buffer->data,
					 call->sink.buffer->len, &index_choice, &error);

	if (manifest == NULL && index_choice != NULL && ++call->hops < MAX_HOPS) {
		request_manifest(task, index_choice);
		return;
	}
	if (manifest == NULL) {
		if (error == NULL)
			g_set_error_literal(&error, UCV_ERROR, UCV_ERROR_INVALID,
					    "the registry's index leads to another index");
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	/* asked for by digest: the answer must be that very manifest */
	if (call->ref.digest != NULL && call->hops == 0 &&
	    g_strcmp0(manifest->digest, call->ref.digest) != 0) {
		ucv_image_manifest_free(manifest);
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_INVALID,
					"the registry's manifest does not match the digest %s",
					call->ref.digest);
		return;
	}
	g_task_return_pointer(task, manifest, (GDestroyNotify)ucv_image_manifest_free);
}

void
ucv_registry_client_get_manifest_async(UcvRegistryClient *self, const UcvImageRef *ref,
				       GCancellable *cancellable, GAsyncReadyCallback callback,
				       gpointer user_data)
{
	g_autoptr(GTask) task = NULL;

	g_return_if_fail(UCV_IS_REGISTRY_CLIENT(self));
	g_return_if_fail(ref != NULL);

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ucv_registry_client_get_manifest_async);
	g_task_set_task_data(task, call_new(self, ref), (GDestroyNotify)call_free);
	request_manifest(task, ucv_image_ref_get_reference(ref));
}

UcvImageManifest *
ucv_registry_client_get_manifest_finish(UcvRegistryClient *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

/* Blobs
 * ---------------------------------------------------------------------------------------------- */

static void
on_blob_body(GTask *task)
{
	UcvRegistryCall *call = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *digest =
		g_strconcat("sha256:", g_checksum_get_string(call->sink.checksum), NULL);

	if (!g_output_stream_close(call->sink.file, NULL, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (g_strcmp0(digest, call->blob_digest) != 0) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_INVALID,
					"the registry sent a blob whose digest is %s, not %s",
					digest, call->blob_digest);
		return;
	}
	if (g_rename(call->temp_path, call->blob_path) != 0) {
		g_task_return_new_error(task, G_IO_ERROR, g_io_error_from_errno(errno),
					"cannot keep the blob as %s: %s", call->blob_path,
					g_strerror(errno));
		return;
	}
	g_clear_pointer(&call->temp_path, g_free);
	g_task_return_boolean(task, TRUE);
}

static gboolean
open_temp_file(UcvRegistryCall *call, GError **error)
{
	g_autoptr(GFile) file = NULL;
	g_autoptr(GFileOutputStream) out = NULL;

	call->temp_path = g_strdup_printf("%s.part-%08x", call->blob_path, g_random_int());
	file = g_file_new_for_path(call->temp_path);
	out = g_file_create(file, G_FILE_CREATE_PRIVATE, NULL, error);
	if (out == NULL) {
		g_clear_pointer(&call->temp_path, g_free);
		return FALSE;
	}
	call->sink.file = G_OUTPUT_STREAM(g_steal_pointer(&out));
	return TRUE;
}

void
ucv_registry_client_fetch_blob_async(UcvRegistryClient *self, const UcvImageRef *ref,
				     const gchar *digest, const gchar *path, guint64 max_bytes,
				     UcvRegistryProgressFunc progress, gpointer progress_data,
				     GCancellable *cancellable, GAsyncReadyCallback callback,
				     gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	g_autoptr(GError) error = NULL;
	UcvRegistryCall *call;

	g_return_if_fail(UCV_IS_REGISTRY_CLIENT(self));

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ucv_registry_client_fetch_blob_async);
	if (!ucv_image_ref_is_digest(digest)) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_INVALID,
					"\"%s\" is not a blob digest", digest);
		return;
	}
	call = call_new(self, ref);
	g_task_set_task_data(task, call, (GDestroyNotify)call_free);
	call->blob_digest = g_strdup(digest);
	call->blob_path = g_strdup(path);
	call->url = registry_url(self, ref, "blobs", digest);
	call->sink.max_bytes = max_bytes;
	call->sink.expected = max_bytes;
	call->sink.checksum = g_checksum_new(G_CHECKSUM_SHA256);
	call->sink.progress = progress;
	call->sink.progress_data = progress_data;
	if (!open_temp_file(call, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	call->done = on_blob_body;
	send_call(g_steal_pointer(&task));
}

gboolean
ucv_registry_client_fetch_blob_finish(UcvRegistryClient *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}

static void
ucv_registry_client_finalize(GObject *object)
{
	UcvRegistryClient *self = UCV_REGISTRY_CLIENT(object);

	g_object_unref(self->session);
	g_strfreev(self->insecure);
	g_hash_table_unref(self->tokens);
	G_OBJECT_CLASS(ucv_registry_client_parent_class)->finalize(object);
}

static void
ucv_registry_client_class_init(UcvRegistryClientClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ucv_registry_client_finalize;
}

static void
ucv_registry_client_init(UcvRegistryClient *self)
{
	self->tokens = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

UcvRegistryClient *
ucv_registry_client_new(const gchar *const *insecure)
{
	UcvRegistryClient *self = g_object_new(UCV_TYPE_REGISTRY_CLIENT, NULL);

	self->session = soup_session_new_with_options("user-agent", "ucloud-virt/" PACKAGE_VERSION,
						      "timeout", 60, NULL);
	self->insecure = g_strdupv((gchar **)insecure);
	return self;
}
