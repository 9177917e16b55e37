/* Turns an unpacked image tree into one read-only erofs filesystem image with mkfs.erofs. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Blocking: run it in a worker thread. image_path appears complete or not at all. */
gboolean ucv_erofs_build(const gchar *tree, const gchar *image_path, GError **error);

G_END_DECLS
