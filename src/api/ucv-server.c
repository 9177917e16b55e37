/* The HTTP server: listening, the auth gate and body cap before any body is read, dispatch. */
#include "config.h"

#define G_LOG_DOMAIN "ucv-api"

#include "ucv-server.h"

#include <errno.h>
#include <libsoup/soup.h>

#include "api/ucv-http-error.h"
#include "api/ucv-http-reject.h"
#include "api/ucv-routes.h"
#include "api/ucv-follow-endpoint.h"
#include "api/ucv-shell-endpoint.h"
#include "api/ucv-vnc-endpoint.h"
#include "api/ucv-web-proxy.h"
#include "model/ucv-error.h"

struct _UcvServer {
	GObject parent_instance;
	const UcvConfig *config;
	UcvEngine *engine;
	UcvTokenVerifier *verifier;
	UcvRouteTable *routes;
	SoupServer *soup;
	UcvSessionTokens *sessions; /* credentials of the browser's console sockets */
	UcvConsoleHub *consoles;    /* the open ones, per job */
	UcvWebProxy *web;           /* app-<job>-<rank>.<domain>: the jobs' web applications */
};

G_DEFINE_TYPE(UcvServer, ucv_server, G_TYPE_OBJECT)

/* A client that misses this many tokens in this window must wait for the window to pass: enough
 * for a person's mistakes, far too few for guessing. */
#define SESSION_MAX_FAILURES     10
#define SESSION_FAILURE_WINDOW_S 60

/* What the server learns about a request before its body arrives. */
typedef struct {
	gsize max_body_bytes;
	gsize body_bytes;
	gboolean rejected;
	const UcvRoute *route;
} UcvRequestState;

#define UCV_REQUEST_STATE_KEY "ucv-request-state"

static void
ucv_server_got_chunk_cb(SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
	UcvRequestState *state = user_data;
	g_autoptr(GError) error = NULL;

	state->body_bytes += g_bytes_get_size(chunk);
	if (state->rejected || state->body_bytes <= state->max_body_bytes)
		return;
	/* a chunked body has no length to check up front; stop it as soon as it is too long */
	state->rejected = TRUE;
	g_set_error(&error, UCV_ERROR, UCV_ERROR_TOO_LARGE,
		    "the request body is larger than %zu bytes", state->max_body_bytes);
	ucv_http_reject_now(msg, error);
}

static gboolean
ucv_server_check_length(UcvServer *self, SoupServerMessage *msg, GError **error)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	goffset length;

	if (soup_message_headers_get_encoding(headers) != SOUP_ENCODING_CONTENT_LENGTH)
		return TRUE;
	length = soup_message_headers_get_content_length(headers);
	if (length >= 0 && (guint64)length <= self->config->max_body_bytes)
		return TRUE;
	g_set_error(error, UCV_ERROR, UCV_ERROR_TOO_LARGE,
		    "the request body is larger than %zu bytes", self->config->max_body_bytes);
	return FALSE;
}

static gboolean
ucv_server_check_auth(UcvServer *self, SoupServerMessage *msg, GError **error)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);

	return ucv_token_verifier_check_authorization(
		self->verifier, soup_message_headers_get_one(headers, "Authorization"), error);
}

/* A refused request is answered now (its status is set, so libsoup skips the handler); its body
 * is still read to keep the connection usable, but not kept. */
static void
ucv_server_refuse(SoupServerMessage *msg, const GError *error)
{
	soup_message_body_set_accumulate(soup_server_message_get_request_body(msg), FALSE);
	ucv_http_error_respond(msg, error);
}

static void
ucv_server_refuse_method(SoupServerMessage *msg, const gchar *path)
{
	g_autofree gchar *why = g_strdup_printf("%s is not allowed on %s",
						soup_server_message_get_method(msg), path);

	soup_message_body_set_accumulate(soup_server_message_get_request_body(msg), FALSE);
	ucv_http_respond_status(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, why, NULL);
}

/* Finds the request's route, or answers 404 or 405 and returns FALSE. */
static gboolean
ucv_server_find_route(UcvServer *self, SoupServerMessage *msg, const gchar *path,
		      UcvRequestState *state)
{
	g_autoptr(GError) error = NULL;
	gboolean path_known = FALSE;

	state->route = ucv_route_table_lookup(self->routes, soup_server_message_get_method(msg),
					      path, &path_known);
	if (state->route != NULL)
		return TRUE;
	if (path_known) {
		ucv_server_refuse_method(msg, path);
		return FALSE;
	}
	g_set_error(&error, UCV_ERROR, UCV_ERROR_NOT_FOUND, "%s is not served here", path);
	ucv_server_refuse(msg, error);
	return FALSE;
}

/* Runs when the headers are in and no byte of the body has been read. */
static void
ucv_server_early_cb(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
		    gpointer user_data)
{
	UcvServer *self = UCV_SERVER(user_data);
	UcvRequestState *state = g_new0(UcvRequestState, 1);
	g_autoptr(GError) error = NULL;

	state->max_body_bytes = self->config->max_body_bytes;
	g_object_set_data_full(G_OBJECT(msg), UCV_REQUEST_STATE_KEY, state, g_free);
	g_signal_connect(msg, "got-chunk", G_CALLBACK(ucv_server_got_chunk_cb), state);

	if (!ucv_server_check_length(self, msg, &error)) {
		state->rejected = TRUE;
		ucv_http_reject_now(msg, error);
		return;
	}
	/* an application's own requests: no route, no bearer token; the proxy checks its cookie */
	if (ucv_web_proxy_owns(self->web, msg))
		return;
	if (!ucv_server_find_route(self, msg, path, state))
		return;
	/* the token is checked before a single byte of the body is looked at */
	if (state->route->auth && !ucv_server_check_auth(self, msg, &error)) {
		g_debug("%s %s: %s", soup_server_message_get_method(msg), path, error->message);
		ucv_server_refuse(msg, error);
	}
}

/* NULL without error for an empty body; Core sends no Content-Type, so none is required. */
static JsonNode *
ucv_server_parse_body(SoupServerMessage *msg, GError **error)
{
	g_autoptr(GBytes) bytes =
		soup_message_body_flatten(soup_server_message_get_request_body(msg));
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error_local = NULL;
	gsize len = 0;
	const gchar *data = g_bytes_get_data(bytes, &len);

	if (len == 0)
		return NULL;
	if (!json_parser_load_from_data(parser, data, (gssize)len, &error_local)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "malformed JSON: %s",
			    error_local->message);
		return NULL;
	}
	if (json_parser_get_root(parser) == NULL)
		return NULL;
	return json_node_copy(json_parser_get_root(parser));
}

static void
ucv_server_handle_cb(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
		     gpointer user_data)
{
	UcvServer *self = UCV_SERVER(user_data);
	UcvRequestState *state = g_object_get_data(G_OBJECT(msg), UCV_REQUEST_STATE_KEY);
	g_autoptr(JsonNode) body = NULL;
	g_autoptr(JsonNode) response = NULL;
	g_autoptr(GError) error = NULL;
	UcvApiRequest request = {self->engine, self->config, NULL, NULL, self->sessions};

	if (state != NULL && !state->rejected && ucv_web_proxy_owns(self->web, msg)) {
		ucv_web_proxy_handle(self->web, msg);
		return;
	}
	/* the early handler answers every request it does not route */
	if (state == NULL || state->route == NULL || state->rejected) {
		g_set_error_literal(&error, UCV_ERROR, UCV_ERROR_FAILED, "request was not routed");
		ucv_http_error_respond(msg, error);
		return;
	}
	body = ucv_server_parse_body(msg, &error);
	if (error != NULL) {
		ucv_http_error_respond(msg, error);
		return;
	}
	request.route = state->route;
	request.body = body;
	response = state->route->handler(&request, &error);
	if (response == NULL) {
		ucv_http_error_respond(msg, error);
		return;
	}
	ucv_http_respond_json(msg, response);
}

static void
ucv_server_request_finished_cb(SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
	/* never the headers: they carry the bearer token */
	g_debug("%s %s %u", soup_server_message_get_method(msg),
		g_uri_get_path(soup_server_message_get_uri(msg)),
		soup_server_message_get_status(msg));
}

/* "127.0.0.1:8889", "[::1]:8889", "localhost:8889"; names other than localhost are refused so
 * that a typo cannot make the daemon listen somewhere unexpected. */
static GSocketAddress *
ucv_server_parse_listen(const gchar *entry, GError **error)
{
	g_autoptr(GSocketConnectable) parsed = NULL;
	g_autoptr(GInetAddress) address = NULL;
	g_autoptr(GError) error_local = NULL;
	const gchar *host;
	guint16 port;

	parsed = g_network_address_parse(entry, 0, &error_local);
	if (parsed == NULL) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG, "cannot listen on %s: %s", entry,
			    error_local->message);
		return NULL;
	}
	host = g_network_address_get_hostname(G_NETWORK_ADDRESS(parsed));
	port = g_network_address_get_port(G_NETWORK_ADDRESS(parsed));
	if (port == 0 && !g_str_has_suffix(entry, ":0")) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG,
			    "cannot listen on %s: no port given", entry);
		return NULL;
	}
	address = g_inet_address_new_from_string(host);
	if (address == NULL && g_ascii_strcasecmp(host, "localhost") == 0)
		address = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	if (address == NULL) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG,
			    "cannot listen on %s: not an IP address or localhost", entry);
		return NULL;
	}
	return g_inet_socket_address_new(address, port);
}

static gboolean
ucv_server_listen_one(UcvServer *self, const gchar *entry, GError **error)
{
	g_autoptr(GSocketAddress) address = ucv_server_parse_listen(entry, error);
	g_autoptr(GError) error_local = NULL;
	const gchar *reason;

	if (address == NULL)
		return FALSE;
	if (soup_server_listen(self->soup, address, 0, &error_local))
		return TRUE;
	/* GIO's own text repeats the address; the admin wants the plain reason */
	reason = g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE)
			 ? g_strerror(EADDRINUSE)
			 : error_local->message;
	g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG, "cannot listen on %s: %s", entry, reason);
	return FALSE;
}

gboolean
ucv_server_listen(UcvServer *self, GError **error)
{
	g_return_val_if_fail(UCV_IS_SERVER(self), FALSE);

	if (self->config->listen == NULL || self->config->listen[0] == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_CONFIG, "no address to listen on");
		return FALSE;
	}
	for (guint i = 0; self->config->listen[i] != NULL; i++) {
		g_autofree gchar *entry = g_strstrip(g_strdup(self->config->listen[i]));
		if (!ucv_server_listen_one(self, entry, error)) {
			soup_server_disconnect(self->soup);
			return FALSE;
		}
	}
	return TRUE;
}

guint16
ucv_server_get_port(UcvServer *self)
{
	GSList *listeners;
	g_autoptr(GSocketAddress) address = NULL;

	g_return_val_if_fail(UCV_IS_SERVER(self), 0);

	listeners = soup_server_get_listeners(self->soup);
	if (listeners != NULL)
		address = g_socket_get_local_address(G_SOCKET(listeners->data), NULL);
	g_slist_free(listeners);
	if (address == NULL || !G_IS_INET_SOCKET_ADDRESS(address))
		return 0;
	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(address));
}

void
ucv_server_disconnect(UcvServer *self)
{
	g_return_if_fail(UCV_IS_SERVER(self));

	soup_server_disconnect(self->soup);
}

static void
ucv_server_dispose(GObject *object)
{
	UcvServer *self = UCV_SERVER(object);

	if (self->soup != NULL)
		soup_server_disconnect(self->soup);
	g_clear_object(&self->soup);
	if (self->engine != NULL)
		g_signal_handlers_disconnect_by_data(self->engine, self);
	g_clear_object(&self->web);
	g_clear_object(&self->consoles);
	g_clear_object(&self->sessions);
	g_clear_object(&self->engine);
	g_clear_object(&self->verifier);
	G_OBJECT_CLASS(ucv_server_parent_class)->dispose(object);
}

static void
ucv_server_finalize(GObject *object)
{
	UcvServer *self = UCV_SERVER(object);

	g_clear_pointer(&self->routes, ucv_route_table_free);
	G_OBJECT_CLASS(ucv_server_parent_class)->finalize(object);
}

static void
ucv_server_class_init(UcvServerClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = ucv_server_dispose;
	object_class->finalize = ucv_server_finalize;
}

static void
ucv_server_init(UcvServer *self)
{
}

/* What a terminal shows as its last line, and a display's close reason. */
static const gchar *
console_end_reason(UcvJobState state)
{
	switch (state) {
	case UCV_JOB_STATE_SUSPENDED:
		return "the job was suspended";
	case UCV_JOB_STATE_IN_QUEUE:
		return "the job's machines stopped; the job waits to start again";
	default:
		return "the job ended";
	}
}

/* A machine that stops running takes its consoles along: open ones close with a reason and
 * unused tokens are void, so nothing admits a browser to a suspended or finished job. */
static void
close_consoles(UcvServer *self, const gchar *job_id, UcvJobState state)
{
	if (state == UCV_JOB_STATE_RUNNING)
		return;
	ucv_session_tokens_revoke_job(self->sessions, job_id);
	ucv_web_proxy_revoke_job(self->web, job_id);
	ucv_console_hub_stop_job(self->consoles, job_id, UCV_CONSOLE_INTERACTIVE,
				 console_end_reason(state));
}

/* Before the machines stop, so a terminal says why rather than that its console vanished. */
static void
on_job_stopping(UcvEngine *engine, const gchar *job_id, gint next_state, UcvServer *self)
{
	close_consoles(self, job_id, next_state);
}

static void
on_job_state_changed(UcvEngine *engine, const gchar *job_id, gint state, UcvServer *self)
{
	close_consoles(self, job_id, state);
	/* logs outlive a suspend; after the end their last lines go out, then the stream ends */
	if (ucv_job_state_is_final(state))
		ucv_console_hub_stop_job(self->consoles, job_id, UCV_CONSOLE_FOLLOW,
					 "the job ended");
}

UcvServer *
ucv_server_new(const UcvConfig *config, UcvEngine *engine, UcvTokenVerifier *verifier)
{
	UcvServer *self = g_object_new(UCV_TYPE_SERVER, NULL);

	g_return_val_if_fail(config != NULL && config->provider_id != NULL, NULL);

	self->config = config;
	self->engine = g_object_ref(engine);
	self->verifier = g_object_ref(verifier);
	self->routes = ucv_route_table_new(config->provider_id);
	self->soup = soup_server_new("server-header", "ucloud-virt/" PACKAGE_VERSION, NULL);
	self->sessions = ucv_session_tokens_new(config->session_timeout_s, SESSION_MAX_FAILURES,
						SESSION_FAILURE_WINDOW_S);
	self->consoles = ucv_console_hub_new();
	self->web = ucv_web_proxy_new(config, engine, self->sessions);
	g_signal_connect(engine, "job-state-changed", G_CALLBACK(on_job_state_changed), self);
	g_signal_connect(engine, "job-stopping", G_CALLBACK(on_job_stopping), self);
	ucv_vnc_endpoint_attach(self->soup, config, engine, self->sessions, self->consoles);
	ucv_shell_endpoint_attach(self->soup, config, engine, self->sessions, self->consoles);
	ucv_follow_endpoint_attach(self->soup, config, engine, self->verifier, self->consoles);
	soup_server_add_early_handler(self->soup, NULL, ucv_server_early_cb, self, NULL);
	soup_server_add_handler(self->soup, NULL, ucv_server_handle_cb, self, NULL);
	g_signal_connect(self->soup, "request-finished", G_CALLBACK(ucv_server_request_finished_cb),
			 self);
	g_signal_connect(self->soup, "request-aborted", G_CALLBACK(ucv_server_request_finished_cb),
			 self);
	return self;
}
