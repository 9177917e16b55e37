/* Files the tests make and clean up. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Removes `path` and everything below it; symlinks are removed, never followed. */
void ucv_test_remove_tree(const gchar *path);

G_END_DECLS
