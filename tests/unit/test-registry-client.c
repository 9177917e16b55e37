/* The registry client against a registry in this process: an index leads to the amd64 manifest,
 * blobs are checked against their digests, a bearer challenge is followed once, and every kind of
 * failure says what went wrong. */
#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "container/ucv-registry-client.h"
#include "model/ucv-error.h"

#define LAYER_TEXT "pretend this is a gzipped tar"
#define TOKEN      "pull-token-123"

typedef struct {
	SoupServer *server;
	guint port;
	gchar *registry;   /* 127.0.0.1:<port> */
	GHashTable *paths; /* path -> GBytes body; content type in "ct:<path>" */
	gchar *layer_digest;
	gchar *manifest_digest;
	gchar *dir;
	guint token_requests;
} Fixture;

static void
serve(Fixture *f, const gchar *path, const gchar *content_type, const gchar *body, gsize len)
{
	g_hash_table_insert(f->paths, g_strdup(path), g_bytes_new(body, len));
	if (content_type != NULL)
		g_hash_table_insert(f->paths, g_strconcat("ct:", path, NULL),
				    g_bytes_new(content_type, strlen(content_type) + 1));
}

static gboolean
authorized(Fixture *f, SoupServerMessage *msg, const char *path)
{
	const gchar *auth = soup_message_headers_get_one(
		soup_server_message_get_request_headers(msg), "Authorization");
	g_autofree gchar *challenge = NULL;

	if (!g_str_has_prefix(path, "/v2/secret/") || g_strcmp0(auth, "Bearer " TOKEN) == 0)
		return TRUE;
	challenge = g_strdup_printf("Bearer realm=\"http://%s/token\",service=\"test\","
				    "scope=\"repository:secret/app:pull\"",
				    f->registry);
	soup_message_headers_replace(soup_server_message_get_response_headers(msg),
				     "WWW-Authenticate", challenge);
	soup_server_message_set_status(msg, SOUP_STATUS_UNAUTHORIZED, NULL);
	return FALSE;
}

static void
on_request(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
	   gpointer user_data)
{
	Fixture *f = user_data;
	g_autofree gchar *ct_key = g_strconcat("ct:", path, NULL);
	GBytes *body = g_hash_table_lookup(f->paths, path);
	GBytes *content_type = g_hash_table_lookup(f->paths, ct_key);

	if (g_str_equal(path, "/token")) {
		f->token_requests++;
		g_assert_cmpstr(g_hash_table_lookup(query, "scope"), ==,
				"repository:secret/app:pull");
		soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
		soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_COPY,
						 "{\"token\":\"" TOKEN "\"}", strlen(TOKEN) + 12);
		return;
	}
	if (!authorized(f, msg, path))
		return;
	if (body == NULL) {
		soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
		return;
	}
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(msg,
					 content_type != NULL ? g_bytes_get_data(content_type, NULL)
							      : "application/octet-stream",
					 SOUP_MEMORY_COPY, g_bytes_get_data(body, NULL),
					 g_bytes_get_size(body));
}

static gchar *
digest_of(const gchar *text)
{
	return ucv_image_digest_of((const guint8 *)text, strlen(text));
}

/* acme/batch:1.0 and secret/app:1.0: an index whose amd64 entry names a one-layer manifest. */
static void
publish(Fixture *f, const gchar *repository)
{
	g_autofree gchar *config_digest = digest_of("{}");
	g_autofree gchar *manifest = g_strdup_printf(
		"{\"schemaVersion\":2,\"mediaType\":\"" UCV_MEDIA_OCI_MANIFEST "\","
		"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		"\"digest\":\"%s\",\"size\":2},\"layers\":[{\"mediaType\":"
		"\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu}]}",
		config_digest, f->layer_digest, strlen(LAYER_TEXT));
	g_autofree gchar *index = NULL;
	g_autofree gchar *path = NULL;

	g_free(f->manifest_digest);
	f->manifest_digest = digest_of(manifest);
	index = g_strdup_printf("{\"schemaVersion\":2,\"mediaType\":\"" UCV_MEDIA_OCI_INDEX
				"\",\"manifests\":["
				"{\"digest\":\"%s\",\"size\":1,\"platform\":{\"os\":\"linux\","
				"\"architecture\":\"arm64\"}},"
				"{\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"os\":\"linux\","
				"\"architecture\":\"amd64\"}}]}",
				config_digest, f->manifest_digest, strlen(manifest));
	path = g_strdup_printf("/v2/%s/manifests/1.0", repository);
	serve(f, path, UCV_MEDIA_OCI_INDEX, index, strlen(index));
	g_free(path);
	path = g_strdup_printf("/v2/%s/manifests/%s", repository, f->manifest_digest);
	serve(f, path, UCV_MEDIA_OCI_MANIFEST, manifest, strlen(manifest));
	g_free(path);
	path = g_strdup_printf("/v2/%s/blobs/%s", repository, f->layer_digest);
	serve(f, path, NULL, LAYER_TEXT, strlen(LAYER_TEXT));
}

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSList) uris = NULL;

	f->paths = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 (GDestroyNotify)g_bytes_unref);
	f->server = soup_server_new(NULL, NULL);
	soup_server_add_handler(f->server, NULL, on_request, f, NULL);
	g_assert_true(soup_server_listen_local(f->server, 0, 0, &error));
	uris = soup_server_get_uris(f->server);
	f->port = g_uri_get_port(uris->data);
	g_slist_free_full(g_steal_pointer(&uris), (GDestroyNotify)g_uri_unref);
	f->registry = g_strdup_printf("127.0.0.1:%u", f->port);
	f->layer_digest = digest_of(LAYER_TEXT);
	f->dir = g_dir_make_tmp("ucv-registry-XXXXXX", &error);
	g_assert_no_error(error);
	publish(f, "acme/batch");
	publish(f, "secret/app");
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	g_autoptr(GDir) dir = g_dir_open(f->dir, 0, NULL);
	const gchar *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = g_build_filename(f->dir, name, NULL);
		g_unlink(path);
	}
	g_rmdir(f->dir);
	g_free(f->dir);
	g_object_unref(f->server);
	g_hash_table_unref(f->paths);
	g_free(f->registry);
	g_free(f->layer_digest);
	g_free(f->manifest_digest);
}

static void
on_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	*(GAsyncResult **)user_data = g_object_ref(res);
}

static UcvImageManifest *
get_manifest(Fixture *f, const gchar *image, GError **error)
{
	const gchar *insecure[] = {f->registry, NULL};
	g_autoptr(UcvRegistryClient) client = ucv_registry_client_new(insecure);
	g_autoptr(UcvImageRef) ref = ucv_image_ref_parse(image, NULL);
	g_autoptr(GAsyncResult) res = NULL;

	g_assert_nonnull(ref);
	ucv_registry_client_get_manifest_async(client, ref, NULL, on_done, &res);
	while (res == NULL)
		g_main_context_iteration(NULL, TRUE);
	return ucv_registry_client_get_manifest_finish(client, res, error);
}

static gboolean
fetch_blob(Fixture *f, const gchar *image, const gchar *digest, const gchar *path,
	   guint64 max_bytes, GError **error)
{
	const gchar *insecure[] = {f->registry, NULL};
	g_autoptr(UcvRegistryClient) client = ucv_registry_client_new(insecure);
	g_autoptr(UcvImageRef) ref = ucv_image_ref_parse(image, NULL);
	g_autoptr(GAsyncResult) res = NULL;

	ucv_registry_client_fetch_blob_async(client, ref, digest, path, max_bytes, NULL, NULL, NULL,
					     on_done, &res);
	while (res == NULL)
		g_main_context_iteration(NULL, TRUE);
	return ucv_registry_client_fetch_blob_finish(client, res, error);
}

static void
test_index_to_manifest(Fixture *f, gconstpointer data)
{
	g_autofree gchar *image = g_strdup_printf("%s/acme/batch:1.0", f->registry);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvImageManifest) manifest = get_manifest(f, image, &error);
	UcvImageLayer *layer;

	g_assert_no_error(error);
	g_assert_cmpstr(manifest->digest, ==, f->manifest_digest);
	g_assert_cmpuint(manifest->layers->len, ==, 1);
	layer = g_ptr_array_index(manifest->layers, 0);
	g_assert_cmpstr(layer->digest, ==, f->layer_digest);
	g_assert_cmpuint(manifest->total_size, ==, strlen(LAYER_TEXT));
}

/* Asked for by digest, the registry must answer with exactly that manifest. */
static void
test_pinned_digest(Fixture *f, gconstpointer data)
{
	g_autofree gchar *image =
		g_strdup_printf("%s/acme/batch@%s", f->registry, f->manifest_digest);
	g_autofree gchar *other = digest_of("another manifest");
	g_autofree gchar *swapped = g_strdup_printf("%s/acme/batch@%s", f->registry, other);
	g_autofree gchar *real_path =
		g_strdup_printf("/v2/acme/batch/manifests/%s", f->manifest_digest);
	g_autofree gchar *swapped_path = g_strdup_printf("/v2/acme/batch/manifests/%s", other);
	GBytes *real = g_hash_table_lookup(f->paths, real_path);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvImageManifest) manifest = get_manifest(f, image, &error);
	g_autoptr(UcvImageManifest) none = NULL;

	g_assert_no_error(error);
	g_assert_cmpstr(manifest->digest, ==, f->manifest_digest);
	serve(f, swapped_path, UCV_MEDIA_OCI_MANIFEST, g_bytes_get_data(real, NULL),
	      g_bytes_get_size(real));
	none = get_manifest(f, swapped, &error);
	g_assert_null(none);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
}

static void
test_blob(Fixture *f, gconstpointer data)
{
	g_autofree gchar *image = g_strdup_printf("%s/acme/batch:1.0", f->registry);
	g_autofree gchar *path = g_build_filename(f->dir, "layer", NULL);
	g_autofree gchar *contents = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(fetch_blob(f, image, f->layer_digest, path, 1024, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
	g_assert_cmpstr(contents, ==, LAYER_TEXT);
}

/* A blob that is not what its digest says, or larger than allowed, is never kept. */
static void
test_blob_refused(Fixture *f, gconstpointer data)
{
	g_autofree gchar *image = g_strdup_printf("%s/acme/batch:1.0", f->registry);
	g_autofree gchar *path = g_build_filename(f->dir, "layer", NULL);
	g_autofree gchar *forged_path = NULL;
	g_autofree gchar *forged = digest_of("something else");
	g_autoptr(GError) error = NULL;
	g_autoptr(GDir) dir = NULL;

	forged_path = g_strdup_printf("/v2/acme/batch/blobs/%s", forged);
	serve(f, forged_path, NULL, LAYER_TEXT, strlen(LAYER_TEXT));
	g_assert_false(fetch_blob(f, image, forged, path, 1024, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_clear_error(&error);
	g_assert_false(fetch_blob(f, image, f->layer_digest, path, 4, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_TOO_LARGE);
	g_clear_error(&error);
	g_assert_false(fetch_blob(f, image, "sha256:../../etc", path, 1024, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	/* nothing left behind, not even a partial file */
	dir = g_dir_open(f->dir, 0, NULL);
	g_assert_null(g_dir_read_name(dir));
}

static void
test_bearer_token(Fixture *f, gconstpointer data)
{
	g_autofree gchar *image = g_strdup_printf("%s/secret/app:1.0", f->registry);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvImageManifest) manifest = get_manifest(f, image, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(manifest->layers->len, ==, 1);
	g_assert_cmpuint(f->token_requests, ==, 1);
}

static void
test_failures(Fixture *f, gconstpointer data)
{
	g_autofree gchar *unknown = g_strdup_printf("%s/acme/nothing:1.0", f->registry);
	g_autofree gchar *broken = g_strdup_printf("%s/acme/broken:1.0", f->registry);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvImageManifest) none = get_manifest(f, unknown, &error);

	g_assert_null(none);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "acme/nothing:1.0"));
	g_clear_error(&error);

	serve(f, "/v2/acme/broken/manifests/1.0", UCV_MEDIA_OCI_MANIFEST, "{\"layers\":5}", 12);
	none = get_manifest(f, broken, &error);
	g_assert_null(none);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_clear_error(&error);

	/* nobody listens on port 9 of this host */
	none = get_manifest(f, "127.0.0.1:9/acme/batch:1.0", &error);
	g_assert_null(none);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "127.0.0.1:9"));
}

/* Only layers the unpacker reads, only linux/amd64, only sha256 digests. */
static void
test_manifest_parse(void)
{
	const gchar *bad[] = {
		"[]",
		"{\"mediaType\":\"" UCV_MEDIA_OCI_INDEX "\",\"manifests\":[{\"digest\":\"sha256:"
		"0000000000000000000000000000000000000000000000000000000000000000\",\"platform\":"
		"{\"os\":\"windows\",\"architecture\":\"amd64\"}}]}",
		"{\"mediaType\":\"" UCV_MEDIA_OCI_MANIFEST "\",\"config\":{\"digest\":\"md5:1\","
		"\"size\":1},\"layers\":[]}",
		"{\"mediaType\":\"" UCV_MEDIA_OCI_MANIFEST "\",\"config\":{\"digest\":\"sha256:"
		"0000000000000000000000000000000000000000000000000000000000000000\",\"size\":1},"
		"\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar."
		"gzip\",\"digest\":\"sha256:"
		"0000000000000000000000000000000000000000000000000000000000000000\",\"size\":1}]}",
		"{\"mediaType\":\"application/vnd.docker.distribution.manifest.v1+json\"}",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *choice = NULL;
		g_autoptr(UcvImageManifest) manifest =
			ucv_image_manifest_parse(bad[i], strlen(bad[i]), &choice, &error);

		g_assert_null(manifest);
		g_assert_null(choice);
		g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
	ADD("/registry/index-to-manifest", test_index_to_manifest);
	ADD("/registry/pinned-digest", test_pinned_digest);
	ADD("/registry/blob", test_blob);
	ADD("/registry/blob-refused", test_blob_refused);
	ADD("/registry/bearer-token", test_bearer_token);
	ADD("/registry/failures", test_failures);
#undef ADD
	g_test_add_func("/registry/manifest-parse", test_manifest_parse);
	return g_test_run();
}
