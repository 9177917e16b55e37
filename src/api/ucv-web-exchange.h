/* One client request through the web proxy (HTTP or an upgrade tunnel) and how it ends. */
#pragma once

#include <libsoup/soup.h>

#include "api/ucv-web-proxy.h"

G_BEGIN_DECLS

typedef struct {
	gint ref_count;
	UcvWebProxy *self;      /* NULL once ended */
	SoupServerMessage *msg; /* NULL once finished, refused or taken from libsoup */
	gulong finished_id;
	gulong wrote_chunk_id;
	gchar *job_id;
	guint rank;
	gboolean upgrade; /* a tunnel, not a plain HTTP request */
	gchar *method;
	gchar *target_path; /* path and query */
	gchar *host;        /* the client's Host */
	SoupMessageHeaders *forward;
	GBytes *body;
	gchar *upstream_address; /* "<ip>:<port>" */
	GCancellable *cancellable;
	gboolean headers_out; /* the client has the answer's head */
	/* HTTP */
	SoupMessage *upstream;
	GInputStream *upstream_body;
	/* tunnel */
	gchar *head;
	GBytes *greeting; /* the application's 101 head and first bytes, for the client */
	GIOStream *client_stream;
	GSocketConnection *upstream_conn;
} UcvWebExchange;

/* Pauses `msg` and joins the proxy's active set, which holds the returned reference. */
UcvWebExchange *ucv_web_exchange_new(UcvWebProxy *self, SoupServerMessage *msg, const gchar *job_id,
				     guint rank, gboolean upgrade, SoupMessageHeaders *forward);
UcvWebExchange *ucv_web_exchange_ref(UcvWebExchange *ex);
void ucv_web_exchange_unref(UcvWebExchange *ex);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvWebExchange, ucv_web_exchange_unref)

/* The client's message is no longer ours to touch. */
void ucv_web_exchange_release_msg(UcvWebExchange *ex);
/* Nothing more happens for this exchange: pending operations are cancelled. */
void ucv_web_exchange_end(UcvWebExchange *ex);
/* The client goes away without a proper end: it must not take a cut-off body for a whole one. */
void ucv_web_exchange_abort_client(UcvWebExchange *ex);
/* An answer of the proxy's own while the client waits; later, only the connection can go. */
void ucv_web_exchange_fail(UcvWebExchange *ex, guint status, const gchar *why);
void ucv_web_exchange_fail_error(UcvWebExchange *ex, const GError *error, const gchar *what);
/* The application's answer head goes to the client, the body streamed (`length` -1: chunked). */
void ucv_web_exchange_relay_head(UcvWebExchange *ex, guint status, const gchar *reason,
				 SoupMessageHeaders *in, goffset length);

G_END_DECLS
