/* The fake registry: a path table behind a SoupServer on the test's main loop. */
#include "config.h"

#include "ucv-fake-registry.h"

#include <libsoup/soup.h>
#include <string.h>

#include "container/ucv-image-manifest.h"

struct _UcvFakeRegistry {
	SoupServer *server;
	gchar *host;
	GHashTable *bodies;        /* path -> GBytes */
	GHashTable *content_types; /* path -> type */
	GPtrArray *requests;       /* paths asked for, in order */
};

static void
on_request(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
	   gpointer user_data)
{
	UcvFakeRegistry *self = user_data;
	GBytes *body = g_hash_table_lookup(self->bodies, path);
	const gchar *type = g_hash_table_lookup(self->content_types, path);

	g_ptr_array_add(self->requests, g_strdup(path));
	if (body == NULL) {
		soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
		return;
	}
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(msg, type != NULL ? type : "application/octet-stream",
					 SOUP_MEMORY_COPY, g_bytes_get_data(body, NULL),
					 g_bytes_get_size(body));
}

UcvFakeRegistry *
ucv_fake_registry_new(void)
{
	UcvFakeRegistry *self = g_new0(UcvFakeRegistry, 1);
	g_autoptr(GError) error = NULL;
	GSList *uris;

	self->bodies = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					     (GDestroyNotify)g_bytes_unref);
	self->content_types = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->requests = g_ptr_array_new_with_free_func(g_free);
	self->server = soup_server_new(NULL, NULL);
	soup_server_add_handler(self->server, NULL, on_request, self, NULL);
	g_assert_true(
		soup_server_listen_local(self->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
	uris = soup_server_get_uris(self->server);
	self->host = g_strdup_printf("127.0.0.1:%d", g_uri_get_port(uris->data));
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
	return self;
}

void
ucv_fake_registry_free(UcvFakeRegistry *self)
{
	if (self == NULL)
		return;
	g_object_unref(self->server);
	g_hash_table_unref(self->bodies);
	g_hash_table_unref(self->content_types);
	g_ptr_array_unref(self->requests);
	g_free(self->host);
	g_free(self);
}

const gchar *
ucv_fake_registry_get_host(UcvFakeRegistry *self)
{
	return self->host;
}

void
ucv_fake_registry_serve(UcvFakeRegistry *self, const gchar *path, const gchar *content_type,
			GBytes *body)
{
	g_hash_table_insert(self->bodies, g_strdup(path), g_bytes_ref(body));
	if (content_type != NULL)
		g_hash_table_insert(self->content_types, g_strdup(path), g_strdup(content_type));
}

/* Serves a blob under its digest; returns the digest. */
static gchar *
serve_blob(UcvFakeRegistry *self, const gchar *repository, GBytes *blob)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(blob, &len);
	gchar *digest = ucv_image_digest_of(data, len);
	g_autofree gchar *path = g_strdup_printf("/v2/%s/blobs/%s", repository, digest);

	ucv_fake_registry_serve(self, path, NULL, blob);
	return digest;
}

gchar *
ucv_fake_registry_publish(UcvFakeRegistry *self, const gchar *repository, const gchar *tag,
			  GPtrArray *layers)
{
	g_autoptr(GBytes) config = g_bytes_new_static("{}", 2);
	g_autofree gchar *config_digest = serve_blob(self, repository, config);
	g_autoptr(GString) manifest = g_string_new(NULL);
	g_autoptr(GBytes) body = NULL;
	g_autofree gchar *tag_path = NULL;
	g_autofree gchar *digest_path = NULL;
	gchar *digest;

	g_string_append_printf(manifest,
			       "{\"schemaVersion\":2,\"mediaType\":\"" UCV_MEDIA_OCI_MANIFEST "\","
			       "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+"
			       "json\",\"digest\":\"%s\",\"size\":2},\"layers\":[",
			       config_digest);
	for (guint i = 0; i < layers->len; i++) {
		GBytes *layer = g_ptr_array_index(layers, i);
		g_autofree gchar *layer_digest = serve_blob(self, repository, layer);
		g_string_append_printf(manifest,
				       "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+"
				       "gzip\",\"digest\":\"%s\",\"size\":%zu}",
				       i > 0 ? "," : "", layer_digest, g_bytes_get_size(layer));
	}
	g_string_append(manifest, "]}");
	body = g_bytes_new(manifest->str, manifest->len);
	digest = ucv_image_digest_of((const guint8 *)manifest->str, manifest->len);
	tag_path = g_strdup_printf("/v2/%s/manifests/%s", repository, tag);
	digest_path = g_strdup_printf("/v2/%s/manifests/%s", repository, digest);
	ucv_fake_registry_serve(self, tag_path, UCV_MEDIA_OCI_MANIFEST, body);
	ucv_fake_registry_serve(self, digest_path, UCV_MEDIA_OCI_MANIFEST, body);
	return digest;
}

guint
ucv_fake_registry_count(UcvFakeRegistry *self, const gchar *prefix)
{
	guint n = 0;

	for (guint i = 0; i < self->requests->len; i++)
		if (g_str_has_prefix(g_ptr_array_index(self->requests, i), prefix))
			n++;
	return n;
}
