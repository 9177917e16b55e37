/* Docker's reference grammar, strictly: the parts end up in URLs and file names. */
#define G_LOG_DOMAIN "ucv-container"

#include "config.h"

#include "ucv-image-ref.h"

#include <string.h>

#include "model/ucv-error.h"

#define MAX_REFERENCE 512
#define MAX_TAG       128

void
ucv_image_ref_free(UcvImageRef *self)
{
	if (self == NULL)
		return;
	g_free(self->registry);
	g_free(self->repository);
	g_free(self->tag);
	g_free(self->digest);
	g_free(self);
}

UcvImageRef *
ucv_image_ref_copy(const UcvImageRef *self)
{
	UcvImageRef *copy = g_new0(UcvImageRef, 1);

	copy->registry = g_strdup(self->registry);
	copy->repository = g_strdup(self->repository);
	copy->tag = g_strdup(self->tag);
	copy->digest = g_strdup(self->digest);
	return copy;
}

gboolean
ucv_image_ref_is_digest(const gchar *digest)
{
	if (digest == NULL || !g_str_has_prefix(digest, "sha256:") || strlen(digest) != 7 + 64)
		return FALSE;
	for (const gchar *p = digest + 7; *p != '\0'; p++)
		if (!g_ascii_isdigit(*p) && !(*p >= 'a' && *p <= 'f'))
			return FALSE;
	return TRUE;
}

/* One path component: lowercase alphanumerics separated by ".", "_", "__" or runs of "-". */
static gboolean
is_path_component(const gchar *s, gsize len)
{
	gboolean after_separator = TRUE;

	if (len == 0)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		gchar c = s[i];
		if (g_ascii_isdigit(c) || (c >= 'a' && c <= 'z')) {
			after_separator = FALSE;
			continue;
		}
		if (after_separator || (c != '.' && c != '_' && c != '-'))
			return FALSE;
		/* "__" and "---" are separators too; "._" is not */
		if (c == '_' && i + 1 < len && s[i + 1] == '_')
			i++;
		else if (c == '-')
			while (i + 1 < len && s[i + 1] == '-')
				i++;
		after_separator = TRUE;
	}
	return !after_separator;
}

static gboolean
is_repository(const gchar *repository)
{
	g_auto(GStrv) parts = g_strsplit(repository, "/", -1);

	for (guint i = 0; parts[i] != NULL; i++)
		if (!is_path_component(parts[i], strlen(parts[i])))
			return FALSE;
	return parts[0] != NULL;
}

static gboolean
is_tag(const gchar *tag)
{
	gsize len = strlen(tag);

	if (len == 0 || len > MAX_TAG || !(g_ascii_isalnum(tag[0]) || tag[0] == '_'))
		return FALSE;
	for (gsize i = 1; i < len; i++)
		if (!g_ascii_isalnum(tag[i]) && tag[i] != '_' && tag[i] != '.' && tag[i] != '-')
			return FALSE;
	return TRUE;
}

/* host, host:port, an IPv4 address with a port, or localhost[:port] */
static gboolean
is_registry(const gchar *registry)
{
	const gchar *colon = strrchr(registry, ':');
	gsize host_len = colon != NULL ? (gsize)(colon - registry) : strlen(registry);

	if (host_len == 0)
		return FALSE;
	for (gsize i = 0; i < host_len; i++)
		if (!g_ascii_isalnum(registry[i]) && registry[i] != '.' && registry[i] != '-')
			return FALSE;
	if (colon == NULL)
		return TRUE;
	if (colon[1] == '\0' || strlen(colon + 1) > 5)
		return FALSE;
	for (const gchar *p = colon + 1; *p != '\0'; p++)
		if (!g_ascii_isdigit(*p))
			return FALSE;
	return TRUE;
}

/* The first component names a registry when Docker would take it for one. */
static gboolean
names_registry(const gchar *first)
{
	return strchr(first, '.') != NULL || strchr(first, ':') != NULL ||
	       g_str_equal(first, "localhost");
}

static gboolean
split_name(UcvImageRef *ref, const gchar *name)
{
	const gchar *slash = strchr(name, '/');
	g_autofree gchar *first = slash != NULL ? g_strndup(name, slash - name) : NULL;

	if (first != NULL && names_registry(first)) {
		ref->registry = g_steal_pointer(&first);
		ref->repository = g_strdup(slash + 1);
	} else {
		ref->registry = g_strdup(UCV_IMAGE_REF_DEFAULT_REGISTRY);
		ref->repository =
			slash != NULL ? g_strdup(name) : g_strconcat("library/", name, NULL);
	}
	return is_registry(ref->registry) && is_repository(ref->repository);
}

/* "name[:tag]" → name and tag, the tag being after the last ':' that follows the last '/' */
static gchar *
split_tag(UcvImageRef *ref, const gchar *name_and_tag)
{
	const gchar *slash = strrchr(name_and_tag, '/');
	const gchar *colon = strrchr(slash != NULL ? slash : name_and_tag, ':');

	if (colon == NULL) {
		ref->tag = g_strdup("latest");
		return g_strdup(name_and_tag);
	}
	ref->tag = g_strdup(colon + 1);
	return g_strndup(name_and_tag, colon - name_and_tag);
}

UcvImageRef *
ucv_image_ref_parse(const gchar *image, GError **error)
{
	g_autoptr(UcvImageRef) ref = g_new0(UcvImageRef, 1);
	g_autofree gchar *name = NULL;
	const gchar *at;

	if (image == NULL || *image == '\0' || strlen(image) > MAX_REFERENCE ||
	    !g_utf8_validate(image, -1, NULL)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "the image reference is empty, too long or not text");
		return NULL;
	}
	at = strchr(image, '@');
	if (at != NULL) {
		g_autofree gchar *before = g_strndup(image, at - image);
		ref->digest = g_strdup(at + 1);
		name = split_tag(ref, before);
	} else {
		name = split_tag(ref, image);
	}
	if ((ref->digest != NULL && !ucv_image_ref_is_digest(ref->digest)) || !is_tag(ref->tag) ||
	    !split_name(ref, name)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "\"%s\" is not an image reference (registry/name:tag or name@sha256:…)",
			    image);
		return NULL;
	}
	/* a digest names the content itself; a tag beside it says nothing more */
	if (ref->digest != NULL)
		g_clear_pointer(&ref->tag, g_free);
	return g_steal_pointer(&ref);
}

const gchar *
ucv_image_ref_get_reference(const UcvImageRef *self)
{
	return self->digest != NULL ? self->digest : self->tag;
}

gchar *
ucv_image_ref_to_string(const UcvImageRef *self)
{
	return g_strdup_printf("%s/%s%s%s", self->registry, self->repository,
			       self->digest != NULL ? "@" : ":", ucv_image_ref_get_reference(self));
}
