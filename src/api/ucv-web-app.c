/* Host names of the web applications: app-<job>-<rank>.<domain>, parsed, checked and built. */
#include "config.h"

#include "api/ucv-web-app.h"

#include <glib/gi18n.h>
#include <string.h>

#include "model/ucv-error.h"

#define MAX_RANK          9999
#define MAX_JOB_ID_LENGTH 64
/* DNS: one label of a host name */
#define MAX_LABEL_LENGTH 63

UcvWebApp *
ucv_web_app_new(const gchar *job_id, guint rank)
{
	UcvWebApp *app = g_new0(UcvWebApp, 1);

	app->job_id = g_strdup(job_id);
	app->rank = rank;
	return app;
}

void
ucv_web_app_clear(UcvWebApp *app)
{
	g_clear_pointer(&app->job_id, g_free);
}

void
ucv_web_app_free(UcvWebApp *app)
{
	ucv_web_app_clear(app);
	g_free(app);
}

static gboolean
job_id_fits_host(const gchar *id)
{
	gsize len = strlen(id);

	if (len == 0 || len > MAX_JOB_ID_LENGTH || !g_ascii_isalnum(id[0]))
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(id[i]) && id[i] != '-')
			return FALSE;
	}
	return TRUE;
}

static gchar *
app_label(const gchar *job_id, guint rank)
{
	g_autofree gchar *label = g_strdup_printf("app-%s-%u", job_id, rank);

	return g_ascii_strdown(label, -1);
}

/* Digits only, no sign, no leading zero, no more than MAX_RANK. */
static gboolean
parse_rank(const gchar *str, guint *rank)
{
	guint64 value = 0;

	if (str[0] == '\0' || strlen(str) > 4 || (str[0] == '0' && str[1] != '\0'))
		return FALSE;
	for (const gchar *p = str; *p != '\0'; p++) {
		if (!g_ascii_isdigit(*p))
			return FALSE;
		value = value * 10 + (guint64)(*p - '0');
	}
	if (value > MAX_RANK)
		return FALSE;
	*rank = (guint)value;
	return TRUE;
}

/* "app-<job>-<rank>" of a lower-case label. */
static gboolean
parse_label(const gchar *label, UcvWebApp *out)
{
	g_autofree gchar *copy = NULL;
	gchar *dash;

	if (strlen(label) > MAX_LABEL_LENGTH || !g_str_has_prefix(label, "app-"))
		return FALSE;
	copy = g_strdup(label + strlen("app-"));
	dash = strrchr(copy, '-');
	if (dash == NULL)
		return FALSE;
	*dash = '\0';
	if (!job_id_fits_host(copy) || !parse_rank(dash + 1, &out->rank))
		return FALSE;
	out->job_id = g_steal_pointer(&copy);
	return TRUE;
}

gboolean
ucv_web_app_parse_host(const gchar *suffix, const gchar *header, UcvWebApp *out)
{
	const gchar *colon;
	g_autofree gchar *host = NULL;
	gsize host_len;
	gsize suffix_len;

	if (suffix == NULL || header == NULL)
		return FALSE;
	colon = strrchr(header, ':');
	if (colon != NULL) {
		if (colon[1] == '\0' || strlen(colon + 1) > 5 ||
		    strspn(colon + 1, "0123456789") != strlen(colon + 1))
			return FALSE;
	}
	host = g_ascii_strdown(header, colon != NULL ? colon - header : -1);
	host_len = strlen(host);
	suffix_len = strlen(suffix);
	if (host_len <= suffix_len || !g_str_has_suffix(host, suffix))
		return FALSE;
	host[host_len - suffix_len] = '\0';
	/* the label is one label: "app-1-0.x.<domain>" ends in the domain but is not ours */
	if (strchr(host, '.') != NULL)
		return FALSE;
	return parse_label(host, out);
}

gboolean
ucv_web_app_matches(const UcvWebApp *app, const gchar *job_id, guint rank)
{
	/* browsers lower-case host names; job ids are compared the same way */
	return g_ascii_strcasecmp(app->job_id, job_id) == 0 && app->rank == rank;
}

gchar *
ucv_web_app_build_url(const UcvConfig *config, const gchar *job_id, guint rank, const gchar *path,
		      GError **error)
{
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *label = NULL;
	g_autofree gchar *domain = NULL;

	if (config->web_domain == NULL || config->web_domain[0] == '\0') {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_NOT_SUPPORTED,
				    _("WEB sessions are not offered: this provider has no domain "
				      "for web applications ([web] domain)"));
		return NULL;
	}
	label = app_label(job_id, rank);
	if (!job_id_fits_host(job_id) || strlen(label) > MAX_LABEL_LENGTH) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_NOT_SUPPORTED,
			    _("The job id %s cannot be part of a host name, so its web "
			      "application cannot be opened"),
			    job_id);
		return NULL;
	}
	uri = g_uri_parse(config->public_url, G_URI_FLAGS_NONE, &error_local);
	if (uri == NULL) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG,
			    "the public URL %s is not usable: %s", config->public_url,
			    error_local->message);
		return NULL;
	}
	domain = g_ascii_strdown(config->web_domain, -1);
	if (g_uri_get_port(uri) > 0)
		return g_strdup_printf("%s://%s.%s:%d%s", g_uri_get_scheme(uri), label, domain,
				       g_uri_get_port(uri), path != NULL ? path : "");
	return g_strdup_printf("%s://%s.%s%s", g_uri_get_scheme(uri), label, domain,
			       path != NULL ? path : "");
}
