/* Handlers for the integration calls Core makes outside the jobs API. */
#pragma once

#include "api/ucv-routes.h"

G_BEGIN_DECLS

/* GET integration/retrieveManifest: no user mapping, {"enabled":false,"expireAfterMs":null}. */
JsonNode *ucv_integration_api_retrieve_manifest(UcvApiRequest *request, GError **error);
/* POST integration/init: nothing to set up per user, {}. */
JsonNode *ucv_integration_api_init(UcvApiRequest *request, GError **error);

G_END_DECLS
