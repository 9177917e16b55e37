/* The browser's VNC WebSocket, /ucloud/<provider id>/vnc?token=…: the token is the credential.
 * Everything is checked before the upgrade, so a refused client never sees an RFB byte; after
 * it, a proxy pumps the connection to the machine's display. */
#define G_LOG_DOMAIN "ucv-api"

#include "config.h"

#include "api/ucv-vnc-endpoint.h"

#include "api/ucv-console-endpoint.h"
#include "api/ucv-http-error.h"
#include "api/ucv-sessions-api.h"
#include "api/ucv-ws-upgrade.h"
#include "console/ucv-vnc-proxy.h"

/* RFB messages from a browser are small (keys, pointer, update requests); a clipboard paste is
 * the largest */
#define MAX_BROWSER_MESSAGE (1024 * 1024)

/* One admitted browser on its way to its proxy. */
typedef struct {
	UcvConsoleEndpoint *endpoint;
	UcvSessionGrant *grant;
	UcvWsConnection *browser;
} UcvVncUpgrade;

static const gchar *const protocols[] = {"binary", NULL};

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
	ucv_console_hub_add(upgrade->endpoint->hub, upgrade->grant->job_id, UCV_CONSOLE_INTERACTIVE,
			    UCV_CONSOLE_SESSION(proxy));
	ucv_vnc_proxy_start(proxy);
	g_debug("job %s: display of rank %u opened in a browser", upgrade->grant->job_id,
		upgrade->grant->rank);
	upgrade_free(upgrade);
}

static void
on_upgraded(UcvWsConnection *browser, gpointer data)
{
	UcvVncUpgrade *upgrade = data;

	upgrade->browser = g_object_ref(browser);
	ucv_engine_open_display_async(upgrade->endpoint->engine, upgrade->grant->job_id,
				      upgrade->grant->rank, NULL, on_display_open, upgrade);
}

static void
on_request(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
	   gpointer user_data)
{
	UcvConsoleEndpoint *self = user_data;
	const gchar *token = query != NULL ? g_hash_table_lookup(query, "token") : NULL;
	g_autoptr(GError) error = NULL;
	UcvVncUpgrade *upgrade;
	UcvSessionGrant *grant =
		ucv_console_endpoint_admit(self, msg, token, UCV_SESSION_VNC, protocols, &error);

	if (grant == NULL) {
		g_debug("display refused: %s", error->message);
		ucv_http_error_respond(msg, error);
		return;
	}
	upgrade = g_new0(UcvVncUpgrade, 1);
	upgrade->endpoint = self;
	upgrade->grant = grant;
	ucv_ws_upgrade_accept(msg, protocols, MAX_BROWSER_MESSAGE, on_upgraded, upgrade,
			      (GDestroyNotify)upgrade_free);
}

void
ucv_vnc_endpoint_attach(SoupServer *soup, const UcvConfig *config, UcvEngine *engine,
			UcvSessionTokens *tokens, UcvConsoleHub *hub)
{
	ucv_console_endpoint_serve(soup, UCV_VNC_PATH_SUFFIX, on_request, config, engine, tokens,
				   hub);
}
