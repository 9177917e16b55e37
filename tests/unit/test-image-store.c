/* The image store against a registry in this process: a pull makes one erofs file, jobs of one
 * image share one pull, a second ensure finds it, sizes over the limit are refused, and the
 * least recently used images make room. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "container/ucv-image-store.h"
#include "model/ucv-error.h"
#include "ucv-fake-registry.h"
#include "ucv-test-layer.h"
#include "ucv-test-files.h"

typedef struct {
	UcvFakeRegistry *registry;
	UcvRegistryClient *client;
	gchar *dir;
} Fixture;

static gchar *
publish(Fixture *f, const gchar *repository, const gchar *contents)
{
	g_autoptr(GPtrArray) layers = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);

	g_ptr_array_add(layers, ucv_test_layer_with_file("hello.txt", contents));
	return ucv_fake_registry_publish(f->registry, repository, "1.0", layers);
}

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	const gchar *insecure[2] = {NULL, NULL};
	g_autoptr(GError) error = NULL;

	f->registry = ucv_fake_registry_new();
	insecure[0] = ucv_fake_registry_get_host(f->registry);
	f->client = ucv_registry_client_new(insecure);
	f->dir = g_dir_make_tmp("ucv-image-store-XXXXXX", &error);
	g_assert_no_error(error);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	ucv_test_remove_tree(f->dir);
	g_free(f->dir);
	g_object_unref(f->client);
	ucv_fake_registry_free(f->registry);
}

typedef struct {
	GAsyncResult *res;
	guint last_percent;
} Wait;

static void
on_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	((Wait *)user_data)->res = g_object_ref(res);
}

static void
on_progress(guint percent, gpointer user_data)
{
	Wait *wait = user_data;

	g_assert_cmpuint(percent, >=, wait->last_percent);
	wait->last_percent = percent;
}

static UcvStoredImage *
finish(UcvImageStore *store, Wait *wait, GError **error)
{
	UcvStoredImage *image;

	while (wait->res == NULL)
		g_main_context_iteration(NULL, TRUE);
	image = ucv_image_store_ensure_finish(store, wait->res, error);
	g_clear_object(&wait->res);
	return image;
}

static gchar *
image_name(Fixture *f, const gchar *repository)
{
	return g_strdup_printf("%s/%s:1.0", ucv_fake_registry_get_host(f->registry), repository);
}

static gboolean
is_erofs(const gchar *path)
{
	g_autofree gchar *contents = NULL;
	gsize len = 0;

	return g_file_get_contents(path, &contents, &len, NULL) && len > 1028 &&
	       memcmp(contents + 1024, "\xe2\xe1\xf5\xe0", 4) == 0;
}

/* Two jobs of one image at once: one pull, one erofs file, both told its progress's end. */
static void
test_shared_pull(Fixture *f, gconstpointer data)
{
	g_autoptr(UcvImageStore) store =
		ucv_image_store_new(f->dir, f->client, 64 * 1024 * 1024, 1024 * 1024 * 1024);
	g_autofree gchar *digest = publish(f, "acme/batch", "hello from the image\n");
	g_autofree gchar *image = image_name(f, "acme/batch");
	g_autofree gchar *layer_prefix = g_strdup_printf("/v2/acme/batch/blobs/");
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvStoredImage) first = NULL;
	g_autoptr(UcvStoredImage) second = NULL;
	g_autoptr(UcvStoredImage) again = NULL;
	Wait one = {0}, two = {0}, three = {0};

	ucv_image_store_ensure_async(store, image, on_progress, &one, NULL, on_done, &one);
	ucv_image_store_ensure_async(store, image, on_progress, &two, NULL, on_done, &two);
	first = finish(store, &one, &error);
	g_assert_no_error(error);
	second = finish(store, &two, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(first->digest, ==, digest);
	g_assert_cmpstr(second->erofs_path, ==, first->erofs_path);
	g_assert_true(is_erofs(first->erofs_path));
	g_assert_true(g_file_test(first->config_path, G_FILE_TEST_EXISTS));
	/* config and layer fetched once each */
	g_assert_cmpuint(ucv_fake_registry_count(f->registry, layer_prefix), ==, 2);
	g_assert_cmpuint(one.last_percent, ==, 100);

	ucv_image_store_ensure_async(store, image, NULL, NULL, NULL, on_done, &three);
	again = finish(store, &three, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(ucv_fake_registry_count(f->registry, layer_prefix), ==, 2);
}

/* A job that gives up while its image is being pulled hears so at once; the pull goes on for
 * the other job and for the cache. */
static void
test_cancelled_waiter(Fixture *f, gconstpointer data)
{
	g_autoptr(UcvImageStore) store =
		ucv_image_store_new(f->dir, f->client, 64 * 1024 * 1024, 1024 * 1024 * 1024);
	g_autofree gchar *digest = publish(f, "acme/batch", "hello from the image\n");
	g_autofree gchar *image = image_name(f, "acme/batch");
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvStoredImage) gave_up = NULL;
	g_autoptr(UcvStoredImage) stayed = NULL;
	Wait one = {0}, two = {0};

	ucv_image_store_ensure_async(store, image, NULL, NULL, cancellable, on_done, &one);
	ucv_image_store_ensure_async(store, image, NULL, NULL, NULL, on_done, &two);
	/* once the pull runs: the first waiter is in it */
	while (ucv_fake_registry_count(f->registry, "/v2/acme/batch/blobs/") == 0)
		g_main_context_iteration(NULL, TRUE);
	g_cancellable_cancel(cancellable);
	gave_up = finish(store, &one, &error);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_null(gave_up);
	g_assert_null(two.res);
	g_clear_error(&error);
	stayed = finish(store, &two, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(stayed->digest, ==, digest);
}

static void
test_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(UcvImageStore) store = ucv_image_store_new(f->dir, f->client, 16, 1024);
	g_autofree gchar *digest = publish(f, "acme/big", "more than sixteen bytes of layer\n");
	g_autofree gchar *big = image_name(f, "acme/big");
	g_autofree gchar *missing = image_name(f, "acme/missing");
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvStoredImage) none = NULL;
	Wait wait = {0};

	ucv_image_store_ensure_async(store, big, NULL, NULL, NULL, on_done, &wait);
	none = finish(store, &wait, &error);
	g_assert_null(none);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "larger than"));
	g_clear_error(&error);
	ucv_image_store_ensure_async(store, missing, NULL, NULL, NULL, on_done, &wait);
	none = finish(store, &wait, &error);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND);
	g_clear_error(&error);
	ucv_image_store_ensure_async(store, "NOT a reference", NULL, NULL, NULL, on_done, &wait);
	none = finish(store, &wait, &error);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
}

/* With room for one image, the one used longest ago goes. */
static void
test_trim(Fixture *f, gconstpointer data)
{
	g_autoptr(UcvImageStore) store =
		ucv_image_store_new(f->dir, f->client, 64 * 1024 * 1024, 1);
	g_autofree gchar *old_digest = publish(f, "acme/old", "old\n");
	g_autofree gchar *new_digest = publish(f, "acme/new", "new\n");
	g_autofree gchar *old_name = image_name(f, "acme/old");
	g_autofree gchar *new_name = image_name(f, "acme/new");
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvStoredImage) old_image = NULL;
	g_autoptr(UcvStoredImage) new_image = NULL;
	Wait wait = {0};

	ucv_image_store_ensure_async(store, old_name, NULL, NULL, NULL, on_done, &wait);
	old_image = finish(store, &wait, &error);
	g_assert_no_error(error);
	ucv_image_store_ensure_async(store, new_name, NULL, NULL, NULL, on_done, &wait);
	new_image = finish(store, &wait, &error);
	g_assert_no_error(error);
	/* the new pull kept itself and made room */
	g_assert_true(g_file_test(new_image->erofs_path, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(old_image->erofs_path, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(old_image->config_path, G_FILE_TEST_EXISTS));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
	ADD("/image-store/shared-pull", test_shared_pull);
	ADD("/image-store/cancelled-waiter", test_cancelled_waiter);
	ADD("/image-store/refused", test_refused);
	ADD("/image-store/trim", test_trim);
#undef ADD
	return g_test_run();
}
