/* Per-job copy-on-write disks: a qcow2 overlay on a cached base image, made by qemu-img. */
#define G_LOG_DOMAIN "ucv-virt"

#include "config.h"

#include "ucv-image-cache.h"

#include <glib/gstdio.h>

#include "model/ucv-error.h"

typedef struct {
	gchar *base;
	gchar *base_format;
	gchar *path;
	guint64 size_bytes; /* 0 = the base image's size */
} UcvOverlayHelper;

static void
ucv_overlay_helper_free(UcvOverlayHelper *helper)
{
	g_free(helper->base);
	g_free(helper->base_format);
	g_free(helper->path);
	g_free(helper);
}

/* A plain blocking spawn: this runs in a worker thread, where GSubprocess (GLib 2.74) can miss
 * the child's exit or deadlock in its child watch when many threads spawn at once. qemu-img
 * create takes milliseconds, so it is not worth cancelling. */
static gboolean
ucv_qemu_img_create(UcvOverlayHelper *helper, GError **error)
{
	g_autofree gchar *err_text = NULL;
	g_autofree gchar *size = NULL;
	g_autoptr(GError) error_local = NULL;
	gint wait_status = 0;
	const gchar *argv[] = {
		"qemu-img",          "create", "-q",         "-f",         "qcow2",         "-F",
		helper->base_format, "-b",     helper->base, helper->path, NULL /* size */, NULL};

	/* without a size, the overlay takes the base's; a smaller one is refused by qemu-img */
	if (helper->size_bytes > 0) {
		size = g_strdup_printf("%" G_GUINT64_FORMAT, helper->size_bytes);
		argv[G_N_ELEMENTS(argv) - 2] = size;
	}
	if (!g_spawn_sync(NULL, (gchar **)argv, NULL,
			  G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
			  &err_text, &wait_status, &error_local)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot run qemu-img: %s",
			    error_local->message);
		return FALSE;
	}
	if (!g_spawn_check_wait_status(wait_status, NULL)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED,
			    "qemu-img cannot create the overlay %s: %s", helper->path,
			    err_text != NULL ? g_strstrip(err_text) : "");
		return FALSE;
	}
	return TRUE;
}

/* qemu-img would truncate an existing file, which may be a job's only disk. */
static void
ucv_overlay_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	UcvOverlayHelper *helper = task_data;
	GError *error = NULL;

	if (g_task_return_error_if_cancelled(task))
		return;
	if (g_file_test(helper->path, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK)) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_FAILED,
					"refusing to overwrite %s", helper->path);
		return;
	}
	if (!ucv_qemu_img_create(helper, &error)) {
		/* it did not exist a moment ago, so whatever is there now is a half-made overlay */
		g_unlink(helper->path);
		g_task_return_error(task, error);
		return;
	}
	g_task_return_boolean(task, TRUE);
}

void
ucv_overlay_create_async(const gchar *base, const gchar *base_format, const gchar *path,
			 guint64 size_bytes, GCancellable *cancellable,
			 GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	UcvOverlayHelper *helper;

	g_return_if_fail(base != NULL);
	g_return_if_fail(base_format != NULL);
	g_return_if_fail(path != NULL);

	g_task_set_source_tag(task, ucv_overlay_create_async);
	if (g_strcmp0(base_format, "qcow2") != 0 && g_strcmp0(base_format, "raw") != 0) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_INVALID,
					"unsupported base image format '%s'", base_format);
		return;
	}
	helper = g_new0(UcvOverlayHelper, 1);
	/* a relative backing path would be resolved against the overlay's directory */
	helper->base = g_canonicalize_filename(base, NULL);
	helper->base_format = g_strdup(base_format);
	helper->path = g_canonicalize_filename(path, NULL);
	helper->size_bytes = size_bytes;
	g_task_set_task_data(task, helper, (GDestroyNotify)ucv_overlay_helper_free);
	g_task_run_in_thread(task, ucv_overlay_thread);
}

gboolean
ucv_overlay_create_finish(GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, NULL), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}
