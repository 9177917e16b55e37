/* Layer unpacking against layers written here with libarchive, and erofs images by mkfs.erofs. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "container/ucv-erofs.h"
#include "container/ucv-layer-unpack.h"
#include "model/ucv-error.h"
#include "ucv-test-files.h"

typedef struct {
	gchar *tmpdir;
	gchar *root;
	gchar *canary;
	guint n_layers;
} Fixture;

typedef struct archive Layer;

static gboolean
need_root(void)
{
	if (geteuid() == 0)
		return TRUE;
	g_test_skip("unpacking sets owners, which needs root");
	return FALSE;
}

static void
fixture_setup(Fixture *fixture, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	fixture->tmpdir = g_dir_make_tmp("ucv-layer-XXXXXX", &error);
	g_assert_no_error(error);
	fixture->root = g_build_filename(fixture->tmpdir, "root", NULL);
	fixture->canary = g_build_filename(fixture->tmpdir, "canary", NULL);
	g_assert_cmpint(g_mkdir(fixture->root, 0755), ==, 0);
	g_assert_cmpint(g_mkdir(fixture->canary, 0755), ==, 0);
}

static void
fixture_teardown(Fixture *fixture, gconstpointer data)
{
	ucv_test_remove_tree(fixture->tmpdir);
	g_free(fixture->tmpdir);
	g_free(fixture->root);
	g_free(fixture->canary);
}

static gchar *
root_path(Fixture *fixture, const gchar *path)
{
	return g_build_filename(fixture->root, path, NULL);
}

/* filter: ARCHIVE_FILTER_GZIP, _ZSTD or _NONE */
static Layer *
layer_new(Fixture *fixture, gint filter, gchar **path)
{
	Layer *ar = archive_write_new();

	*path = g_strdup_printf("%s/layer-%u.tar", fixture->tmpdir, fixture->n_layers++);
	g_assert_cmpint(archive_write_add_filter(ar, filter), ==, ARCHIVE_OK);
	g_assert_cmpint(archive_write_set_format_pax_restricted(ar), ==, ARCHIVE_OK);
	g_assert_cmpint(archive_write_open_filename(ar, *path), ==, ARCHIVE_OK);
	return ar;
}

static void
layer_close(Layer *ar)
{
	g_assert_cmpint(archive_write_close(ar), ==, ARCHIVE_OK);
	archive_write_free(ar);
}

static void
layer_add(Layer *ar, const gchar *path, guint type, guint perm, const gchar *data, gsize size,
	  const gchar *symlink, const gchar *hardlink, gint64 uid, gint64 mtime)
{
	struct archive_entry *entry = archive_entry_new();

	archive_entry_set_pathname(entry, path);
	archive_entry_set_filetype(entry, type);
	archive_entry_set_perm(entry, perm);
	archive_entry_set_uid(entry, uid);
	archive_entry_set_gid(entry, uid);
	archive_entry_set_mtime(entry, mtime, 0);
	if (symlink != NULL)
		archive_entry_set_symlink(entry, symlink);
	if (hardlink != NULL)
		archive_entry_set_hardlink(entry, hardlink);
	if (type == AE_IFCHR)
		archive_entry_set_rdev(entry, makedev(1, 3));
	archive_entry_set_size(entry, data != NULL ? (la_int64_t)size : 0);
	/* a name that is not UTF-8 is stored as bytes, with a warning */
	g_assert_cmpint(archive_write_header(ar, entry), >=, ARCHIVE_WARN);
	if (data != NULL)
		g_assert_cmpint(archive_write_data(ar, data, size), ==, (la_ssize_t)size);
	archive_entry_free(entry);
}

static void
add_file(Layer *ar, const gchar *path, guint perm, const gchar *data)
{
	layer_add(ar, path, AE_IFREG, perm, data, strlen(data), NULL, NULL, 0, 1600000000);
}

static void
add_dir(Layer *ar, const gchar *path)
{
	layer_add(ar, path, AE_IFDIR, 0755, NULL, 0, NULL, NULL, 0, 1600000000);
}

static void
add_symlink(Layer *ar, const gchar *path, const gchar *target)
{
	layer_add(ar, path, AE_IFLNK, 0777, NULL, 0, target, NULL, 0, 1600000000);
}

static void
add_hardlink(Layer *ar, const gchar *path, const gchar *target)
{
	layer_add(ar, path, AE_IFREG, 0644, NULL, 0, NULL, target, 0, 1600000000);
}

static void
unpack(Fixture *fixture, const gchar *const *layers)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvLayerUnpack) unpack = ucv_layer_unpack_new(fixture->root, 0, &error);

	g_assert_no_error(error);
	for (guint i = 0; layers[i] != NULL; i++) {
		ucv_layer_unpack_layer(unpack, layers[i], &error);
		g_assert_no_error(error);
	}
}

static void
assert_contents(Fixture *fixture, const gchar *path, const gchar *expected)
{
	g_autofree gchar *full = root_path(fixture, path);
	g_autofree gchar *contents = NULL;
	g_autoptr(GError) error = NULL;

	g_file_get_contents(full, &contents, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(contents, ==, expected);
}

static void
assert_absent(Fixture *fixture, const gchar *path)
{
	g_autofree gchar *full = root_path(fixture, path);
	struct stat st;

	g_assert_cmpint(lstat(full, &st), ==, -1);
}

static void
assert_stat(Fixture *fixture, const gchar *path, guint mode, guint uid, gint64 mtime)
{
	g_autofree gchar *full = root_path(fixture, path);
	struct stat st;

	g_assert_cmpint(lstat(full, &st), ==, 0);
	g_assert_cmpuint(st.st_mode, ==, mode);
	g_assert_cmpuint(st.st_uid, ==, uid);
	g_assert_cmpuint(st.st_gid, ==, uid);
	g_assert_cmpint(st.st_mtime, ==, mtime);
}

static void
test_round_trip(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *layer = NULL;
	g_autofree gchar *su = root_path(fixture, "usr/bin/su");
	g_autofree gchar *su2 = root_path(fixture, "usr/bin/su2");
	g_autofree gchar *abs = root_path(fixture, "abs");
	g_autofree gchar *bin = root_path(fixture, "bin");
	g_autofree gchar *link = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvLayerUnpack) unpack = NULL;
	Layer *ar = layer_new(fixture, ARCHIVE_FILTER_GZIP, &layer);
	struct stat st1, st2;

	if (!need_root())
		return;
	layer_add(ar, "./", AE_IFDIR, 0700, NULL, 0, NULL, NULL, 0, 1);
	layer_add(ar, "./etc/", AE_IFDIR, 0751, NULL, 0, NULL, NULL, 0, 1500000000);
	layer_add(ar, "./etc/passwd", AE_IFREG, 0644, "root:x:0:0\n", 11, NULL, NULL, 0,
		  1500000001);
	layer_add(ar, "usr/bin/su", AE_IFREG, 04755, "#!/bin/sh\n", 10, NULL, NULL, 0, 1500000002);
	layer_add(ar, "home/user/notes", AE_IFREG, 0600, "hello", 5, NULL, NULL, 1000, 1000000000);
	layer_add(ar, "bin", AE_IFLNK, 0777, NULL, 0, "usr/bin", NULL, 1000, 1500000003);
	add_symlink(ar, "abs", "/etc/passwd");
	add_hardlink(ar, "usr/bin/su2", "usr/bin/su");
	layer_add(ar, "data", AE_IFDIR, 0700, NULL, 0, NULL, NULL, 1000, 1234567890);
	layer_add(ar, "data/x", AE_IFREG, 0640, "x", 1, NULL, NULL, 1000, 1234567891);
	/* names are bytes, whatever the locale */
	add_file(ar, "caf\xc3\xa9 \xff", 0644, "utf8");
	layer_close(ar);

	unpack = ucv_layer_unpack_new(fixture->root, 1024 * 1024, &error);
	g_assert_no_error(error);
	ucv_layer_unpack_layer(unpack, layer, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(ucv_layer_unpack_get_bytes(unpack), ==, 11 + 10 + 5 + 1 + 4);
	assert_contents(fixture, "caf\xc3\xa9 \xff", "utf8");

	assert_contents(fixture, "etc/passwd", "root:x:0:0\n");
	assert_stat(fixture, "etc", S_IFDIR | 0751, 0, 1500000000);
	assert_stat(fixture, "etc/passwd", S_IFREG | 0644, 0, 1500000001);
	assert_stat(fixture, "usr/bin/su", S_IFREG | 04755, 0, 1500000002);
	assert_stat(fixture, "home/user/notes", S_IFREG | 0600, 1000, 1000000000);
	assert_stat(fixture, "bin", S_IFLNK | 0777, 1000, 1500000003);
	assert_stat(fixture, "data", S_IFDIR | 0700, 1000, 1234567890);
	assert_stat(fixture, "data/x", S_IFREG | 0640, 1000, 1234567891);
	assert_contents(fixture, "home/user/notes", "hello");
	/* the root keeps its own mode */
	g_assert_cmpint(lstat(fixture->root, &st1), ==, 0);
	g_assert_cmpuint(st1.st_mode & 07777, ==, 0755);

	link = g_file_read_link(fixture->root, &error);
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_free(link);
	link = g_file_read_link(abs, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(link, ==, "/etc/passwd");
	g_free(link);
	link = g_file_read_link(bin, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(link, ==, "usr/bin");

	g_assert_cmpint(lstat(su, &st1), ==, 0);
	g_assert_cmpint(lstat(su2, &st2), ==, 0);
	g_assert_cmpuint(st1.st_ino, ==, st2.st_ino);
	g_assert_cmpuint(st1.st_nlink, ==, 2);
}

static void
test_override(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *lower = NULL;
	g_autofree gchar *upper = NULL;
	g_autofree gchar *zstd = NULL;
	g_autofree gchar *shared = root_path(fixture, "shared");
	Layer *ar;
	struct stat st;

	if (!need_root())
		return;
	ar = layer_new(fixture, ARCHIVE_FILTER_GZIP, &lower);
	add_file(ar, "f", 0644, "one");
	add_file(ar, "d/x", 0644, "x");
	add_file(ar, "g", 0644, "g");
	add_file(ar, "shared", 0644, "shared");
	add_hardlink(ar, "linked", "shared");
	add_symlink(ar, "s", "f");
	layer_close(ar);
	ar = layer_new(fixture, ARCHIVE_FILTER_NONE, &upper);
	add_file(ar, "f", 0600, "two");
	add_file(ar, "d", 0644, "now a file");
	add_dir(ar, "g");
	add_file(ar, "g/inside", 0644, "now a directory");
	/* replacing one name of a hard link leaves the other alone */
	add_file(ar, "linked", 0644, "replaced");
	add_file(ar, "s", 0644, "not a symlink any more");
	layer_close(ar);
	ar = layer_new(fixture, ARCHIVE_FILTER_ZSTD, &zstd);
	add_file(ar, "z", 0644, "zstd");
	layer_close(ar);

	unpack(fixture, (const gchar *[]){lower, upper, zstd, NULL});
	assert_contents(fixture, "f", "two");
	assert_stat(fixture, "f", S_IFREG | 0600, 0, 1600000000);
	assert_contents(fixture, "d", "now a file");
	assert_contents(fixture, "g/inside", "now a directory");
	assert_contents(fixture, "linked", "replaced");
	assert_contents(fixture, "shared", "shared");
	g_assert_cmpint(lstat(shared, &st), ==, 0);
	g_assert_cmpuint(st.st_nlink, ==, 1);
	assert_contents(fixture, "s", "not a symlink any more");
	assert_contents(fixture, "f", "two");
	assert_contents(fixture, "z", "zstd");
}

static void
test_whiteout(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *lower = NULL;
	g_autofree gchar *upper = NULL;
	Layer *ar;

	if (!need_root())
		return;
	ar = layer_new(fixture, ARCHIVE_FILTER_GZIP, &lower);
	add_file(ar, "a/keep", 0644, "keep");
	add_file(ar, "a/gone", 0644, "gone");
	add_file(ar, "b/sub/file", 0644, "file");
	add_symlink(ar, "c", "/");
	layer_close(ar);
	ar = layer_new(fixture, ARCHIVE_FILTER_GZIP, &upper);
	add_file(ar, "a/.wh.gone", 0644, "");
	add_file(ar, ".wh.b", 0644, "");
	add_file(ar, ".wh.c", 0644, "");
	/* nothing to hide there */
	add_file(ar, "nowhere/.wh.thing", 0644, "");
	/* a whiteout hides lower layers only */
	add_file(ar, "new", 0644, "new");
	add_file(ar, ".wh.new", 0644, "");
	layer_close(ar);

	unpack(fixture, (const gchar *[]){lower, upper, NULL});
	assert_contents(fixture, "a/keep", "keep");
	assert_contents(fixture, "new", "new");
	assert_absent(fixture, "a/gone");
	assert_absent(fixture, "b");
	assert_absent(fixture, "c");
	assert_absent(fixture, "nowhere");
	assert_absent(fixture, "a/.wh.gone");
	assert_absent(fixture, ".wh.b");
	assert_absent(fixture, ".wh.new");
}

static void
test_opaque(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *lower = NULL;
	g_autofree gchar *upper = NULL;
	Layer *ar;

	if (!need_root())
		return;
	ar = layer_new(fixture, ARCHIVE_FILTER_GZIP, &lower);
	add_file(ar, "o/lower1", 0644, "lower");
	add_file(ar, "o/sub/lower2", 0644, "lower");
	add_file(ar, "o/sub/deeper/lower3", 0644, "lower");
	add_file(ar, "p/lower", 0644, "lower");
	layer_close(ar);
	ar = layer_new(fixture, ARCHIVE_FILTER_GZIP, &upper);
	add_dir(ar, "o");
	add_file(ar, "o/sub/new1", 0644, "new");
	add_file(ar, "o/.wh..wh..opq", 0644, "");
	add_file(ar, "o/new2", 0644, "new");
	layer_close(ar);

	unpack(fixture, (const gchar *[]){lower, upper, NULL});
	assert_contents(fixture, "o/sub/new1", "new");
	assert_contents(fixture, "o/new2", "new");
	assert_contents(fixture, "p/lower", "lower");
	assert_absent(fixture, "o/lower1");
	assert_absent(fixture, "o/sub/lower2");
	assert_absent(fixture, "o/sub/deeper");
	assert_absent(fixture, "o/.wh..wh..opq");
}

static void
test_special_files(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *layer = NULL;
	Layer *ar;

	if (!need_root())
		return;
	ar = layer_new(fixture, ARCHIVE_FILTER_GZIP, &layer);
	layer_add(ar, "dev/null", AE_IFCHR, 0666, NULL, 0, NULL, NULL, 0, 1);
	layer_add(ar, "dev/sda", AE_IFBLK, 0660, NULL, 0, NULL, NULL, 0, 1);
	layer_add(ar, "fifo", AE_IFIFO, 0644, NULL, 0, NULL, NULL, 0, 1);
	add_file(ar, "after", 0644, "after");
	layer_close(ar);

	unpack(fixture, (const gchar *[]){layer, NULL});
	assert_absent(fixture, "dev/null");
	assert_absent(fixture, "dev/sda");
	assert_absent(fixture, "fifo");
	assert_contents(fixture, "after", "after");
}

typedef struct {
	const gchar *name;
	const gchar *path; /* the entry that must be named in the error */
	const gchar *why;
	void (*write)(Layer *ar, Fixture *fixture);
} HostileCase;

static void
write_dotdot(Layer *ar, Fixture *fixture)
{
	add_file(ar, "../canary/escape", 0644, "escaped");
}

static void
write_absolute(Layer *ar, Fixture *fixture)
{
	g_autofree gchar *path = g_build_filename(fixture->canary, "abs", NULL);

	add_file(ar, path, 0644, "escaped");
	add_file(ar, "/tmp/ucv-layer-unpack-abs", 0644, "escaped");
}

static void
write_inner_dotdot(Layer *ar, Fixture *fixture)
{
	add_file(ar, "a/../../canary/b", 0644, "escaped");
}

static void
write_symlink_root(Layer *ar, Fixture *fixture)
{
	add_symlink(ar, "evil", "/");
	add_file(ar, "evil/tmp/ucv-layer-unpack-pwned", 0644, "escaped");
}

static void
write_symlink_up(Layer *ar, Fixture *fixture)
{
	add_symlink(ar, "evil", "../canary");
	add_file(ar, "evil/pwned", 0644, "escaped");
}

static void
write_symlink_dir(Layer *ar, Fixture *fixture)
{
	/* a directory entry over the symlink must not chmod or chown the target */
	add_symlink(ar, "evil", fixture->canary);
	add_dir(ar, "evil/sub");
}

static void
write_hardlink_up(Layer *ar, Fixture *fixture)
{
	add_hardlink(ar, "hl", "../outside");
}

static void
write_hardlink_absolute(Layer *ar, Fixture *fixture)
{
	g_autofree gchar *outside = g_build_filename(fixture->tmpdir, "outside", NULL);

	add_hardlink(ar, "hl", outside);
}

static void
write_hardlink_symlink(Layer *ar, Fixture *fixture)
{
	add_symlink(ar, "up", fixture->tmpdir);
	add_hardlink(ar, "hl", "up/outside");
}

static void
write_whiteout_symlink(Layer *ar, Fixture *fixture)
{
	add_symlink(ar, "evil", fixture->tmpdir);
	add_file(ar, "evil/.wh.outside", 0644, "");
}

static void
write_hardlink_missing(Layer *ar, Fixture *fixture)
{
	layer_add(ar, "dev/null", AE_IFCHR, 0666, NULL, 0, NULL, NULL, 0, 1);
	add_hardlink(ar, "hl", "dev/null");
}

static const HostileCase hostile_cases[] = {
	{"dotdot", "../canary/escape", "'..'", write_dotdot},
	{"absolute", "/abs", "absolute", write_absolute},
	{"inner-dotdot", "a/../../canary/b", "'..'", write_inner_dotdot},
	{"symlink-root", "evil/tmp/ucv-layer-unpack-pwned", "symlink", write_symlink_root},
	{"symlink-up", "evil/pwned", "symlink", write_symlink_up},
	{"symlink-dir", "evil/sub", "symlink", write_symlink_dir},
	{"hardlink-up", "../outside", "'..'", write_hardlink_up},
	{"hardlink-absolute", "/outside", "absolute", write_hardlink_absolute},
	{"hardlink-symlink", "up/outside", "symlink", write_hardlink_symlink},
	{"hardlink-missing", "dev/null", "does not exist", write_hardlink_missing},
	{"whiteout-symlink", "evil/.wh.outside", "symlink", write_whiteout_symlink},
};

static void
assert_dir_empty(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);

	g_assert_nonnull(dir);
	g_assert_null(g_dir_read_name(dir));
}

static void
test_hostile(Fixture *fixture, gconstpointer data)
{
	const HostileCase *hostile = data;
	g_autofree gchar *layer = NULL;
	g_autofree gchar *outside = g_build_filename(fixture->tmpdir, "outside", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvLayerUnpack) unpack = NULL;
	struct stat st;
	Layer *ar;

	if (!need_root())
		return;
	g_file_set_contents(outside, "secret", -1, &error);
	g_assert_no_error(error);
	g_assert_cmpint(chmod(fixture->canary, 0700), ==, 0);
	ar = layer_new(fixture, ARCHIVE_FILTER_GZIP, &layer);
	hostile->write(ar, fixture);
	layer_close(ar);

	unpack = ucv_layer_unpack_new(fixture->root, 0, &error);
	g_assert_no_error(error);
	g_assert_false(ucv_layer_unpack_layer(unpack, layer, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_test_message("%s: %s", hostile->name, error->message);
	g_assert_nonnull(strstr(error->message, hostile->path));
	g_assert_nonnull(strstr(error->message, hostile->why));
	g_assert_nonnull(strstr(error->message, "layer-0.tar"));

	assert_dir_empty(fixture->canary);
	g_assert_cmpint(lstat(fixture->canary, &st), ==, 0);
	g_assert_cmpuint(st.st_mode & 07777, ==, 0700);
	g_assert_cmpuint(st.st_uid, ==, 0);
	g_assert_true(g_file_test(outside, G_FILE_TEST_IS_REGULAR));
	g_assert_cmpint(lstat(outside, &st), ==, 0);
	g_assert_cmpuint(st.st_nlink, ==, 1);
	g_assert_false(g_file_test("/tmp/ucv-layer-unpack-abs", G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test("/tmp/ucv-layer-unpack-pwned", G_FILE_TEST_EXISTS));
	assert_absent(fixture, "hl");
}

static void
test_too_large(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *first = NULL;
	g_autofree gchar *second = NULL;
	g_autofree gchar *big = g_strnfill(600 * 1024, 'x');
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvLayerUnpack) unpack = NULL;
	Layer *ar;

	if (!need_root())
		return;
	ar = layer_new(fixture, ARCHIVE_FILTER_GZIP, &first);
	add_file(ar, "one", 0644, big);
	layer_close(ar);
	ar = layer_new(fixture, ARCHIVE_FILTER_GZIP, &second);
	add_file(ar, "two", 0644, big);
	layer_close(ar);

	unpack = ucv_layer_unpack_new(fixture->root, 1024 * 1024, &error);
	g_assert_no_error(error);
	ucv_layer_unpack_layer(unpack, first, &error);
	g_assert_no_error(error);
	g_assert_false(ucv_layer_unpack_layer(unpack, second, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_assert_cmpstr(error->message, ==, "the image is larger than the allowed 1 MiB");
	assert_absent(fixture, "two");
}

static void
test_not_an_archive(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *layer = g_build_filename(fixture->tmpdir, "garbage.tar", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvLayerUnpack) unpack = NULL;
	g_autofree gchar *missing = g_build_filename(fixture->tmpdir, "missing", NULL);

	g_file_set_contents(layer, "this is not a tar archive at all", -1, &error);
	g_assert_no_error(error);
	unpack = ucv_layer_unpack_new(fixture->root, 0, &error);
	g_assert_no_error(error);
	g_assert_false(ucv_layer_unpack_layer(unpack, layer, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_assert_true(g_str_has_prefix(error->message, "layer garbage.tar: "));
	g_clear_error(&error);
	g_assert_null(ucv_layer_unpack_new(missing, 0, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_FAILED);
}

static gboolean
have_mkfs_erofs(void)
{
	g_autofree gchar *mkfs = g_find_program_in_path("mkfs.erofs");

	if (mkfs != NULL)
		return TRUE;
	g_test_skip("mkfs.erofs is not installed");
	return FALSE;
}

/* Python's bytecode cache compares mtimes, so the image must keep them */
static void
assert_erofs_mtime(const gchar *image)
{
	g_autofree gchar *dump = g_find_program_in_path("dump.erofs");
	g_autofree gchar *out = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "TZ", "UTC", TRUE);
	const gchar *argv[] = {"dump.erofs", "--path=/file", image, NULL};
	gint status = 0;

	if (dump == NULL)
		return;
	g_spawn_sync(NULL, (gchar **)argv, envp, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL,
		     &status, &error);
	g_assert_no_error(error);
	g_assert_nonnull(strstr(out, "Timestamp: 2001-09-09 01:46:40"));
}

static void
test_erofs(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *file = root_path(fixture, "file");
	g_autofree gchar *image = g_build_filename(fixture->canary, "image.erofs", NULL);
	g_autofree gchar *contents = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GDir) dir = NULL;
	const struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
	gsize len = 0;

	if (!have_mkfs_erofs())
		return;
	g_file_set_contents(file, "hello", -1, &error);
	g_assert_no_error(error);
	g_assert_cmpint(utimensat(AT_FDCWD, file, times, 0), ==, 0);
	g_assert_true(ucv_erofs_build(fixture->root, image, &error));
	g_assert_no_error(error);
	g_file_get_contents(image, &contents, &len, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(len, >=, 1028);
	g_assert_cmpmem(contents + 1024, 4, "\xe2\xe1\xf5\xe0", 4);
	assert_erofs_mtime(image);
	/* no temporary file stays behind */
	dir = g_dir_open(fixture->canary, 0, NULL);
	g_assert_cmpstr(g_dir_read_name(dir), ==, "image.erofs");
	g_assert_null(g_dir_read_name(dir));
}

static void
test_erofs_failure(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *missing = g_build_filename(fixture->tmpdir, "missing", NULL);
	g_autofree gchar *image = g_build_filename(fixture->canary, "image.erofs", NULL);
	g_autoptr(GError) error = NULL;

	if (!have_mkfs_erofs())
		return;
	g_assert_false(ucv_erofs_build(missing, image, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_FAILED);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "mkfs.erofs"));
	assert_dir_empty(fixture->canary);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)
	ADD("/layer-unpack/round-trip", test_round_trip);
	ADD("/layer-unpack/override", test_override);
	ADD("/layer-unpack/whiteout", test_whiteout);
	ADD("/layer-unpack/opaque", test_opaque);
	ADD("/layer-unpack/special-files", test_special_files);
	ADD("/layer-unpack/too-large", test_too_large);
	ADD("/layer-unpack/not-an-archive", test_not_an_archive);
	ADD("/erofs/build", test_erofs);
	ADD("/erofs/failure", test_erofs_failure);
#undef ADD
	for (guint i = 0; i < G_N_ELEMENTS(hostile_cases); i++) {
		g_autofree gchar *path =
			g_strdup_printf("/layer-unpack/hostile/%s", hostile_cases[i].name);
		g_test_add(path, Fixture, &hostile_cases[i], fixture_setup, test_hostile,
			   fixture_teardown);
	}
	return g_test_run();
}
