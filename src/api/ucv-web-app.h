/* The application a web request is for (a job's rank), read from and written as its host name. */
#pragma once

#include <glib.h>

#include "engine/ucv-config.h"

G_BEGIN_DECLS

/* One application: a job's rank. */
typedef struct {
	gchar *job_id;
	guint rank;
} UcvWebApp;

UcvWebApp *ucv_web_app_new(const gchar *job_id, guint rank);
void ucv_web_app_clear(UcvWebApp *app);
void ucv_web_app_free(UcvWebApp *app);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UcvWebApp, ucv_web_app_clear)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvWebApp, ucv_web_app_free)

/* A Host header that is exactly app-<job>-<rank><suffix>, with or without a port; `suffix` is "."
 * and the lower-case domain. */
gboolean ucv_web_app_parse_host(const gchar *suffix, const gchar *host, UcvWebApp *out);
/* Job ids are compared as browsers compare host names, ignoring case. */
gboolean ucv_web_app_matches(const UcvWebApp *app, const gchar *job_id, guint rank);
/* See ucv_web_proxy_build_app_url(). */
gchar *ucv_web_app_build_url(const UcvConfig *config, const gchar *job_id, guint rank,
			     const gchar *path, GError **error);

G_END_DECLS
