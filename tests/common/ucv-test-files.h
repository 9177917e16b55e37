/* Files the tests make and clean up. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Removes `path` and everything below it; symlinks are removed, never followed. */
void ucv_test_remove_tree(const gchar *path);

/* Moves the test into a mount namespace of its own (call first, while single-threaded), so a
 * failed assertion cannot leave a bind mount on the host. "/" is shared in it, as systemd leaves
 * a host, which is the harder case for code that mounts. */
void ucv_test_enter_mount_namespace(void);

G_END_DECLS
