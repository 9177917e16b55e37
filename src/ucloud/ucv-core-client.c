/* Talks to UCloud/Core: keeps an access token fresh and makes authenticated control calls. */
#include "config.h"

#define G_LOG_DOMAIN "ucv-core"

#include "ucv-core-client.h"

#include <libsoup/soup.h>

#include "model/ucv-error.h"
#include "model/ucv-jwt.h"

#define UCV_CORE_TIMEOUT_S       30
#define UCV_CORE_RENEW_MARGIN_US (60 * G_USEC_PER_SEC)

struct _UcvCoreClient {
	GObject parent_instance;
	SoupSession *session;
	GCancellable *cancellable; /* the shared refresh; cancelled in dispose */
	gchar *core_url;
	gchar *refresh_token;
	gchar *access_token;
	gint64 renew_at_us;       /* wall clock: JWT expiry is wall-clock time */
	SoupMessage *refresh_msg; /* non-NULL while a refresh is in flight */
	GQueue refresh_waiters;   /* UcvRefreshWaiter */
	guint refresh_count;
};

G_DEFINE_TYPE(UcvCoreClient, ucv_core_client, G_TYPE_OBJECT)

/* A caller waiting for the one refresh in flight; its cancellable releases it early. */
typedef struct {
	GTask *task;
	GSource *cancel_source;
} UcvRefreshWaiter;

/* One control call, possibly sent twice (after a 401). */
typedef struct {
	const gchar *method;
	gchar *path;
	gchar *body;
	gchar *token; /* the token this attempt carried */
	SoupMessage *msg;
	gboolean retried;
} UcvCorePost;

static void
ucv_core_post_free(UcvCorePost *post)
{
	g_free(post->path);
	g_free(post->body);
	g_free(post->token);
	g_clear_object(&post->msg);
	g_free(post);
}

static void ucv_core_client_post_attempt(GTask *task);

/* Replaces *error with a UCV_ERROR of `code`, keeping the message. */
static void
ucv_core_client_recode_error(GError **error, gint code, const gchar *prefix)
{
	GError *inner = *error;

	*error = g_error_new(UCV_ERROR, code, "%s%s", prefix, inner->message);
	g_error_free(inner);
}

/* Response bodies are not NUL-terminated, so they go through a parser with a length. */
static JsonNode *
ucv_core_client_parse_json(GBytes *body, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	gsize len = 0;
	const gchar *data = g_bytes_get_data(body, &len);

	if (!json_parser_load_from_data(parser, data, (gssize)len, error))
		return NULL;
	return json_parser_steal_root(parser);
}

static const gchar *
ucv_core_client_get_string(JsonNode *node, const gchar *name)
{
	JsonNode *member;

	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
		return NULL;
	member = json_object_get_member(json_node_get_object(node), name);
	if (member == NULL || json_node_get_value_type(member) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(member);
}

static void
ucv_refresh_waiter_free(UcvRefreshWaiter *waiter)
{
	if (waiter->cancel_source != NULL) {
		g_source_destroy(waiter->cancel_source);
		g_source_unref(waiter->cancel_source);
	}
	g_clear_object(&waiter->task);
	g_free(waiter);
}

static gboolean
ucv_core_client_token_is_fresh(UcvCoreClient *self)
{
	return self->access_token != NULL && g_get_real_time() < self->renew_at_us;
}

/* Renew when less than a minute, or a fifth of the token's lifetime, is left. */
static gint64
ucv_core_client_compute_renew_at(gint64 exp_s, gint64 now_us)
{
	gint64 exp_us = exp_s * G_USEC_PER_SEC;
	gint64 lifetime_us = exp_us - now_us;

	if (lifetime_us <= 0)
		return exp_us;
	return exp_us - MIN(UCV_CORE_RENEW_MARGIN_US, lifetime_us / 5);
}

static gboolean
ucv_core_client_accept_token(UcvCoreClient *self, const gchar *token, GError **error)
{
	g_autoptr(UcvJwt) jwt = ucv_jwt_parse(token, error);
	gint64 now_us = g_get_real_time();
	gint64 exp_s;

	if (jwt == NULL)
		return FALSE;
	exp_s = ucv_jwt_get_expiry(jwt);
	if (exp_s <= 0) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE,
				    "Core's access token has no expiry");
		return FALSE;
	}
	if (exp_s * G_USEC_PER_SEC <= now_us)
		g_warning("Core's new access token has already expired: is the clock right?");
	g_free(self->access_token);
	self->access_token = g_strdup(token);
	self->renew_at_us = ucv_core_client_compute_renew_at(exp_s, now_us);
	return TRUE;
}

static gchar *
ucv_core_client_build_refresh_body(UcvCoreClient *self)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "items");
	json_builder_begin_array(builder);
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "refreshToken");
	json_builder_add_string_value(builder, self->refresh_token);
	json_builder_end_object(builder);
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return json_to_string(root, FALSE);
}

/* A request to <core><path>; `body` NULL for a GET. */
static SoupMessage *
ucv_core_client_new_request(UcvCoreClient *self, const gchar *method, const gchar *path,
			    const gchar *body, GError **error)
{
	g_autofree gchar *url = g_strconcat(self->core_url, path, NULL);
	g_autoptr(GUri) uri = g_uri_parse(url, SOUP_HTTP_URI_FLAGS, error);
	g_autoptr(GBytes) bytes = NULL;
	SoupMessage *msg;

	if (uri == NULL) {
		ucv_core_client_recode_error(error, UCV_ERROR_CONFIG, "Core URL: ");
		return NULL;
	}
	msg = soup_message_new_from_uri(method, uri);
	if (body == NULL)
		return msg;
	bytes = g_bytes_new(body, strlen(body));
	soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
	return msg;
}

/* Takes the accessToken out of {"responses":[{"accessToken":…}]}. */
static const gchar *
ucv_core_client_find_access_token(JsonNode *root)
{
	JsonNode *responses;

	if (!JSON_NODE_HOLDS_OBJECT(root))
		return NULL;
	responses = json_object_get_member(json_node_get_object(root), "responses");
	if (responses == NULL || !JSON_NODE_HOLDS_ARRAY(responses) ||
	    json_array_get_length(json_node_get_array(responses)) < 1)
		return NULL;
	return ucv_core_client_get_string(json_array_get_element(json_node_get_array(responses), 0),
					  "accessToken");
}

static gboolean
ucv_core_client_parse_refresh(UcvCoreClient *self, guint status, GBytes *body, GError **error)
{
	g_autoptr(JsonNode) root = NULL;
	const gchar *token;

	if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
			    "Core refused the refresh token (HTTP %u)", status);
		return FALSE;
	}
	if (!SOUP_STATUS_IS_SUCCESSFUL(status)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE,
			    "token refresh failed with HTTP %u", status);
		return FALSE;
	}
	root = ucv_core_client_parse_json(body, NULL);
	token = root != NULL ? ucv_core_client_find_access_token(root) : NULL;
	if (token == NULL || *token == '\0') {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE,
				    "token refresh answered without an access token");
		return FALSE;
	}
	if (!ucv_core_client_accept_token(self, token, error)) {
		ucv_core_client_recode_error(error, UCV_ERROR_UNAVAILABLE, "token refresh: ");
		return FALSE;
	}
	return TRUE;
}

/* Every error of the transport means the same to callers: Core cannot be reached now. */
static void
ucv_core_client_map_transport_error(GError **error, const gchar *what)
{
	g_autofree gchar *prefix = NULL;

	if (g_error_matches(*error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	prefix = g_strdup_printf("%s: cannot reach Core: ", what);
	ucv_core_client_recode_error(error, UCV_ERROR_UNAVAILABLE, prefix);
}

static void
ucv_core_client_finish_refresh(UcvCoreClient *self, const GError *error)
{
	GQueue waiters = self->refresh_waiters;
	UcvRefreshWaiter *waiter;

	/* a waiter's callback may run right away and queue up for the next refresh */
	g_clear_object(&self->refresh_msg);
	g_queue_init(&self->refresh_waiters);
	while ((waiter = g_queue_pop_head(&waiters)) != NULL) {
		if (error != NULL)
			g_task_return_error(waiter->task, g_error_copy(error));
		else
			g_task_return_boolean(waiter->task, TRUE);
		ucv_refresh_waiter_free(waiter);
	}
}

static void
ucv_core_client_refresh_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvCoreClient) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) body =
		soup_session_send_and_read_finish(SOUP_SESSION(source), res, &error);

	if (body == NULL) {
		ucv_core_client_map_transport_error(&error, "token refresh");
	} else {
		guint status = soup_message_get_status(self->refresh_msg);
		ucv_core_client_parse_refresh(self, status, body, &error);
	}
	if (error != NULL)
		g_message("%s", error->message);
	else
		g_debug("access token renewed");
	ucv_core_client_finish_refresh(self, error);
}

static void
ucv_core_client_start_refresh(UcvCoreClient *self)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *body = ucv_core_client_build_refresh_body(self);

	self->refresh_msg = ucv_core_client_new_request(self, SOUP_METHOD_POST,
							"/auth/providers/refresh", body, &error);
	if (self->refresh_msg == NULL) {
		ucv_core_client_finish_refresh(self, error);
		return;
	}
	self->refresh_count++;
	/* no Authorization header: the refresh token in the body is the credential */
	soup_session_send_and_read_async(self->session, self->refresh_msg, G_PRIORITY_DEFAULT,
					 self->cancellable, ucv_core_client_refresh_cb,
					 g_object_ref(self));
}

static gboolean
ucv_core_client_waiter_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
	UcvRefreshWaiter *waiter = user_data;
	UcvCoreClient *self = g_task_get_source_object(waiter->task);

	g_queue_remove(&self->refresh_waiters, waiter);
	g_task_return_error_if_cancelled(waiter->task);
	ucv_refresh_waiter_free(waiter);
	return G_SOURCE_REMOVE;
}

/* Joins the refresh in flight, or starts one: Core sees one refresh however many calls wait. */
static void
ucv_core_client_refresh_async(UcvCoreClient *self, GCancellable *cancellable,
			      GAsyncReadyCallback callback, gpointer user_data)
{
	UcvRefreshWaiter *waiter = g_new0(UcvRefreshWaiter, 1);

	waiter->task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(waiter->task, ucv_core_client_refresh_async);
	if (cancellable != NULL) {
		waiter->cancel_source = g_cancellable_source_new(cancellable);
		g_source_set_callback(waiter->cancel_source,
				      G_SOURCE_FUNC(ucv_core_client_waiter_cancelled_cb), waiter,
				      NULL);
		g_source_attach(waiter->cancel_source, g_task_get_context(waiter->task));
	}
	g_queue_push_tail(&self->refresh_waiters, waiter);
	if (self->refresh_msg == NULL)
		ucv_core_client_start_refresh(self);
}

static gboolean
ucv_core_client_refresh_finish(UcvCoreClient *self, GAsyncResult *res, GError **error)
{
	return g_task_propagate_boolean(G_TASK(res), error);
}

/* The `why` of a CommonErrorMessage body, if there is one. */
static gchar *
ucv_core_client_extract_why(GBytes *body)
{
	g_autoptr(JsonNode) root = NULL;

	if (body == NULL || g_bytes_get_size(body) == 0)
		return NULL;
	root = ucv_core_client_parse_json(body, NULL);
	return g_strdup(ucv_core_client_get_string(root, "why"));
}

static gint
ucv_core_client_error_code_for_status(guint status)
{
	if (status == SOUP_STATUS_NOT_FOUND)
		return UCV_ERROR_NOT_FOUND;
	if (status == SOUP_STATUS_PAYMENT_REQUIRED)
		return UCV_ERROR_PAYMENT_REQUIRED;
	if (status == SOUP_STATUS_UNAUTHORIZED)
		return UCV_ERROR_UNAUTHORIZED;
	if (SOUP_STATUS_IS_CLIENT_ERROR(status))
		return UCV_ERROR_INVALID;
	return UCV_ERROR_UNAVAILABLE;
}

static JsonNode *
ucv_core_client_parse_response(const gchar *path, guint status, GBytes *body, GError **error)
{
	JsonNode *root;

	if (!SOUP_STATUS_IS_SUCCESSFUL(status)) {
		g_autofree gchar *why = ucv_core_client_extract_why(body);
		g_set_error(error, UCV_ERROR, ucv_core_client_error_code_for_status(status),
			    "%s: Core answered HTTP %u%s%s", path, status, why != NULL ? ": " : "",
			    why != NULL ? why : "");
		return NULL;
	}
	if (g_bytes_get_size(body) == 0)
		return NULL;
	root = ucv_core_client_parse_json(body, error);
	if (root == NULL)
		g_prefix_error(error, "%s: Core answered bad JSON: ", path);
	return root;
}

static void
ucv_core_client_post_sent_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	UcvCoreClient *self = g_task_get_source_object(task);
	UcvCorePost *post = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) body =
		soup_session_send_and_read_finish(SOUP_SESSION(source), res, &error);
	guint status;
	JsonNode *root;

	if (body == NULL) {
		ucv_core_client_map_transport_error(&error, post->path);
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	status = soup_message_get_status(post->msg);
	g_debug("%s %s: HTTP %u", post->method, post->path, status);
	if (status == SOUP_STATUS_UNAUTHORIZED && !post->retried) {
		/* only drop the token if no one has renewed it since this attempt left */
		if (g_strcmp0(self->access_token, post->token) == 0)
			g_clear_pointer(&self->access_token, g_free);
		post->retried = TRUE;
		ucv_core_client_post_attempt(g_steal_pointer(&task));
		return;
	}
	root = ucv_core_client_parse_response(post->path, status, body, &error);
	if (error != NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_task_return_pointer(task, root, (GDestroyNotify)json_node_unref);
}

static void
ucv_core_client_post_send(GTask *task)
{
	UcvCoreClient *self = g_task_get_source_object(task);
	UcvCorePost *post = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *auth = NULL;

	g_clear_object(&post->msg);
	post->msg = ucv_core_client_new_request(self, post->method, post->path, post->body, &error);
	if (post->msg == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		g_object_unref(task);
		return;
	}
	g_free(post->token);
	post->token = g_strdup(self->access_token);
	auth = g_strdup_printf("Bearer %s", post->token);
	soup_message_headers_replace(soup_message_get_request_headers(post->msg), "Authorization",
				     auth);
	soup_session_send_and_read_async(self->session, post->msg, G_PRIORITY_DEFAULT,
					 g_task_get_cancellable(task), ucv_core_client_post_sent_cb,
					 task);
}

static void
ucv_core_client_post_refreshed_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	g_autoptr(GError) error = NULL;

	if (!ucv_core_client_refresh_finish(UCV_CORE_CLIENT(source), res, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	ucv_core_client_post_send(g_steal_pointer(&task));
}

/* Takes ownership of `task`. */
static void
ucv_core_client_post_attempt(GTask *task)
{
	UcvCoreClient *self = g_task_get_source_object(task);

	if (ucv_core_client_token_is_fresh(self)) {
		ucv_core_client_post_send(task);
		return;
	}
	ucv_core_client_refresh_async(self, g_task_get_cancellable(task),
				      ucv_core_client_post_refreshed_cb, task);
}

static void
ucv_core_client_call_async(UcvCoreClient *self, const gchar *method, const gchar *path,
			   const gchar *body, GCancellable *cancellable,
			   GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	UcvCorePost *post;

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ucv_core_client_call_async);
	post = g_new0(UcvCorePost, 1);
	post->method = method;
	post->path = g_strdup(path);
	post->body = g_strdup(body);
	g_task_set_task_data(task, post, (GDestroyNotify)ucv_core_post_free);
	if (g_task_return_error_if_cancelled(task))
		return;
	ucv_core_client_post_attempt(g_steal_pointer(&task));
}

void
ucv_core_client_post_async(UcvCoreClient *self, const gchar *path, const gchar *body,
			   GCancellable *cancellable, GAsyncReadyCallback callback,
			   gpointer user_data)
{
	g_return_if_fail(UCV_IS_CORE_CLIENT(self));
	g_return_if_fail(path != NULL && path[0] == '/');
	g_return_if_fail(body != NULL);

	ucv_core_client_call_async(self, SOUP_METHOD_POST, path, body, cancellable, callback,
				   user_data);
}

void
ucv_core_client_get_async(UcvCoreClient *self, const gchar *path_and_query,
			  GCancellable *cancellable, GAsyncReadyCallback callback,
			  gpointer user_data)
{
	g_return_if_fail(UCV_IS_CORE_CLIENT(self));
	g_return_if_fail(path_and_query != NULL && path_and_query[0] == '/');

	ucv_core_client_call_async(self, SOUP_METHOD_GET, path_and_query, NULL, cancellable,
				   callback, user_data);
}

JsonNode *
ucv_core_client_post_finish(UcvCoreClient *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

guint
ucv_core_client_get_refresh_count(UcvCoreClient *self)
{
	g_return_val_if_fail(UCV_IS_CORE_CLIENT(self), 0);
	return self->refresh_count;
}

UcvCoreClient *
ucv_core_client_new(const gchar *core_url, const gchar *refresh_token)
{
	UcvCoreClient *self;

	g_return_val_if_fail(core_url != NULL, NULL);
	g_return_val_if_fail(refresh_token != NULL, NULL);

	self = g_object_new(UCV_TYPE_CORE_CLIENT, NULL);
	self->core_url = g_strdup(core_url);
	/* paths start with '/', so a trailing one in the configured URL would double it */
	while (g_str_has_suffix(self->core_url, "/"))
		self->core_url[strlen(self->core_url) - 1] = '\0';
	self->refresh_token = g_strdup(refresh_token);
	return self;
}

static void
ucv_core_client_dispose(GObject *object)
{
	UcvCoreClient *self = UCV_CORE_CLIENT(object);

	g_cancellable_cancel(self->cancellable);
	G_OBJECT_CLASS(ucv_core_client_parent_class)->dispose(object);
}

static void
ucv_core_client_finalize(GObject *object)
{
	UcvCoreClient *self = UCV_CORE_CLIENT(object);

	g_clear_object(&self->session);
	g_clear_object(&self->cancellable);
	g_clear_object(&self->refresh_msg);
	g_free(self->core_url);
	g_free(self->refresh_token);
	g_free(self->access_token);
	G_OBJECT_CLASS(ucv_core_client_parent_class)->finalize(object);
}

static void
ucv_core_client_class_init(UcvCoreClientClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = ucv_core_client_dispose;
	object_class->finalize = ucv_core_client_finalize;
}

static void
ucv_core_client_init(UcvCoreClient *self)
{
	self->cancellable = g_cancellable_new();
	self->session = soup_session_new_with_options("timeout", UCV_CORE_TIMEOUT_S, "user-agent",
						      "ucloud-virt/" PACKAGE_VERSION, NULL);
	g_queue_init(&self->refresh_waiters);
}
