/* requestDynamicParameters: the parameters the provider adds to an application's own. */
#pragma once

#include "api/ucv-routes.h"

G_BEGIN_DECLS

/* {"parameters":[…]}: an integer diskSize (GiB) for VM applications, nothing for others. */
JsonNode *ucv_dynamic_parameters_request(UcvApiRequest *request, GError **error);

G_END_DECLS
