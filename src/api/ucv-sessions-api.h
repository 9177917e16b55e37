/* interactiveSession (current) and openInteractiveSession (documented): one handler. */
#pragma once

#include "api/ucv-routes.h"

G_BEGIN_DECLS

/* The path of the browser's VNC WebSocket under /ucloud/<provider id>/. */
#define UCV_VNC_PATH_SUFFIX "/vnc"

JsonNode *ucv_sessions_api_open(UcvApiRequest *request, GError **error);

G_END_DECLS
