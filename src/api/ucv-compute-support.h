/* ComputeSupport objects for retrieveProducts: one product and the features the provider offers. */
#pragma once

#include <json-glib/json-glib.h>

#include "model/ucv-features.h"
#include "model/ucv-product.h"

G_BEGIN_DECLS

/* `provider_id` names the provider when the product's category does not; `queue_status`
 * ({"running","pending"}, taken; NULL leaves it out) is ComputeSupport's queueStatus. */
JsonNode *ucv_compute_support_to_json(const UcvProduct *product, const UcvFeatures *features,
				      const gchar *provider_id, JsonNode *queue_status);

G_END_DECLS
