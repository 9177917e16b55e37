/* One registry request with what it needs on its way: the bearer-token retry and the capped
 * reading of its body. Private to the registry client's files. */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "container/ucv-registry-client.h"

G_BEGIN_DECLS

/* Where a body goes: a buffer (manifests, tokens) or a file with its running checksum (blobs). */
typedef struct {
	guint64 max_bytes;
	guint64 received;
	GByteArray *buffer;
	GOutputStream *file;
	GChecksum *checksum;
	guint64 expected;
	UcvRegistryProgressFunc progress;
	gpointer progress_data;
} UcvBodySink;

typedef void (*UcvBodyDone)(GTask *task);

/* One call: what to ask, of whom, and what became of it. */
typedef struct {
	UcvRegistryClient *client;
	UcvImageRef *ref;
	gchar *url;
	const gchar *accept;
	gboolean retried;
	guint hops;
	UcvBodySink sink;       /* the answer's body */
	UcvBodySink token_sink; /* a token realm's answer, on the way */
	UcvBodySink *active;    /* the one being read */
	UcvBodyDone done;       /* what follows the answer's body */
	GInputStream *body;
	gchar *blob_digest;
	gchar *blob_path;
	gchar *temp_path;
} UcvRegistryCall;

/* The client's session and its tokens ("registry/repository" -> bearer token). */
SoupSession *ucv_registry_client_get_session(UcvRegistryClient *self);
GHashTable *ucv_registry_client_get_tokens(UcvRegistryClient *self);

UcvRegistryCall *ucv_registry_call_new(UcvRegistryClient *client, const UcvImageRef *ref);
void ucv_registry_call_free(UcvRegistryCall *call);
/* Sends the GET of the task's call (its task data) to call->url and reads the body into
 * call->sink, then runs call->done; failures complete the task. Takes the task reference. */
void ucv_registry_call_send(GTask *task);

G_END_DECLS
