/* What the browser console endpoints (display and shell) share: the objects they serve from, and
 * the admission of a browser before its WebSocket upgrade. */
#pragma once

#include <libsoup/soup.h>

#include "console/ucv-console-hub.h"
#include "console/ucv-session-tokens.h"
#include "engine/ucv-config.h"
#include "engine/ucv-engine.h"

G_BEGIN_DECLS

typedef struct {
	const UcvConfig *config;
	UcvEngine *engine;
	UcvSessionTokens *tokens;
	UcvConsoleHub *hub;
} UcvConsoleEndpoint;

/* Serves `handler` at /ucloud/<provider id><suffix> with a new endpoint (kept by the server) as
 * its user data; upgrade requests that announce a body are refused before it is read. */
void ucv_console_endpoint_serve(SoupServer *soup, const gchar *suffix, SoupServerCallback handler,
				const UcvConfig *config, UcvEngine *engine,
				UcvSessionTokens *tokens, UcvConsoleHub *hub);

/* The method, the token (of `kind`, used up now), the page's origin, the job (running, with that
 * rank) and the WebSocket handshake (offering one of `protocols`), in that order; the first
 * failure is the error. */
UcvSessionGrant *ucv_console_endpoint_admit(UcvConsoleEndpoint *self, SoupServerMessage *msg,
					    const gchar *token, UcvSessionKind kind,
					    const gchar *const *protocols, GError **error);

G_END_DECLS
