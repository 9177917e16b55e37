/* Pulls images from OCI and Docker registries (distribution API v2): the manifest for linux/amd64
 * and its blobs, each checked against its digest. Anonymous and bearer-token access. */
#pragma once

#include <gio/gio.h>

#include "container/ucv-image-manifest.h"
#include "container/ucv-image-ref.h"

G_BEGIN_DECLS

/* Bytes of the blob received so far, of `total`. */
typedef void (*UcvRegistryProgressFunc)(guint64 received, guint64 total, gpointer user_data);

#define UCV_TYPE_REGISTRY_CLIENT (ucv_registry_client_get_type())
G_DECLARE_FINAL_TYPE(UcvRegistryClient, ucv_registry_client, UCV, REGISTRY_CLIENT, GObject)

/* Registries named in `insecure` (host[:port]) are spoken to over plain HTTP. */
UcvRegistryClient *ucv_registry_client_new(const gchar *const *insecure);

/* The image's manifest, through an index to its linux/amd64 entry. An unknown image is
 * UCV_ERROR_NOT_FOUND, a registry that cannot be reached UCV_ERROR_UNAVAILABLE, anything
 * malformed or not for linux/amd64 UCV_ERROR_INVALID. */
void ucv_registry_client_get_manifest_async(UcvRegistryClient *self, const UcvImageRef *ref,
					    GCancellable *cancellable, GAsyncReadyCallback callback,
					    gpointer user_data);
UcvImageManifest *ucv_registry_client_get_manifest_finish(UcvRegistryClient *self,
							  GAsyncResult *res, GError **error);

/* Downloads blob `digest` of the image's repository to `path` (written under a temporary name,
 * renamed when whole and its SHA-256 matches); at most `max_bytes`. */
void ucv_registry_client_fetch_blob_async(UcvRegistryClient *self, const UcvImageRef *ref,
					  const gchar *digest, const gchar *path, guint64 max_bytes,
					  UcvRegistryProgressFunc progress, gpointer progress_data,
					  GCancellable *cancellable, GAsyncReadyCallback callback,
					  gpointer user_data);
gboolean ucv_registry_client_fetch_blob_finish(UcvRegistryClient *self, GAsyncResult *res,
					       GError **error);

G_END_DECLS
