/* Image manifests and indexes (OCI image spec, Docker v2 schema 2), read strictly: everything in
 * them comes from a registry the provider does not control. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define UCV_MEDIA_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define UCV_MEDIA_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define UCV_MEDIA_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define UCV_MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

typedef struct {
	gchar *digest;
	gchar *media_type;
	guint64 size;
} UcvImageLayer;

typedef struct {
	gchar *digest; /* of the manifest itself: the image's identity */
	gchar *config_digest;
	guint64 config_size;
	GPtrArray *layers;  /* UcvImageLayer, base first */
	guint64 total_size; /* of the layers, as the manifest states them */
} UcvImageManifest;

void ucv_image_manifest_free(UcvImageManifest *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvImageManifest, ucv_image_manifest_free)

/* "sha256:<hex>" of `data`. */
gchar *ucv_image_digest_of(const guint8 *data, gsize len);

/* Reads a registry's answer for a manifest URL. An image manifest is returned (its digest being
 * the body's); for an index, NULL without error and *index_choice = the digest of its
 * linux/amd64 manifest. Malformed, foreign-layer or platform-less answers are
 * UCV_ERROR_INVALID. */
UcvImageManifest *ucv_image_manifest_parse(const gchar *body, gsize len, gchar **index_choice,
					   GError **error);

G_END_DECLS
