/* Browser console endpoints: the token is the only credential, so everything about the browser
 * is checked before the upgrade, and a refused browser never reaches a machine. */
#define G_LOG_DOMAIN "ucv-api"

#include "config.h"

#include "api/ucv-console-endpoint.h"

#include "api/ucv-ws-upgrade.h"

void
ucv_console_endpoint_serve(SoupServer *soup, const gchar *suffix, SoupServerCallback handler,
			   const UcvConfig *config, UcvEngine *engine, UcvSessionTokens *tokens,
			   UcvConsoleHub *hub)
{
	UcvConsoleEndpoint *self = g_new0(UcvConsoleEndpoint, 1);
	g_autofree gchar *path = g_strdup_printf("/ucloud/%s%s", config->provider_id, suffix);

	self->config = config;
	self->engine = engine;
	self->tokens = tokens;
	self->hub = hub;
	ucv_ws_upgrade_refuse_bodies(soup, path);
	soup_server_add_handler(soup, path, handler, self, g_free);
}

UcvSessionGrant *
ucv_console_endpoint_admit(UcvConsoleEndpoint *self, SoupServerMessage *msg, const gchar *token,
			   UcvSessionKind kind, const gchar *const *protocols, GError **error)
{
	g_autoptr(UcvSessionGrant) grant = NULL;

	/* a wrong method uses up no token */
	if (!ucv_ws_upgrade_check_method(msg, error))
		return NULL;
	grant = ucv_session_tokens_redeem(self->tokens, token, kind,
					  soup_server_message_get_remote_host(msg), error);
	if (grant == NULL)
		return NULL;
	if (!ucv_ws_upgrade_check_origin(self->config, msg, error) ||
	    !ucv_engine_check_console(self->engine, grant->job_id, grant->rank, error) ||
	    !ucv_ws_upgrade_check(msg, protocols, error))
		return NULL;
	return g_steal_pointer(&grant);
}
