/* Headers across the web proxy: hop-by-hop filtering, forwarding headers, redirects. */
#include "config.h"

#include "api/ucv-web-headers.h"

#include <string.h>

/* Hop-by-hop headers, the framing (the proxy frames the body itself, so a client's
 * Transfer-Encoding never reaches the application), and what the proxy sets itself. */
static const gchar *const dropped_headers[] = {
	"Connection",
	"Keep-Alive",
	"TE",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
	"Host",
	"Content-Length",
	"Expect",
	"Forwarded",
	"X-Forwarded-For",
	"X-Forwarded-Host",
	"X-Forwarded-Proto",
	NULL,
};

static gboolean
is_dropped(const gchar *name, const gchar *connection, gboolean keep_upgrade)
{
	if (keep_upgrade && g_ascii_strcasecmp(name, "Upgrade") == 0)
		return FALSE;
	if (g_ascii_strncasecmp(name, "Proxy-", strlen("Proxy-")) == 0)
		return TRUE;
	for (guint i = 0; dropped_headers[i] != NULL; i++) {
		if (g_ascii_strcasecmp(name, dropped_headers[i]) == 0)
			return TRUE;
	}
	/* what the sender's Connection header names is hop-by-hop as well */
	return connection != NULL && soup_header_contains(connection, name);
}

static gboolean
is_clean(const gchar *text)
{
	return strpbrk(text, "\r\n") == NULL;
}

gboolean
ucv_web_headers_copy_request(SoupServerMessage *msg, const gchar *scheme, SoupMessageHeaders *out,
			     gboolean keep_upgrade)
{
	SoupMessageHeaders *in = soup_server_message_get_request_headers(msg);
	const gchar *connection = soup_message_headers_get_list(in, "Connection");
	const gchar *host = soup_message_headers_get_one(in, "Host");
	SoupMessageHeadersIter iter;
	const gchar *name;
	const gchar *value;

	/* the public host, as nginx and Envoy pass it: applications compare it with Origin and
	 * build their absolute URLs from it; exactly one, and first */
	soup_message_headers_append(out, "Host", host);
	soup_message_headers_iter_init(&iter, in);
	while (soup_message_headers_iter_next(&iter, &name, &value)) {
		/* libsoup's parser refuses these; a proxy does not rely on it */
		if (!is_clean(name) || !is_clean(value))
			return FALSE;
		if (!is_dropped(name, connection, keep_upgrade))
			soup_message_headers_append(out, name, value);
	}
	soup_message_headers_append(out, "X-Forwarded-For",
				    soup_server_message_get_remote_host(msg));
	soup_message_headers_append(out, "X-Forwarded-Host", host);
	soup_message_headers_append(out, "X-Forwarded-Proto", scheme);
	return TRUE;
}

/* `location` with `origin` replaced by "<scheme>://<host>", or NULL when it does not start so. */
static gchar *
replace_origin(const gchar *location, const gchar *origin, const gchar *scheme, const gchar *host)
{
	gsize len = strlen(origin);

	if (g_ascii_strncasecmp(location, origin, len) != 0 ||
	    (location[len] != '\0' && location[len] != '/' && location[len] != '?'))
		return NULL;
	return g_strdup_printf("%s://%s%s", scheme, host, location + len);
}

/* An application's redirect to its own inside address (its configured or bound one) leads the
 * browser to the app host instead; one to the app host over plain HTTP (it got the public Host
 * but may not read X-Forwarded-Proto) keeps the browser on the public scheme. */
static gchar *
rewrite_location(const gchar *location, const gchar *upstream_address, const gchar *scheme,
		 const gchar *host)
{
	g_autofree gchar *inside = g_strdup_printf("http://%s", upstream_address);
	g_autofree gchar *public_http = g_strdup_printf("http://%s", host);
	gchar *rewritten = replace_origin(location, inside, scheme, host);

	if (rewritten != NULL || g_strcmp0(scheme, "http") == 0)
		return rewritten;
	return replace_origin(location, public_http, scheme, host);
}

void
ucv_web_headers_copy_response(SoupMessageHeaders *in, SoupMessageHeaders *out,
			      const gchar *upstream_address, const gchar *scheme, const gchar *host)
{
	const gchar *connection = soup_message_headers_get_list(in, "Connection");
	SoupMessageHeadersIter iter;
	const gchar *name;
	const gchar *value;

	soup_message_headers_iter_init(&iter, in);
	while (soup_message_headers_iter_next(&iter, &name, &value)) {
		g_autofree gchar *location = NULL;

		if (is_dropped(name, connection, FALSE))
			continue;
		if (g_ascii_strcasecmp(name, "Location") == 0)
			location = rewrite_location(value, upstream_address, scheme, host);
		soup_message_headers_append(out, name, location != NULL ? location : value);
	}
}

/* libsoup has decoded the path, the application gets it encoded again ("%2F" comes through as
 * "/"). */
gchar *
ucv_web_headers_request_target(SoupServerMessage *msg)
{
	GUri *uri = soup_server_message_get_uri(msg);
	g_autofree gchar *path = g_uri_escape_string(g_uri_get_path(uri),
						     G_URI_RESERVED_CHARS_ALLOWED_IN_PATH, FALSE);
	const gchar *query = g_uri_get_query(uri);

	if (query == NULL)
		return g_steal_pointer(&path);
	return g_strconcat(path, "?", query, NULL);
}
