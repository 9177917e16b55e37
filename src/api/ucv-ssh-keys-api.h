/* Handler for Core's ssh calls to the provider: a user's SSH keys changed. */
#pragma once

#include "api/ucv-routes.h"

G_BEGIN_DECLS

/* POST ssh/keyUploaded: {"username","allKeys":[SshKey]} -> {}; the user's machines get the keys
 * in their cloud-init seeds in the background. */
JsonNode *ucv_ssh_keys_api_key_uploaded(UcvApiRequest *request, GError **error);

G_END_DECLS
