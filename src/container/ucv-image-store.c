/* A pull: the manifest names the image; its config and layers are fetched into a work directory,
 * unpacked and made one erofs file in a worker thread, and the work directory goes. Every caller
 * asking for the digest meanwhile waits for the same pull. An image is ready when its .erofs file
 * exists (it appears whole, renamed into place); its mtime is its last use. */
#define G_LOG_DOMAIN "ucv-container"

#include "config.h"

#include "ucv-image-store.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <utime.h>

#include "container/ucv-erofs.h"
#include "container/ucv-layer-unpack.h"
#include "model/ucv-error.h"

/* an image config is a small JSON document */
#define MAX_CONFIG (1024 * 1024)

struct _UcvImageStore {
	GObject parent_instance;
	gchar *images_dir;
	gchar *work_dir;
	UcvRegistryClient *registry;
	guint64 max_image_bytes;
	guint64 cache_limit_bytes;
	GHashTable *pulls; /* digest -> UcvImagePull */
};

G_DEFINE_TYPE(UcvImageStore, ucv_image_store, G_TYPE_OBJECT)

typedef struct {
	UcvImageStore *store;
	UcvImageRef *ref;
	UcvImageManifest *manifest;
	gchar *work_dir;
	GPtrArray *waiters; /* GTask of ensure */
	guint next_blob;    /* 0: the config, then the layers */
	guint64 done_bytes; /* of the layers fetched whole */
	guint percent;
} UcvImagePull;

typedef struct {
	UcvImageProgressFunc progress;
	gpointer progress_data;
	UcvImageRef *ref;
	UcvImagePull *pull; /* the pull it waits for, while it waits */
	gulong cancelled_id;
} UcvImageWaiter;

void
ucv_stored_image_free(UcvStoredImage *self)
{
	if (self == NULL)
		return;
	g_free(self->digest);
	g_free(self->erofs_path);
	g_free(self->config_path);
	g_free(self);
}

static void
waiter_free(UcvImageWaiter *waiter)
{
	ucv_image_ref_free(waiter->ref);
	g_free(waiter);
}

/* "sha256:<hex>" → "<hex>": what the files are named after */
static const gchar *
digest_hex(const gchar *digest)
{
	return digest + strlen("sha256:");
}

static gchar *
erofs_path(UcvImageStore *self, const gchar *digest)
{
	g_autofree gchar *name = g_strconcat(digest_hex(digest), ".erofs", NULL);

	return g_build_filename(self->images_dir, name, NULL);
}

static gchar *
config_path(UcvImageStore *self, const gchar *digest)
{
	g_autofree gchar *name = g_strconcat(digest_hex(digest), ".json", NULL);

	return g_build_filename(self->images_dir, name, NULL);
}

static UcvStoredImage *
stored_image_new(UcvImageStore *self, const gchar *digest)
{
	UcvStoredImage *image = g_new0(UcvStoredImage, 1);

	image->digest = g_strdup(digest);
	image->erofs_path = erofs_path(self, digest);
	image->config_path = config_path(self, digest);
	return image;
}

/* Removes a tree of untrusted names without following any symlink in it. */
static void
remove_tree(const gchar *path)
{
	const gchar *argv[] = {"rm", "-rf", "--one-file-system", "--", path, NULL};

	if (path != NULL && !g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
					  NULL, NULL, NULL, NULL, NULL))
		g_warning("cannot remove %s", path);
}

static void
pull_free(UcvImagePull *pull)
{
	remove_tree(pull->work_dir);
	g_free(pull->work_dir);
	ucv_image_ref_free(pull->ref);
	ucv_image_manifest_free(pull->manifest);
	g_ptr_array_unref(pull->waiters);
	g_free(pull);
}

static void
waiter_stop_waiting(GTask *task)
{
	UcvImageWaiter *waiter = g_task_get_task_data(task);

	waiter->pull = NULL;
	g_cancellable_disconnect(g_task_get_cancellable(task), waiter->cancelled_id);
	waiter->cancelled_id = 0;
}

/* A job that gives up (a terminate) stops waiting at once; the pull goes on for the others and
 * for the cache. From an idle: the cancel handler itself may neither disconnect nor call back. */
static gboolean
drop_cancelled_waiter(gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	UcvImageWaiter *waiter = g_task_get_task_data(task);
	UcvImagePull *pull = waiter->pull;

	if (pull == NULL)
		return G_SOURCE_REMOVE;
	waiter_stop_waiting(task);
	g_task_return_error_if_cancelled(task);
	g_ptr_array_remove(pull->waiters, task);
	return G_SOURCE_REMOVE;
}

static void
on_waiter_cancelled(GCancellable *cancellable, gpointer user_data)
{
	g_idle_add(drop_cancelled_waiter, g_object_ref(user_data));
}

static void
pull_add_waiter(UcvImagePull *pull, GTask *task)
{
	UcvImageWaiter *waiter = g_task_get_task_data(task);
	GCancellable *cancellable = g_task_get_cancellable(task);

	g_ptr_array_add(pull->waiters, g_object_ref(task));
	waiter->pull = pull;
	if (cancellable != NULL)
		waiter->cancelled_id = g_cancellable_connect(
			cancellable, G_CALLBACK(on_waiter_cancelled), task, NULL);
}

/* Ends the pull for everyone waiting: the image, or the error. */
static void
pull_finish(UcvImagePull *pull, const GError *error)
{
	UcvImageStore *self = pull->store;
	g_autofree gchar *digest = g_strdup(pull->manifest->digest);
	g_autoptr(GPtrArray) waiters = g_ptr_array_ref(pull->waiters);
	const gchar *keep[] = {digest, NULL};

	/* the table owns the pull: it goes now, and a later ensure starts afresh */
	g_hash_table_remove(self->pulls, digest);
	for (guint i = 0; i < waiters->len; i++) {
		GTask *task = g_ptr_array_index(waiters, i);
		waiter_stop_waiting(task);
		if (error != NULL)
			g_task_return_error(task, g_error_copy(error));
		else
			g_task_return_pointer(task, stored_image_new(self, digest),
					      (GDestroyNotify)ucv_stored_image_free);
	}
	if (error == NULL)
		ucv_image_store_trim(self, keep);
}

static void
notify_progress(UcvImagePull *pull, guint64 received)
{
	guint64 total = MAX(pull->manifest->total_size, 1);
	guint percent = (guint)MIN((pull->done_bytes + received) * 100 / total, 100);

	if (percent == pull->percent)
		return;
	pull->percent = percent;
	for (guint i = 0; i < pull->waiters->len; i++) {
		UcvImageWaiter *waiter = g_task_get_task_data(g_ptr_array_index(pull->waiters, i));
		if (waiter->progress != NULL)
			waiter->progress(percent, waiter->progress_data);
	}
}

/* Unpacking and erofs (worker thread)
 * ---------------------------------------------------------------------------------------------- */

static gboolean
build_image(UcvImagePull *pull, GError **error)
{
	UcvImageStore *self = pull->store;
	g_autofree gchar *rootfs = g_build_filename(pull->work_dir, "rootfs", NULL);
	g_autofree gchar *config = g_build_filename(pull->work_dir, "config", NULL);
	g_autofree gchar *kept_config = config_path(self, pull->manifest->digest);
	g_autofree gchar *image = erofs_path(self, pull->manifest->digest);
	g_autoptr(UcvLayerUnpack) unpack = NULL;

	if (g_mkdir(rootfs, 0755) != 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot make %s: %s", rootfs,
			    g_strerror(errno));
		return FALSE;
	}
	unpack = ucv_layer_unpack_new(rootfs, self->max_image_bytes, error);
	if (unpack == NULL)
		return FALSE;
	for (guint i = 0; i < pull->manifest->layers->len; i++) {
		g_autofree gchar *name = g_strdup_printf("layer-%u", i);
		g_autofree gchar *layer = g_build_filename(pull->work_dir, name, NULL);
		if (!ucv_layer_unpack_layer(unpack, layer, error))
			return FALSE;
	}
	/* the config first: the image counts as there once its .erofs is */
	if (g_rename(config, kept_config) != 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot keep %s: %s", kept_config,
			    g_strerror(errno));
		return FALSE;
	}
	return ucv_erofs_build(rootfs, image, error);
}

static void
build_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	GError *error = NULL;

	if (!build_image(task_data, &error))
		g_task_return_error(task, error);
	else
		g_task_return_boolean(task, TRUE);
}

static void
on_built(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvImagePull *pull = user_data;
	g_autoptr(GError) error = NULL;

	g_task_propagate_boolean(G_TASK(res), &error);
	if (error != NULL) {
		g_autofree gchar *image = ucv_image_ref_to_string(pull->ref);
		g_prefix_error(&error, "the image %s cannot be used: ", image);
	}
	pull_finish(pull, error);
}

/* Fetching
 * ---------------------------------------------------------------------------------------------- */

static void fetch_next(UcvImagePull *pull);

static void
on_blob_progress(guint64 received, guint64 total, gpointer user_data)
{
	UcvImagePull *pull = user_data;

	/* the config's bytes are not the image's */
	if (pull->next_blob > 0)
		notify_progress(pull, received);
}

static void
on_blob(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvImagePull *pull = user_data;
	g_autoptr(GError) error = NULL;

	if (!ucv_registry_client_fetch_blob_finish(UCV_REGISTRY_CLIENT(source), res, &error)) {
		pull_finish(pull, error);
		return;
	}
	if (pull->next_blob > 0) {
		UcvImageLayer *layer =
			g_ptr_array_index(pull->manifest->layers, pull->next_blob - 1);
		pull->done_bytes += layer->size;
	}
	pull->next_blob++;
	fetch_next(pull);
}

static void
fetch_next(UcvImagePull *pull)
{
	UcvImageManifest *manifest = pull->manifest;
	g_autoptr(GTask) build = NULL;
	g_autofree gchar *name = NULL;
	g_autofree gchar *path = NULL;
	const gchar *digest;
	guint64 size;

	if (pull->next_blob > manifest->layers->len) {
		build = g_task_new(pull->store, NULL, on_built, pull);
		g_task_set_task_data(build, pull, NULL);
		g_task_run_in_thread(build, build_thread);
		return;
	}
	if (pull->next_blob == 0) {
		name = g_strdup("config");
		digest = manifest->config_digest;
		size = MIN(manifest->config_size, MAX_CONFIG);
	} else {
		UcvImageLayer *layer = g_ptr_array_index(manifest->layers, pull->next_blob - 1);
		name = g_strdup_printf("layer-%u", pull->next_blob - 1);
		digest = layer->digest;
		size = layer->size;
	}
	path = g_build_filename(pull->work_dir, name, NULL);
	ucv_registry_client_fetch_blob_async(pull->store->registry, pull->ref, digest, path, size,
					     on_blob_progress, pull, NULL, on_blob, pull);
}

static void
start_pull(UcvImageStore *self, GTask *task, UcvImageManifest *manifest)
{
	UcvImageWaiter *waiter = g_task_get_task_data(task);
	g_autofree gchar *template = g_build_filename(self->work_dir, "pull-XXXXXX", NULL);
	UcvImagePull *pull;

	if (manifest->total_size > self->max_image_bytes) {
		g_autofree gchar *image = ucv_image_ref_to_string(waiter->ref);
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_INVALID,
					"the image %s is larger than the allowed %" G_GUINT64_FORMAT
					" MiB",
					image, self->max_image_bytes / (1024 * 1024));
		ucv_image_manifest_free(manifest);
		return;
	}
	pull = g_new0(UcvImagePull, 1);
	pull->store = self;
	pull->manifest = manifest;
	/* pinned to what the manifest named: every blob of the pull is of this very image */
	pull->ref = ucv_image_ref_copy(waiter->ref);
	g_clear_pointer(&pull->ref->tag, g_free);
	g_free(pull->ref->digest);
	pull->ref->digest = g_strdup(manifest->digest);
	pull->waiters = g_ptr_array_new_with_free_func(g_object_unref);
	pull_add_waiter(pull, task);
	pull->work_dir = g_mkdtemp(g_steal_pointer(&template));
	g_hash_table_insert(self->pulls, g_strdup(manifest->digest), pull);
	if (pull->work_dir == NULL) {
		g_autoptr(GError) error = g_error_new(UCV_ERROR, UCV_ERROR_FAILED,
						      "cannot make a work directory in %s: %s",
						      self->work_dir, g_strerror(errno));
		pull_finish(pull, error);
		return;
	}
	fetch_next(pull);
}

static void
on_manifest(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	UcvImageStore *self = g_task_get_source_object(task);
	GError *error = NULL;
	UcvImageManifest *manifest =
		ucv_registry_client_get_manifest_finish(UCV_REGISTRY_CLIENT(source), res, &error);
	g_autofree gchar *image = NULL;
	UcvImagePull *pull;

	if (manifest == NULL) {
		g_task_return_error(task, error);
		return;
	}
	image = erofs_path(self, manifest->digest);
	if (g_file_test(image, G_FILE_TEST_EXISTS)) {
		/* its mtime is its last use, for the clean-up */
		g_utime(image, NULL);
		g_task_return_pointer(task, stored_image_new(self, manifest->digest),
				      (GDestroyNotify)ucv_stored_image_free);
		ucv_image_manifest_free(manifest);
		return;
	}
	pull = g_hash_table_lookup(self->pulls, manifest->digest);
	if (pull != NULL) {
		pull_add_waiter(pull, task);
		ucv_image_manifest_free(manifest);
		return;
	}
	start_pull(self, task, manifest);
}

void
ucv_image_store_ensure_async(UcvImageStore *self, const gchar *reference,
			     UcvImageProgressFunc progress, gpointer progress_data,
			     GCancellable *cancellable, GAsyncReadyCallback callback,
			     gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	GError *error = NULL;
	UcvImageWaiter *waiter;

	g_return_if_fail(UCV_IS_IMAGE_STORE(self));

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ucv_image_store_ensure_async);
	waiter = g_new0(UcvImageWaiter, 1);
	waiter->progress = progress;
	waiter->progress_data = progress_data;
	g_task_set_task_data(task, waiter, (GDestroyNotify)waiter_free);
	waiter->ref = ucv_image_ref_parse(reference, &error);
	if (waiter->ref == NULL) {
		g_task_return_error(task, error);
		return;
	}
	ucv_registry_client_get_manifest_async(self->registry, waiter->ref, NULL, on_manifest,
					       g_steal_pointer(&task));
}

UcvStoredImage *
ucv_image_store_ensure_finish(UcvImageStore *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

/* Clean-up
 * ---------------------------------------------------------------------------------------------- */

typedef struct {
	gchar *digest;
	gint64 used;
	guint64 size;
} UcvImageEntry;

static void
image_entry_free(UcvImageEntry *entry)
{
	g_free(entry->digest);
	g_free(entry);
}

static gint
by_last_use(gconstpointer a, gconstpointer b)
{
	const UcvImageEntry *x = *(UcvImageEntry *const *)a;
	const UcvImageEntry *y = *(UcvImageEntry *const *)b;

	return (x->used > y->used) - (x->used < y->used);
}

/* The images there are, least recently used first. */
static GPtrArray *
list_images(UcvImageStore *self, guint64 *total)
{
	g_autoptr(GDir) dir = g_dir_open(self->images_dir, 0, NULL);
	GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify)image_entry_free);
	const gchar *name;

	*total = 0;
	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = g_build_filename(self->images_dir, name, NULL);
		GStatBuf st;
		UcvImageEntry *entry;

		if (!g_str_has_suffix(name, ".erofs") || g_stat(path, &st) != 0)
			continue;
		entry = g_new0(UcvImageEntry, 1);
		entry->digest = g_strdup_printf("sha256:%.*s", (int)(strlen(name) - 6), name);
		entry->used = st.st_mtime;
		entry->size = (guint64)st.st_size;
		*total += entry->size;
		g_ptr_array_add(entries, entry);
	}
	g_ptr_array_sort(entries, by_last_use);
	return entries;
}

guint
ucv_image_store_trim(UcvImageStore *self, const gchar *const *keep)
{
	guint64 total = 0;
	g_autoptr(GPtrArray) entries = list_images(self, &total);
	guint removed = 0;

	g_return_val_if_fail(UCV_IS_IMAGE_STORE(self), 0);

	for (guint i = 0; i < entries->len && total > self->cache_limit_bytes; i++) {
		UcvImageEntry *entry = g_ptr_array_index(entries, i);
		g_autofree gchar *image = erofs_path(self, entry->digest);
		g_autofree gchar *config = config_path(self, entry->digest);
		if (keep != NULL && g_strv_contains(keep, entry->digest))
			continue;
		/* a machine that has it open keeps reading it: unlinking is safe */
		g_unlink(image);
		g_unlink(config);
		total -= entry->size;
		removed++;
		g_message("image %s removed from the cache (least recently used)", entry->digest);
	}
	return removed;
}

static void
ucv_image_store_finalize(GObject *object)
{
	UcvImageStore *self = UCV_IMAGE_STORE(object);

	g_hash_table_unref(self->pulls);
	g_object_unref(self->registry);
	g_free(self->images_dir);
	g_free(self->work_dir);
	G_OBJECT_CLASS(ucv_image_store_parent_class)->finalize(object);
}

static void
ucv_image_store_class_init(UcvImageStoreClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ucv_image_store_finalize;
}

static void
ucv_image_store_init(UcvImageStore *self)
{
	self->pulls =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)pull_free);
}

UcvImageStore *
ucv_image_store_new(const gchar *dir, UcvRegistryClient *registry, guint64 max_image_bytes,
		    guint64 cache_limit_bytes)
{
	UcvImageStore *self = g_object_new(UCV_TYPE_IMAGE_STORE, NULL);

	self->images_dir = g_build_filename(dir, "images", NULL);
	self->work_dir = g_build_filename(dir, "work", NULL);
	self->registry = g_object_ref(registry);
	self->max_image_bytes = max_image_bytes;
	self->cache_limit_bytes = cache_limit_bytes;
	g_mkdir_with_parents(self->images_dir, 0755);
	g_mkdir_with_parents(self->work_dir, 0700);
	/* what a pull left when the daemon died half-way is of no use */
	remove_tree(self->work_dir);
	g_mkdir_with_parents(self->work_dir, 0700);
	return self;
}
