/* Invocation entries (word, env, bool_flag, var) as words of the command line (JobBuildParameter
 * of UCloud). */
#define G_LOG_DOMAIN "ucv-model"

#include "config.h"

#include "ucv-invocation-private.h"

#include "ucv-error.h"
#include "ucv-invocation-text.h"
#include "ucv-json.h"

GPtrArray *
ucv_invocation_words_new(void)
{
	return g_ptr_array_new_with_free_func(g_free);
}

static GPtrArray *
ucv_invocation_word_words(JsonObject *entry, GError **error)
{
	g_autoptr(GPtrArray) words = ucv_invocation_words_new();
	const gchar *word = NULL;

	if (!ucv_invocation_get_text(entry, "word", &word, error))
		return NULL;
	g_ptr_array_add(words, g_strdup(word));
	return g_steal_pointer(&words);
}

/* "$NAME", as in UCloud. UCloud then single-quotes it like any word, so the program receives the
 * text $NAME; the job script here expands it instead, as the contract describes (spec §7). */
static GPtrArray *
ucv_invocation_env_words(JsonObject *entry, gboolean *expand, GError **error)
{
	g_autoptr(GPtrArray) words = ucv_invocation_words_new();
	const gchar *variable = NULL;

	if (!ucv_invocation_get_text(entry, "variable", &variable, error))
		return NULL;
	g_ptr_array_add(words, g_strdup_printf("$%s", variable));
	*expand = ucv_invocation_is_shell_name(variable);
	return g_steal_pointer(&words);
}

static GPtrArray *
ucv_invocation_bool_flag_words(UcvInvocationBuilder *self, JsonObject *entry, GError **error)
{
	g_autoptr(GPtrArray) words = ucv_invocation_words_new();
	const gchar *name = NULL, *flag = NULL;
	UcvInvocationValue *pv;
	JsonNode *node = NULL;

	if (!ucv_invocation_get_text(entry, "variableName", &name, error) ||
	    !ucv_invocation_get_text(entry, "flag", &flag, error))
		return NULL;
	pv = g_hash_table_lookup(self->values, name);
	if (pv != NULL)
		node = ucv_json_member(pv->value, "value");
	/* anything but a boolean true adds nothing, as in UCloud */
	if (node != NULL && json_node_get_value_type(node) == G_TYPE_BOOLEAN &&
	    json_node_get_boolean(node))
		g_ptr_array_add(words, ucv_invocation_trim_space(flag));
	return g_steal_pointer(&words);
}

typedef struct {
	const gchar *prefix_global;
	const gchar *suffix_global;
	const gchar *prefix_variable;
	const gchar *suffix_variable;
	gboolean prefix_part_of_arg;
	gboolean suffix_part_of_arg;
} UcvInvocationVar;

static gboolean
ucv_invocation_read_var(JsonObject *entry, UcvInvocationVar *var, GError **error)
{
	return ucv_invocation_get_text(entry, "prefixGlobal", &var->prefix_global, error) &&
	       ucv_invocation_get_text(entry, "suffixGlobal", &var->suffix_global, error) &&
	       ucv_invocation_get_text(entry, "prefixVariable", &var->prefix_variable, error) &&
	       ucv_invocation_get_text(entry, "suffixVariable", &var->suffix_variable, error) &&
	       ucv_json_read_bool(entry, "isPrefixVariablePartOfArg", &var->prefix_part_of_arg,
				  UCV_ERROR_INVALID, error) &&
	       ucv_json_read_bool(entry, "isSuffixVariablePartOfArg", &var->suffix_part_of_arg,
				  UCV_ERROR_INVALID, error);
}

/* One variable's words: prefixVariable and suffixVariable (trimmed of blanks) either glued to
 * the value or as words of their own when not empty. */
static gboolean
ucv_invocation_add_variable(UcvInvocationBuilder *self, const UcvInvocationVar *var,
			    const gchar *name, GPtrArray *words, GError **error)
{
	UcvInvocationValue *pv = g_hash_table_lookup(self->values, name);
	g_autofree gchar *prefix = ucv_invocation_trim_blanks(var->prefix_variable);
	g_autofree gchar *suffix = ucv_invocation_trim_blanks(var->suffix_variable);
	g_autofree gchar *word = NULL;

	if (pv == NULL)
		return TRUE;
	word = ucv_invocation_render(self, name, pv, error);
	if (word == NULL)
		return FALSE;
	if (*prefix != '\0' && !var->prefix_part_of_arg)
		g_ptr_array_add(words, g_strdup(prefix));
	g_ptr_array_add(words, g_strconcat(var->prefix_part_of_arg ? prefix : "", word,
					   var->suffix_part_of_arg ? suffix : "", NULL));
	if (*suffix != '\0' && !var->suffix_part_of_arg)
		g_ptr_array_add(words, g_strdup(suffix));
	return TRUE;
}

/* With prefixGlobal or suffixGlobal, the Go builder trims white space off every word, the
 * values included; the Kotlin builder did not. */
static GPtrArray *
ucv_invocation_wrap_global(const UcvInvocationVar *var, GPtrArray *middle)
{
	g_autofree gchar *prefix = ucv_invocation_trim_blanks(var->prefix_global);
	g_autofree gchar *suffix = ucv_invocation_trim_blanks(var->suffix_global);
	GPtrArray *words;

	if (*prefix == '\0' && *suffix == '\0')
		return g_ptr_array_ref(middle);
	words = ucv_invocation_words_new();
	if (*prefix != '\0')
		g_ptr_array_add(words, ucv_invocation_trim_space(prefix));
	for (guint i = 0; i < middle->len; i++)
		g_ptr_array_add(words, ucv_invocation_trim_space(g_ptr_array_index(middle, i)));
	if (*suffix != '\0')
		g_ptr_array_add(words, ucv_invocation_trim_space(suffix));
	return words;
}

static GPtrArray *
ucv_invocation_var_words(UcvInvocationBuilder *self, JsonObject *entry, GError **error)
{
	g_autoptr(GPtrArray) middle = ucv_invocation_words_new();
	UcvInvocationVar var = {0};
	JsonArray *names = NULL;
	guint n;

	if (!ucv_invocation_get_array(entry, "variableNames", &names, error) ||
	    !ucv_invocation_read_var(entry, &var, error))
		return NULL;
	n = ucv_invocation_array_length(names);
	for (guint i = 0; i < n; i++) {
		JsonNode *node = json_array_get_element(names, i);

		if (json_node_get_value_type(node) != G_TYPE_STRING) {
			g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
					    "variableNames must hold strings");
			return NULL;
		}
		if (!ucv_invocation_add_variable(self, &var, json_node_get_string(node), middle,
						 error))
			return NULL;
	}
	/* nothing at all, not even prefixGlobal, when none of the variables has a value */
	if (middle->len == 0)
		return g_steal_pointer(&middle);
	return ucv_invocation_wrap_global(&var, middle);
}

/* expand is set for an `env` word the job script may expand. */
GPtrArray *
ucv_invocation_entry_words(UcvInvocationBuilder *self, JsonObject *entry, gboolean *expand,
			   GError **error)
{
	const gchar *type = NULL;

	*expand = FALSE;
	if (!ucv_invocation_get_text(entry, "type", &type, error))
		return NULL;
	if (g_strcmp0(type, "word") == 0)
		return ucv_invocation_word_words(entry, error);
	if (g_strcmp0(type, "env") == 0)
		return ucv_invocation_env_words(entry, expand, error);
	if (g_strcmp0(type, "var") == 0)
		return ucv_invocation_var_words(self, entry, error);
	if (g_strcmp0(type, "bool_flag") == 0)
		return ucv_invocation_bool_flag_words(self, entry, error);
	if (g_strcmp0(type, "jinja") == 0) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_NOT_SUPPORTED,
				    "jinja invocation templates are not supported");
		return NULL;
	}
	/* UCloud's builder skips such an entry with a warning; a command silently missing words
	 * would run wrongly, so the job is refused instead */
	g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "unknown invocation type \"%s\"", type);
	return NULL;
}
