/* What the WebSocket endpoints (display, shell, follow) share: the checks before the upgrade,
 * the 101 answer, and taking the connection out of libsoup once that answer is written. */
#pragma once

#include <libsoup/soup.h>

#include "console/ucv-ws-connection.h"
#include "engine/ucv-config.h"

G_BEGIN_DECLS

/* Called with the client's connection once the 101 answer is out; `data` is the caller's. */
typedef void (*UcvWsUpgradedFunc)(UcvWsConnection *client, gpointer data);

/* A GET with a valid WebSocket handshake offering one of `protocols` (NULL: none needed);
 * anything else is UCV_ERROR_INVALID with the reason. */
gboolean ucv_ws_upgrade_check(SoupServerMessage *msg, const gchar *const *protocols,
			      GError **error);

/* Only the method (before anything else, so a wrong one uses up no token). */
gboolean ucv_ws_upgrade_check_method(SoupServerMessage *msg, GError **error);

/* The browser's Origin is one the configuration allows (any, when it names none); otherwise
 * UCV_ERROR_UNAUTHORIZED. */
gboolean ucv_ws_upgrade_check_origin(const UcvConfig *config, SoupServerMessage *msg,
				     GError **error);

/* Answers 101 and calls `upgraded` once that is written. A client that leaves first takes `data`
 * along (freed with `free`). Client messages over `max_message_bytes` close the socket. */
void ucv_ws_upgrade_accept(SoupServerMessage *msg, const gchar *const *protocols,
			   gsize max_message_bytes, UcvWsUpgradedFunc upgraded, gpointer data,
			   GDestroyNotify free);

/* Upgrade requests carry no body: one that announces a body is refused before it is read. */
void ucv_ws_upgrade_refuse_bodies(SoupServer *soup, const gchar *path);

G_END_DECLS
