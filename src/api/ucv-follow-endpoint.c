/* The follow endpoint: Core's token is checked before the upgrade; after it, a channel serves
 * Core's follow calls from the machines' console logs (kept by virtlogd, so they hold everything
 * since the first boot, across suspends and restarts of this daemon). */
#define G_LOG_DOMAIN "ucv-api"

#include "config.h"

#include "api/ucv-follow-endpoint.h"

#include "api/ucv-http-error.h"
#include "api/ucv-ws-upgrade.h"
#include "console/ucv-follow-channel.h"

/* Core's frames are small: an init carries one Job */
#define MAX_CORE_MESSAGE (1024 * 1024)

typedef struct {
	const UcvConfig *config;
	UcvEngine *engine;
	UcvTokenVerifier *verifier;
	UcvConsoleHub *hub;
	gchar *call;
} UcvFollowEndpoint;

static void
endpoint_free(UcvFollowEndpoint *self)
{
	g_free(self->call);
	g_free(self);
}

static GStrv
resolve_logs(const gchar *job_id, gboolean *ended, gpointer user_data, GError **error)
{
	UcvFollowEndpoint *self = user_data;

	return ucv_engine_get_console_logs(self->engine, job_id, ended, error);
}

static void
on_upgraded(UcvWsConnection *core, gpointer data)
{
	UcvFollowEndpoint *self = data;
	g_autoptr(UcvFollowChannel) channel = ucv_follow_channel_new(
		core, self->call, (gsize)self->config->log_backlog_kib * 1024, self->hub,
		resolve_logs, self);

	ucv_follow_channel_start(channel);
}

static void
on_request(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
	   gpointer user_data)
{
	UcvFollowEndpoint *self = user_data;
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	g_autoptr(GError) error = NULL;

	if (!ucv_ws_upgrade_check_method(msg, &error) ||
	    !ucv_token_verifier_check_authorization(
		    self->verifier, soup_message_headers_get_one(headers, "Authorization"),
		    &error) ||
	    !ucv_ws_upgrade_check(msg, NULL, &error)) {
		g_debug("follow refused: %s", error->message);
		ucv_http_error_respond(msg, error);
		return;
	}
	ucv_ws_upgrade_accept(msg, NULL, MAX_CORE_MESSAGE, on_upgraded, self, NULL);
}

void
ucv_follow_endpoint_attach(SoupServer *soup, const UcvConfig *config, UcvEngine *engine,
			   UcvTokenVerifier *verifier, UcvConsoleHub *hub)
{
	UcvFollowEndpoint *self = g_new0(UcvFollowEndpoint, 1);
	g_autofree gchar *path =
		g_strdup_printf("/ucloud/jobs.provider.%s/websocket", config->provider_id);

	self->config = config;
	self->engine = engine;
	self->verifier = verifier;
	self->hub = hub;
	self->call = g_strdup_printf("jobs.provider.%s.follow", config->provider_id);
	ucv_ws_upgrade_refuse_bodies(soup, path);
	soup_server_add_handler(soup, path, on_request, self, (GDestroyNotify)endpoint_free);
}
