/* Builds an image's read-only erofs filesystem with mkfs.erofs, atomically. */
#define G_LOG_DOMAIN "ucv-container"

#include "config.h"

#include "ucv-erofs.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/ucv-error.h"

/* Uncompressed: for a 54 MB tree mkfs.erofs takes 0.2 s against 0.3 s with lz4 (half the size)
 * and 1.1 s with lz4hc, and the guest then reads it without decompressing. --preserve-mtime
 * keeps every file's mtime (Python's bytecode cache compares them); -x-1 leaves out the host's
 * xattrs, which the unpacked layers never carry. */
static gboolean
ucv_mkfs_erofs(const gchar *tree, const gchar *image_path, GError **error)
{
	g_autofree gchar *err_text = NULL;
	g_autoptr(GError) error_local = NULL;
	gint wait_status = 0;
	const gchar *argv[] = {"mkfs.erofs", "--quiet", "-x-1", "--preserve-mtime",
			       image_path,   tree,      NULL};

	if (!g_spawn_sync(NULL, (gchar **)argv, NULL,
			  G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
			  &err_text, &wait_status, &error_local)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot run mkfs.erofs: %s",
			    error_local->message);
		return FALSE;
	}
	if (!g_spawn_check_wait_status(wait_status, NULL)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED,
			    "mkfs.erofs cannot build an image of %s: %s", tree,
			    err_text != NULL ? g_strstrip(err_text) : "");
		return FALSE;
	}
	return TRUE;
}

static gboolean
ucv_erofs_build_at(gint fd, const gchar *tree, const gchar *tmp_path, const gchar *image_path,
		   GError **error)
{
	/* QEMU opens the shared image as its own user */
	if (fchmod(fd, 0644) < 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot change the mode of %s: %s",
			    tmp_path, g_strerror(errno));
		return FALSE;
	}
	if (!ucv_mkfs_erofs(tree, tmp_path, error))
		return FALSE;
	/* the rename must not land before the data */
	if (fsync(fd) < 0 || g_rename(tmp_path, image_path) < 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot write %s: %s", image_path,
			    g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

gboolean
ucv_erofs_build(const gchar *tree, const gchar *image_path, GError **error)
{
	g_autofree gchar *tmp_path = NULL;
	gint fd;

	g_return_val_if_fail(tree != NULL, FALSE);
	g_return_val_if_fail(image_path != NULL, FALSE);

	tmp_path = g_strconcat(image_path, ".tmp-XXXXXX", NULL);
	fd = g_mkstemp(tmp_path);
	if (fd < 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot create %s: %s", tmp_path,
			    g_strerror(errno));
		return FALSE;
	}
	if (!ucv_erofs_build_at(fd, tree, tmp_path, image_path, error)) {
		g_unlink(tmp_path);
		close(fd);
		return FALSE;
	}
	close(fd);
	return TRUE;
}
