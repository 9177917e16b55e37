/* The cookie jar of the web applications: issue, check and revoke the cookies of app hosts. */
#include "config.h"

#include "api/ucv-web-cookies.h"

#include <gnutls/crypto.h>
#include <string.h>

#include "api/ucv-web-proxy.h"
#include "model/ucv-error.h"

#define COOKIE_BYTES 32

struct _UcvWebCookies {
	GHashTable *apps; /* SHA-256 of a cookie (hex) -> UcvWebApp */
};

UcvWebCookies *
ucv_web_cookies_new(void)
{
	UcvWebCookies *jar = g_new0(UcvWebCookies, 1);

	jar->apps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					  (GDestroyNotify)ucv_web_app_free);
	return jar;
}

void
ucv_web_cookies_free(UcvWebCookies *jar)
{
	g_hash_table_unref(jar->apps);
	g_free(jar);
}

static gchar *
cookie_hash(const gchar *value)
{
	return g_compute_checksum_for_string(G_CHECKSUM_SHA256, value, -1);
}

gchar *
ucv_web_cookies_issue(UcvWebCookies *jar, const gchar *job_id, guint rank, GError **error)
{
	guchar bytes[COOKIE_BYTES];
	g_autofree gchar *value = NULL;

	if (gnutls_rnd(GNUTLS_RND_KEY, bytes, sizeof(bytes)) != 0) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
				    "no random bytes for a cookie");
		return NULL;
	}
	value = g_base64_encode(bytes, sizeof(bytes));
	g_strdelimit(value, "+", '-');
	g_strdelimit(value, "/", '_');
	g_strdelimit(value, "=", '\0');
	g_hash_table_insert(jar->apps, cookie_hash(value), ucv_web_app_new(job_id, rank));
	return g_steal_pointer(&value);
}

/* The value of our cookie in one "name=value" pair, or NULL. */
static const gchar *
our_value(const gchar *pair)
{
	gsize name_len = strlen(UCV_WEB_COOKIE_NAME);

	if (strncmp(pair, UCV_WEB_COOKIE_NAME, name_len) != 0 || pair[name_len] != '=')
		return NULL;
	return pair + name_len + 1;
}

gchar *
ucv_web_cookies_take(UcvWebCookies *jar, SoupMessageHeaders *headers, const UcvWebApp *app)
{
	g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) all = g_string_new(NULL);
	g_auto(GStrv) pairs = NULL;
	SoupMessageHeadersIter iter;
	const gchar *name;
	const gchar *value;
	gchar *job_id = NULL;

	soup_message_headers_iter_init(&iter, headers);
	while (soup_message_headers_iter_next(&iter, &name, &value)) {
		if (g_ascii_strcasecmp(name, "Cookie") == 0)
			g_string_append_printf(all, "%s;", value);
	}
	pairs = g_strsplit(all->str, ";", -1);
	for (guint i = 0; pairs[i] != NULL; i++) {
		gchar *pair = g_strstrip(pairs[i]);
		const gchar *ours = our_value(pair);
		g_autofree gchar *hash = NULL;
		UcvWebApp *admits;

		if (pair[0] == '\0')
			continue;
		if (ours == NULL) {
			g_ptr_array_add(kept, g_strdup(pair));
			continue;
		}
		hash = cookie_hash(ours);
		admits = g_hash_table_lookup(jar->apps, hash);
		if (job_id == NULL && admits != NULL &&
		    ucv_web_app_matches(app, admits->job_id, admits->rank))
			job_id = g_strdup(admits->job_id);
	}
	soup_message_headers_remove(headers, "Cookie");
	if (kept->len > 0) {
		g_autofree gchar *joined = NULL;

		g_ptr_array_add(kept, NULL);
		joined = g_strjoinv("; ", (gchar **)kept->pdata);
		soup_message_headers_append(headers, "Cookie", joined);
	}
	return job_id;
}

void
ucv_web_cookies_revoke_job(UcvWebCookies *jar, const gchar *job_id)
{
	GHashTableIter iter;
	UcvWebApp *app;

	g_hash_table_iter_init(&iter, jar->apps);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&app)) {
		if (g_strcmp0(app->job_id, job_id) == 0)
			g_hash_table_iter_remove(&iter);
	}
}
