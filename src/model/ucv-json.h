/* Tolerant json-glib member readers shared by the model parsers: absent and null read as unset. */
#pragma once

#include <json-glib/json-glib.h>

#include "ucv-error.h"

G_BEGIN_DECLS

/* NULL when obj is NULL or the member is absent or null. */
JsonNode *ucv_json_member(JsonObject *obj, const gchar *name);

/* Each reader fails with `code` in UCV_ERROR when the member has the wrong type. When it is absent
 * or null, object, string and boolean read as NULL or FALSE, and integers leave *out alone. */
gboolean ucv_json_read_object(JsonObject *obj, const gchar *name, JsonObject **out, UcvError code,
			      GError **error);
gboolean ucv_json_read_string(JsonObject *obj, const gchar *name, gchar **out, UcvError code,
			      GError **error);
gboolean ucv_json_read_bool(JsonObject *obj, const gchar *name, gboolean *out, UcvError code,
			    GError **error);
/* Accepts whole numbers written as doubles (2.0), as some serializers send them. */
gboolean ucv_json_read_int(JsonObject *obj, const gchar *name, gint64 min, gint64 max, gint64 *out,
			   UcvError code, GError **error);
/* Accepts only JSON integer literals. */
gboolean ucv_json_read_int_strict(JsonObject *obj, const gchar *name, gint64 min, gint64 max,
				  gint64 *out, UcvError code, GError **error);

/* A SimpleDuration {"hours","minutes","seconds"} in milliseconds; absent or null leaves *ms_out
 * alone. Parts may be absent; negative or absurd values fail. */
gboolean ucv_json_read_duration(JsonObject *obj, const gchar *name, gint64 *ms_out, UcvError code,
				GError **error);

G_END_DECLS
