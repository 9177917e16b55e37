/* Base images for VM jobs: site-local names and http(s) URLs downloaded once into a cache. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define UCV_TYPE_IMAGE_CACHE (ucv_image_cache_get_type())
G_DECLARE_FINAL_TYPE(UcvImageCache, ucv_image_cache, UCV, IMAGE_CACHE, GObject)

UcvImageCache *ucv_image_cache_new(const gchar *image_dir);

/* Resolves `image` to a local file: a bare name is <image-dir>/<name>.qcow2 (no '/', no "..");
 * an http(s) URL is downloaded once (to a temporary name, renamed when complete); concurrent
 * requests for one URL share the download. */
void ucv_image_cache_ensure_async(UcvImageCache *self, const gchar *image,
				  GCancellable *cancellable, GAsyncReadyCallback callback,
				  gpointer user_data);
/* Returns the local path; `format` ("qcow2" or "raw") is detected from the file's header. */
gchar *ucv_image_cache_ensure_finish(UcvImageCache *self, GAsyncResult *res, gchar **format,
				     GError **error);

/* Creates a qcow2 overlay at `path` backed by `base` (qemu-img, worker thread), `size_bytes` big
 * (0: as big as the base). */
void ucv_overlay_create_async(const gchar *base, const gchar *base_format, const gchar *path,
			      guint64 size_bytes, GCancellable *cancellable,
			      GAsyncReadyCallback callback, gpointer user_data);
gboolean ucv_overlay_create_finish(GAsyncResult *res, GError **error);

G_END_DECLS
