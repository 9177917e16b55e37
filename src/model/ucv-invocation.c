/* UCloud's command line for DOCKER tools, built as UCloud's provider integration builds it
 * (JobFindParamAndValues, JobBuildParameter and JobDefaultArgBuilder in
 * provider-integration/im2/pkg/controller/job_parameters.go of SDU-eScience/UCloud). */
#define G_LOG_DOMAIN "ucv-model"

#include "config.h"

#include "ucv-invocation.h"
#include "ucv-invocation-private.h"

#include <string.h>

#include "ucv-error.h"
#include "ucv-json.h"

void
ucv_invocation_free(UcvInvocation *self)
{
	if (self == NULL)
		return;
	g_strfreev(self->argv);
	g_free(self->expand);
	g_strfreev(self->environment);
	g_free(self);
}

/* The whole job
 * ---------------------------------------------------------------------------------------------- */

static gboolean
ucv_invocation_build_argv(UcvInvocation *self, UcvInvocationBuilder *builder, JsonArray *entries,
			  GError **error)
{
	g_autoptr(GPtrArray) argv = ucv_invocation_words_new();
	g_autoptr(GArray) expand = g_array_new(FALSE, TRUE, sizeof(gboolean));

	for (guint i = 0; i < ucv_invocation_array_length(entries); i++) {
		g_autoptr(GPtrArray) words = NULL;
		JsonObject *entry = NULL;
		gboolean is_env = FALSE;

		if (!ucv_invocation_array_object(entries, i, &entry, error) ||
		    (words = ucv_invocation_entry_words(builder, entry, &is_env, error)) == NULL) {
			g_prefix_error(error, "invocation[%u]: ", i);
			return FALSE;
		}
		for (guint j = 0; j < words->len; j++)
			g_array_append_val(expand, is_env);
		g_ptr_array_extend_and_steal(argv, g_steal_pointer(&words));
	}
	g_ptr_array_add(argv, NULL);
	self->argv = (GStrv)g_ptr_array_free(g_steal_pointer(&argv), FALSE);
	self->expand = (gboolean *)g_array_free(g_steal_pointer(&expand), FALSE);
	return TRUE;
}

/* An environment entry's words joined with spaces. UCloud's container integration builds them
 * as command words (an `env` entry gives the text $NAME) and sets the variable even when the
 * result is empty. */
static gchar *
ucv_invocation_env_value(UcvInvocationBuilder *builder, JsonNode *node, GError **error)
{
	g_autoptr(GPtrArray) words = NULL;
	gboolean expand = FALSE;

	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, "must be an object");
		return NULL;
	}
	words = ucv_invocation_entry_words(builder, json_node_get_object(node), &expand, error);
	if (words == NULL)
		return NULL;
	g_ptr_array_add(words, NULL);
	return g_strjoinv(" ", (gchar **)words->pdata);
}

static gboolean
ucv_invocation_add_environment(GStrvBuilder *env, UcvInvocationBuilder *builder, const gchar *name,
			       JsonNode *node, GError **error)
{
	g_autofree gchar *value = NULL;
	g_autofree gchar *assignment = NULL;

	if (JSON_NODE_HOLDS_NULL(node))
		return TRUE;
	if (*name == '\0' || strchr(name, '=') != NULL) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "environment: \"%s\" cannot name a variable", name);
		return FALSE;
	}
	value = ucv_invocation_env_value(builder, node, error);
	if (value == NULL) {
		g_prefix_error(error, "environment.%s: ", name);
		return FALSE;
	}
	assignment = g_strdup_printf("%s=%s", name, value);
	g_strv_builder_add(env, assignment);
	return TRUE;
}

static gboolean
ucv_invocation_build_environment(UcvInvocation *self, UcvInvocationBuilder *builder,
				 JsonObject *environment, GError **error)
{
	g_autoptr(GStrvBuilder) env = g_strv_builder_new();
	g_autoptr(GList) names = NULL;

	/* the members in the order the application lists them */
	if (environment != NULL)
		names = json_object_get_members(environment);
	for (GList *l = names; l != NULL; l = l->next) {
		if (!ucv_invocation_add_environment(env, builder, l->data,
						    json_object_get_member(environment, l->data),
						    error))
			return FALSE;
	}
	self->environment = g_strv_builder_end(env);
	return TRUE;
}

/* status.resolvedApplication.invocation and specification.parameters */
static gboolean
ucv_invocation_find_parts(JsonNode *job, JsonObject **description, JsonObject **given,
			  GError **error)
{
	JsonObject *root, *spec = NULL, *status = NULL, *app = NULL;

	if (job == NULL || !JSON_NODE_HOLDS_OBJECT(job)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, "a job must be an object");
		return FALSE;
	}
	root = json_node_get_object(job);
	if (!ucv_json_read_object(root, "specification", &spec, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_object(spec, "parameters", given, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_object(root, "status", &status, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_object(status, "resolvedApplication", &app, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_object(app, "invocation", description, UCV_ERROR_INVALID, error))
		return FALSE;
	if (*description == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "the job has no status.resolvedApplication.invocation");
		return FALSE;
	}
	return TRUE;
}

UcvInvocation *
ucv_invocation_build(JsonNode *job, const UcvInvocationPaths *paths, GError **error)
{
	g_autoptr(GHashTable) values = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)ucv_invocation_value_free);
	UcvInvocationBuilder builder = {.values = values, .paths = paths};
	g_autoptr(UcvInvocation) self = g_new0(UcvInvocation, 1);
	JsonObject *description = NULL, *given = NULL, *environment = NULL;
	JsonArray *entries = NULL, *params = NULL;

	if (!ucv_invocation_find_parts(job, &description, &given, error))
		return NULL;
	if (!ucv_invocation_get_array(description, "invocation", &entries, error) ||
	    !ucv_invocation_get_array(description, "parameters", &params, error) ||
	    !ucv_json_read_object(description, "environment", &environment, UCV_ERROR_INVALID,
				  error)) {
		g_prefix_error(error, "resolvedApplication.invocation: ");
		return NULL;
	}
	if (!ucv_invocation_collect_values(&builder, params, given, error) ||
	    !ucv_invocation_build_argv(self, &builder, entries, error) ||
	    !ucv_invocation_build_environment(self, &builder, environment, error))
		return NULL;
	return g_steal_pointer(&self);
}

/* The job script
 * ---------------------------------------------------------------------------------------------- */

/* EscapeBash of UCloud: the word in single quotes, each ' written as '"'"'. */
static void
ucv_invocation_append_quoted(GString *script, const gchar *word)
{
	g_string_append_c(script, '\'');
	for (const gchar *p = word; *p != '\0'; p++) {
		if (*p == '\'')
			g_string_append(script, "'\"'\"'");
		else
			g_string_append_c(script, *p);
	}
	g_string_append_c(script, '\'');
}

/* UCloud writes "#!/usr/bin/env bash" and "&>"; images need not have bash, so this is POSIX sh.
 * An expanded `env` word is double-quoted: one word, as the builder made it, with no field
 * splitting or globbing of the variable's value. */
gchar *
ucv_invocation_to_script(const UcvInvocation *self, guint rank)
{
	GString *script;

	g_return_val_if_fail(self != NULL && self->argv != NULL, NULL);

	script = g_string_new("#!/bin/sh\ncd /work\nexec");
	for (guint i = 0; self->argv[i] != NULL; i++) {
		g_string_append_c(script, ' ');
		if (self->expand[i])
			g_string_append_printf(script, "\"%s\"", self->argv[i]);
		else
			ucv_invocation_append_quoted(script, self->argv[i]);
	}
	g_string_append_printf(script, " > /work/stdout-%u.log 2>&1\n", rank);
	return g_string_free(script, FALSE);
}
