/* Unpacks untrusted OCI image layers into one tree: every path is resolved beneath the root
 * without following symlinks, and every change is made with *at() calls on its parent. */
#define G_LOG_DOMAIN "ucv-container"

#include "config.h"

#include "ucv-layer-unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "model/ucv-error.h"

#define UCV_WHITEOUT_PREFIX ".wh."
#define UCV_WHITEOUT_OPAQUE ".wh..wh..opq"
/* removing a tree holds one open directory per level */
#define UCV_MAX_DEPTH 256
#define UCV_RESOLVE                                                                                \
	(RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

struct _UcvLayerUnpack {
	gint root_fd;
	guint64 max_bytes;
	guint64 bytes;
	/* for the layer being unpacked */
	gchar *layer_name;
	GHashTable *written;  /* paths the layer created or wrote below: its whiteouts spare them */
	GPtrArray *dir_times; /* UcvDirTimes, set once the layer's entries are all in place */
};

typedef struct {
	gchar *path;
	struct timespec times[2];
} UcvDirTimes;

typedef struct archive UcvArchive;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvArchive, archive_read_free)

static void
ucv_close_fd(gint *fd)
{
	if (*fd >= 0)
		close(*fd);
}

#define ucv_autofd __attribute__((cleanup(ucv_close_fd))) gint

static void
ucv_dir_times_free(UcvDirTimes *dir_times)
{
	g_free(dir_times->path);
	g_free(dir_times);
}

/* glibc 2.36 has no wrapper for openat2() */
static gint
ucv_openat2(gint dir_fd, const gchar *path, gint flags)
{
	struct open_how how = {
		.flags = (guint64)(flags | O_CLOEXEC | O_NOFOLLOW),
		.resolve = UCV_RESOLVE,
	};

	return (gint)syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
}

static gchar *
ucv_join(const gchar *dir_path, const gchar *name)
{
	if (dir_path == NULL || *dir_path == '\0')
		return g_strdup(name);
	return g_strconcat(dir_path, "/", name, NULL);
}

static gboolean
ucv_unpack_refuse(UcvLayerUnpack *self, const gchar *label, const gchar *why, GError **error)
{
	g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "layer %s: refusing %s: %s",
		    self->layer_name, label, why);
	return FALSE;
}

static gboolean
ucv_unpack_fail_errno(UcvLayerUnpack *self, const gchar *label, const gchar *what, GError **error)
{
	gint saved_errno = errno;

	g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "layer %s: cannot %s %s: %s",
		    self->layer_name, what, label, g_strerror(saved_errno));
	return FALSE;
}

static gboolean
ucv_unpack_archive_error(UcvLayerUnpack *self, struct archive *ar, GError **error)
{
	const gchar *msg = archive_error_string(ar);

	g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID, "layer %s: %s", self->layer_name,
		    msg != NULL ? msg : "unreadable archive");
	return FALSE;
}

/* Removes the entries of directory name (relative to dir_fd, never followed if a symlink) except
 * the paths in keep, whose directories are pruned in turn; path is name's path in the tree. */
static gboolean ucv_prune_at(gint dir_fd, const gchar *name, const gchar *path, GHashTable *keep);

/* Removes name, a whole directory tree included; a symlink is removed, not followed. */
static gboolean
ucv_remove_at(gint dir_fd, const gchar *name)
{
	struct stat st;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dir_fd, name, 0) == 0;
	if (!ucv_prune_at(dir_fd, name, NULL, NULL))
		return FALSE;
	return unlinkat(dir_fd, name, AT_REMOVEDIR) == 0;
}

static gboolean
ucv_is_dir_at(gint dir_fd, const gchar *name)
{
	struct stat st;

	return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static gboolean
ucv_prune_child(gint dir_fd, const gchar *name, const gchar *path, GHashTable *keep)
{
	g_autofree gchar *child = NULL;

	if (keep == NULL)
		return ucv_remove_at(dir_fd, name);
	child = ucv_join(path, name);
	if (!g_hash_table_contains(keep, child))
		return ucv_remove_at(dir_fd, name);
	if (!ucv_is_dir_at(dir_fd, name))
		return TRUE;
	return ucv_prune_at(dir_fd, name, child, keep);
}

static gboolean
ucv_prune_at(gint dir_fd, const gchar *name, const gchar *path, GHashTable *keep)
{
	gint fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	gboolean ok = TRUE;
	gint saved_errno;
	struct dirent *de;
	DIR *dir;

	if (fd < 0)
		return FALSE;
	dir = fdopendir(fd);
	if (dir == NULL) {
		saved_errno = errno;
		close(fd);
		errno = saved_errno;
		return FALSE;
	}
	while (ok && (de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		ok = ucv_prune_child(dirfd(dir), de->d_name, path, keep);
	}
	saved_errno = errno;
	closedir(dir);
	errno = saved_errno;
	return ok;
}

static gboolean
ucv_is_symlink_at(gint dir_fd, const gchar *name)
{
	struct stat st;

	return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

/* An entry's path as its components, empty for the root itself; NULL for a path that could
 * leave the root. */
static gchar **
ucv_unpack_split(UcvLayerUnpack *self, const gchar *path, const gchar *label, GError **error)
{
	g_autoptr(GPtrArray) comps = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) parts = NULL;

	if (path == NULL || *path == '\0') {
		ucv_unpack_refuse(self, label, "the path is empty", error);
		return NULL;
	}
	if (path[0] == '/') {
		ucv_unpack_refuse(self, label, "the path is absolute", error);
		return NULL;
	}
	parts = g_strsplit(path, "/", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		if (*parts[i] == '\0' || strcmp(parts[i], ".") == 0)
			continue;
		if (strcmp(parts[i], "..") == 0) {
			ucv_unpack_refuse(self, label, "the path contains '..'", error);
			return NULL;
		}
		g_ptr_array_add(comps, g_strdup(parts[i]));
	}
	if (comps->len > UCV_MAX_DEPTH) {
		ucv_unpack_refuse(self, label, "the path is too deep", error);
		return NULL;
	}
	g_ptr_array_add(comps, NULL);
	return (gchar **)g_ptr_array_free(g_steal_pointer(&comps), FALSE);
}

static gboolean
ucv_unpack_open_failed(UcvLayerUnpack *self, const gchar *label, GError **error)
{
	if (errno == ELOOP)
		return ucv_unpack_refuse(self, label, "the path goes through a symlink", error);
	if (errno == ENOTDIR)
		return ucv_unpack_refuse(self, label, "the path goes through a non-directory",
					 error);
	if (errno == EXDEV)
		return ucv_unpack_refuse(self, label, "the path leaves the root", error);
	if (errno == ENOENT) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND,
			    "layer %s: %s: no such directory", self->layer_name, label);
		return FALSE;
	}
	return ucv_unpack_fail_errno(self, label, "open the directory of", error);
}

/* Opens the directory holding the last of comps one component at a time, so that no symlink is
 * ever followed; with create, missing directories are made as tar does. */
static gint
ucv_unpack_open_parent(UcvLayerUnpack *self, gchar **comps, gboolean create, const gchar *label,
		       GError **error)
{
	g_autoptr(GString) prefix = g_string_new(NULL);
	guint n = g_strv_length(comps);
	ucv_autofd fd = ucv_openat2(self->root_fd, ".", O_RDONLY | O_DIRECTORY);

	if (fd < 0) {
		ucv_unpack_open_failed(self, label, error);
		return -1;
	}
	for (guint i = 0; i + 1 < n; i++) {
		gint next = ucv_openat2(fd, comps[i], O_RDONLY | O_DIRECTORY);

		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, comps[i], 0755) < 0 && errno != EEXIST) {
				ucv_unpack_fail_errno(self, label, "create the directory of",
						      error);
				return -1;
			}
			next = ucv_openat2(fd, comps[i], O_RDONLY | O_DIRECTORY);
		}
		/* O_DIRECTORY reports a symlink as ENOTDIR */
		if (next < 0 && errno == ENOTDIR && ucv_is_symlink_at(fd, comps[i]))
			errno = ELOOP;
		if (next < 0) {
			ucv_unpack_open_failed(self, label, error);
			return -1;
		}
		close(fd);
		fd = next;
		g_string_append_printf(prefix, "%s%s", i > 0 ? "/" : "", comps[i]);
		if (create)
			g_hash_table_add(self->written, g_strdup(prefix->str));
	}
	return g_steal_fd(&fd);
}

static gboolean
ucv_entry_owner(UcvLayerUnpack *self, struct archive_entry *entry, const gchar *label, uid_t *uid,
		gid_t *gid, GError **error)
{
	gint64 u = archive_entry_uid(entry);
	gint64 g = archive_entry_gid(entry);

	/* (uid_t)-1 would mean "leave unchanged" to chown() */
	if (u < 0 || u >= G_MAXUINT32 || g < 0 || g >= G_MAXUINT32)
		return ucv_unpack_refuse(self, label, "the owner is out of range", error);
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return TRUE;
}

static void
ucv_entry_times(struct archive_entry *entry, struct timespec times[2])
{
	times[1].tv_sec = archive_entry_mtime(entry);
	times[1].tv_nsec = archive_entry_mtime_nsec(entry);
	if (times[1].tv_nsec < 0 || times[1].tv_nsec > 999999999)
		times[1].tv_nsec = 0;
	if (!archive_entry_mtime_is_set(entry))
		times[1].tv_nsec = UTIME_OMIT;
	times[0] = times[1];
	if (archive_entry_atime_is_set(entry)) {
		times[0].tv_sec = archive_entry_atime(entry);
		times[0].tv_nsec = CLAMP(archive_entry_atime_nsec(entry), 0, 999999999);
	}
}

static gboolean
ucv_unpack_owner_and_mode(UcvLayerUnpack *self, gint fd, struct archive_entry *entry,
			  const gchar *label, GError **error)
{
	uid_t uid;
	gid_t gid;

	if (!ucv_entry_owner(self, entry, label, &uid, &gid, error))
		return FALSE;
	/* chown() clears the setuid and setgid bits, so the mode comes after it */
	if (fchown(fd, uid, gid) < 0)
		return ucv_unpack_fail_errno(self, label, "change the owner of", error);
	if (fchmod(fd, archive_entry_perm(entry) & 07777) < 0)
		return ucv_unpack_fail_errno(self, label, "change the mode of", error);
	return TRUE;
}

static gboolean
ucv_unpack_whiteout(UcvLayerUnpack *self, gchar **comps, const gchar *label, GError **error)
{
	guint n = g_strv_length(comps);
	gchar *last = comps[n - 1];
	const gchar *name = last + strlen(UCV_WHITEOUT_PREFIX);
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *dir_path = NULL;
	g_autofree gchar *path = NULL;
	ucv_autofd parent_fd = ucv_unpack_open_parent(self, comps, FALSE, label, &error_local);

	/* nothing below to hide */
	if (g_error_matches(error_local, UCV_ERROR, UCV_ERROR_NOT_FOUND))
		return TRUE;
	if (parent_fd < 0) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	comps[n - 1] = NULL;
	dir_path = g_strjoinv("/", comps);
	comps[n - 1] = last;
	if (strcmp(last, UCV_WHITEOUT_OPAQUE) == 0) {
		if (!ucv_prune_at(parent_fd, ".", dir_path, self->written))
			return ucv_unpack_fail_errno(self, label, "make opaque the directory of",
						     error);
		return TRUE;
	}
	if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return ucv_unpack_refuse(self, label, "a whiteout for nothing", error);
	/* a whiteout hides lower layers only */
	path = ucv_join(dir_path, name);
	if (g_hash_table_contains(self->written, path))
		return TRUE;
	if (!ucv_remove_at(parent_fd, name))
		return ucv_unpack_fail_errno(self, label, "apply", error);
	return TRUE;
}

static gboolean
ucv_unpack_dir(UcvLayerUnpack *self, struct archive_entry *entry, gint parent_fd, const gchar *name,
	       const gchar *path, const gchar *label, GError **error)
{
	ucv_autofd fd = -1;
	UcvDirTimes *dir_times;

	/* an existing directory keeps its contents and takes the new owner and mode */
	if (!ucv_is_dir_at(parent_fd, name) && !ucv_remove_at(parent_fd, name))
		return ucv_unpack_fail_errno(self, label, "replace", error);
	if (mkdirat(parent_fd, name, 0700) < 0 && errno != EEXIST)
		return ucv_unpack_fail_errno(self, label, "create", error);
	fd = ucv_openat2(parent_fd, name, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return ucv_unpack_fail_errno(self, label, "open", error);
	if (!ucv_unpack_owner_and_mode(self, fd, entry, label, error))
		return FALSE;
	/* entries added below would change the mtime again */
	dir_times = g_new0(UcvDirTimes, 1);
	dir_times->path = g_strdup(path);
	ucv_entry_times(entry, dir_times->times);
	g_ptr_array_add(self->dir_times, dir_times);
	return TRUE;
}

static gboolean
ucv_pwrite_all(gint fd, const guint8 *buf, gsize len, gint64 offset)
{
	while (len > 0) {
		gssize n = pwrite(fd, buf, len, offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		buf += n;
		len -= (gsize)n;
		offset += n;
	}
	return TRUE;
}

static gboolean
ucv_unpack_data(UcvLayerUnpack *self, struct archive *ar, gint fd, gint64 size, const gchar *label,
		GError **error)
{
	const void *buf = NULL;
	size_t len = 0;
	la_int64_t offset = 0;
	gint r;

	while ((r = archive_read_data_block(ar, &buf, &len, &offset)) == ARCHIVE_OK) {
		if (offset < 0 || (guint64)offset + len > (guint64)size)
			return ucv_unpack_refuse(self, label, "more data than its size", error);
		if (!ucv_pwrite_all(fd, buf, len, offset))
			return ucv_unpack_fail_errno(self, label, "write", error);
	}
	if (r != ARCHIVE_EOF)
		return ucv_unpack_archive_error(self, ar, error);
	/* sparse files may end in a hole */
	if (ftruncate(fd, size) < 0)
		return ucv_unpack_fail_errno(self, label, "write", error);
	return TRUE;
}

static gboolean
ucv_unpack_file(UcvLayerUnpack *self, struct archive *ar, struct archive_entry *entry,
		gint parent_fd, const gchar *name, const gchar *label, GError **error)
{
	gint64 size = MAX(archive_entry_size(entry), 0);
	struct timespec times[2];
	ucv_autofd fd = -1;

	if (self->max_bytes > 0 && (guint64)size > self->max_bytes - self->bytes) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "the image is larger than the allowed %" G_GUINT64_FORMAT " MiB",
			    self->max_bytes / (1024 * 1024));
		return FALSE;
	}
	self->bytes += (guint64)size;
	/* never write through an existing file: it may be a hard link to another one */
	if (!ucv_remove_at(parent_fd, name))
		return ucv_unpack_fail_errno(self, label, "replace", error);
	fd = openat(parent_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ucv_unpack_fail_errno(self, label, "create", error);
	if (!ucv_unpack_data(self, ar, fd, size, label, error))
		return FALSE;
	if (!ucv_unpack_owner_and_mode(self, fd, entry, label, error))
		return FALSE;
	ucv_entry_times(entry, times);
	if (futimens(fd, times) < 0)
		return ucv_unpack_fail_errno(self, label, "set the times of", error);
	return TRUE;
}

static gboolean
ucv_unpack_symlink(UcvLayerUnpack *self, struct archive_entry *entry, gint parent_fd,
		   const gchar *name, const gchar *label, GError **error)
{
	const gchar *target = archive_entry_symlink(entry);
	struct timespec times[2];
	uid_t uid;
	gid_t gid;

	if (target == NULL || *target == '\0')
		return ucv_unpack_refuse(self, label, "a symlink without a target", error);
	if (!ucv_entry_owner(self, entry, label, &uid, &gid, error))
		return FALSE;
	if (!ucv_remove_at(parent_fd, name))
		return ucv_unpack_fail_errno(self, label, "replace", error);
	/* the target is only ever resolved inside the container, so it is kept as it is */
	if (symlinkat(target, parent_fd, name) < 0)
		return ucv_unpack_fail_errno(self, label, "create", error);
	if (fchownat(parent_fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return ucv_unpack_fail_errno(self, label, "change the owner of", error);
	ucv_entry_times(entry, times);
	if (utimensat(parent_fd, name, times, AT_SYMLINK_NOFOLLOW) < 0)
		return ucv_unpack_fail_errno(self, label, "set the times of", error);
	return TRUE;
}

static gboolean
ucv_unpack_hardlink(UcvLayerUnpack *self, struct archive_entry *entry, gint parent_fd,
		    const gchar *name, const gchar *path, const gchar *label, GError **error)
{
	const gchar *target = archive_entry_hardlink(entry);
	g_autofree gchar *shown = g_strescape(target, NULL);
	g_autofree gchar *link_label = g_strdup_printf("%s (a hard link to '%s')", label, shown);
	g_autofree gchar *target_path = NULL;
	g_auto(GStrv) comps = ucv_unpack_split(self, target, link_label, error);
	g_autoptr(GError) error_local = NULL;
	ucv_autofd target_fd = -1;
	const gchar *target_name;
	struct stat st;

	if (comps == NULL)
		return FALSE;
	if (comps[0] == NULL)
		return ucv_unpack_refuse(self, link_label, "a link to the root", error);
	target_fd = ucv_unpack_open_parent(self, comps, FALSE, link_label, &error_local);
	if (g_error_matches(error_local, UCV_ERROR, UCV_ERROR_NOT_FOUND))
		return ucv_unpack_refuse(self, link_label, "the target does not exist", error);
	if (target_fd < 0) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	target_name = comps[g_strv_length(comps) - 1];
	/* a skipped device node or FIFO is missing too */
	if (fstatat(target_fd, target_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return ucv_unpack_refuse(self, link_label, "the target does not exist",
						 error);
		return ucv_unpack_fail_errno(self, link_label, "find the target of", error);
	}
	if (S_ISDIR(st.st_mode))
		return ucv_unpack_refuse(self, link_label, "a link to a directory", error);
	target_path = g_strjoinv("/", comps);
	if (strcmp(target_path, path) == 0)
		return TRUE;
	if (!ucv_remove_at(parent_fd, name))
		return ucv_unpack_fail_errno(self, label, "replace", error);
	/* without AT_SYMLINK_FOLLOW a symlink target is linked itself, not followed */
	if (linkat(target_fd, target_name, parent_fd, name, 0) < 0)
		return ucv_unpack_fail_errno(self, link_label, "create", error);
	return TRUE;
}

static gboolean
ucv_unpack_entry(UcvLayerUnpack *self, struct archive *ar, struct archive_entry *entry,
		 GError **error)
{
	const gchar *raw = archive_entry_pathname(entry);
	g_autofree gchar *shown = g_strescape(raw != NULL ? raw : "", NULL);
	g_autofree gchar *label = g_strdup_printf("'%s'", shown);
	g_auto(GStrv) comps = ucv_unpack_split(self, raw, label, error);
	g_autofree gchar *path = NULL;
	ucv_autofd parent_fd = -1;
	const gchar *name;

	if (comps == NULL)
		return FALSE;
	/* the root keeps the owner and mode its creator gave it */
	if (comps[0] == NULL)
		return TRUE;
	name = comps[g_strv_length(comps) - 1];
	if (g_str_has_prefix(name, UCV_WHITEOUT_PREFIX))
		return ucv_unpack_whiteout(self, comps, label, error);
	parent_fd = ucv_unpack_open_parent(self, comps, TRUE, label, error);
	if (parent_fd < 0)
		return FALSE;
	path = g_strjoinv("/", comps);
	g_hash_table_add(self->written, g_strdup(path));
	if (archive_entry_hardlink(entry) != NULL)
		return ucv_unpack_hardlink(self, entry, parent_fd, name, path, label, error);
	switch (archive_entry_filetype(entry)) {
	case AE_IFDIR:
		return ucv_unpack_dir(self, entry, parent_fd, name, path, label, error);
	case AE_IFREG:
		return ucv_unpack_file(self, ar, entry, parent_fd, name, label, error);
	case AE_IFLNK:
		return ucv_unpack_symlink(self, entry, parent_fd, name, label, error);
	default:
		/* device nodes, FIFOs and sockets: the container runtime provides its own /dev */
		g_debug("layer %s: skipping %s, a special file", self->layer_name, label);
		return TRUE;
	}
}

static void
ucv_unpack_apply_dir_times(UcvLayerUnpack *self)
{
	for (guint i = 0; i < self->dir_times->len; i++) {
		UcvDirTimes *dir_times = g_ptr_array_index(self->dir_times, i);
		ucv_autofd fd = ucv_openat2(self->root_fd, dir_times->path, O_RDONLY | O_DIRECTORY);

		/* a later entry of the layer may have replaced it */
		if (fd < 0 || futimens(fd, dir_times->times) < 0)
			g_debug("layer %s: cannot set the times of %s: %s", self->layer_name,
				dir_times->path, g_strerror(errno));
	}
}

gboolean
ucv_layer_unpack_layer(UcvLayerUnpack *self, const gchar *layer_path, GError **error)
{
	g_autoptr(UcvArchive) ar = archive_read_new();
	struct archive_entry *entry = NULL;
	gint r;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(layer_path != NULL, FALSE);

	g_free(self->layer_name);
	self->layer_name = g_path_get_basename(layer_path);
	g_hash_table_remove_all(self->written);
	g_ptr_array_set_size(self->dir_times, 0);
	archive_read_support_filter_all(ar);
	archive_read_support_format_tar(ar);
	if (archive_read_open_filename(ar, layer_path, 64 * 1024) != ARCHIVE_OK)
		return ucv_unpack_archive_error(self, ar, error);
	while ((r = archive_read_next_header(ar, &entry)) != ARCHIVE_EOF) {
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return ucv_unpack_archive_error(self, ar, error);
		if (!ucv_unpack_entry(self, ar, entry, error))
			return FALSE;
	}
	ucv_unpack_apply_dir_times(self);
	return TRUE;
}

guint64
ucv_layer_unpack_get_bytes(UcvLayerUnpack *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->bytes;
}

UcvLayerUnpack *
ucv_layer_unpack_new(const gchar *root_dir, guint64 max_bytes, GError **error)
{
	g_autoptr(UcvLayerUnpack) self = NULL;
	ucv_autofd probe = -1;

	g_return_val_if_fail(root_dir != NULL, NULL);

	self = g_new0(UcvLayerUnpack, 1);
	self->max_bytes = max_bytes;
	self->written = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->dir_times = g_ptr_array_new_with_free_func((GDestroyNotify)ucv_dir_times_free);
	self->root_fd = open(root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (self->root_fd < 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot open %s: %s", root_dir,
			    g_strerror(errno));
		return NULL;
	}
	probe = ucv_openat2(self->root_fd, ".", O_RDONLY | O_DIRECTORY);
	if (probe < 0 && errno == ENOSYS) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_NOT_SUPPORTED,
				    "unpacking images needs openat2() (Linux 5.6 or later)");
		return NULL;
	}
	if (probe < 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot open %s: %s", root_dir,
			    g_strerror(errno));
		return NULL;
	}
	return g_steal_pointer(&self);
}

void
ucv_layer_unpack_free(UcvLayerUnpack *self)
{
	if (self->root_fd >= 0)
		close(self->root_fd);
	g_clear_pointer(&self->written, g_hash_table_unref);
	g_clear_pointer(&self->dir_times, g_ptr_array_unref);
	g_free(self->layer_name);
	g_free(self);
}
