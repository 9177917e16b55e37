/* Unpacks untrusted OCI image layers, in order, into one directory tree. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _UcvLayerUnpack UcvLayerUnpack;

/* Blocking: run it in a worker thread. root_dir must exist and should be empty; max_bytes caps
 * the regular-file contents of all layers together (0 = no cap). */
UcvLayerUnpack *ucv_layer_unpack_new(const gchar *root_dir, guint64 max_bytes, GError **error);
/* Applies one layer (tar, uncompressed or gzip/zstd/... compressed) on top of the earlier ones.
 * On failure (UCV_ERROR_INVALID for a hostile or malformed image) the tree is half-written and
 * must be thrown away; nothing is ever written outside root_dir. */
gboolean ucv_layer_unpack_layer(UcvLayerUnpack *self, const gchar *layer_path, GError **error);
/* The bytes of regular-file contents written so far, over all layers. */
guint64 ucv_layer_unpack_get_bytes(UcvLayerUnpack *self);
void ucv_layer_unpack_free(UcvLayerUnpack *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvLayerUnpack, ucv_layer_unpack_free)

G_END_DECLS
