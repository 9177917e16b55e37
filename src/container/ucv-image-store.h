/* Container images on the host: one read-only erofs file per manifest digest, made once from the
 * registry's layers and kept until the cache needs the room; concurrent jobs of one image share
 * one pull. */
#pragma once

#include <gio/gio.h>

#include "container/ucv-registry-client.h"

G_BEGIN_DECLS

typedef struct {
	gchar *digest;      /* the manifest's: the image's identity */
	gchar *erofs_path;  /* the image's filesystem, read-only */
	gchar *config_path; /* the image's config (OCI image config JSON: Env, Cmd, User, …) */
} UcvStoredImage;

void ucv_stored_image_free(UcvStoredImage *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvStoredImage, ucv_stored_image_free)

/* How far a pull has come, 0…100 (the layers' bytes received of all of them). */
typedef void (*UcvImageProgressFunc)(guint percent, gpointer user_data);

#define UCV_TYPE_IMAGE_STORE (ucv_image_store_get_type())
G_DECLARE_FINAL_TYPE(UcvImageStore, ucv_image_store, UCV, IMAGE_STORE, GObject)

/* Keeps its files under `dir`. An image whose layers (compressed, or unpacked) exceed
 * `max_image_bytes` is refused; past `cache_limit_bytes` of images the least recently used go. */
UcvImageStore *ucv_image_store_new(const gchar *dir, UcvRegistryClient *registry,
				   guint64 max_image_bytes, guint64 cache_limit_bytes);

/* The image `reference` names (as a tool does: "acme/batch:1.0"), pulled if it is not here.
 * `progress` (may be NULL) hears of the pull this call waits for. */
void ucv_image_store_ensure_async(UcvImageStore *self, const gchar *reference,
				  UcvImageProgressFunc progress, gpointer progress_data,
				  GCancellable *cancellable, GAsyncReadyCallback callback,
				  gpointer user_data);
UcvStoredImage *ucv_image_store_ensure_finish(UcvImageStore *self, GAsyncResult *res,
					      GError **error);

/* Deletes the least recently used images until the cache is within its limit; images whose
 * digests are in `keep` (may be NULL) stay. Returns how many went. */
guint ucv_image_store_trim(UcvImageStore *self, const gchar *const *keep);

G_END_DECLS
