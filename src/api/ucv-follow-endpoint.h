/* Core's follow WebSocket, /ucloud/jobs.provider.<provider id>/websocket: the upgrade carries
 * Core's bearer token like every other call of Core's. */
#pragma once

#include <libsoup/soup.h>

#include "api/ucv-token-verifier.h"
#include "console/ucv-console-hub.h"
#include "engine/ucv-config.h"
#include "engine/ucv-engine.h"

G_BEGIN_DECLS

/* Serves the endpoint on `soup`; the objects must outlive the server's requests. */
void ucv_follow_endpoint_attach(SoupServer *soup, const UcvConfig *config, UcvEngine *engine,
				UcvTokenVerifier *verifier, UcvConsoleHub *hub);

G_END_DECLS
