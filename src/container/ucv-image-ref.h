/* An image reference as a tool names it ("acme/batch:1.0.0", "127.0.0.1:5000/x/y@sha256:…"),
 * normalised the way Docker does: registry, repository, and a tag or a digest. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Where Docker Hub's images come from, and what a bare name means. */
#define UCV_IMAGE_REF_DEFAULT_REGISTRY "registry-1.docker.io"

typedef struct {
	gchar *registry;   /* host[:port] */
	gchar *repository; /* path, e.g. "library/debian" */
	gchar *tag;        /* NULL when digest is set */
	gchar *digest;     /* "sha256:<64 hex>", or NULL */
} UcvImageRef;

void ucv_image_ref_free(UcvImageRef *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvImageRef, ucv_image_ref_free)

/* "debian" → registry-1.docker.io, library/debian, tag latest; a first component with a dot, a
 * colon or "localhost" names the registry. Anything Docker would refuse is UCV_ERROR_INVALID. */
UcvImageRef *ucv_image_ref_parse(const gchar *image, GError **error);

UcvImageRef *ucv_image_ref_copy(const UcvImageRef *self);

/* The digest or the tag: what the registry's manifest URL ends in. */
const gchar *ucv_image_ref_get_reference(const UcvImageRef *self);

/* "registry/repository:tag" or "registry/repository@digest", for messages. */
gchar *ucv_image_ref_to_string(const UcvImageRef *self);

/* A digest the project accepts: "sha256:" and 64 lowercase hex digits. */
gboolean ucv_image_ref_is_digest(const gchar *digest);

G_END_DECLS
