/* The browser's VNC WebSocket, /ucloud/<provider id>/vnc?token=…: the token is the credential. */
#pragma once

#include <libsoup/soup.h>

#include "console/ucv-console-hub.h"
#include "console/ucv-session-tokens.h"
#include "engine/ucv-config.h"
#include "engine/ucv-engine.h"

G_BEGIN_DECLS

/* Serves the endpoint on `soup`; the objects must outlive the server's requests. */
void ucv_vnc_endpoint_attach(SoupServer *soup, const UcvConfig *config, UcvEngine *engine,
			     UcvSessionTokens *tokens, UcvConsoleHub *hub);

G_END_DECLS
