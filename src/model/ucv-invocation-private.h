/* The command-line builder's insides, shared by its files (ucv-invocation*.c). */
#pragma once

#include <json-glib/json-glib.h>

#include "ucv-invocation.h"

G_BEGIN_DECLS

/* A parameter with its value: the job's, or the application's default made into one. */
typedef struct {
	JsonObject *param; /* the ApplicationParameter; NULL for a value Core injected */
	JsonObject *value; /* an AppParameterValue {type, value | path | hostname | id, ...} */
} UcvInvocationValue;

typedef struct {
	GHashTable *values; /* parameter name → UcvInvocationValue */
	const UcvInvocationPaths *paths;
} UcvInvocationBuilder;

/* JSON readers (ucv-invocation-json.c) */
gboolean ucv_invocation_get_string(JsonObject *obj, const gchar *name, const gchar **out,
				   GError **error);
gboolean ucv_invocation_get_text(JsonObject *obj, const gchar *name, const gchar **out,
				 GError **error);
gboolean ucv_invocation_require_string(JsonObject *obj, const gchar *name, const gchar **out,
				       GError **error);
gboolean ucv_invocation_get_array(JsonObject *obj, const gchar *name, JsonArray **out,
				  GError **error);
guint ucv_invocation_array_length(JsonArray *array);
gboolean ucv_invocation_array_object(JsonArray *array, guint index, JsonObject **out,
				     GError **error);
const gchar *ucv_invocation_param_type(JsonObject *param);

/* Values (ucv-invocation-values.c): builder->values from the application's parameters and the
 * job's specification.parameters */
void ucv_invocation_value_free(UcvInvocationValue *self);
gboolean ucv_invocation_collect_values(UcvInvocationBuilder *builder, JsonArray *params,
				       JsonObject *given, GError **error);

/* One value as a word (ucv-invocation-render.c) */
gchar *ucv_invocation_render(UcvInvocationBuilder *self, const gchar *name,
			     const UcvInvocationValue *pv, GError **error);

/* Invocation entries as words (ucv-invocation-words.c) */
GPtrArray *ucv_invocation_words_new(void);
GPtrArray *ucv_invocation_entry_words(UcvInvocationBuilder *self, JsonObject *entry,
				      gboolean *expand, GError **error);

G_END_DECLS
