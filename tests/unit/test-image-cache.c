/* Image cache and overlays against an in-process HTTP server and the real qemu-img. */
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "model/ucv-error.h"
#include "virt/ucv-image-cache.h"
#include "ucv-test-files.h"

typedef struct {
	gchar *tmpdir;
	gchar *image_dir;
	gchar *cache_dir;
	GBytes *qcow2;
	SoupServer *server;
	GUri *base_uri;
	guint n_image_requests;
	guint n_flaky_requests;
	UcvImageCache *cache;
	GAsyncResult *result;
} Fixture;

static gboolean
on_timeout(gpointer user_data)
{
	g_error("timed out waiting for %s", (const gchar *)user_data);
	return G_SOURCE_REMOVE;
}

static void
on_result(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **slot = user_data;

	*slot = g_object_ref(res);
}

static void
wait_for(GAsyncResult **slot)
{
	guint id = g_timeout_add_seconds(20, on_timeout, "an async result");

	while (*slot == NULL)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(id);
}

static void
run(const gchar *const *argv, gchar **out)
{
	g_autoptr(GError) error = NULL;
	gint status = 0;

	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out, NULL,
		     &status, &error);
	g_assert_no_error(error);
	g_spawn_check_wait_status(status, &error);
	g_assert_no_error(error);
}

static GBytes *
make_qcow2(const gchar *dir)
{
	g_autofree gchar *path = g_build_filename(dir, "source.qcow2", NULL);
	const gchar *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", path, "16M", NULL};
	g_autoptr(GError) error = NULL;
	gchar *data = NULL;
	gsize len = 0;

	run(argv, NULL);
	g_file_get_contents(path, &data, &len, &error);
	g_assert_no_error(error);
	g_unlink(path);
	return g_bytes_new_take(data, len);
}

/* Sends headers promising the whole image, then a fraction of it, then hangs up. */
static void
send_truncated(SoupServerMessage *msg, GBytes *body)
{
	g_autoptr(GIOStream) io = soup_server_message_steal_connection(msg);
	GOutputStream *out = g_io_stream_get_output_stream(io);
	g_autofree gchar *head =
		g_strdup_printf("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
				"Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n",
				g_bytes_get_size(body));

	g_output_stream_write_all(out, head, strlen(head), NULL, NULL, NULL);
	g_output_stream_write_all(out, g_bytes_get_data(body, NULL), 1000, NULL, NULL, NULL);
	g_io_stream_close(io, NULL, NULL);
}

static void
send_body(SoupServerMessage *msg, GBytes *body)
{
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(msg, "application/octet-stream", SOUP_MEMORY_COPY,
					 g_bytes_get_data(body, NULL), g_bytes_get_size(body));
}

static void
server_handler(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
	       gpointer user_data)
{
	Fixture *fixture = user_data;
	g_autoptr(GBytes) raw = g_bytes_new_static("not a qcow2 image", 17);

	if (g_strcmp0(path, "/image.qcow2") == 0) {
		fixture->n_image_requests++;
		send_body(msg, fixture->qcow2);
	} else if (g_strcmp0(path, "/raw.img") == 0) {
		send_body(msg, raw);
	} else if (g_strcmp0(path, "/truncated") == 0) {
		send_truncated(msg, fixture->qcow2);
	} else if (g_strcmp0(path, "/flaky") == 0) {
		if (fixture->n_flaky_requests++ == 0)
			send_truncated(msg, fixture->qcow2);
		else
			send_body(msg, fixture->qcow2);
	} else if (g_strcmp0(path, "/error") == 0) {
		soup_server_message_set_status(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NULL);
	} else {
		soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
	}
}

static void
fixture_setup(Fixture *fixture, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSList) uris = NULL;

	fixture->tmpdir = g_dir_make_tmp("ucv-image-cache-XXXXXX", &error);
	g_assert_no_error(error);
	fixture->image_dir = g_build_filename(fixture->tmpdir, "images", NULL);
	fixture->cache_dir = g_build_filename(fixture->image_dir, "cache", NULL);
	g_assert_cmpint(g_mkdir(fixture->image_dir, 0755), ==, 0);
	fixture->qcow2 = make_qcow2(fixture->tmpdir);

	fixture->server = soup_server_new(NULL, NULL);
	soup_server_add_handler(fixture->server, NULL, server_handler, fixture, NULL);
	soup_server_listen_local(fixture->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
	g_assert_no_error(error);
	uris = soup_server_get_uris(fixture->server);
	fixture->base_uri = g_uri_ref(uris->data);
	g_slist_free_full(g_steal_pointer(&uris), (GDestroyNotify)g_uri_unref);

	fixture->cache = ucv_image_cache_new(fixture->image_dir);
}

static void
fixture_teardown(Fixture *fixture, gconstpointer data)
{
	g_clear_object(&fixture->cache);
	soup_server_disconnect(fixture->server);
	g_clear_object(&fixture->server);
	g_clear_pointer(&fixture->base_uri, g_uri_unref);
	g_clear_pointer(&fixture->qcow2, g_bytes_unref);
	while (g_main_context_iteration(NULL, FALSE))
		;
	ucv_test_remove_tree(fixture->tmpdir);
	g_free(fixture->tmpdir);
	g_free(fixture->image_dir);
	g_free(fixture->cache_dir);
}

static gchar *
url_for(Fixture *fixture, const gchar *path)
{
	return g_strdup_printf("http://127.0.0.1:%d%s", g_uri_get_port(fixture->base_uri), path);
}

static gchar *
ensure(Fixture *fixture, const gchar *image, gchar **format, GError **error)
{
	g_autoptr(GAsyncResult) res = NULL;

	ucv_image_cache_ensure_async(fixture->cache, image, NULL, on_result, &res);
	wait_for(&res);
	return ucv_image_cache_ensure_finish(fixture->cache, res, format, error);
}

static guint
count_files(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	guint n = 0;

	while (dir != NULL && g_dir_read_name(dir) != NULL)
		n++;
	return n;
}

static void
assert_same_content(const gchar *path, GBytes *expected)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *data = NULL;
	gsize len = 0;

	g_file_get_contents(path, &data, &len, &error);
	g_assert_no_error(error);
	g_assert_cmpmem(data, len, g_bytes_get_data(expected, NULL), g_bytes_get_size(expected));
}

static void
test_download_shared(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *url = url_for(fixture, "/image.qcow2");
	g_autofree gchar *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, url, -1);
	g_autofree gchar *expected = g_build_filename(fixture->cache_dir, hash, NULL);
	GAsyncResult *results[3] = {NULL};
	g_autofree gchar *again = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(results); i++)
		ucv_image_cache_ensure_async(fixture->cache, url, NULL, on_result, &results[i]);
	for (guint i = 0; i < G_N_ELEMENTS(results); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *format = NULL;
		g_autofree gchar *path = NULL;

		wait_for(&results[i]);
		path = ucv_image_cache_ensure_finish(fixture->cache, results[i], &format, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(path, ==, expected);
		g_assert_cmpstr(format, ==, "qcow2");
		g_clear_object(&results[i]);
	}
	g_assert_cmpuint(fixture->n_image_requests, ==, 1);
	assert_same_content(expected, fixture->qcow2);
	g_assert_cmpuint(count_files(fixture->cache_dir), ==, 1);

	/* a later request is served from the cache */
	again = ensure(fixture, url, NULL, NULL);
	g_assert_cmpstr(again, ==, expected);
	g_assert_cmpuint(fixture->n_image_requests, ==, 1);
}

static void
test_download_raw(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *url = url_for(fixture, "/raw.img");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *format = NULL;
	g_autofree gchar *path = ensure(fixture, url, &format, &error);

	g_assert_no_error(error);
	g_assert_nonnull(path);
	g_assert_cmpstr(format, ==, "raw");
}

static void
expect_download_error(Fixture *fixture, const gchar *server_path, gint code)
{
	g_autofree gchar *url = url_for(fixture, server_path);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = ensure(fixture, url, NULL, &error);

	g_assert_error(error, UCV_ERROR, code);
	g_assert_null(path);
	/* neither the final name nor a partial file is left behind */
	g_assert_cmpuint(count_files(fixture->cache_dir), ==, 0);
}

static void
test_download_failures(Fixture *fixture, gconstpointer data)
{
	expect_download_error(fixture, "/truncated", UCV_ERROR_UNAVAILABLE);
	expect_download_error(fixture, "/error", UCV_ERROR_UNAVAILABLE);
	expect_download_error(fixture, "/missing", UCV_ERROR_NOT_FOUND);
}

static void
test_download_retry(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *url = url_for(fixture, "/flaky");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *format = NULL;

	path = ensure(fixture, url, NULL, &error);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE);
	g_assert_null(path);
	g_assert_cmpuint(count_files(fixture->cache_dir), ==, 0);
	g_clear_error(&error);

	path = ensure(fixture, url, &format, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(format, ==, "qcow2");
	assert_same_content(path, fixture->qcow2);
	g_assert_cmpuint(fixture->n_flaky_requests, ==, 2);
}

static void
test_bad_urls(Fixture *fixture, gconstpointer data)
{
	const gchar *urls[] = {"ftp://127.0.0.1/image.qcow2", "file:///etc/passwd",
			       "http:///no-host", "http://[bad"};

	for (guint i = 0; i < G_N_ELEMENTS(urls); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *path = ensure(fixture, urls[i], NULL, &error);
		g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
		g_assert_null(path);
	}
}

static void
write_image(Fixture *fixture, const gchar *file)
{
	g_autofree gchar *path = g_build_filename(fixture->image_dir, file, NULL);
	g_autoptr(GError) error = NULL;

	g_file_set_contents(path, g_bytes_get_data(fixture->qcow2, NULL),
			    g_bytes_get_size(fixture->qcow2), &error);
	g_assert_no_error(error);
}

static void
test_bare_names(Fixture *fixture, gconstpointer data)
{
	const gchar *hostile[] = {"../etc/passwd", "a/b",        ".hidden", "",
				  "/etc/passwd",   "base qcow2", "..",      "ba\\se"};
	g_autofree gchar *expected = g_build_filename(fixture->image_dir, "base-22.04.qcow2", NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *format = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *missing = NULL;

	write_image(fixture, "base-22.04.qcow2");
	write_image(fixture, ".hidden.qcow2");
	path = ensure(fixture, "base-22.04", &format, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(path, ==, expected);
	g_assert_cmpstr(format, ==, "qcow2");

	missing = ensure(fixture, "missing", NULL, &error);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND);
	g_assert_cmpstr(error->message, ==, "image 'missing' is not available on this provider");
	g_assert_null(missing);

	for (guint i = 0; i < G_N_ELEMENTS(hostile); i++) {
		g_autoptr(GError) error_local = NULL;
		g_autofree gchar *result = ensure(fixture, hostile[i], NULL, &error_local);
		g_assert_error(error_local, UCV_ERROR, UCV_ERROR_INVALID);
		g_assert_null(result);
	}
}

static gboolean
create_overlay(const gchar *base, const gchar *format, const gchar *path, GError **error)
{
	g_autoptr(GAsyncResult) res = NULL;

	ucv_overlay_create_async(base, format, path, 0, NULL, on_result, &res);
	wait_for(&res);
	return ucv_overlay_create_finish(res, error);
}

static JsonObject *
qemu_img_info(const gchar *path)
{
	const gchar *argv[] = {"qemu-img", "info", "--output=json", path, NULL};
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = NULL;

	run(argv, &out);
	json_parser_load_from_data(parser, out, -1, &error);
	g_assert_no_error(error);
	return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

static void
test_overlay(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *url = url_for(fixture, "/image.qcow2");
	g_autofree gchar *overlay = g_build_filename(fixture->tmpdir, "disk.qcow2", NULL);
	g_autofree gchar *bad = g_build_filename(fixture->tmpdir, "bad.qcow2", NULL);
	g_autofree gchar *nowhere = g_build_filename(fixture->tmpdir, "nowhere.qcow2", NULL);
	g_autoptr(JsonObject) info = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *format = NULL;
	g_autofree gchar *base = NULL;

	base = ensure(fixture, url, &format, &error);
	g_assert_no_error(error);
	g_assert_true(create_overlay(base, format, overlay, &error));
	g_assert_no_error(error);

	info = qemu_img_info(overlay);
	g_assert_cmpstr(json_object_get_string_member(info, "format"), ==, "qcow2");
	g_assert_cmpstr(json_object_get_string_member(info, "backing-filename"), ==, base);
	g_assert_cmpstr(json_object_get_string_member(info, "backing-filename-format"), ==,
			"qcow2");

	/* never over an existing disk */
	g_assert_false(create_overlay(base, format, overlay, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_FAILED);
	g_clear_error(&error);

	/* qemu-img's own complaint reaches the caller, and no file is left */
	g_assert_false(create_overlay(nowhere, "qcow2", bad, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "qemu-img"));
	g_assert_nonnull(strstr(error->message, "No such file"));
	g_assert_false(g_file_test(bad, G_FILE_TEST_EXISTS));
	g_clear_error(&error);

	g_assert_false(create_overlay(base, "vmdk", bad, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add("/image-cache/download-shared", Fixture, NULL, fixture_setup,
		   test_download_shared, fixture_teardown);
	g_test_add("/image-cache/download-raw", Fixture, NULL, fixture_setup, test_download_raw,
		   fixture_teardown);
	g_test_add("/image-cache/download-failures", Fixture, NULL, fixture_setup,
		   test_download_failures, fixture_teardown);
	g_test_add("/image-cache/download-retry", Fixture, NULL, fixture_setup, test_download_retry,
		   fixture_teardown);
	g_test_add("/image-cache/bad-urls", Fixture, NULL, fixture_setup, test_bad_urls,
		   fixture_teardown);
	g_test_add("/image-cache/bare-names", Fixture, NULL, fixture_setup, test_bare_names,
		   fixture_teardown);
	g_test_add("/image-cache/overlay", Fixture, NULL, fixture_setup, test_overlay,
		   fixture_teardown);
	return g_test_run();
}
