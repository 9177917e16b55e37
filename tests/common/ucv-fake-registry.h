/* A container registry in the test process (distribution API v2, anonymous): images published
 * from layers the test makes, every request counted. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _UcvFakeRegistry UcvFakeRegistry;

UcvFakeRegistry *ucv_fake_registry_new(void);
void ucv_fake_registry_free(UcvFakeRegistry *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvFakeRegistry, ucv_fake_registry_free)

/* "127.0.0.1:<port>" */
const gchar *ucv_fake_registry_get_host(UcvFakeRegistry *self);

/* Serves `body` at `path` (e.g. "/v2/acme/batch/blobs/sha256:…"). */
void ucv_fake_registry_serve(UcvFakeRegistry *self, const gchar *path, const gchar *content_type,
			     GBytes *body);

/* Publishes repository:tag as an OCI manifest with the layers (GBytes, tar+gzip) in order and an
 * empty config; returns the manifest's digest. */
gchar *ucv_fake_registry_publish(UcvFakeRegistry *self, const gchar *repository, const gchar *tag,
				 GPtrArray *layers);

/* How many requests asked for a path that starts with `prefix`. */
guint ucv_fake_registry_count(UcvFakeRegistry *self, const gchar *prefix);

G_END_DECLS
