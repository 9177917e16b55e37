/* Manifests and indexes: the media type decides (the mediaType member, which both OCI and Docker
 * registries send), every digest is checked for form, and only layers the unpacker reads pass. */
#define G_LOG_DOMAIN "ucv-container"

#include "config.h"

#include "ucv-image-manifest.h"

#include <json-glib/json-glib.h>

#include "container/ucv-image-ref.h"
#include "model/ucv-error.h"

/* A manifest with more layers than this is not an image anyone means to run */
#define MAX_LAYERS 256

static const gchar *const layer_types[] = {
	"application/vnd.oci.image.layer.v1.tar",
	"application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.oci.image.layer.v1.tar+zstd",
	"application/vnd.docker.image.rootfs.diff.tar.gzip",
	NULL,
};

static void
image_layer_free(UcvImageLayer *layer)
{
	g_free(layer->digest);
	g_free(layer->media_type);
	g_free(layer);
}

void
ucv_image_manifest_free(UcvImageManifest *self)
{
	if (self == NULL)
		return;
	g_free(self->digest);
	g_free(self->config_digest);
	g_clear_pointer(&self->layers, g_ptr_array_unref);
	g_free(self);
}

gchar *
ucv_image_digest_of(const guint8 *data, gsize len)
{
	g_autofree gchar *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);

	return g_strconcat("sha256:", hex, NULL);
}

static gboolean
invalid(GError **error, const gchar *why)
{
	g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "the registry's manifest %s", why);
	return FALSE;
}

static gpointer
refuse(GError **error, const gchar *why)
{
	invalid(error, why);
	return NULL;
}

static const gchar *
string_member(JsonObject *obj, const gchar *name)
{
	JsonNode *node = obj != NULL ? json_object_get_member(obj, name) : NULL;

	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

/* A descriptor: {mediaType, digest, size}; the size must be a non-negative integer. */
static gboolean
read_descriptor(JsonObject *obj, const gchar **digest, guint64 *size, GError **error)
{
	JsonNode *size_node = obj != NULL ? json_object_get_member(obj, "size") : NULL;

	*digest = string_member(obj, "digest");
	if (!ucv_image_ref_is_digest(*digest))
		return invalid(error, "has a descriptor without a sha256 digest");
	if (size_node == NULL || !JSON_NODE_HOLDS_VALUE(size_node) ||
	    json_node_get_value_type(size_node) != G_TYPE_INT64 || json_node_get_int(size_node) < 0)
		return invalid(error, "has a descriptor without a size");
	*size = (guint64)json_node_get_int(size_node);
	return TRUE;
}

static gboolean
read_layer(JsonNode *node, UcvImageManifest *manifest, GError **error)
{
	JsonObject *obj = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
	const gchar *media_type = string_member(obj, "mediaType");
	UcvImageLayer *layer;
	const gchar *digest;
	guint64 size;

	if (!read_descriptor(obj, &digest, &size, error))
		return FALSE;
	if (media_type == NULL || !g_strv_contains(layer_types, media_type)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "the image has a layer of type %s, which this provider does not unpack",
			    media_type != NULL ? media_type : "(none)");
		return FALSE;
	}
	layer = g_new0(UcvImageLayer, 1);
	layer->digest = g_strdup(digest);
	layer->media_type = g_strdup(media_type);
	layer->size = size;
	g_ptr_array_add(manifest->layers, layer);
	manifest->total_size += size;
	return TRUE;
}

static UcvImageManifest *
read_image_manifest(JsonObject *root, const gchar *body, gsize len, GError **error)
{
	g_autoptr(UcvImageManifest) manifest = g_new0(UcvImageManifest, 1);
	JsonNode *config = json_object_get_member(root, "config");
	JsonNode *layers = json_object_get_member(root, "layers");
	const gchar *config_digest;

	manifest->layers = g_ptr_array_new_with_free_func((GDestroyNotify)image_layer_free);
	if (config == NULL || !JSON_NODE_HOLDS_OBJECT(config))
		return refuse(error, "has no config");
	if (!read_descriptor(json_node_get_object(config), &config_digest, &manifest->config_size,
			     error))
		return NULL;
	if (layers == NULL || !JSON_NODE_HOLDS_ARRAY(layers) ||
	    json_array_get_length(json_node_get_array(layers)) > MAX_LAYERS)
		return refuse(error, "has no list of layers, or too many");
	for (guint i = 0; i < json_array_get_length(json_node_get_array(layers)); i++)
		if (!read_layer(json_array_get_element(json_node_get_array(layers), i), manifest,
				error))
			return NULL;
	manifest->config_digest = g_strdup(config_digest);
	manifest->digest = ucv_image_digest_of((const guint8 *)body, len);
	return g_steal_pointer(&manifest);
}

static gboolean
is_linux_amd64(JsonObject *entry)
{
	JsonNode *platform = json_object_get_member(entry, "platform");
	JsonObject *obj = platform != NULL && JSON_NODE_HOLDS_OBJECT(platform)
				  ? json_node_get_object(platform)
				  : NULL;

	return g_strcmp0(string_member(obj, "os"), "linux") == 0 &&
	       g_strcmp0(string_member(obj, "architecture"), "amd64") == 0;
}

static gboolean
read_index(JsonObject *root, gchar **index_choice, GError **error)
{
	JsonNode *manifests = json_object_get_member(root, "manifests");
	JsonArray *entries;

	if (manifests == NULL || !JSON_NODE_HOLDS_ARRAY(manifests))
		return invalid(error, "index lists no manifests");
	entries = json_node_get_array(manifests);
	for (guint i = 0; i < json_array_get_length(entries); i++) {
		JsonNode *node = json_array_get_element(entries, i);
		JsonObject *entry =
			JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
		const gchar *digest = string_member(entry, "digest");
		if (entry != NULL && is_linux_amd64(entry) && ucv_image_ref_is_digest(digest)) {
			*index_choice = g_strdup(digest);
			return TRUE;
		}
	}
	g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "the image has no variant for linux/amd64");
	return FALSE;
}

UcvImageManifest *
ucv_image_manifest_parse(const gchar *body, gsize len, gchar **index_choice, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new_immutable();
	JsonObject *root;
	const gchar *media_type;

	*index_choice = NULL;
	if (!json_parser_load_from_data(parser, body, (gssize)len, NULL) ||
	    !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
		return refuse(error, "is not a JSON object");
	root = json_node_get_object(json_parser_get_root(parser));
	media_type = string_member(root, "mediaType");
	if (g_strcmp0(media_type, UCV_MEDIA_OCI_INDEX) == 0 ||
	    g_strcmp0(media_type, UCV_MEDIA_DOCKER_LIST) == 0) {
		read_index(root, index_choice, error);
		return NULL;
	}
	if (g_strcmp0(media_type, UCV_MEDIA_OCI_MANIFEST) == 0 ||
	    g_strcmp0(media_type, UCV_MEDIA_DOCKER_MANIFEST) == 0)
		return read_image_manifest(root, body, len, error);
	/* an OCI index or manifest may leave mediaType out: its members tell */
	if (media_type == NULL && json_object_has_member(root, "manifests")) {
		read_index(root, index_choice, error);
		return NULL;
	}
	if (media_type == NULL && json_object_has_member(root, "layers"))
		return read_image_manifest(root, body, len, error);
	g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
		    "the registry answered with a manifest of type %s, which this provider does "
		    "not read",
		    media_type != NULL ? media_type : "(none)");
	return NULL;
}
