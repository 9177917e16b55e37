/* The browser's shell WebSocket, /ucloud/<provider id>/websocket?session=…: UCloud's terminal on
 * a machine's serial console; the session identifier is the credential. */
#pragma once

#include <libsoup/soup.h>

#include "console/ucv-console-hub.h"
#include "console/ucv-session-tokens.h"
#include "engine/ucv-config.h"
#include "engine/ucv-engine.h"

G_BEGIN_DECLS

#define UCV_SHELL_PATH_SUFFIX "/websocket"

/* Serves the endpoint on `soup`; the objects must outlive the server's requests. */
void ucv_shell_endpoint_attach(SoupServer *soup, const UcvConfig *config, UcvEngine *engine,
			       UcvSessionTokens *tokens, UcvConsoleHub *hub);

G_END_DECLS
