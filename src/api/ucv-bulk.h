/* BulkRequest and BulkResponse, the envelope of most provider calls (spec §1). */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The items of a BulkRequest (borrowed from body); null and absent items are the same mistake. */
JsonArray *ucv_bulk_get_items(JsonNode *body, GError **error);
/* {"responses":[…]}, taking `responses`. */
JsonNode *ucv_bulk_wrap_responses(JsonArray *responses);
/* {"responses":[{},…]}: one empty object per item. */
JsonNode *ucv_bulk_empty_responses(guint count);

G_END_DECLS
