/* What the pieces of the web proxy share: the proxy's state and the two ways to forward. */
#pragma once

#include "api/ucv-web-exchange.h"
#include "api/ucv-web-proxy.h"

G_BEGIN_DECLS

/* A browser reads these: a short text, never cached. */
void ucv_web_respond_text(SoupServerMessage *msg, guint status, const gchar *why);

/* The scheme of the public URL: what the browser speaks. */
const gchar *ucv_web_proxy_get_scheme(UcvWebProxy *self);
/* The one session for every application. */
SoupSession *ucv_web_proxy_get_upstream(UcvWebProxy *self);
void ucv_web_proxy_add_exchange(UcvWebProxy *self, UcvWebExchange *ex);
void ucv_web_proxy_remove_exchange(UcvWebProxy *self, UcvWebExchange *ex);

/* Once ex->upstream_address is known: a plain HTTP request forwarded and its answer streamed
 * back (ucv-web-http.c)… */
void ucv_web_http_forward(UcvWebExchange *ex);
/* …or an upgrade request handed over and, on 101, both connections joined (ucv-web-tunnel.c). */
void ucv_web_tunnel_open(UcvWebExchange *ex);

G_END_DECLS
