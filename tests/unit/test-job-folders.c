/* A DOCKER job's folders: requests read from Job JSON, and real bind mounts staged and unstaged
 * under a temporary directory (needs root). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "container/ucv-job-folders.h"
#include "model/ucv-error.h"
#include "ucv-test-files.h"

typedef struct {
	gchar *tmpdir;
	gchar *drive_root;
	gchar *drive;       /* <drive_root>/123, the job owner's drive */
	gchar *other_drive; /* <drive_root>/456, someone else's */
	gchar *outside;     /* next to drive_root */
	gchar *work_dir;
	gchar *staging_dir;
} Fixture;

/* Mount points at or below dir, from mountinfo, with its escapes undone. */
static GPtrArray *
mounts_below(const gchar *dir)
{
	g_autoptr(GPtrArray) mounts = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	gsize len = strlen(dir);

	g_assert_true(g_file_get_contents("/proc/self/mountinfo", &text, NULL, NULL));
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) fields = g_strsplit(lines[i], " ", 7);
		g_autofree gchar *point = NULL;

		if (g_strv_length(fields) < 7)
			continue;
		point = g_strcompress(fields[4]);
		if (strncmp(point, dir, len) == 0 && (point[len] == '\0' || point[len] == '/'))
			g_ptr_array_add(mounts, g_steal_pointer(&point));
	}
	return g_steal_pointer(&mounts);
}

/* The per-mount options of the topmost mount at point, e.g. "ro,nosuid,nodev,relatime". */
static gchar *
mount_options(const gchar *point)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	gchar *options = NULL;

	g_assert_true(g_file_get_contents("/proc/self/mountinfo", &text, NULL, NULL));
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) fields = g_strsplit(lines[i], " ", 7);
		g_autofree gchar *mount_point = NULL;

		if (g_strv_length(fields) < 7)
			continue;
		mount_point = g_strcompress(fields[4]);
		if (strcmp(mount_point, point) == 0) {
			g_free(options);
			options = g_strdup(fields[5]);
		}
	}
	return options;
}

static gboolean
has_option(const gchar *options, const gchar *option)
{
	g_auto(GStrv) list = g_strsplit(options, ",", -1);

	return g_strv_contains((const gchar *const *)list, option);
}

static void
assert_nothing_mounted_below(const gchar *dir)
{
	g_autoptr(GPtrArray) mounts = mounts_below(dir);

	if (mounts->len > 0)
		g_error("%s is still mounted", (const gchar *)g_ptr_array_index(mounts, 0));
}

/* Staging mounts only in the staging directory; the hostile-path test mounts /proc elsewhere. */
static void
assert_nothing_mounted(Fixture *fixture)
{
	g_autofree gchar *jobs = g_path_get_dirname(fixture->staging_dir);

	assert_nothing_mounted_below(jobs);
}

static void
overwrite(const gchar *path, const gchar *contents)
{
	gint fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, contents, strlen(contents)), ==, (gssize)strlen(contents));
	g_assert_cmpint(close(fd), ==, 0);
}

static void
write_file(const gchar *path, const gchar *contents)
{
	g_autoptr(GError) error = NULL;

	g_file_set_contents(path, contents, -1, &error);
	g_assert_no_error(error);
}

static void
assert_file(const gchar *path, const gchar *expected)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *contents = NULL;

	g_file_get_contents(path, &contents, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(contents, ==, expected);
}

static gchar *
path_in(const gchar *dir, const gchar *name)
{
	return g_build_filename(dir, name, NULL);
}

static void
make_dir(const gchar *dir, const gchar *name)
{
	g_autofree gchar *path = path_in(dir, name);

	g_assert_cmpint(g_mkdir_with_parents(path, 0755), ==, 0);
}

static void
fixture_setup(Fixture *fixture, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tmpdir = g_dir_make_tmp("ucv-folders-XXXXXX", &error);
	g_autofree gchar *file = NULL;

	g_assert_no_error(error);
	fixture->tmpdir = realpath(tmpdir, NULL);
	fixture->drive_root = path_in(fixture->tmpdir, "drives");
	fixture->drive = path_in(fixture->drive_root, "123");
	fixture->other_drive = path_in(fixture->drive_root, "456");
	fixture->outside = path_in(fixture->tmpdir, "outside");
	fixture->work_dir = path_in(fixture->tmpdir, "work");
	fixture->staging_dir = g_build_filename(fixture->tmpdir, "jobs", "1", "share", NULL);
	make_dir(fixture->drive, "data/sub");
	make_dir(fixture->drive, "results");
	make_dir(fixture->other_drive, "data");
	make_dir(fixture->outside, ".");
	make_dir(fixture->work_dir, ".");
	file = path_in(fixture->drive, "data/a.txt");
	write_file(file, "alpha");
	g_free(file);
	file = path_in(fixture->drive, "data/sub/b.txt");
	write_file(file, "beta");
	g_free(file);
	file = path_in(fixture->drive, "input.txt");
	write_file(file, "input");
	g_free(file);
	file = path_in(fixture->other_drive, "data/secret.txt");
	write_file(file, "someone else's");
	g_free(file);
	file = path_in(fixture->outside, "secret.txt");
	write_file(file, "host");
	g_free(file);
	file = path_in(fixture->work_dir, "job-0.sh");
	write_file(file, "#!/bin/sh\n");
}

/* Removing the tree through a mount left behind would delete what it shows: detach first, and
 * leave everything in place if that fails. */
static void
fixture_teardown(Fixture *fixture, gconstpointer data)
{
	for (guint round = 0; round < 16; round++) {
		g_autoptr(GPtrArray) mounts = mounts_below(fixture->tmpdir);

		for (guint i = mounts->len; i > 0; i--)
			umount2(g_ptr_array_index(mounts, i - 1), MNT_DETACH);
	}
	assert_nothing_mounted_below(fixture->tmpdir);
	ucv_test_remove_tree(fixture->tmpdir);
	g_free(fixture->tmpdir);
	g_free(fixture->drive_root);
	g_free(fixture->drive);
	g_free(fixture->other_drive);
	g_free(fixture->outside);
	g_free(fixture->work_dir);
	g_free(fixture->staging_dir);
}

static JsonNode *
parse_job(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	JsonNode *node = json_from_string(text, &error);

	g_assert_no_error(error);
	return node;
}

static UcvFolderRequest *
request_at(GPtrArray *requests, guint index)
{
	return g_ptr_array_index(requests, index);
}

static void
assert_request(GPtrArray *requests, guint index, const gchar *path, gboolean read_only,
	       const gchar *mount_path)
{
	UcvFolderRequest *request = request_at(requests, index);

	g_assert_cmpstr(request->ucloud_path, ==, path);
	g_assert_cmpint(request->read_only, ==, read_only);
	g_assert_cmpstr(request->mount_path, ==, mount_path);
}

/* Current Core sends every key of AppParameterValue, null where unused. */
static void
test_requests_current_form(void)
{
	g_autoptr(JsonNode) job = parse_job(
		"{\"id\":\"7\",\"specification\":{\"parameters\":{"
		"\"input\":{\"type\":\"file\",\"path\":\"/123/data\",\"mountPath\":null,"
		"\"readOnly\":true,\"value\":null,\"hostname\":null,\"jobId\":null,\"id\":null},"
		"\"greeting\":{\"type\":\"text\",\"path\":null,\"mountPath\":null,\"readOnly\":"
		"null,"
		"\"value\":\"hi\",\"hostname\":null,\"jobId\":null,\"id\":null},"
		"\"model\":{\"type\":\"file\",\"path\":\"/123//input.txt/\",\"mountPath\":\"\","
		"\"readOnly\":null,\"value\":null,\"hostname\":null,\"jobId\":null,\"id\":null},"
		"\"ucMetricSampleRate\":{\"type\":\"text\",\"path\":null,\"value\":\"10\"},"
		"\"unused\":null},"
		"\"resources\":["
		"{\"type\":\"file\",\"path\":\"/123/data\",\"mountPath\":null,\"readOnly\":false,"
		"\"value\":null,\"hostname\":null,\"jobId\":null,\"id\":null},"
		"{\"type\":\"file\",\"path\":\"/123/results\",\"mountPath\":\"/"
		"out\",\"readOnly\":true,"
		"\"value\":null,\"hostname\":null,\"jobId\":null,\"id\":null},"
		"{\"type\":\"peer\",\"path\":null,\"mountPath\":null,\"readOnly\":null,"
		"\"value\":null,\"hostname\":\"other\",\"jobId\":\"8\",\"id\":null},"
		"{\"type\":\"file\",\"path\":\"/123/results\",\"mountPath\":null,\"readOnly\":true,"
		"\"value\":null,\"hostname\":null,\"jobId\":null,\"id\":null},"
		"null]}}");
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) requests = ucv_job_folders_requests_from_job(job, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(requests->len, ==, 3);
	/* given read-only as a parameter and writable as a resource: writable */
	assert_request(requests, 0, "/123/data", FALSE, NULL);
	assert_request(requests, 1, "/123/input.txt", FALSE, NULL);
	/* read-only both times, and the one mountPath given is kept */
	assert_request(requests, 2, "/123/results", TRUE, "/out");
}

/* The documented form carries only the keys of each value's type. */
static void
test_requests_documented_form(void)
{
	g_autoptr(JsonNode) job = parse_job(
		"{\"id\":\"7\",\"specification\":{\"parameters\":{"
		"\"debug\":{\"type\":\"boolean\",\"value\":true},"
		"\"dir\":{\"type\":\"file\",\"path\":\"/123/data\",\"readOnly\":true},"
		"\"n\":{\"type\":\"integer\",\"value\":3}},"
		"\"resources\":[{\"type\":\"file\",\"path\":\"/123/data\",\"readOnly\":true},"
		"{\"type\":\"network\",\"id\":\"ip-1\"},"
		"{\"type\":\"file\",\"path\":\"/456/data\",\"mountPath\":\"/data/other\"}]}}");
	g_autoptr(JsonNode) empty = parse_job(
		"{\"id\":\"8\",\"specification\":{\"parameters\":null,\"resources\":null}}");
	g_autoptr(JsonNode) bare = parse_job("{\"id\":\"9\"}");
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) requests = ucv_job_folders_requests_from_job(job, &error);
	g_autoptr(GPtrArray) none = NULL;
	g_autoptr(GPtrArray) none_either = NULL;

	g_assert_no_error(error);
	g_assert_cmpuint(requests->len, ==, 2);
	assert_request(requests, 0, "/123/data", TRUE, NULL);
	assert_request(requests, 1, "/456/data", FALSE, "/data/other");
	none = ucv_job_folders_requests_from_job(empty, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(none->len, ==, 0);
	none_either = ucv_job_folders_requests_from_job(bare, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(none_either->len, ==, 0);
}

static void
assert_job_refused(const gchar *text, const gchar *fragment)
{
	g_autoptr(JsonNode) job = parse_job(text);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) requests = ucv_job_folders_requests_from_job(job, &error);

	g_assert_null(requests);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	if (strstr(error->message, fragment) == NULL)
		g_error("\"%s\" does not mention \"%s\"", error->message, fragment);
}

static void
test_requests_invalid(void)
{
	assert_job_refused("{\"specification\":{\"parameters\":{\"a\":{\"type\":\"file\","
			   "\"path\":\"123/data\"}}}}",
			   "specification.parameters.a: the file path \"123/data\"");
	assert_job_refused("{\"specification\":{\"resources\":[{\"type\":\"file\","
			   "\"path\":\"/123/data/../../456\"}]}}",
			   "specification.resources[0]: the file path /123/data/../../456");
	assert_job_refused("{\"specification\":{\"resources\":[{\"type\":\"file\","
			   "\"path\":\"/123/\"}]}}",
			   "names no file or folder inside a drive");
	assert_job_refused("{\"specification\":{\"resources\":[{\"type\":\"file\","
			   "\"path\":null}]}}",
			   "path must be a string");
	assert_job_refused("{\"specification\":{\"resources\":[{\"type\":\"file\","
			   "\"path\":\"/123/a\",\"readOnly\":\"yes\"}]}}",
			   "readOnly must be a boolean");
	assert_job_refused("{\"specification\":{\"resources\":[7]}}", "must be an object");
	assert_job_refused("{\"specification\":{\"resources\":{}}}", "must be an array");
	assert_job_refused("{\"specification\":{\"resources\":["
			   "{\"type\":\"file\",\"path\":\"/123/a\",\"mountPath\":\"/x\"},"
			   "{\"type\":\"file\",\"path\":\"/123/a\",\"mountPath\":\"/y\"}]}}",
			   "/123/a is asked for at both /x and /y");
	assert_job_refused("[]", "a job must be an object");
}

static void
assert_target(const gchar *path, const gchar *mount_path, const gchar *expected)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvFolderRequest) request =
		ucv_folder_request_new(path, FALSE, mount_path, &error);
	g_autofree gchar *target = NULL;

	g_assert_no_error(error);
	target = ucv_job_folders_target(request, &error);
	if (expected == NULL) {
		g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
		g_assert_nonnull(strstr(error->message, request->ucloud_path));
		g_assert_null(target);
		return;
	}
	g_assert_no_error(error);
	g_assert_cmpstr(target, ==, expected);
}

static void
test_targets(void)
{
	assert_target("/123/data/sub", NULL, "/work/sub");
	assert_target("/123/input.txt", "", "/work/input.txt");
	assert_target("/123/data", "/data/in", "/data/in");
	assert_target("/123/data", "/work/in", "/work/in");
	assert_target("/123/data", "data", NULL);
	assert_target("/123/data", "/", NULL);
	assert_target("/123/data", "/work", NULL);
	assert_target("/123/data", "/proc", NULL);
	assert_target("/123/data", "/sys/fs", NULL);
	assert_target("/123/data", "/dev/shm", NULL);
	assert_target("/123/data", "/devices", "/devices");
	assert_target("/123/data", "/a/../etc", NULL);
	assert_target("/123/data", "/a/./b", NULL);
	assert_target("/123/data", "/a//b", NULL);
	assert_target("/123/data", "/a/", NULL);
}

static UcvFolderRequest *
request_new(const gchar *path, gboolean read_only, const gchar *mount_path)
{
	g_autoptr(GError) error = NULL;
	UcvFolderRequest *request = ucv_folder_request_new(path, read_only, mount_path, &error);

	g_assert_no_error(error);
	return request;
}

static GPtrArray *
requests_new(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)ucv_folder_request_free);
}

static UcvStagedFolder *
staged_at(GPtrArray *staged, guint index)
{
	return g_ptr_array_index(staged, index);
}

static void
assert_staged(GPtrArray *staged, guint index, const gchar *path, const gchar *target,
	      gboolean read_only, gboolean is_directory)
{
	UcvStagedFolder *folder = staged_at(staged, index);
	g_autofree gchar *share_name = g_strdup_printf("m%u", index);

	g_assert_cmpstr(folder->ucloud_path, ==, path);
	g_assert_cmpstr(folder->share_name, ==, share_name);
	g_assert_cmpstr(folder->target, ==, target);
	g_assert_cmpint(folder->read_only, ==, read_only);
	g_assert_cmpint(folder->is_directory, ==, is_directory);
}

static void
assert_unstaged(Fixture *fixture)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ucv_job_folders_unstage(fixture->staging_dir, &error));
	g_assert_no_error(error);
	assert_nothing_mounted(fixture);
	g_assert_false(g_file_test(fixture->staging_dir, G_FILE_TEST_EXISTS));
}

static void
assert_sources_intact(Fixture *fixture)
{
	g_autofree gchar *a = path_in(fixture->drive, "data/a.txt");
	g_autofree gchar *b = path_in(fixture->drive, "data/sub/b.txt");
	g_autofree gchar *input = path_in(fixture->drive, "input.txt");
	g_autofree gchar *script = path_in(fixture->work_dir, "job-0.sh");
	g_autofree gchar *secret = path_in(fixture->other_drive, "data/secret.txt");
	g_autofree gchar *host = path_in(fixture->outside, "secret.txt");

	assert_file(a, "alpha");
	assert_file(b, "beta");
	assert_file(input, "input");
	assert_file(script, "#!/bin/sh\n");
	assert_file(secret, "someone else's");
	assert_file(host, "host");
}

static GPtrArray *
stage_ok(Fixture *fixture, GPtrArray *requests)
{
	g_autoptr(GError) error = NULL;
	GPtrArray *staged = NULL;

	g_assert_true(ucv_job_folders_stage(fixture->drive_root, fixture->staging_dir,
					    fixture->work_dir, requests, &staged, &error));
	g_assert_no_error(error);
	return staged;
}

static void
assert_write_fails(const gchar *path, gint expected_errno)
{
	gint fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	gint saved_errno = errno;

	if (fd >= 0)
		close(fd);
	g_assert_cmpint(fd, ==, -1);
	g_assert_cmpint(saved_errno, ==, expected_errno);
}

static gchar *
entry_path(Fixture *fixture, const gchar *name)
{
	return path_in(fixture->staging_dir, name);
}

static void
test_stage_read_write(Fixture *fixture, gconstpointer data)
{
	g_autoptr(GPtrArray) requests = requests_new();
	g_autoptr(GPtrArray) staged = NULL;
	g_autofree gchar *work_new = entry_path(fixture, "work/stdout-0.log");
	g_autofree gchar *work_script = entry_path(fixture, "work/job-0.sh");
	g_autofree gchar *dir_file = entry_path(fixture, "m0/sub/b.txt");
	g_autofree gchar *dir_new = entry_path(fixture, "m0/written.txt");
	g_autofree gchar *file = entry_path(fixture, "m1");
	g_autofree gchar *source_new = path_in(fixture->drive, "data/written.txt");
	g_autofree gchar *work_source = path_in(fixture->work_dir, "stdout-0.log");
	g_autofree gchar *file_source = path_in(fixture->drive, "input.txt");
	g_autofree gchar *options = NULL;

	g_ptr_array_add(requests, request_new("/123/data", FALSE, NULL));
	g_ptr_array_add(requests, request_new("/123/input.txt", FALSE, "/opt/input.txt"));
	staged = stage_ok(fixture, requests);
	g_assert_cmpuint(staged->len, ==, 2);
	assert_staged(staged, 0, "/123/data", "/work/data", FALSE, TRUE);
	assert_staged(staged, 1, "/123/input.txt", "/opt/input.txt", FALSE, FALSE);
	g_assert_cmpstr(ucv_job_folders_lookup_target(staged, "/123//data/"), ==, "/work/data");
	g_assert_null(ucv_job_folders_lookup_target(staged, "/123/other"));

	/* the staged entries show the sources, and writes reach them */
	assert_file(work_script, "#!/bin/sh\n");
	assert_file(dir_file, "beta");
	assert_file(file, "input");
	write_file(work_new, "out");
	write_file(dir_new, "new");
	/* in place: a bind-mounted file cannot be replaced by a rename */
	overwrite(file, "changed");
	options = mount_options(file);
	g_assert_true(has_option(options, "rw"));
	g_assert_true(has_option(options, "nosuid"));
	g_assert_true(has_option(options, "nodev"));

	assert_unstaged(fixture);
	assert_file(source_new, "new");
	assert_file(work_source, "out");
	assert_file(file_source, "changed");
	overwrite(file_source, "input");
	assert_sources_intact(fixture);
}

static void
test_stage_read_only(Fixture *fixture, gconstpointer data)
{
	g_autoptr(GPtrArray) requests = requests_new();
	g_autoptr(GPtrArray) staged = NULL;
	g_autofree gchar *dir_file = entry_path(fixture, "m0/a.txt");
	g_autofree gchar *dir_new = entry_path(fixture, "m0/written.txt");
	g_autofree gchar *dir = entry_path(fixture, "m0");
	g_autofree gchar *file = entry_path(fixture, "m1");
	g_autofree gchar *work_new = entry_path(fixture, "work/stdout-0.log");
	g_autofree gchar *dir_options = NULL;
	g_autofree gchar *file_options = NULL;

	g_ptr_array_add(requests, request_new("/123/data", TRUE, NULL));
	g_ptr_array_add(requests, request_new("/123/input.txt", TRUE, NULL));
	staged = stage_ok(fixture, requests);
	assert_staged(staged, 0, "/123/data", "/work/data", TRUE, TRUE);
	assert_staged(staged, 1, "/123/input.txt", "/work/input.txt", TRUE, FALSE);

	assert_file(dir_file, "alpha");
	assert_file(file, "input");
	assert_write_fails(dir_new, EROFS);
	assert_write_fails(dir_file, EROFS);
	assert_write_fails(file, EROFS);
	g_assert_cmpint(g_unlink(dir_file), ==, -1);
	g_assert_cmpint(errno, ==, EROFS);
	g_assert_cmpint(chmod(dir, 0777), ==, -1);
	g_assert_cmpint(errno, ==, EROFS);
	/* the work folder stays writable */
	write_file(work_new, "out");
	dir_options = mount_options(dir);
	file_options = mount_options(file);
	g_assert_true(has_option(dir_options, "ro"));
	g_assert_true(has_option(dir_options, "nosuid"));
	g_assert_true(has_option(dir_options, "nodev"));
	g_assert_true(has_option(file_options, "ro"));

	assert_unstaged(fixture);
	assert_sources_intact(fixture);
}

static void
make_symlink(const gchar *target, const gchar *dir, const gchar *name)
{
	g_autofree gchar *path = path_in(dir, name);

	g_assert_cmpint(symlink(target, path), ==, 0);
}

/* Refused with an error naming the UCloud path and no host path; nothing left behind. */
static void
assert_stage_refused(Fixture *fixture, GPtrArray *requests, gint code, const gchar *fragment)
{
	g_autoptr(GError) error = NULL;
	GPtrArray *staged = NULL;

	g_assert_false(ucv_job_folders_stage(fixture->drive_root, fixture->staging_dir,
					     fixture->work_dir, requests, &staged, &error));
	g_assert_error(error, UCV_ERROR, code);
	g_assert_null(staged);
	if (strstr(error->message, fragment) == NULL)
		g_error("\"%s\" does not mention \"%s\"", error->message, fragment);
	g_assert_null(strstr(error->message, fixture->tmpdir));
	assert_nothing_mounted(fixture);
	g_assert_false(g_file_test(fixture->staging_dir, G_FILE_TEST_EXISTS));
	assert_sources_intact(fixture);
}

/* Paths built by hand, as a caller that skipped ucv_folder_request_new could pass them. */
static void
assert_path_refused(Fixture *fixture, const gchar *path, gint code)
{
	g_autoptr(GPtrArray) requests = requests_new();
	UcvFolderRequest *good = request_new("/123/results", TRUE, NULL);
	UcvFolderRequest *hostile = g_new0(UcvFolderRequest, 1);

	hostile->ucloud_path = g_strdup(path);
	g_ptr_array_add(requests, good);
	g_ptr_array_add(requests, hostile);
	assert_stage_refused(fixture, requests, code, path);
}

static void
test_stage_hostile_paths(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *procfs = path_in(fixture->drive, "procfs");
	g_autofree gchar *fifo = path_in(fixture->drive, "fifo");
	g_autofree gchar *device = path_in(fixture->drive, "null");

	make_symlink("/etc", fixture->drive, "etc");
	make_symlink("/proc/self/root", fixture->drive, "proc-root");
	make_symlink("../../outside", fixture->drive, "escape");
	make_symlink("../456/data", fixture->drive, "neighbour");
	make_symlink("data/sub", fixture->drive, "inside");
	make_symlink("/456", fixture->drive_root, "789");
	/* /proc inside the drive, to reach its magic links without leaving the drive */
	g_assert_cmpint(g_mkdir(procfs, 0755), ==, 0);
	g_assert_cmpint(mount("/proc", procfs, NULL, MS_BIND | MS_REC, NULL), ==, 0);

	assert_path_refused(fixture, "/123/data/../../456/data", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "/123/..", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "123/data", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "/123", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "/123/etc", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "/123/etc/passwd", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "/123/proc-root", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "/123/proc-root/etc", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "/123/escape", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "/123/neighbour/secret.txt", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "/789/data", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "/123/procfs/self/root/etc", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "/123/procfs/self/cwd", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "/123/missing", UCV_ERROR_NOT_FOUND);
	assert_path_refused(fixture, "/999/data", UCV_ERROR_NOT_FOUND);
	assert_path_refused(fixture, "/123/input.txt/x", UCV_ERROR_NOT_FOUND);
	g_assert_cmpint(umount2(procfs, MNT_DETACH), ==, 0);
	/* neither file nor folder */
	g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
	g_assert_cmpint(mknod(device, S_IFCHR | 0600, makedev(1, 3)), ==, 0);
	assert_path_refused(fixture, "/123/fifo", UCV_ERROR_INVALID);
	assert_path_refused(fixture, "/123/null", UCV_ERROR_INVALID);
	/* a symlink that stays in the drive is followed */
	{
		g_autoptr(GPtrArray) requests = requests_new();
		g_autoptr(GPtrArray) staged = NULL;
		g_autofree gchar *b = entry_path(fixture, "m0/b.txt");

		g_ptr_array_add(requests, request_new("/123/inside", TRUE, NULL));
		staged = stage_ok(fixture, requests);
		assert_file(b, "beta");
		assert_unstaged(fixture);
	}
}

static void
test_stage_duplicate_targets(Fixture *fixture, gconstpointer data)
{
	g_autoptr(GPtrArray) requests = requests_new();
	g_autoptr(GPtrArray) explicit_requests = requests_new();
	g_autoptr(GPtrArray) reserved = requests_new();

	g_ptr_array_add(requests, request_new("/123/data", FALSE, NULL));
	g_ptr_array_add(requests, request_new("/456/data", TRUE, NULL));
	assert_stage_refused(fixture, requests, UCV_ERROR_INVALID,
			     "/123/data and /456/data would both appear at /work/data");
	g_ptr_array_add(explicit_requests, request_new("/123/results", FALSE, NULL));
	g_ptr_array_add(explicit_requests, request_new("/123/data", FALSE, "/work/results"));
	assert_stage_refused(fixture, explicit_requests, UCV_ERROR_INVALID,
			     "/123/results and /123/data would both appear at /work/results");
	g_ptr_array_add(reserved, request_new("/123/data", FALSE, "/work"));
	assert_stage_refused(fixture, reserved, UCV_ERROR_INVALID,
			     "/123/data cannot appear at /work");
}

/* A late failure undoes the mounts already made. */
static void
test_stage_undo(Fixture *fixture, gconstpointer data)
{
	g_autoptr(GPtrArray) requests = requests_new();

	g_ptr_array_add(requests, request_new("/123/data", FALSE, NULL));
	g_ptr_array_add(requests, request_new("/123/input.txt", TRUE, NULL));
	g_ptr_array_add(requests, request_new("/123/gone", FALSE, NULL));
	assert_stage_refused(fixture, requests, UCV_ERROR_NOT_FOUND, "/123/gone does not exist");
}

static void
test_stage_existing_dir(Fixture *fixture, gconstpointer data)
{
	g_autoptr(GPtrArray) requests = requests_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *keep = entry_path(fixture, "keep");
	GPtrArray *staged = NULL;

	g_assert_cmpint(g_mkdir_with_parents(fixture->staging_dir, 0755), ==, 0);
	write_file(keep, "mine");
	g_assert_false(ucv_job_folders_stage(fixture->drive_root, fixture->staging_dir,
					     fixture->work_dir, requests, &staged, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_FAILED);
	assert_file(keep, "mine");
	assert_nothing_mounted(fixture);
}

static void
bind(const gchar *source, const gchar *target, unsigned long flags)
{
	g_assert_cmpint(mount(source, target, NULL, MS_BIND | flags, NULL), ==, 0);
}

/* After a restart the daemon knows only the directory: mounts made by hand, one stacked on
 * another and one nested in a staged folder, all go. */
static void
test_unstage_after_restart(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *m0 = entry_path(fixture, "m0");
	g_autofree gchar *m1 = entry_path(fixture, "m1");
	g_autofree gchar *work = entry_path(fixture, "work");
	g_autofree gchar *nested = entry_path(fixture, "m0/sub");
	g_autofree gchar *data_dir = path_in(fixture->drive, "data");
	g_autofree gchar *results = path_in(fixture->drive, "results");
	g_autofree gchar *input = path_in(fixture->drive, "input.txt");
	g_autoptr(GPtrArray) mounts = NULL;

	g_assert_cmpint(g_mkdir_with_parents(m0, 0700), ==, 0);
	g_assert_cmpint(g_mkdir(work, 0700), ==, 0);
	write_file(m1, "");
	bind(fixture->work_dir, work, 0);
	bind(data_dir, m0, 0);
	/* so the nested mount does not propagate back into the drive where the host shares mounts
	 */
	g_assert_cmpint(mount(NULL, m0, NULL, MS_PRIVATE, NULL), ==, 0);
	bind(results, nested, 0);
	bind(input, m1, 0);
	bind(results, m0, 0);
	mounts = mounts_below(fixture->staging_dir);
	g_assert_cmpuint(mounts->len, ==, 5);

	assert_unstaged(fixture);
	assert_sources_intact(fixture);
	g_assert_true(g_file_test(results, G_FILE_TEST_IS_DIR));
}

/* A real stage, forgotten: a fresh call knowing only the path unstages it. */
static void
test_unstage_forgotten_stage(Fixture *fixture, gconstpointer data)
{
	g_autoptr(GPtrArray) requests = requests_new();
	GPtrArray *staged;

	g_ptr_array_add(requests, request_new("/123/data", TRUE, NULL));
	g_ptr_array_add(requests, request_new("/123/input.txt", FALSE, NULL));
	staged = stage_ok(fixture, requests);
	g_ptr_array_unref(staged);
	assert_unstaged(fixture);
	assert_sources_intact(fixture);
	/* idempotent */
	assert_unstaged(fixture);
}

static void
test_unstage_missing(Fixture *fixture, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ucv_job_folders_unstage(fixture->staging_dir, &error));
	g_assert_no_error(error);
}

/* An entry that is not empty is never deleted, and the directory stays. */
static void
test_unstage_keeps_unexpected_files(Fixture *fixture, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *m0 = entry_path(fixture, "m0");
	g_autofree gchar *inner = entry_path(fixture, "m0/precious.txt");
	g_autofree gchar *m1 = entry_path(fixture, "m1");

	g_assert_cmpint(g_mkdir_with_parents(m0, 0700), ==, 0);
	write_file(inner, "precious");
	write_file(m1, "also precious");
	g_test_expect_message("ucv-container", G_LOG_LEVEL_WARNING, "removing */m0 failed: *");
	g_assert_false(ucv_job_folders_unstage(fixture->staging_dir, &error));
	g_test_assert_expected_messages();
	g_assert_error(error, UCV_ERROR, UCV_ERROR_FAILED);
	assert_file(inner, "precious");
	assert_file(m1, "also precious");
}

static void
add_fixture_test(const gchar *path, void (*func)(Fixture *, gconstpointer))
{
	g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ucv_test_enter_mount_namespace();
	g_test_add_func("/job-folders/requests/current-form", test_requests_current_form);
	g_test_add_func("/job-folders/requests/documented-form", test_requests_documented_form);
	g_test_add_func("/job-folders/requests/invalid", test_requests_invalid);
	g_test_add_func("/job-folders/targets", test_targets);
	add_fixture_test("/job-folders/stage/read-write", test_stage_read_write);
	add_fixture_test("/job-folders/stage/read-only", test_stage_read_only);
	add_fixture_test("/job-folders/stage/hostile-paths", test_stage_hostile_paths);
	add_fixture_test("/job-folders/stage/duplicate-targets", test_stage_duplicate_targets);
	add_fixture_test("/job-folders/stage/undo", test_stage_undo);
	add_fixture_test("/job-folders/stage/existing-dir", test_stage_existing_dir);
	add_fixture_test("/job-folders/unstage/after-restart", test_unstage_after_restart);
	add_fixture_test("/job-folders/unstage/forgotten-stage", test_unstage_forgotten_stage);
	add_fixture_test("/job-folders/unstage/missing", test_unstage_missing);
	add_fixture_test("/job-folders/unstage/keeps-unexpected-files",
			 test_unstage_keeps_unexpected_files);
	return g_test_run();
}
