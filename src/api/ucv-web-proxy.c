/* The reverse proxy in front of the jobs' web applications: host routing, the one-time
 * authorization and its cookie, streamed HTTP forwarding and transparent upgrade tunnels. */
#define G_LOG_DOMAIN "ucv-api"

#include "config.h"

#include "api/ucv-web-proxy.h"

#include <glib/gi18n.h>
#include <gnutls/crypto.h>
#include <string.h>

#include "model/ucv-error.h"

#define COOKIE_BYTES 32
/* never more than this of an upstream body in memory per request */
#define CHUNK_BYTES       (64 * 1024)
#define MAX_RANK          9999
#define MAX_JOB_ID_LENGTH 64
/* DNS: one label of a host name */
#define MAX_LABEL_LENGTH 63
/* an upstream's answer to an upgrade request: its head, and the body of a refusal */
#define MAX_HEAD_BYTES    (64 * 1024)
#define MAX_REFUSAL_BODY  (1024 * 1024)
#define CONNECT_TIMEOUT_S 30
/* long enough for long polling and quiet event streams; a dead application still lets go */
#define UPSTREAM_IO_TIMEOUT_S 600

/* One application: a job's rank. */
typedef struct {
	gchar *job_id;
	guint rank;
} UcvWebApp;

static void
web_app_clear(UcvWebApp *app)
{
	g_clear_pointer(&app->job_id, g_free);
}

static void
web_app_free(UcvWebApp *app)
{
	web_app_clear(app);
	g_free(app);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UcvWebApp, web_app_clear)

struct _UcvWebProxy {
	GObject parent_instance;
	const UcvConfig *config;
	UcvEngine *engine;
	UcvSessionTokens *sessions;
	SoupSession *upstream;
	gchar *suffix;       /* "." and the lower-case domain; NULL: no WEB sessions */
	const gchar *scheme; /* of the public URL: what the browser speaks */
	GHashTable *cookies; /* SHA-256 of a cookie (hex) -> UcvWebApp */
	GHashTable *active;  /* UcvWebExchange set: forwarded requests and tunnels */
	UcvWebResolver resolver;
	gpointer resolver_data;
};

G_DEFINE_TYPE(UcvWebProxy, ucv_web_proxy, G_TYPE_OBJECT)

/* Host names ------------------------------------------------------------------------------------
 */

static gboolean
job_id_fits_host(const gchar *id)
{
	gsize len = strlen(id);

	if (len == 0 || len > MAX_JOB_ID_LENGTH || !g_ascii_isalnum(id[0]))
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(id[i]) && id[i] != '-')
			return FALSE;
	}
	return TRUE;
}

static gchar *
app_label(const gchar *job_id, guint rank)
{
	g_autofree gchar *label = g_strdup_printf("app-%s-%u", job_id, rank);

	return g_ascii_strdown(label, -1);
}

/* Digits only, no sign, no leading zero, no more than MAX_RANK. */
static gboolean
parse_rank(const gchar *str, guint *rank)
{
	guint64 value = 0;

	if (str[0] == '\0' || strlen(str) > 4 || (str[0] == '0' && str[1] != '\0'))
		return FALSE;
	for (const gchar *p = str; *p != '\0'; p++) {
		if (!g_ascii_isdigit(*p))
			return FALSE;
		value = value * 10 + (guint64)(*p - '0');
	}
	if (value > MAX_RANK)
		return FALSE;
	*rank = (guint)value;
	return TRUE;
}

/* "app-<job>-<rank>" of a lower-case label. */
static gboolean
parse_label(const gchar *label, UcvWebApp *out)
{
	g_autofree gchar *copy = NULL;
	gchar *dash;

	if (strlen(label) > MAX_LABEL_LENGTH || !g_str_has_prefix(label, "app-"))
		return FALSE;
	copy = g_strdup(label + strlen("app-"));
	dash = strrchr(copy, '-');
	if (dash == NULL)
		return FALSE;
	*dash = '\0';
	if (!job_id_fits_host(copy) || !parse_rank(dash + 1, &out->rank))
		return FALSE;
	out->job_id = g_steal_pointer(&copy);
	return TRUE;
}

/* The request's Host is exactly app-<job>-<rank>.<domain>, with or without a port. */
static gboolean
parse_request_host(UcvWebProxy *self, SoupServerMessage *msg, UcvWebApp *out)
{
	const gchar *header =
		soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Host");
	const gchar *colon;
	g_autofree gchar *host = NULL;
	gsize host_len;
	gsize suffix_len;

	if (self->suffix == NULL || header == NULL)
		return FALSE;
	colon = strrchr(header, ':');
	if (colon != NULL) {
		if (colon[1] == '\0' || strlen(colon + 1) > 5 ||
		    strspn(colon + 1, "0123456789") != strlen(colon + 1))
			return FALSE;
	}
	host = g_ascii_strdown(header, colon != NULL ? colon - header : -1);
	host_len = strlen(host);
	suffix_len = strlen(self->suffix);
	if (host_len <= suffix_len || !g_str_has_suffix(host, self->suffix))
		return FALSE;
	host[host_len - suffix_len] = '\0';
	/* the label is one label: "app-1-0.x.<domain>" ends in the domain but is not ours */
	if (strchr(host, '.') != NULL)
		return FALSE;
	return parse_label(host, out);
}

static gboolean
app_matches(const UcvWebApp *host, const gchar *job_id, guint rank)
{
	/* browsers lower-case host names; job ids are compared the same way */
	return g_ascii_strcasecmp(host->job_id, job_id) == 0 && host->rank == rank;
}

gchar *
ucv_web_proxy_build_app_url(const UcvConfig *config, const gchar *job_id, guint rank,
			    const gchar *path, GError **error)
{
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *label = NULL;
	g_autofree gchar *domain = NULL;

	g_return_val_if_fail(config != NULL && job_id != NULL, NULL);

	if (config->web_domain == NULL || config->web_domain[0] == '\0') {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_NOT_SUPPORTED,
				    _("WEB sessions are not offered: this provider has no domain "
				      "for web applications ([web] domain)"));
		return NULL;
	}
	label = app_label(job_id, rank);
	if (!job_id_fits_host(job_id) || strlen(label) > MAX_LABEL_LENGTH) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_NOT_SUPPORTED,
			    _("The job id %s cannot be part of a host name, so its web "
			      "application cannot be opened"),
			    job_id);
		return NULL;
	}
	uri = g_uri_parse(config->public_url, G_URI_FLAGS_NONE, &error_local);
	if (uri == NULL) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG,
			    "the public URL %s is not usable: %s", config->public_url,
			    error_local->message);
		return NULL;
	}
	domain = g_ascii_strdown(config->web_domain, -1);
	if (g_uri_get_port(uri) > 0)
		return g_strdup_printf("%s://%s.%s:%d%s", g_uri_get_scheme(uri), label, domain,
				       g_uri_get_port(uri), path != NULL ? path : "");
	return g_strdup_printf("%s://%s.%s%s", g_uri_get_scheme(uri), label, domain,
			       path != NULL ? path : "");
}

gboolean
ucv_web_proxy_owns(UcvWebProxy *self, SoupServerMessage *msg)
{
	g_auto(UcvWebApp) app = {0};

	g_return_val_if_fail(UCV_IS_WEB_PROXY(self), FALSE);
	return parse_request_host(self, msg, &app);
}

/* Answers ------------------------------------------------------------------------------------- */

/* A browser reads these: a short text, never cached. */
static void
respond_text(SoupServerMessage *msg, guint status, const gchar *why)
{
	g_autofree gchar *body = g_strdup_printf("%s\n", why);
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(msg);

	soup_server_message_set_status(msg, status, NULL);
	soup_message_headers_replace(headers, "Cache-Control", "no-store");
	soup_server_message_set_response(msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, body,
					 strlen(body));
}

/* Cookies ------------------------------------------------------------------------------------- */

static gchar *
cookie_hash(const gchar *value)
{
	return g_compute_checksum_for_string(G_CHECKSUM_SHA256, value, -1);
}

/* A fresh cookie for `grant`, remembered only as its hash. */
static gchar *
issue_cookie(UcvWebProxy *self, const UcvSessionGrant *grant, GError **error)
{
	guchar bytes[COOKIE_BYTES];
	g_autofree gchar *value = NULL;
	UcvWebApp *app;

	if (gnutls_rnd(GNUTLS_RND_KEY, bytes, sizeof(bytes)) != 0) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
				    "no random bytes for a cookie");
		return NULL;
	}
	value = g_base64_encode(bytes, sizeof(bytes));
	g_strdelimit(value, "+", '-');
	g_strdelimit(value, "/", '_');
	g_strdelimit(value, "=", '\0');
	app = g_new0(UcvWebApp, 1);
	app->job_id = g_strdup(grant->job_id);
	app->rank = grant->rank;
	g_hash_table_insert(self->cookies, cookie_hash(value), app);
	return g_steal_pointer(&value);
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
		respond_text(msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
			     _("The application is opened with a GET request"));
		return;
	}
	grant = ucv_session_tokens_redeem(self->sessions, token, UCV_SESSION_WEB,
					  soup_server_message_get_remote_host(msg), &error);
	if (grant == NULL) {
		why = g_strdup_printf("%s. %s", error->message,
				      _("Open the application from UCloud again."));
		respond_text(msg, SOUP_STATUS_UNAUTHORIZED, why);
		return;
	}
	if (!app_matches(host, grant->job_id, grant->rank)) {
		respond_text(msg, SOUP_STATUS_UNAUTHORIZED,
			     _("This link belongs to another application. Open the application "
			       "from UCloud again."));
		return;
	}
	cookie = issue_cookie(self, grant, &error);
	if (cookie == NULL) {
		respond_text(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error->message);
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

/* Checks and removes our cookie from the (copied) Cookie headers. The job id of the first of our
 * cookies that admits to `host`, or NULL. */
static gchar *
take_cookie(UcvWebProxy *self, SoupMessageHeaders *headers, const UcvWebApp *host)
{
	g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) all = g_string_new(NULL);
	g_auto(GStrv) pairs = NULL;
	SoupMessageHeadersIter iter;
	const gchar *name;
	const gchar *value;
	gchar *job_id = NULL;

	soup_message_headers_iter_init(&iter, headers);
	while (soup_message_headers_iter_next(&iter, &name, &value)) {
		if (g_ascii_strcasecmp(name, "Cookie") == 0)
			g_string_append_printf(all, "%s;", value);
	}
	pairs = g_strsplit(all->str, ";", -1);
	for (guint i = 0; pairs[i] != NULL; i++) {
		gchar *pair = g_strstrip(pairs[i]);
		gsize name_len = strlen(UCV_WEB_COOKIE_NAME);
		g_autofree gchar *hash = NULL;
		UcvWebApp *app;

		if (pair[0] == '\0')
			continue;
		if (strncmp(pair, UCV_WEB_COOKIE_NAME, name_len) != 0 || pair[name_len] != '=') {
			g_ptr_array_add(kept, g_strdup(pair));
			continue;
		}
		hash = cookie_hash(pair + name_len + 1);
		app = g_hash_table_lookup(self->cookies, hash);
		if (job_id == NULL && app != NULL && app_matches(host, app->job_id, app->rank))
			job_id = g_strdup(app->job_id);
	}
	soup_message_headers_remove(headers, "Cookie");
	if (kept->len > 0) {
		g_autofree gchar *joined = NULL;

		g_ptr_array_add(kept, NULL);
		joined = g_strjoinv("; ", (gchar **)kept->pdata);
		soup_message_headers_append(headers, "Cookie", joined);
	}
	return job_id;
}

/* Headers ------------------------------------------------------------------------------------- */

/* Hop-by-hop headers, the framing (the proxy frames the body itself, so a client's
 * Transfer-Encoding never reaches the application), and what the proxy sets itself. */
static const gchar *const dropped_headers[] = {
	"Connection",
	"Keep-Alive",
	"TE",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
	"Host",
	"Content-Length",
	"Expect",
	"Forwarded",
	"X-Forwarded-For",
	"X-Forwarded-Host",
	"X-Forwarded-Proto",
	NULL,
};

static gboolean
is_dropped(const gchar *name, const gchar *connection, gboolean keep_upgrade)
{
	if (keep_upgrade && g_ascii_strcasecmp(name, "Upgrade") == 0)
		return FALSE;
	if (g_ascii_strncasecmp(name, "Proxy-", strlen("Proxy-")) == 0)
		return TRUE;
	for (guint i = 0; dropped_headers[i] != NULL; i++) {
		if (g_ascii_strcasecmp(name, dropped_headers[i]) == 0)
			return TRUE;
	}
	/* what the sender's Connection header names is hop-by-hop as well */
	return connection != NULL && soup_header_contains(connection, name);
}

static gboolean
is_clean(const gchar *text)
{
	return strpbrk(text, "\r\n") == NULL;
}

/* The client's request headers as the application gets them, our cookie not yet removed. */
static gboolean
copy_request_headers(UcvWebProxy *self, SoupServerMessage *msg, SoupMessageHeaders *out,
		     gboolean keep_upgrade)
{
	SoupMessageHeaders *in = soup_server_message_get_request_headers(msg);
	const gchar *connection = soup_message_headers_get_list(in, "Connection");
	const gchar *host = soup_message_headers_get_one(in, "Host");
	SoupMessageHeadersIter iter;
	const gchar *name;
	const gchar *value;

	soup_message_headers_iter_init(&iter, in);
	while (soup_message_headers_iter_next(&iter, &name, &value)) {
		/* libsoup's parser refuses these; a proxy does not rely on it */
		if (!is_clean(name) || !is_clean(value))
			return FALSE;
		if (!is_dropped(name, connection, keep_upgrade))
			soup_message_headers_append(out, name, value);
	}
	soup_message_headers_append(out, "X-Forwarded-For",
				    soup_server_message_get_remote_host(msg));
	soup_message_headers_append(out, "X-Forwarded-Host", host);
	soup_message_headers_append(out, "X-Forwarded-Proto", self->scheme);
	return TRUE;
}

/* The path as sent: libsoup has decoded it, the application gets it encoded again ("%2F" comes
 * through as "/"). */
static gchar *
request_target(SoupServerMessage *msg)
{
	GUri *uri = soup_server_message_get_uri(msg);
	g_autofree gchar *path = g_uri_escape_string(g_uri_get_path(uri),
						     G_URI_RESERVED_CHARS_ALLOWED_IN_PATH, FALSE);
	const gchar *query = g_uri_get_query(uri);

	if (query == NULL)
		return g_steal_pointer(&path);
	return g_strconcat(path, "?", query, NULL);
}

/* Exchanges ----------------------------------------------------------------------------------- */

/* One client request on its way to the application and back: a forwarded HTTP request or an
 * upgrade tunnel. */
typedef struct {
	gint ref_count;
	UcvWebProxy *self;      /* NULL once ended */
	SoupServerMessage *msg; /* NULL once finished, refused or taken from libsoup */
	gulong finished_id;
	gulong wrote_chunk_id;
	gchar *job_id;
	guint rank;
	gchar *method;
	gchar *target_path; /* path and query */
	gchar *host;        /* the client's Host */
	SoupMessageHeaders *forward;
	GBytes *body;
	gchar *upstream_address; /* "<ip>:<port>" */
	GCancellable *cancellable;
	gboolean headers_out; /* the client has the answer's head */
	/* HTTP */
	SoupMessage *upstream;
	GInputStream *upstream_body;
	/* tunnel */
	gchar *head;
	GBytes *greeting; /* the application's 101 head and first bytes, for the client */
	GIOStream *client_stream;
	GSocketConnection *upstream_conn;
} UcvWebExchange;

static UcvWebExchange *
exchange_ref(UcvWebExchange *ex)
{
	g_atomic_int_inc(&ex->ref_count);
	return ex;
}

static void
exchange_unref(UcvWebExchange *ex)
{
	if (!g_atomic_int_dec_and_test(&ex->ref_count))
		return;
	g_free(ex->job_id);
	g_free(ex->method);
	g_free(ex->target_path);
	g_free(ex->host);
	g_clear_pointer(&ex->forward, soup_message_headers_unref);
	g_clear_pointer(&ex->body, g_bytes_unref);
	g_free(ex->upstream_address);
	g_clear_object(&ex->cancellable);
	g_clear_object(&ex->upstream);
	g_clear_object(&ex->upstream_body);
	g_free(ex->head);
	g_clear_pointer(&ex->greeting, g_bytes_unref);
	g_clear_object(&ex->client_stream);
	g_clear_object(&ex->upstream_conn);
	g_free(ex);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvWebExchange, exchange_unref)

/* The client's message is no longer ours to touch. */
static void
exchange_release_msg(UcvWebExchange *ex)
{
	if (ex->msg == NULL)
		return;
	g_clear_signal_handler(&ex->finished_id, ex->msg);
	g_clear_signal_handler(&ex->wrote_chunk_id, ex->msg);
	g_clear_object(&ex->msg);
}

/* Nothing more happens for this exchange: pending operations are cancelled. */
static void
exchange_end(UcvWebExchange *ex)
{
	if (ex->self == NULL)
		return;
	exchange_release_msg(ex);
	g_cancellable_cancel(ex->cancellable);
	g_hash_table_remove(ex->self->active, ex);
	ex->self = NULL;
	/* the reference the proxy's set held */
	exchange_unref(ex);
}

static void
on_msg_finished(SoupServerMessage *msg, UcvWebExchange *ex)
{
	g_autoptr(UcvWebExchange) keep = exchange_ref(ex);

	exchange_end(ex);
}

/* The client goes away without a proper end: it must not take a cut-off body for a whole one. */
static void
abort_client(UcvWebExchange *ex)
{
	g_autoptr(SoupServerMessage) msg = ex->msg != NULL ? g_object_ref(ex->msg) : NULL;
	g_autoptr(GIOStream) stream = NULL;

	exchange_release_msg(ex);
	if (msg != NULL)
		stream = soup_server_message_steal_connection(msg);
	if (stream != NULL)
		g_io_stream_close(stream, NULL, NULL);
	exchange_end(ex);
}

/* An answer of the proxy's own while the client waits; later, only the connection can go. */
static void
exchange_fail(UcvWebExchange *ex, guint status, const gchar *why)
{
	SoupServerMessage *msg = ex->msg;

	if (msg == NULL)
		return;
	if (ex->headers_out) {
		abort_client(ex);
		return;
	}
	g_debug("job %s: web request answered %u: %s", ex->job_id, status, why);
	ex->headers_out = TRUE;
	soup_message_headers_clear(soup_server_message_get_response_headers(msg));
	respond_text(msg, status, why);
	soup_server_message_unpause(msg);
}

static void
exchange_fail_error(UcvWebExchange *ex, const GError *error, const gchar *what)
{
	g_autofree gchar *why = NULL;

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		exchange_fail(ex, SOUP_STATUS_SERVICE_UNAVAILABLE,
			      _("The job stopped, so its application is closed."));
		return;
	}
	why = g_strdup_printf("%s: %s", what, error->message);
	exchange_fail(ex,
		      g_error_matches(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE)
			      ? SOUP_STATUS_SERVICE_UNAVAILABLE
			      : SOUP_STATUS_BAD_GATEWAY,
		      why);
}

static UcvWebExchange *
exchange_new(UcvWebProxy *self, SoupServerMessage *msg, const gchar *job_id, guint rank,
	     SoupMessageHeaders *forward)
{
	UcvWebExchange *ex = g_new0(UcvWebExchange, 1);
	SoupMessageHeaders *request = soup_server_message_get_request_headers(msg);

	ex->ref_count = 1; /* the proxy's set */
	ex->self = self;
	ex->msg = g_object_ref(msg);
	ex->job_id = g_strdup(job_id);
	ex->rank = rank;
	ex->method = g_strdup(soup_server_message_get_method(msg));
	ex->target_path = request_target(msg);
	ex->host = g_strdup(soup_message_headers_get_one(request, "Host"));
	ex->forward = soup_message_headers_ref(forward);
	ex->cancellable = g_cancellable_new();
	if (soup_message_headers_get_encoding(request) != SOUP_ENCODING_NONE)
		ex->body = soup_message_body_flatten(soup_server_message_get_request_body(msg));
	ex->finished_id = g_signal_connect(msg, "finished", G_CALLBACK(on_msg_finished), ex);
	g_hash_table_add(self->active, ex);
	soup_server_message_pause(msg);
	return ex;
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
	g_autoptr(GTask) task = g_task_new(NULL, ex->cancellable, callback, exchange_ref(ex));
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

/* HTTP ---------------------------------------------------------------------------------------- */

static void read_next_chunk(UcvWebExchange *ex);

/* An application's redirect to its own address leads the browser to the app host instead. */
static gchar *
rewrite_location(UcvWebExchange *ex, const gchar *location)
{
	g_autofree gchar *inside = g_strdup_printf("http://%s", ex->upstream_address);
	gsize len = strlen(inside);

	if (g_ascii_strncasecmp(location, inside, len) != 0 ||
	    (location[len] != '\0' && location[len] != '/' && location[len] != '?'))
		return NULL;
	return g_strdup_printf("%s://%s%s", ex->self->scheme, ex->host, location + len);
}

static void
relay_head(UcvWebExchange *ex, guint status, const gchar *reason, SoupMessageHeaders *in,
	   goffset length)
{
	SoupMessageHeaders *out = soup_server_message_get_response_headers(ex->msg);
	const gchar *connection = soup_message_headers_get_list(in, "Connection");
	SoupMessageHeadersIter iter;
	const gchar *name;
	const gchar *value;

	soup_message_headers_clear(out);
	soup_message_headers_iter_init(&iter, in);
	while (soup_message_headers_iter_next(&iter, &name, &value)) {
		g_autofree gchar *location = NULL;

		if (is_dropped(name, connection, FALSE))
			continue;
		if (g_ascii_strcasecmp(name, "Location") == 0)
			location = rewrite_location(ex, value);
		soup_message_headers_append(out, name, location != NULL ? location : value);
	}
	if (length >= 0)
		soup_message_headers_set_content_length(out, length);
	else
		soup_message_headers_set_encoding(out, SOUP_ENCODING_CHUNKED);
	soup_server_message_set_status(ex->msg, status, reason);
	soup_message_body_set_accumulate(soup_server_message_get_response_body(ex->msg), FALSE);
	ex->headers_out = TRUE;
}

static void
on_chunk_read(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWebExchange) ex = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) chunk =
		g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), res, &error);
	SoupMessageBody *body;

	if (ex->msg == NULL)
		return;
	if (chunk == NULL) {
		g_debug("job %s: web response cut off: %s", ex->job_id, error->message);
		abort_client(ex);
		return;
	}
	body = soup_server_message_get_response_body(ex->msg);
	if (g_bytes_get_size(chunk) == 0)
		soup_message_body_complete(body);
	else
		soup_message_body_append_bytes(body, chunk);
	/* the next chunk is read once this one is written ("wrote-chunk"): a client that does not
	 * read holds the application back instead of filling memory */
	soup_server_message_unpause(ex->msg);
}

static void
read_next_chunk(UcvWebExchange *ex)
{
	g_input_stream_read_bytes_async(ex->upstream_body, CHUNK_BYTES, G_PRIORITY_DEFAULT,
					ex->cancellable, on_chunk_read, exchange_ref(ex));
}

static void
on_wrote_chunk(SoupServerMessage *msg, UcvWebExchange *ex)
{
	read_next_chunk(ex);
}

static void
on_upstream_sent(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWebExchange) ex = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GInputStream) stream =
		soup_session_send_finish(SOUP_SESSION(source), res, &error);
	SoupMessageHeaders *headers;
	goffset length = -1;

	if (ex->msg == NULL)
		return;
	if (stream == NULL) {
		exchange_fail_error(ex, error, _("The application does not answer"));
		return;
	}
	headers = soup_message_get_response_headers(ex->upstream);
	if (soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH)
		length = soup_message_headers_get_content_length(headers);
	relay_head(ex, soup_message_get_status(ex->upstream),
		   soup_message_get_reason_phrase(ex->upstream), headers, length);
	ex->upstream_body = g_steal_pointer(&stream);
	ex->wrote_chunk_id =
		g_signal_connect(ex->msg, "wrote-chunk", G_CALLBACK(on_wrote_chunk), ex);
	/* the head goes out now, before the first byte of the body (event streams need that) */
	soup_server_message_unpause(ex->msg);
	read_next_chunk(ex);
}

static void
on_http_target(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWebExchange) ex = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *target = g_task_propagate_pointer(G_TASK(res), &error);
	g_autofree gchar *uri = NULL;
	SoupMessageHeadersIter iter;
	const gchar *name;
	const gchar *value;

	if (ex->msg == NULL)
		return;
	if (target == NULL) {
		exchange_fail_error(ex, error, _("The application cannot be reached"));
		return;
	}
	ex->upstream_address = g_steal_pointer(&target);
	uri = g_strdup_printf("http://%s%s", ex->upstream_address, ex->target_path);
	ex->upstream = soup_message_new(ex->method, uri);
	if (ex->upstream == NULL) {
		exchange_fail(ex, SOUP_STATUS_BAD_GATEWAY,
			      _("The application's address is not usable"));
		return;
	}
	soup_message_add_flags(ex->upstream, SOUP_MESSAGE_NO_REDIRECT);
	soup_message_headers_iter_init(&iter, ex->forward);
	while (soup_message_headers_iter_next(&iter, &name, &value))
		soup_message_headers_append(soup_message_get_request_headers(ex->upstream), name,
					    value);
	if (ex->body != NULL)
		soup_message_set_request_body_from_bytes(ex->upstream, NULL, ex->body);
	soup_session_send_async(ex->self->upstream, ex->upstream, G_PRIORITY_DEFAULT,
				ex->cancellable, on_upstream_sent, exchange_ref(ex));
}

/* Tunnels ------------------------------------------------------------------------------------- */

/* What the application answered to an upgrade request. */
typedef struct {
	GSocketConnection *conn;
	guint status;
	gchar *reason;
	SoupMessageHeaders *headers;
	GBytes *head; /* the head as received (passed on verbatim after a 101) */
	GBytes *rest; /* after a 101: the new protocol's first bytes; otherwise the body */
} UcvHandshake;

static void
handshake_free(UcvHandshake *hs)
{
	g_clear_object(&hs->conn);
	g_free(hs->reason);
	g_clear_pointer(&hs->headers, soup_message_headers_unref);
	g_clear_pointer(&hs->head, g_bytes_unref);
	g_clear_pointer(&hs->rest, g_bytes_unref);
	g_free(hs);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvHandshake, handshake_free)

/* Reads more into `buffer`; FALSE at the end of the stream (with `error` unset) or on error. */
static gboolean
read_more(GInputStream *in, GByteArray *buffer, gsize limit, GCancellable *cancellable,
	  GError **error)
{
	guint8 block[4096];
	gssize n;

	if (buffer->len >= limit) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
				    "the application's answer is too long");
		return FALSE;
	}
	n = g_input_stream_read(in, block, sizeof(block), cancellable, error);
	if (n <= 0)
		return FALSE;
	g_byte_array_append(buffer, block, (guint)n);
	return TRUE;
}

static gboolean
read_until_length(GInputStream *in, GByteArray *buffer, gsize length, GCancellable *cancellable,
		  GError **error)
{
	while (buffer->len < length) {
		if (!read_more(in, buffer, length + sizeof(guint8) * 4096, cancellable, error)) {
			if (error != NULL && *error == NULL)
				g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
						    "the application's answer ends early");
			return FALSE;
		}
	}
	return TRUE;
}

/* The offset of "\r\n" at or after `from`, reading more as needed; -1 on error. */
static gssize
find_line_end(GInputStream *in, GByteArray *buffer, gsize from, GCancellable *cancellable,
	      GError **error)
{
	for (;;) {
		for (gsize i = from; i + 1 < buffer->len; i++) {
			if (buffer->data[i] == '\r' && buffer->data[i + 1] == '\n')
				return (gssize)i;
		}
		if (!read_until_length(in, buffer, buffer->len + 1, cancellable, error))
			return -1;
		if (buffer->len > MAX_REFUSAL_BODY + MAX_HEAD_BYTES) {
			g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
					    "the application's answer is too long");
			return -1;
		}
	}
}

/* A chunked refusal body, from `buffer` (which holds what came after the head) and `in`. */
static GBytes *
read_chunked(GInputStream *in, GByteArray *buffer, GCancellable *cancellable, GError **error)
{
	g_autoptr(GByteArray) body = g_byte_array_new();
	gsize pos = 0;

	for (;;) {
		gssize eol = find_line_end(in, buffer, pos, cancellable, error);
		guint64 size;

		if (eol < 0)
			return NULL;
		size = g_ascii_strtoull((const gchar *)buffer->data + pos, NULL, 16);
		pos = (gsize)eol + 2;
		if (size == 0)
			return g_byte_array_free_to_bytes(g_steal_pointer(&body));
		if (size > MAX_REFUSAL_BODY || body->len + size > MAX_REFUSAL_BODY) {
			g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
					    "the application's answer is too long");
			return NULL;
		}
		if (!read_until_length(in, buffer, pos + (gsize)size + 2, cancellable, error))
			return NULL;
		g_byte_array_append(body, buffer->data + pos, (guint)size);
		pos += (gsize)size + 2;
	}
}

/* The body of a refusal (anything but 101), framed as its headers say. */
static GBytes *
read_refusal_body(UcvHandshake *hs, GInputStream *in, GByteArray *rest, gboolean head_request,
		  GCancellable *cancellable, GError **error)
{
	goffset length;

	if (head_request || hs->status == SOUP_STATUS_NO_CONTENT ||
	    hs->status == SOUP_STATUS_NOT_MODIFIED || SOUP_STATUS_IS_INFORMATIONAL(hs->status))
		return g_bytes_new(NULL, 0);
	switch (soup_message_headers_get_encoding(hs->headers)) {
	case SOUP_ENCODING_CHUNKED:
		return read_chunked(in, rest, cancellable, error);
	case SOUP_ENCODING_CONTENT_LENGTH:
		length = soup_message_headers_get_content_length(hs->headers);
		if (length > MAX_REFUSAL_BODY) {
			g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
					    "the application's answer is too long");
			return NULL;
		}
		if (!read_until_length(in, rest, (gsize)length, cancellable, error))
			return NULL;
		return g_bytes_new(rest->data, (gsize)length);
	default:
		/* until the application closes the connection */
		for (;;) {
			g_autoptr(GError) error_local = NULL;

			if (read_more(in, rest, MAX_REFUSAL_BODY, cancellable, &error_local))
				continue;
			if (error_local != NULL) {
				g_propagate_error(error, g_steal_pointer(&error_local));
				return NULL;
			}
			return g_bytes_new(rest->data, rest->len);
		}
	}
}

/* The offset after the blank line that ends the head, reading as needed; 0 on error. */
static gsize
read_head(GInputStream *in, GByteArray *buffer, GCancellable *cancellable, GError **error)
{
	for (;;) {
		for (gsize i = 0; i + 3 < buffer->len; i++) {
			if (memcmp(buffer->data + i, "\r\n\r\n", 4) == 0)
				return i + 4;
		}
		if (!read_more(in, buffer, MAX_HEAD_BYTES, cancellable, error)) {
			if (error != NULL && *error == NULL)
				g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
						    "the application closed the connection");
			return 0;
		}
	}
}

/* In a worker: blocking I/O with timeouts keeps the handshake plain. */
static void
handshake_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	UcvWebExchange *ex = task_data;
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(UcvHandshake) hs = g_new0(UcvHandshake, 1);
	g_autoptr(GByteArray) buffer = g_byte_array_new();
	g_autoptr(GByteArray) rest = NULL;
	g_autoptr(GError) error = NULL;
	GInputStream *in;
	gsize head_len;

	g_socket_client_set_timeout(client, CONNECT_TIMEOUT_S);
	hs->conn = g_socket_client_connect_to_host(client, ex->upstream_address, 80, cancellable,
						   &error);
	if (hs->conn == NULL ||
	    !g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(hs->conn)),
				       ex->head, strlen(ex->head), NULL, cancellable, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	in = g_io_stream_get_input_stream(G_IO_STREAM(hs->conn));
	head_len = read_head(in, buffer, cancellable, &error);
	if (head_len == 0) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	hs->headers = soup_message_headers_new(SOUP_MESSAGE_HEADERS_RESPONSE);
	if (!soup_headers_parse_response((const gchar *)buffer->data, (gint)head_len, hs->headers,
					 NULL, &hs->status, &hs->reason)) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_FAILED,
					"the application's answer is not HTTP");
		return;
	}
	hs->head = g_bytes_new(buffer->data, head_len);
	rest = g_byte_array_new();
	g_byte_array_append(rest, buffer->data + head_len, buffer->len - (guint)head_len);
	if (hs->status == SOUP_STATUS_SWITCHING_PROTOCOLS) {
		/* the tunnel may stay quiet for as long as its ends like */
		g_socket_set_timeout(g_socket_connection_get_socket(hs->conn), 0);
		hs->rest = g_byte_array_free_to_bytes(g_steal_pointer(&rest));
	} else {
		hs->rest = read_refusal_body(hs, in, rest, g_strcmp0(ex->method, "HEAD") == 0,
					     cancellable, &error);
		if (hs->rest == NULL) {
			g_task_return_error(task, g_steal_pointer(&error));
			return;
		}
	}
	g_task_return_pointer(task, g_steal_pointer(&hs), (GDestroyNotify)handshake_free);
}

static void
on_spliced(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWebExchange) ex = user_data;
	g_autoptr(GError) error = NULL;

	if (!g_io_stream_splice_finish(res, &error))
		g_debug("job %s: web tunnel ended: %s", ex->job_id, error->message);
	/* whichever side ended, or a revoked job: both connections go */
	g_io_stream_close(ex->client_stream, NULL, NULL);
	g_io_stream_close(G_IO_STREAM(ex->upstream_conn), NULL, NULL);
	exchange_end(ex);
}

static void
on_client_head_written(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWebExchange) ex = user_data;
	g_autoptr(GError) error = NULL;

	if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, &error) ||
	    ex->self == NULL) {
		g_io_stream_close(ex->client_stream, NULL, NULL);
		g_io_stream_close(G_IO_STREAM(ex->upstream_conn), NULL, NULL);
		exchange_end(ex);
		return;
	}
	g_io_stream_splice_async(ex->client_stream, G_IO_STREAM(ex->upstream_conn),
				 G_IO_STREAM_SPLICE_NONE, G_PRIORITY_DEFAULT, ex->cancellable,
				 on_spliced, exchange_ref(ex));
}

/* 101: the client's connection leaves libsoup and is joined to the application's. */
static void
open_tunnel(UcvWebExchange *ex, UcvHandshake *hs)
{
	g_autoptr(SoupServerMessage) msg = g_object_ref(ex->msg);
	g_autoptr(GByteArray) greeting = g_byte_array_new();

	exchange_release_msg(ex);
	ex->client_stream = soup_server_message_steal_connection(msg);
	ex->upstream_conn = g_steal_pointer(&hs->conn);
	if (ex->client_stream == NULL) {
		g_io_stream_close(G_IO_STREAM(ex->upstream_conn), NULL, NULL);
		exchange_end(ex);
		return;
	}
	g_byte_array_append(greeting, g_bytes_get_data(hs->head, NULL),
			    (guint)g_bytes_get_size(hs->head));
	if (g_bytes_get_size(hs->rest) > 0)
		g_byte_array_append(greeting, g_bytes_get_data(hs->rest, NULL),
				    (guint)g_bytes_get_size(hs->rest));
	ex->greeting = g_byte_array_free_to_bytes(g_steal_pointer(&greeting));
	g_output_stream_write_all_async(g_io_stream_get_output_stream(ex->client_stream),
					g_bytes_get_data(ex->greeting, NULL),
					g_bytes_get_size(ex->greeting), G_PRIORITY_DEFAULT,
					ex->cancellable, on_client_head_written, exchange_ref(ex));
	g_debug("job %s: web tunnel of rank %u open", ex->job_id, ex->rank);
}

static void
on_handshake(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWebExchange) ex = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvHandshake) hs = g_task_propagate_pointer(G_TASK(res), &error);

	if (ex->msg == NULL)
		return;
	if (hs == NULL) {
		exchange_fail_error(ex, error, _("The application does not answer"));
		return;
	}
	if (hs->status == SOUP_STATUS_SWITCHING_PROTOCOLS) {
		open_tunnel(ex, hs);
		return;
	}
	/* a refusal of the upgrade reaches the browser as an ordinary answer */
	relay_head(ex, hs->status, hs->reason, hs->headers, (goffset)g_bytes_get_size(hs->rest));
	soup_message_body_append_bytes(soup_server_message_get_response_body(ex->msg), hs->rest);
	soup_message_body_complete(soup_server_message_get_response_body(ex->msg));
	soup_server_message_unpause(ex->msg);
}

/* The request head the application gets: Host its own, our cookie gone, one Connection. */
static gchar *
build_tunnel_head(UcvWebExchange *ex)
{
	GString *head = g_string_new(NULL);
	SoupMessageHeadersIter iter;
	const gchar *name;
	const gchar *value;

	g_string_append_printf(head, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\n",
			       ex->method, ex->target_path, ex->upstream_address);
	soup_message_headers_iter_init(&iter, ex->forward);
	while (soup_message_headers_iter_next(&iter, &name, &value))
		g_string_append_printf(head, "%s: %s\r\n", name, value);
	g_string_append(head, "\r\n");
	return g_string_free(head, FALSE);
}

static void
on_tunnel_target(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWebExchange) ex = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *target = g_task_propagate_pointer(G_TASK(res), &error);
	g_autoptr(GTask) task = NULL;

	if (ex->msg == NULL)
		return;
	if (target == NULL) {
		exchange_fail_error(ex, error, _("The application cannot be reached"));
		return;
	}
	ex->upstream_address = g_steal_pointer(&target);
	ex->head = build_tunnel_head(ex);
	task = g_task_new(NULL, ex->cancellable, on_handshake, exchange_ref(ex));
	g_task_set_task_data(task, exchange_ref(ex), (GDestroyNotify)exchange_unref);
	g_task_run_in_thread(task, handshake_thread);
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
		respond_text(msg, SOUP_STATUS_NOT_FOUND, _("No application is served here"));
		return;
	}
	if (g_strcmp0(g_uri_get_path(soup_server_message_get_uri(msg)), UCV_WEB_AUTHORIZE_PATH) ==
	    0) {
		authorize(self, msg, &host);
		return;
	}
	upgrade = wants_upgrade(msg);
	forward = soup_message_headers_new(SOUP_MESSAGE_HEADERS_REQUEST);
	if (!copy_request_headers(self, msg, forward, upgrade)) {
		respond_text(msg, SOUP_STATUS_BAD_REQUEST,
			     _("The request has a header that cannot be forwarded"));
		return;
	}
	job_id = take_cookie(self, forward, &host);
	if (job_id == NULL) {
		respond_text(msg, SOUP_STATUS_FORBIDDEN,
			     _("This browser may not open this application (or its session has "
			       "ended). Open the application from UCloud again."));
		return;
	}
	if (upgrade && has_body(msg)) {
		respond_text(msg, SOUP_STATUS_BAD_REQUEST,
			     _("A request to upgrade the connection carries no body"));
		return;
	}
	ex = exchange_new(self, msg, job_id, host.rank, forward);
	resolve_async(ex, upgrade ? on_tunnel_target : on_http_target);
}

void
ucv_web_proxy_revoke_job(UcvWebProxy *self, const gchar *job_id)
{
	g_autoptr(GList) exchanges = NULL;
	GHashTableIter iter;
	UcvWebApp *app;

	g_return_if_fail(UCV_IS_WEB_PROXY(self));

	g_hash_table_iter_init(&iter, self->cookies);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&app)) {
		if (g_strcmp0(app->job_id, job_id) == 0)
			g_hash_table_iter_remove(&iter);
	}
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

static void
ucv_web_proxy_dispose(GObject *object)
{
	UcvWebProxy *self = UCV_WEB_PROXY(object);
	g_autoptr(GList) exchanges = g_hash_table_get_keys(self->active);

	for (GList *l = exchanges; l != NULL; l = l->next)
		exchange_end(l->data);
	g_clear_object(&self->upstream);
	g_clear_object(&self->sessions);
	g_clear_object(&self->engine);
	G_OBJECT_CLASS(ucv_web_proxy_parent_class)->dispose(object);
}

static void
ucv_web_proxy_finalize(GObject *object)
{
	UcvWebProxy *self = UCV_WEB_PROXY(object);

	g_hash_table_unref(self->cookies);
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
	self->cookies = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					      (GDestroyNotify)web_app_free);
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
