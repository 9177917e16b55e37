/* Gzipped tar layers for the tests' registries, written with libarchive. */
#include "config.h"

#include "ucv-test-layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <string.h>

#define LAYER_MAX (64 * 1024)

struct _UcvTestLayer {
	struct archive *archive;
	guint8 *buffer;
	gsize used;
};

UcvTestLayer *
ucv_test_layer_new(void)
{
	UcvTestLayer *self = g_new0(UcvTestLayer, 1);

	self->archive = archive_write_new();
	self->buffer = g_malloc(LAYER_MAX);
	g_assert_cmpint(archive_write_add_filter_gzip(self->archive), ==, ARCHIVE_OK);
	g_assert_cmpint(archive_write_set_format_pax_restricted(self->archive), ==, ARCHIVE_OK);
	g_assert_cmpint(
		archive_write_open_memory(self->archive, self->buffer, LAYER_MAX, &self->used), ==,
		ARCHIVE_OK);
	return self;
}

static void
add_entry(UcvTestLayer *self, const gchar *path, guint type, const gchar *target,
	  const gchar *contents)
{
	struct archive_entry *entry = archive_entry_new();
	gsize len = contents != NULL ? strlen(contents) : 0;

	archive_entry_set_pathname(entry, path);
	archive_entry_set_filetype(entry, type);
	archive_entry_set_perm(entry, 0644);
	archive_entry_set_size(entry, (la_int64_t)len);
	if (target != NULL)
		archive_entry_set_symlink(entry, target);
	g_assert_cmpint(archive_write_header(self->archive, entry), ==, ARCHIVE_OK);
	if (len > 0)
		g_assert_cmpint(archive_write_data(self->archive, contents, len), ==,
				(la_ssize_t)len);
	archive_entry_free(entry);
}

void
ucv_test_layer_add_file(UcvTestLayer *self, const gchar *path, const gchar *contents)
{
	add_entry(self, path, AE_IFREG, NULL, contents);
}

void
ucv_test_layer_add_symlink(UcvTestLayer *self, const gchar *path, const gchar *target)
{
	add_entry(self, path, AE_IFLNK, target, NULL);
}

GBytes *
ucv_test_layer_finish(UcvTestLayer *self)
{
	GBytes *bytes;

	g_assert_cmpint(archive_write_close(self->archive), ==, ARCHIVE_OK);
	archive_write_free(self->archive);
	bytes = g_bytes_new_take(self->buffer, self->used);
	g_free(self);
	return bytes;
}

GBytes *
ucv_test_layer_with_file(const gchar *path, const gchar *contents)
{
	UcvTestLayer *layer = ucv_test_layer_new();

	ucv_test_layer_add_file(layer, path, contents);
	return ucv_test_layer_finish(layer);
}
