/* The WebSocket upgrade on libsoup's server, after which the connection is ours (libsoup's own
 * WebSocket class buffers sends without bound; ours does not). */
#define G_LOG_DOMAIN "ucv-api"

#include "config.h"

#include "api/ucv-ws-upgrade.h"

#include <glib/gi18n.h>

#include "api/ucv-http-error.h"
#include "model/ucv-error.h"

#define UPGRADE_KEY "ucv-ws-upgrade"

typedef struct {
	UcvWsUpgradedFunc upgraded;
	gpointer data;
	GDestroyNotify free;
	gsize max_message_bytes;
} UcvWsUpgrade;

static void
upgrade_free(UcvWsUpgrade *upgrade)
{
	if (upgrade->free != NULL && upgrade->data != NULL)
		upgrade->free(upgrade->data);
	g_free(upgrade);
}

gboolean
ucv_ws_upgrade_check_method(SoupServerMessage *msg, GError **error)
{
	if (g_strcmp0(soup_server_message_get_method(msg), "GET") == 0)
		return TRUE;
	g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
			    _("this endpoint is opened with a WebSocket GET"));
	return FALSE;
}

gboolean
ucv_ws_upgrade_check(SoupServerMessage *msg, const gchar *const *protocols, GError **error)
{
	g_autoptr(GError) handshake_error = NULL;

	if (!ucv_ws_upgrade_check_method(msg, error))
		return FALSE;
	if (!soup_websocket_server_check_handshake(msg, NULL, (char **)protocols, NULL,
						   &handshake_error)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, _("not a WebSocket handshake: %s"),
			    handshake_error->message);
		return FALSE;
	}
	return TRUE;
}

gboolean
ucv_ws_upgrade_check_origin(const UcvConfig *config, SoupServerMessage *msg, GError **error)
{
	const gchar *origin = soup_message_headers_get_one(
		soup_server_message_get_request_headers(msg), "Origin");

	if (config->allowed_origins[0] == NULL ||
	    (origin != NULL &&
	     g_strv_contains((const gchar *const *)config->allowed_origins, origin)))
		return TRUE;
	g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
			    _("this page may not open consoles of this provider"));
	return FALSE;
}

/* The 101 answer is out: the connection leaves libsoup. */
static void
on_wrote_informational(SoupServerMessage *msg, gpointer unused)
{
	UcvWsUpgrade *upgrade = g_object_steal_data(G_OBJECT(msg), UPGRADE_KEY);
	g_autoptr(GIOStream) stream = NULL;
	g_autoptr(UcvWsConnection) client = NULL;

	if (upgrade == NULL)
		return;
	stream = soup_server_message_steal_connection(msg);
	client = ucv_ws_connection_new(stream, upgrade->max_message_bytes);
	upgrade->upgraded(client, g_steal_pointer(&upgrade->data));
	upgrade_free(upgrade);
}

void
ucv_ws_upgrade_accept(SoupServerMessage *msg, const gchar *const *protocols,
		      gsize max_message_bytes, UcvWsUpgradedFunc upgraded, gpointer data,
		      GDestroyNotify free)
{
	UcvWsUpgrade *upgrade = g_new0(UcvWsUpgrade, 1);

	upgrade->upgraded = upgraded;
	upgrade->data = data;
	upgrade->free = free;
	upgrade->max_message_bytes = max_message_bytes;
	soup_websocket_server_process_handshake(msg, NULL, (char **)protocols, NULL, NULL);
	/* kept by the message: a client that leaves before the 101 is written takes it along */
	g_object_set_data_full(G_OBJECT(msg), UPGRADE_KEY, upgrade, (GDestroyNotify)upgrade_free);
	g_signal_connect(msg, "wrote-informational", G_CALLBACK(on_wrote_informational), NULL);
}

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
			    _("a WebSocket upgrade carries no body"));
	ucv_http_error_respond(msg, error);
}

void
ucv_ws_upgrade_refuse_bodies(SoupServer *soup, const gchar *path)
{
	soup_server_add_early_handler(soup, path, on_early_request, NULL, NULL);
}
