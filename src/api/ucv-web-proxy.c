/* The web proxy: host routing, the one-time authorization, dispatch to HTTP or a tunnel. */
#define G_LOG_DOMAIN "ucv-api"

#include "config.h"

#include "api/ucv-web-proxy.h"

#include <glib/gi18n.h>
#include <string.h>

#include "api/ucv-web-app.h"
#include "api/ucv-web-cookies.h"
#include "api/ucv-web-headers.h"
#include "api/ucv-web-proxy-private.h"
#include "model/ucv-error.h"

/* long enough for long polling and quiet event streams; a dead application still lets go */
#define UPSTREAM_IO_TIMEOUT_S 600

struct _UcvWebProxy {
	GObject parent_instance;
	const UcvConfig *config;
	UcvEngine *engine;
	UcvSessionTokens *sessions;
	SoupSession *upstream;
	gchar *suffix;       /* "." and the lower-case domain; NULL: no WEB sessions */
	const gchar *scheme; /* of the public URL: what the browser speaks */
	UcvWebCookies *cookies;
	GHashTable *active; /* UcvWebExchange set: forwarded requests and tunnels */
	UcvWebResolver resolver;
	gpointer resolver_data;
};

G_DEFINE_TYPE(UcvWebProxy, ucv_web_proxy, G_TYPE_OBJECT)

gchar *
ucv_web_proxy_build_app_url(const UcvConfig *config, const gchar *job_id, guint rank,
			    const gchar *path, GError **error)
{
	g_return_val_if_fail(config != NULL && job_id != NULL, NULL);
	return ucv_web_app_build_url(config, job_id, rank, path, error);
}

static gboolean
parse_request_host(UcvWebProxy *self, SoupServerMessage *msg, UcvWebApp *out)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);

	return ucv_web_app_parse_host(self->suffix, soup_message_headers_get_one(headers, "Host"),
				      out);
}

gboolean
ucv_web_proxy_owns(UcvWebProxy *self, SoupServerMessage *msg)
{
	g_auto(UcvWebApp) app = {0};

	g_return_val_if_fail(UCV_IS_WEB_PROXY(self), FALSE);
	return parse_request_host(self, msg, &app);
}

void
ucv_web_respond_text(SoupServerMessage *msg, guint status, const gchar *why)
{
	g_autofree gchar *body = g_strdup_printf("%s\n", why);
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);

	soup_server_message_set_status(msg, status, NULL);
	soup_message_headers_replace(headers, "Cache-Control", "no-store");
	soup_server_message_set_response(msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, body,
					 strlen(body));
}

/* GET /ucloud-virt/authorize?token=…: the token of the WEB session becomes a cookie of this
 * host, and the browser goes on to the application's start page. */
static void
authorize(UcvWebProxy *self, SoupServerMessage *msg, const UcvWebApp *host)
{
	const gchar *query = g_uri_get_query(soup_server_message_get_uri(msg));
	g_autoptr(GHashTable) form = query != NULL ? soup_form_decode(query) : NULL;
	const gchar *token = form != NULL ? g_hash_table_lookup(form, "token") : NULL;
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);
	g_autoptr(UcvSessionGrant) grant = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *cookie = NULL;
	g_autofree gchar *set_cookie = NULL;
	g_autofree gchar *why = NULL;

	if (g_strcmp0(soup_server_message_get_method(msg), "GET") != 0) {
		ucv_web_respond_text(msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
				     _("The application is opened with a GET request"));
		return;
	}
	grant = ucv_session_tokens_redeem(self->sessions, token, UCV_SESSION_WEB,
					  soup_server_message_get_remote_host(msg), &error);
	if (grant == NULL) {
		why = g_strdup_printf("%s. %s", error->message,
				      _("Open the application from UCloud again."));
		ucv_web_respond_text(msg, SOUP_STATUS_UNAUTHORIZED, why);
		return;
	}
	if (!ucv_web_app_matches(host, grant->job_id, grant->rank)) {
		ucv_web_respond_text(msg, SOUP_STATUS_UNAUTHORIZED,
				     _("This link belongs to another application. Open the "
				       "application from UCloud again."));
		return;
	}
	cookie = ucv_web_cookies_issue(self->cookies, grant->job_id, grant->rank, &error);
	if (cookie == NULL) {
		ucv_web_respond_text(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error->message);
		return;
	}
	/* no Domain attribute: the cookie stays on this application's host */
	set_cookie =
		g_strdup_printf("%s=%s; Path=/; HttpOnly; SameSite=Lax%s", UCV_WEB_COOKIE_NAME,
				cookie, g_strcmp0(self->scheme, "https") == 0 ? "; Secure" : "");
	soup_message_headers_append(headers, "Set-Cookie", set_cookie);
	soup_message_headers_replace(headers, "Location", "/");
	soup_message_headers_replace(headers, "Cache-Control", "no-store");
	soup_server_message_set_status(msg, SOUP_STATUS_FOUND, NULL);
	soup_server_message_set_response(msg, NULL, SOUP_MEMORY_STATIC, NULL, 0);
	g_debug("job %s: web application of rank %u opened in a browser", grant->job_id,
		grant->rank);
}

/* Upstream address ---------------------------------------------------------------------------- */

static void
on_engine_target(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	g_autoptr(GError) error = NULL;
	gchar *target = ucv_engine_get_web_target_finish(UCV_ENGINE(source), res, &error);

	if (target == NULL)
		g_task_return_error(task, g_steal_pointer(&error));
	else
		g_task_return_pointer(task, target, g_free);
}

static void
resolve_async(UcvWebExchange *ex, GAsyncReadyCallback callback)
{
	UcvWebProxy *self = ex->self;
	g_autoptr(GTask) task =
		g_task_new(NULL, ex->cancellable, callback, ucv_web_exchange_ref(ex));
	g_autoptr(GError) error = NULL;
	gchar *target;

	if (self->resolver == NULL && self->engine == NULL) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_UNAVAILABLE,
					"no engine to ask for the address");
		return;
	}
	if (self->resolver == NULL) {
		ucv_engine_get_web_target_async(self->engine, ex->job_id, ex->rank, ex->cancellable,
						on_engine_target, g_steal_pointer(&task));
		return;
	}
	target = self->resolver(ex->job_id, ex->rank, self->resolver_data, &error);
	if (target == NULL)
		g_task_return_error(task, g_steal_pointer(&error));
	else
		g_task_return_pointer(task, target, g_free);
}

static void
on_target(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWebExchange) ex = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *target = g_task_propagate_pointer(G_TASK(res), &error);

	if (ex->msg == NULL)
		return;
	if (target == NULL) {
		ucv_web_exchange_fail_error(ex, error, _("The application cannot be reached"));
		return;
	}
	ex->upstream_address = g_steal_pointer(&target);
	if (ex->upgrade)
		ucv_web_tunnel_open(ex);
	else
		ucv_web_http_forward(ex);
}

/* Dispatch ------------------------------------------------------------------------------------ */

static gboolean
wants_upgrade(SoupServerMessage *msg)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	const gchar *connection = soup_message_headers_get_list(headers, "Connection");

	return connection != NULL && soup_header_contains(connection, "Upgrade") &&
	       soup_message_headers_get_one(headers, "Upgrade") != NULL;
}

static gboolean
has_body(SoupServerMessage *msg)
{
	return soup_server_message_get_request_body(msg)->length > 0;
}

void
ucv_web_proxy_handle(UcvWebProxy *self, SoupServerMessage *msg)
{
	g_auto(UcvWebApp) host = {0};
	g_autoptr(SoupMessageHeaders) forward = NULL;
	g_autofree gchar *job_id = NULL;
	gboolean upgrade;
	UcvWebExchange *ex;

	g_return_if_fail(UCV_IS_WEB_PROXY(self));

	if (!parse_request_host(self, msg, &host)) {
		ucv_web_respond_text(msg, SOUP_STATUS_NOT_FOUND,
				     _("No application is served here"));
		return;
	}
	if (g_strcmp0(g_uri_get_path(soup_server_message_get_uri(msg)), UCV_WEB_AUTHORIZE_PATH) ==
	    0) {
		authorize(self, msg, &host);
		return;
	}
	upgrade = wants_upgrade(msg);
	forward = soup_message_headers_new(SOUP_MESSAGE_HEADERS_REQUEST);
	if (!ucv_web_headers_copy_request(msg, self->scheme, forward, upgrade)) {
		ucv_web_respond_text(msg, SOUP_STATUS_BAD_REQUEST,
				     _("The request has a header that cannot be forwarded"));
		return;
	}
	job_id = ucv_web_cookies_take(self->cookies, forward, &host);
	if (job_id == NULL) {
		ucv_web_respond_text(msg, SOUP_STATUS_FORBIDDEN,
				     _("This browser may not open this application (or its "
				       "session has ended). Open the application from UCloud "
				       "again."));
		return;
	}
	if (upgrade && has_body(msg)) {
		ucv_web_respond_text(msg, SOUP_STATUS_BAD_REQUEST,
				     _("A request to upgrade the connection carries no body"));
		return;
	}
	ex = ucv_web_exchange_new(self, msg, job_id, host.rank, upgrade, forward);
	resolve_async(ex, on_target);
}

void
ucv_web_proxy_revoke_job(UcvWebProxy *self, const gchar *job_id)
{
	g_autoptr(GList) exchanges = NULL;

	g_return_if_fail(UCV_IS_WEB_PROXY(self));

	ucv_web_cookies_revoke_job(self->cookies, job_id);
	/* cancelled exchanges answer their clients or close their tunnels, then end */
	exchanges = g_hash_table_get_keys(self->active);
	for (GList *l = exchanges; l != NULL; l = l->next) {
		UcvWebExchange *ex = l->data;

		if (g_strcmp0(ex->job_id, job_id) == 0)
			g_cancellable_cancel(ex->cancellable);
	}
}

void
ucv_web_proxy_set_resolver(UcvWebProxy *self, UcvWebResolver resolver, gpointer data)
{
	g_return_if_fail(UCV_IS_WEB_PROXY(self));
	self->resolver = resolver;
	self->resolver_data = data;
}

guint
ucv_web_proxy_get_n_active(UcvWebProxy *self)
{
	g_return_val_if_fail(UCV_IS_WEB_PROXY(self), 0);
	return g_hash_table_size(self->active);
}

const gchar *
ucv_web_proxy_get_scheme(UcvWebProxy *self)
{
	return self->scheme;
}

SoupSession *
ucv_web_proxy_get_upstream(UcvWebProxy *self)
{
	return self->upstream;
}

void
ucv_web_proxy_add_exchange(UcvWebProxy *self, UcvWebExchange *ex)
{
	g_hash_table_add(self->active, ex);
}

void
ucv_web_proxy_remove_exchange(UcvWebProxy *self, UcvWebExchange *ex)
{
	g_hash_table_remove(self->active, ex);
}

static void
ucv_web_proxy_dispose(GObject *object)
{
	UcvWebProxy *self = UCV_WEB_PROXY(object);
	g_autoptr(GList) exchanges = g_hash_table_get_keys(self->active);

	for (GList *l = exchanges; l != NULL; l = l->next)
		ucv_web_exchange_end(l->data);
	g_clear_object(&self->upstream);
	g_clear_object(&self->sessions);
	g_clear_object(&self->engine);
	G_OBJECT_CLASS(ucv_web_proxy_parent_class)->dispose(object);
}

static void
ucv_web_proxy_finalize(GObject *object)
{
	UcvWebProxy *self = UCV_WEB_PROXY(object);

	ucv_web_cookies_free(self->cookies);
	g_hash_table_unref(self->active);
	g_free(self->suffix);
	G_OBJECT_CLASS(ucv_web_proxy_parent_class)->finalize(object);
}

static void
ucv_web_proxy_class_init(UcvWebProxyClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = ucv_web_proxy_dispose;
	object_class->finalize = ucv_web_proxy_finalize;
}

static void
ucv_web_proxy_init(UcvWebProxy *self)
{
	self->cookies = ucv_web_cookies_new();
	self->active = g_hash_table_new(g_direct_hash, g_direct_equal);
}
UcvWebProxy *
ucv_web_proxy_new(const UcvConfig *config, UcvEngine *engine, UcvSessionTokens *sessions)
{
	UcvWebProxy *self = g_object_new(UCV_TYPE_WEB_PROXY, NULL);

	self->config = config;
	self->engine = engine != NULL ? g_object_ref(engine) : NULL;
	self->sessions = g_object_ref(sessions);
	if (config->web_domain != NULL && config->web_domain[0] != '\0')
		self->suffix = g_ascii_strdown(config->web_domain, -1);
	if (self->suffix != NULL) {
		g_autofree gchar *domain = g_steal_pointer(&self->suffix);
		self->suffix = g_strconcat(".", domain, NULL);
	}
	self->scheme = g_str_has_prefix(config->public_url, "https:") ? "https" : "http";
	/* one session for every application; it must pass bodies on untouched */
	self->upstream = soup_session_new_with_options("max-conns", 256, "max-conns-per-host", 16,
						       "timeout", UPSTREAM_IO_TIMEOUT_S, NULL);
	soup_session_remove_feature_by_type(self->upstream, SOUP_TYPE_CONTENT_DECODER);
	soup_session_set_proxy_resolver(self->upstream, NULL);
	return self;
}
