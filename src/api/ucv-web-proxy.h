/* WEB sessions: each job's web application on its own host, app-<job>-<rank>.<domain>, behind a
 * one-time authorization that leaves a cookie, then a reverse proxy (HTTP and WebSocket). */
#pragma once

#include <libsoup/soup.h>

#include "console/ucv-session-tokens.h"
#include "engine/ucv-config.h"
#include "engine/ucv-engine.h"

G_BEGIN_DECLS

/* The path on an app host that redeems a WEB session token and sets the cookie. */
#define UCV_WEB_AUTHORIZE_PATH "/ucloud-virt/authorize"
/* The cookie that admits a browser to one app host. */
#define UCV_WEB_COOKIE_NAME "ucloud-virt-web"

#define UCV_TYPE_WEB_PROXY (ucv_web_proxy_get_type())
G_DECLARE_FINAL_TYPE(UcvWebProxy, ucv_web_proxy, UCV, WEB_PROXY, GObject)

/* "<scheme>://app-<job>-<rank>.<domain>[:<port>]<path>" with the scheme and port of the public
 * URL; UCV_ERROR_NOT_SUPPORTED when no [web] domain is set or the job id cannot be part of a host
 * name. */
gchar *ucv_web_proxy_build_app_url(const UcvConfig *config, const gchar *job_id, guint rank,
				   const gchar *path, GError **error);

/* `config` is borrowed and must outlive the proxy; `engine` may be NULL when a resolver is set
 * (tests). */
UcvWebProxy *ucv_web_proxy_new(const UcvConfig *config, UcvEngine *engine,
			       UcvSessionTokens *sessions);

/* The request's Host (port and case aside) is exactly app-<job>-<rank>.<domain>. */
gboolean ucv_web_proxy_owns(UcvWebProxy *self, SoupServerMessage *msg);
/* Serves a request that ucv_web_proxy_owns(): authorization, cookie check, forwarding. */
void ucv_web_proxy_handle(UcvWebProxy *self, SoupServerMessage *msg);
/* The job stopped running: its cookies are void, its open requests and tunnels close. */
void ucv_web_proxy_revoke_job(UcvWebProxy *self, const gchar *job_id);

/* Where the application of a job's rank listens ("<ip>:<port>"), or NULL with `error`. */
typedef gchar *(*UcvWebResolver)(const gchar *job_id, guint rank, gpointer data, GError **error);
/* Tests: `resolver` answers instead of the engine (NULL: the engine again). */
void ucv_web_proxy_set_resolver(UcvWebProxy *self, UcvWebResolver resolver, gpointer data);

/* Open tunnels and forwarded requests (tests). */
guint ucv_web_proxy_get_n_active(UcvWebProxy *self);

G_END_DECLS
