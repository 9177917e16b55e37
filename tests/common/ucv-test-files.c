/* Test clean-up of temporary trees and of mounts. */
#include "config.h"

#include "ucv-test-files.h"

#include <glib/gstdio.h>
#include <sched.h>
#include <sys/mount.h>

void
ucv_test_remove_tree(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	const gchar *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);

		if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
			ucv_test_remove_tree(child);
		else
			g_unlink(child);
	}
	g_rmdir(path);
}

void
ucv_test_enter_mount_namespace(void)
{
	g_assert_cmpint(unshare(CLONE_NEWNS), ==, 0);
	g_assert_cmpint(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), ==, 0);
	g_assert_cmpint(mount(NULL, "/", NULL, MS_REC | MS_SHARED, NULL), ==, 0);
}
