/* Headers between a browser and a web application: what crosses the proxy and what it adds. */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* The client's request headers as the application gets them into `out`, our cookie not yet
 * removed: the browser's Host, no hop-by-hop headers (but Upgrade with `keep_upgrade`), and
 * X-Forwarded-For/-Host/-Proto of the proxy's own. FALSE when a header cannot be forwarded. */
gboolean ucv_web_headers_copy_request(SoupServerMessage *msg, const gchar *scheme,
				      SoupMessageHeaders *out, gboolean keep_upgrade);
/* The application's response headers as the client gets them into `out`: no hop-by-hop
 * headers, and a Location that points at the application itself pointing at
 * "<scheme>://<host>" instead. */
void ucv_web_headers_copy_response(SoupMessageHeaders *in, SoupMessageHeaders *out,
				   const gchar *upstream_address, const gchar *scheme,
				   const gchar *host);
/* The path and query as sent. */
gchar *ucv_web_headers_request_target(SoupServerMessage *msg);

G_END_DECLS
