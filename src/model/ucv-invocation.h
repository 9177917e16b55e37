/* UCloud's command line for DOCKER tools: argv and environment from a Job's application. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct {
	/* where a UCloud file path (e.g. "/123/home/data") appears inside the job; NULL: the
	 * default "/work/<last path component>" (UCloud's convention for mounted folders).
	 * Returning NULL fails the build: the file is not available to the job. */
	gchar *(*file_path)(const gchar *ucloud_path, gpointer user_data);
	gpointer user_data;
} UcvInvocationPaths;

typedef struct {
	GStrv argv; /* the words, unquoted; an `env` word reads "$NAME" */
	/* one per word of argv: TRUE for an `env` word naming a valid shell variable, which the job
	 * script expands (as one word); FALSE words are passed literally */
	gboolean *expand;
	GStrv environment; /* "NAME=value", in the application's order */
} UcvInvocation;

void ucv_invocation_free(UcvInvocation *self);

/* From a Job (current JSON form with status.resolvedApplication); paths may be NULL. Values are
 * the application's parameter defaults overlaid by the job's specification.parameters of
 * matching type. Errors: UCV_ERROR_INVALID (a required parameter without value, an invocation
 * entry of an unknown type, wrong JSON shapes), UCV_ERROR_NOT_SUPPORTED (jinja templates). */
UcvInvocation *ucv_invocation_build(JsonNode *job, const UcvInvocationPaths *paths, GError **error);

/* The job script: "#!/bin/sh", "cd /work", then exec of the words, each single-quoted
 * (' becomes '"'"') except expanded `env` words, written "$NAME", with output to
 * /work/stdout-<rank>.log. */
gchar *ucv_invocation_to_script(const UcvInvocation *self, guint rank);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvInvocation, ucv_invocation_free)

G_END_DECLS
