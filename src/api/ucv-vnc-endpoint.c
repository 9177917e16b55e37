/* The browser's VNC WebSocket, /ucloud/<provider id>/vnc?token=…: the token is the credential.
 * Everything is checked before the upgrade, so a refused client never sees an RFB byte; after
 * it, the connection leaves libsoup and a proxy pumps it to the machine's display. */
#define G_LOG_DOMAIN "ucv-api"

#include "config.h"

#include "api/ucv-vnc-endpoint.h"

#include <glib/gi18n.h>

#include "api/ucv-http-error.h"
#include "api/ucv-sessions-api.h"
#include "console/ucv-vnc-proxy.h"
#include "model/ucv-error.h"

/* RFB messages from a browser are small (keys, pointer, update requests); a clipboard paste is
 * the largest */
#define MAX_BROWSER_MESSAGE (1024 * 1024)

typedef struct {
	const UcvConfig *config;
	UcvEngine *engine;
	UcvSessionTokens *tokens;
	UcvConsoleHub *hub;
} UcvVncEndpoint;

/* One admitted browser between the 101 answer and its proxy. */
typedef struct {
	UcvVncEndpoint *endpoint;
	UcvSessionGrant *grant;
	UcvWsConnection *browser;
} UcvVncUpgrade;

static const gchar *const protocols[] = {"binary", NULL};

#define UPGRADE_KEY "ucv-vnc-upgrade"

static void
upgrade_free(UcvVncUpgrade *upgrade)
{
	ucv_session_grant_free(upgrade->grant);
	g_clear_object(&upgrade->browser);
	g_free(upgrade);
}

static void
on_display_open(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvVncUpgrade *upgrade = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocketConnection) display =
		ucv_engine_open_display_finish(upgrade->endpoint->engine, res, &error);
	g_autoptr(UcvVncProxy) proxy = NULL;

	if (display == NULL) {
		g_warning("job %s: cannot open the display of rank %u: %s", upgrade->grant->job_id,
			  upgrade->grant->rank, error->message);
		ucv_ws_connection_close(upgrade->browser, UCV_WS_CLOSE_INTERNAL_ERROR,
					"the machine's display cannot be reached");
		upgrade_free(upgrade);
		return;
	}
	proxy = ucv_vnc_proxy_new(upgrade->browser, G_IO_STREAM(display));
	ucv_console_hub_add(upgrade->endpoint->hub, upgrade->grant->job_id, proxy);
	ucv_vnc_proxy_start(proxy);
	g_debug("job %s: display of rank %u opened in a browser", upgrade->grant->job_id,
		upgrade->grant->rank);
	upgrade_free(upgrade);
}

/* The 101 answer is out: the connection is ours from here. */
static void
on_wrote_informational(SoupServerMessage *msg, gpointer unused)
{
	UcvVncUpgrade *upgrade = g_object_steal_data(G_OBJECT(msg), UPGRADE_KEY);
	g_autoptr(GIOStream) stream = NULL;

	if (upgrade == NULL)
		return;
	stream = soup_server_message_steal_connection(msg);
	upgrade->browser = ucv_ws_connection_new(stream, MAX_BROWSER_MESSAGE);
	ucv_engine_open_display_async(upgrade->endpoint->engine, upgrade->grant->job_id,
				      upgrade->grant->rank, NULL, on_display_open, upgrade);
}

static gboolean
origin_allowed(const UcvConfig *config, SoupServerMessage *msg)
{
	const gchar *origin = soup_message_headers_get_one(
		soup_server_message_get_request_headers(msg), "Origin");

	if (config->allowed_origins[0] == NULL)
		return TRUE;
	return origin != NULL &&
	       g_strv_contains((const gchar *const *)config->allowed_origins, origin);
}

/* The token, the job, the origin and the handshake, in that order; the first failure answers. */
static UcvSessionGrant *
admit(UcvVncEndpoint *self, SoupServerMessage *msg, GHashTable *query, GError **error)
{
	const gchar *token = query != NULL ? g_hash_table_lookup(query, "token") : NULL;
	g_autoptr(UcvSessionGrant) grant = NULL;

	if (g_strcmp0(soup_server_message_get_method(msg), "GET") != 0) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    _("the display is opened with a WebSocket GET"));
		return NULL;
	}
	grant = ucv_session_tokens_redeem(self->tokens, token, UCV_SESSION_VNC,
					  soup_server_message_get_remote_host(msg), error);
	if (grant == NULL)
		return NULL;
	if (!origin_allowed(self->config, msg)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
				    _("this page may not open displays of this provider"));
		return NULL;
	}
	if (!ucv_engine_check_console(self->engine, grant->job_id, grant->rank, error))
		return NULL;
	if (!soup_websocket_server_check_handshake(msg, NULL, (char **)protocols, NULL, error)) {
		g_prefix_error(error, "not a WebSocket handshake: ");
		return NULL;
	}
	return g_steal_pointer(&grant);
}

static void
on_request(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
	   gpointer user_data)
{
	UcvVncEndpoint *self = user_data;
	g_autoptr(GError) error = NULL;
	UcvVncUpgrade *upgrade;
	UcvSessionGrant *grant = admit(self, msg, query, &error);

	if (grant == NULL) {
		/* a WebSocket handshake error from libsoup is a bad request */
		if (error->domain != UCV_ERROR) {
			g_autoptr(GError) bad =
				g_error_new_literal(UCV_ERROR, UCV_ERROR_INVALID, error->message);
			ucv_http_error_respond(msg, bad);
			return;
		}
		g_debug("display refused: %s", error->message);
		ucv_http_error_respond(msg, error);
		return;
	}
	upgrade = g_new0(UcvVncUpgrade, 1);
	upgrade->endpoint = self;
	upgrade->grant = grant;
	soup_websocket_server_process_handshake(msg, NULL, (char **)protocols, NULL, NULL);
	/* kept by the message: a browser that leaves before the 101 is written takes it along */
	g_object_set_data_full(G_OBJECT(msg), UPGRADE_KEY, upgrade, (GDestroyNotify)upgrade_free);
	g_signal_connect(msg, "wrote-informational", G_CALLBACK(on_wrote_informational), NULL);
}

/* The upgrade request carries no body; one that announces one is refused before it is read. */
static void
on_early_request(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
		 gpointer user_data)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	SoupEncoding encoding = soup_message_headers_get_encoding(headers);
	g_autoptr(GError) error = NULL;

	if (encoding == SOUP_ENCODING_NONE ||
	    (encoding == SOUP_ENCODING_CONTENT_LENGTH &&
	     soup_message_headers_get_content_length(headers) == 0))
		return;
	g_set_error_literal(&error, UCV_ERROR, UCV_ERROR_INVALID,
			    _("the display is opened with a WebSocket GET"));
	ucv_http_error_respond(msg, error);
}

void
ucv_vnc_endpoint_attach(SoupServer *soup, const UcvConfig *config, UcvEngine *engine,
			UcvSessionTokens *tokens, UcvConsoleHub *hub)
{
	UcvVncEndpoint *self = g_new0(UcvVncEndpoint, 1);
	g_autofree gchar *path =
		g_strdup_printf("/ucloud/%s" UCV_VNC_PATH_SUFFIX, config->provider_id);

	self->config = config;
	self->engine = engine;
	self->tokens = tokens;
	self->hub = hub;
	soup_server_add_early_handler(soup, path, on_early_request, NULL, NULL);
	soup_server_add_handler(soup, path, on_request, self, g_free);
}
