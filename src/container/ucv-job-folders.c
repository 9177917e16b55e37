/* The folders of a DOCKER job, resolved safely below drive-root and staged as bind mounts in one
 * host directory for the job's virtiofs share. */
#define G_LOG_DOMAIN "ucv-container"

#include "config.h"

#include "ucv-job-folders.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "model/ucv-error.h"
#include "model/ucv-json.h"

#define UCV_TARGET_MAX      4095
#define UCV_COMPONENT_MAX   255
#define UCV_OPENAT2_RETRIES 8
/* stacked mounts need one round each */
#define UCV_DETACH_ROUNDS 64

static void
ucv_job_folders_close_fd(gint *fd)
{
	if (*fd >= 0)
		close(*fd);
}

#define ucv_folders_autofd __attribute__((cleanup(ucv_job_folders_close_fd))) gint

void
ucv_folder_request_free(UcvFolderRequest *request)
{
	g_free(request->ucloud_path);
	g_free(request->mount_path);
	g_free(request);
}

void
ucv_staged_folder_free(UcvStagedFolder *folder)
{
	g_free(folder->ucloud_path);
	g_free(folder->share_name);
	g_free(folder->target);
	g_free(folder);
}

/* The components of "/<driveId>/a/b"; refused when malformed or naming a whole drive. */
static GStrv
ucv_job_folders_split(const gchar *ucloud_path, GError **error)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_auto(GStrv) parts = NULL;
	g_auto(GStrv) components = NULL;

	if (ucloud_path == NULL || ucloud_path[0] != '/') {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "the file path \"%s\" is not absolute", ucloud_path ? ucloud_path : "");
		return NULL;
	}
	parts = g_strsplit(ucloud_path, "/", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		if (*parts[i] == '\0' || strcmp(parts[i], ".") == 0)
			continue;
		if (strcmp(parts[i], "..") == 0) {
			g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "the file path %s must not contain \"..\"", ucloud_path);
			return NULL;
		}
		g_strv_builder_add(builder, parts[i]);
	}
	components = g_strv_builder_end(builder);
	if (g_strv_length(components) < 2) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "the file path %s names no file or folder inside a drive", ucloud_path);
		return NULL;
	}
	return g_steal_pointer(&components);
}

static gchar *
ucv_job_folders_normalize(const gchar *ucloud_path, GError **error)
{
	g_auto(GStrv) components = ucv_job_folders_split(ucloud_path, error);
	g_autofree gchar *joined = NULL;

	if (components == NULL)
		return NULL;
	joined = g_strjoinv("/", components);
	return g_strconcat("/", joined, NULL);
}

UcvFolderRequest *
ucv_folder_request_new(const gchar *ucloud_path, gboolean read_only, const gchar *mount_path,
		       GError **error)
{
	g_autofree gchar *normalized = ucv_job_folders_normalize(ucloud_path, error);
	UcvFolderRequest *request;

	if (normalized == NULL)
		return NULL;
	request = g_new0(UcvFolderRequest, 1);
	request->ucloud_path = g_steal_pointer(&normalized);
	request->read_only = read_only;
	/* current Core sends every key, so an unset mountPath may come as "" */
	if (mount_path != NULL && *mount_path != '\0')
		request->mount_path = g_strdup(mount_path);
	return request;
}

static UcvFolderRequest *
ucv_job_folders_find(GPtrArray *requests, const gchar *ucloud_path)
{
	for (guint i = 0; i < requests->len; i++) {
		UcvFolderRequest *request = g_ptr_array_index(requests, i);

		if (strcmp(request->ucloud_path, ucloud_path) == 0)
			return request;
	}
	return NULL;
}

/* A folder given as a parameter and again as a resource is one mount; writable if any asks. */
static gboolean
ucv_job_folders_merge(GPtrArray *requests, UcvFolderRequest *request, GError **error)
{
	g_autoptr(UcvFolderRequest) owned = request;
	UcvFolderRequest *known = ucv_job_folders_find(requests, request->ucloud_path);

	if (known == NULL) {
		g_ptr_array_add(requests, g_steal_pointer(&owned));
		return TRUE;
	}
	known->read_only = known->read_only && request->read_only;
	if (known->mount_path == NULL) {
		known->mount_path = g_steal_pointer(&request->mount_path);
		return TRUE;
	}
	if (request->mount_path != NULL && strcmp(known->mount_path, request->mount_path) != 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "the file path %s is asked for at both %s and %s", request->ucloud_path,
			    known->mount_path, request->mount_path);
		return FALSE;
	}
	return TRUE;
}

static gboolean
ucv_job_folders_add_value(GPtrArray *requests, JsonNode *node, GError **error)
{
	g_autofree gchar *type = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *mount_path = NULL;
	gboolean read_only = FALSE;
	UcvFolderRequest *request;
	JsonObject *value;

	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return TRUE;
	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, "must be an object");
		return FALSE;
	}
	value = json_node_get_object(node);
	if (!ucv_json_read_string(value, "type", &type, UCV_ERROR_INVALID, error))
		return FALSE;
	if (g_strcmp0(type, "file") != 0)
		return TRUE;
	if (!ucv_json_read_string(value, "path", &path, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_string(value, "mountPath", &mount_path, UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_bool(value, "readOnly", &read_only, UCV_ERROR_INVALID, error))
		return FALSE;
	if (path == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, "path must be a string");
		return FALSE;
	}
	request = ucv_folder_request_new(path, read_only, mount_path, error);
	if (request == NULL)
		return FALSE;
	return ucv_job_folders_merge(requests, request, error);
}

static gboolean
ucv_job_folders_add_parameters(GPtrArray *requests, JsonObject *parameters, GError **error)
{
	JsonObjectIter iter;
	const gchar *name;
	JsonNode *node;

	if (parameters == NULL)
		return TRUE;
	json_object_iter_init(&iter, parameters);
	while (json_object_iter_next(&iter, &name, &node)) {
		if (!ucv_job_folders_add_value(requests, node, error)) {
			g_prefix_error(error, "specification.parameters.%s: ", name);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
ucv_job_folders_add_resources(GPtrArray *requests, JsonObject *spec, GError **error)
{
	JsonNode *node = ucv_json_member(spec, "resources");
	JsonArray *resources;

	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_ARRAY(node)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID,
				    "specification.resources must be an array");
		return FALSE;
	}
	resources = json_node_get_array(node);
	for (guint i = 0; i < json_array_get_length(resources); i++) {
		if (!ucv_job_folders_add_value(requests, json_array_get_element(resources, i),
					       error)) {
			g_prefix_error(error, "specification.resources[%u]: ", i);
			return FALSE;
		}
	}
	return TRUE;
}

GPtrArray *
ucv_job_folders_requests_from_job(JsonNode *job, GError **error)
{
	g_autoptr(GPtrArray) requests =
		g_ptr_array_new_with_free_func((GDestroyNotify)ucv_folder_request_free);
	JsonObject *spec = NULL;
	JsonObject *parameters = NULL;

	if (job == NULL || !JSON_NODE_HOLDS_OBJECT(job)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_INVALID, "a job must be an object");
		return NULL;
	}
	if (!ucv_json_read_object(json_node_get_object(job), "specification", &spec,
				  UCV_ERROR_INVALID, error) ||
	    !ucv_json_read_object(spec, "parameters", &parameters, UCV_ERROR_INVALID, error))
		return NULL;
	if (!ucv_job_folders_add_parameters(requests, parameters, error) ||
	    !ucv_job_folders_add_resources(requests, spec, error))
		return NULL;
	return g_steal_pointer(&requests);
}

static gboolean
ucv_job_folders_is_at_or_below(const gchar *path, const gchar *dir)
{
	gsize len = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path[0] == '/';
	return strncmp(path, dir, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

static gboolean
ucv_job_folders_target_is_clean(const gchar *target)
{
	g_auto(GStrv) parts = NULL;

	if (target[0] != '/' || strlen(target) > UCV_TARGET_MAX || strcmp(target, "/") == 0)
		return FALSE;
	parts = g_strsplit(target + 1, "/", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		if (*parts[i] == '\0' || strcmp(parts[i], ".") == 0 ||
		    strcmp(parts[i], "..") == 0 || strlen(parts[i]) > UCV_COMPONENT_MAX)
			return FALSE;
	}
	return TRUE;
}

/* The runtime mounts these itself, and /work is the work folder's own mount. */
static gboolean
ucv_job_folders_target_is_reserved(const gchar *target)
{
	static const gchar *const reserved[] = {"/proc", "/sys", "/dev"};

	if (strcmp(target, UCV_JOB_FOLDERS_WORK_TARGET) == 0)
		return TRUE;
	for (guint i = 0; i < G_N_ELEMENTS(reserved); i++) {
		if (ucv_job_folders_is_at_or_below(target, reserved[i]))
			return TRUE;
	}
	return FALSE;
}

gchar *
ucv_job_folders_target(const UcvFolderRequest *request, GError **error)
{
	g_auto(GStrv) components = ucv_job_folders_split(request->ucloud_path, error);
	g_autofree gchar *target = NULL;

	if (components == NULL)
		return NULL;
	if (request->mount_path != NULL && *request->mount_path != '\0')
		target = g_strdup(request->mount_path);
	else
		target = g_build_filename(UCV_JOB_FOLDERS_WORK_TARGET,
					  components[g_strv_length(components) - 1], NULL);
	if (!ucv_job_folders_target_is_clean(target) ||
	    ucv_job_folders_target_is_reserved(target)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "the file path %s cannot appear at %s inside the job",
			    request->ucloud_path, target);
		return NULL;
	}
	return g_steal_pointer(&target);
}

const gchar *
ucv_job_folders_lookup_target(GPtrArray *staged, const gchar *ucloud_path)
{
	g_autofree gchar *normalized = ucv_job_folders_normalize(ucloud_path, NULL);

	for (guint i = 0; normalized != NULL && staged != NULL && i < staged->len; i++) {
		UcvStagedFolder *folder = g_ptr_array_index(staged, i);

		if (strcmp(folder->ucloud_path, normalized) == 0)
			return folder->target;
	}
	return NULL;
}

static UcvStagedFolder *
ucv_job_folders_plan_one(const UcvFolderRequest *request, guint index, GError **error)
{
	g_autofree gchar *ucloud_path = ucv_job_folders_normalize(request->ucloud_path, error);
	g_autofree gchar *target = NULL;
	UcvStagedFolder *folder;

	if (ucloud_path == NULL)
		return NULL;
	target = ucv_job_folders_target(request, error);
	if (target == NULL)
		return NULL;
	folder = g_new0(UcvStagedFolder, 1);
	folder->ucloud_path = g_steal_pointer(&ucloud_path);
	folder->share_name = g_strdup_printf("m%u", index);
	folder->target = g_steal_pointer(&target);
	folder->read_only = request->read_only;
	return folder;
}

/* Everything that can be refused without touching the host, before anything is mounted. */
static GPtrArray *
ucv_job_folders_plan(GPtrArray *requests, GError **error)
{
	g_autoptr(GPtrArray) plan =
		g_ptr_array_new_with_free_func((GDestroyNotify)ucv_staged_folder_free);
	g_autoptr(GHashTable) targets = g_hash_table_new(g_str_hash, g_str_equal);

	for (guint i = 0; requests != NULL && i < requests->len; i++) {
		UcvStagedFolder *folder =
			ucv_job_folders_plan_one(g_ptr_array_index(requests, i), i, error);
		const gchar *other;

		if (folder == NULL)
			return NULL;
		g_ptr_array_add(plan, folder);
		other = g_hash_table_lookup(targets, folder->target);
		if (other != NULL) {
			g_set_error(
				error, UCV_ERROR, UCV_ERROR_INVALID,
				"the file paths %s and %s would both appear at %s inside the job",
				other, folder->ucloud_path, folder->target);
			return NULL;
		}
		g_hash_table_insert(targets, folder->target, folder->ucloud_path);
	}
	return g_steal_pointer(&plan);
}

/* glibc 2.36 has no wrapper for openat2() */
static gint
ucv_job_folders_openat2(gint dir_fd, const gchar *path, guint64 flags, guint64 resolve)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.resolve = resolve,
	};
	gint fd = -1;

	/* the kernel answers EAGAIN when a rename elsewhere races a RESOLVE_BENEATH lookup */
	for (guint i = 0; i < UCV_OPENAT2_RETRIES; i++) {
		fd = (gint)syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd;
}

/* Always -1, for the caller to return. */
static gint
ucv_job_folders_resolve_failed(gint saved_errno, const gchar *ucloud_path, GError **error)
{
	if (saved_errno == ENOENT || saved_errno == ENOTDIR) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND,
			    "the file path %s does not exist", ucloud_path);
	} else if (saved_errno == EXDEV || saved_errno == ELOOP) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "the file path %s leads outside its drive (through \"..\" or a link)",
			    ucloud_path);
	} else if (saved_errno == ENOSYS) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED,
			    "mounting %s needs openat2() (Linux 5.6 or later)", ucloud_path);
	} else {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED,
			    "the file path %s cannot be opened: %s", ucloud_path,
			    g_strerror(saved_errno));
	}
	return -1;
}

/* An O_PATH descriptor of the file or folder, found only inside its own drive. */
static gint
ucv_job_folders_resolve(gint root_fd, const gchar *ucloud_path, GError **error)
{
	g_auto(GStrv) components = ucv_job_folders_split(ucloud_path, error);
	g_autofree gchar *below = NULL;
	ucv_folders_autofd drive_fd = -1;
	gint fd;

	if (components == NULL)
		return -1;
	/* the drive must be a real directory: a symlink in drive-root could name another drive */
	drive_fd = ucv_job_folders_openat2(root_fd, components[0], O_PATH | O_DIRECTORY,
					   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
						   RESOLVE_NO_MAGICLINKS);
	if (drive_fd < 0)
		return ucv_job_folders_resolve_failed(errno, ucloud_path, error);
	/* beneath the drive rather than drive-root, so "../<other drive>" links fail too */
	below = g_strjoinv("/", components + 1);
	fd = ucv_job_folders_openat2(drive_fd, below, O_PATH,
				     RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
	if (fd < 0)
		return ucv_job_folders_resolve_failed(errno, ucloud_path, error);
	return fd;
}

/* A bind remount replaces the mount's flags: keep the restrictions its source already had. */
static unsigned long
ucv_job_folders_kept_flags(unsigned long f_flag)
{
	unsigned long flags = 0;

	if (f_flag & ST_RDONLY)
		flags |= MS_RDONLY;
	if (f_flag & ST_NOEXEC)
		flags |= MS_NOEXEC;
#if defined(ST_NOSYMFOLLOW) && defined(MS_NOSYMFOLLOW)
	if (f_flag & ST_NOSYMFOLLOW)
		flags |= MS_NOSYMFOLLOW;
#endif
	return flags;
}

static gboolean
ucv_job_folders_mount_failed(const gchar *entry, const gchar *what, GError **error)
{
	gint saved_errno = errno;

	g_warning("mounting %s on %s failed: %s", what, entry, g_strerror(saved_errno));
	g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "%s cannot be mounted: %s", what,
		    g_strerror(saved_errno));
	return FALSE;
}

/* Binding the descriptor's /proc/self/fd link mounts exactly what was resolved. */
static gboolean
ucv_job_folders_bind(gint fd, const gchar *entry, gboolean read_only, const gchar *what,
		     GError **error)
{
	g_autofree gchar *source = g_strdup_printf("/proc/self/fd/%d", fd);
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV;
	struct statvfs st;

	if (fstatvfs(fd, &st) != 0)
		return ucv_job_folders_mount_failed(entry, what, error);
	if (mount(source, entry, NULL, MS_BIND, NULL) != 0)
		return ucv_job_folders_mount_failed(entry, what, error);
	/* a fresh bind ignores every flag but MS_REC: the restrictions need a remount */
	flags |= ucv_job_folders_kept_flags(st.f_flag);
	if (read_only)
		flags |= MS_RDONLY;
	if (mount(NULL, entry, NULL, flags, NULL) != 0)
		return ucv_job_folders_mount_failed(entry, what, error);
	return TRUE;
}

static gboolean
ucv_job_folders_make_mountpoint(const gchar *entry, gboolean is_directory, const gchar *what,
				GError **error)
{
	ucv_folders_autofd fd = -1;

	if (is_directory) {
		if (mkdir(entry, 0700) != 0)
			return ucv_job_folders_mount_failed(entry, what, error);
		return TRUE;
	}
	/* a file can only be bind-mounted onto a file */
	fd = open(entry, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ucv_job_folders_mount_failed(entry, what, error);
	return TRUE;
}

static gboolean
ucv_job_folders_bind_work(const gchar *staging_dir, const gchar *work_dir, GError **error)
{
	g_autofree gchar *entry = g_build_filename(staging_dir, UCV_JOB_FOLDERS_WORK_SHARE, NULL);
	ucv_folders_autofd fd = open(work_dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	const gchar *what = "the job's work folder";

	if (fd < 0)
		return ucv_job_folders_mount_failed(work_dir, what, error);
	if (!ucv_job_folders_make_mountpoint(entry, TRUE, what, error))
		return FALSE;
	return ucv_job_folders_bind(fd, entry, FALSE, what, error);
}

static gboolean
ucv_job_folders_stage_one(gint root_fd, const gchar *staging_dir, UcvStagedFolder *folder,
			  GError **error)
{
	g_autofree gchar *entry = g_build_filename(staging_dir, folder->share_name, NULL);
	ucv_folders_autofd fd = ucv_job_folders_resolve(root_fd, folder->ucloud_path, error);
	struct stat st;

	if (fd < 0)
		return FALSE;
	if (fstat(fd, &st) != 0)
		return ucv_job_folders_mount_failed(entry, folder->ucloud_path, error);
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_INVALID,
			    "the file path %s is neither a file nor a folder", folder->ucloud_path);
		return FALSE;
	}
	folder->is_directory = S_ISDIR(st.st_mode);
	if (!ucv_job_folders_make_mountpoint(entry, folder->is_directory, folder->ucloud_path,
					     error))
		return FALSE;
	g_debug("staging %s from %s as %s", folder->ucloud_path, entry, folder->target);
	return ucv_job_folders_bind(fd, entry, folder->read_only, folder->ucloud_path, error);
}

/* Exclusive, so that a failure never undoes (removes) a directory this call did not make. */
static gboolean
ucv_job_folders_make_dir(const gchar *staging_dir, GError **error)
{
	g_autofree gchar *parent = g_path_get_dirname(staging_dir);
	const gchar *what = "the job's folders";

	if (g_mkdir_with_parents(parent, 0711) != 0)
		return ucv_job_folders_mount_failed(parent, what, error);
	if (mkdir(staging_dir, 0711) == 0)
		return TRUE;
	if (errno != EEXIST)
		return ucv_job_folders_mount_failed(staging_dir, what, error);
	g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
			    "the job's folders are already staged");
	return FALSE;
}

/* A private bind of the directory onto itself: the mounts staged in it reach no other mount
 * namespace (and no remount is missed there); virtiofsd, started later, copies them. */
static gboolean
ucv_job_folders_make_private(const gchar *staging_dir, GError **error)
{
	/* the daemon's umask must not narrow what virtiofsd may traverse */
	if (chmod(staging_dir, 0711) != 0 ||
	    mount(staging_dir, staging_dir, NULL, MS_BIND, NULL) != 0 ||
	    mount(NULL, staging_dir, NULL, MS_PRIVATE, NULL) != 0)
		return ucv_job_folders_mount_failed(staging_dir, "the job's folders", error);
	return TRUE;
}

static gboolean
ucv_job_folders_mount_all(const gchar *drive_root, const gchar *staging_dir, const gchar *work_dir,
			  GPtrArray *plan, GError **error)
{
	ucv_folders_autofd root_fd = -1;

	if (!ucv_job_folders_make_private(staging_dir, error) ||
	    !ucv_job_folders_bind_work(staging_dir, work_dir, error))
		return FALSE;
	root_fd = open(drive_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return ucv_job_folders_mount_failed(drive_root, "the drives", error);
	for (guint i = 0; i < plan->len; i++) {
		if (!ucv_job_folders_stage_one(root_fd, staging_dir, g_ptr_array_index(plan, i),
					       error))
			return FALSE;
	}
	return TRUE;
}

gboolean
ucv_job_folders_stage(const gchar *drive_root, const gchar *staging_dir, const gchar *work_dir,
		      GPtrArray *requests, GPtrArray **staged, GError **error)
{
	g_autoptr(GPtrArray) plan = ucv_job_folders_plan(requests, error);
	g_autoptr(GError) undo_error = NULL;

	if (plan == NULL)
		return FALSE;
	if (!ucv_job_folders_make_dir(staging_dir, error))
		return FALSE;
	if (!ucv_job_folders_mount_all(drive_root, staging_dir, work_dir, plan, error)) {
		if (!ucv_job_folders_unstage(staging_dir, &undo_error))
			g_warning("undoing the staging in %s failed: %s", staging_dir,
				  undo_error->message);
		return FALSE;
	}
	*staged = g_steal_pointer(&plan);
	return TRUE;
}

/* Field 5 of a mountinfo line, with its octal escapes (\040 for a space, …) undone. */
static gchar *
ucv_job_folders_mount_point(const gchar *line)
{
	g_auto(GStrv) fields = g_strsplit(line, " ", 6);

	if (g_strv_length(fields) < 6)
		return NULL;
	return g_strcompress(fields[4]);
}

static gint
ucv_job_folders_deeper_first(gconstpointer a, gconstpointer b)
{
	const gchar *path_a = *(const gchar *const *)a;
	const gchar *path_b = *(const gchar *const *)b;
	guint depth_a = 0;
	guint depth_b = 0;

	for (const gchar *p = path_a; *p != '\0'; p++)
		depth_a += *p == '/';
	for (const gchar *p = path_b; *p != '\0'; p++)
		depth_b += *p == '/';
	return depth_a > depth_b ? -1 : depth_a < depth_b ? 1 : 0;
}

static GPtrArray *
ucv_job_folders_mounts_below(const gchar *dir, GError **error)
{
	g_autoptr(GPtrArray) mounts = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) read_error = NULL;
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents("/proc/self/mountinfo", &text, NULL, &read_error)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED,
			    "the mount table cannot be read: %s", read_error->message);
		return NULL;
	}
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_autofree gchar *point = ucv_job_folders_mount_point(lines[i]);

		if (point != NULL && ucv_job_folders_is_at_or_below(point, dir))
			g_ptr_array_add(mounts, g_steal_pointer(&point));
	}
	g_ptr_array_sort(mounts, ucv_job_folders_deeper_first);
	return g_steal_pointer(&mounts);
}

static gboolean
ucv_job_folders_detach(const gchar *point, GError **error)
{
	/* EINVAL: no longer a mount point, as detaching its parent took it along */
	if (umount2(point, MNT_DETACH | UMOUNT_NOFOLLOW) == 0 || errno == EINVAL || errno == ENOENT)
		return TRUE;
	g_warning("detaching %s failed: %s", point, g_strerror(errno));
	g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "a staged folder cannot be unmounted: %s",
		    g_strerror(errno));
	return FALSE;
}

static gboolean
ucv_job_folders_detach_all(const gchar *dir, GError **error)
{
	for (guint round = 0; round < UCV_DETACH_ROUNDS; round++) {
		g_autoptr(GPtrArray) mounts = ucv_job_folders_mounts_below(dir, error);

		if (mounts == NULL)
			return FALSE;
		if (mounts->len == 0)
			return TRUE;
		for (guint i = 0; i < mounts->len; i++) {
			if (!ucv_job_folders_detach(g_ptr_array_index(mounts, i), error))
				return FALSE;
		}
	}
	g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "%s stays mounted", dir);
	return FALSE;
}

/* Only what a detached entry leaves behind: an empty directory or an empty file. rmdir and
 * unlink refuse a mount point, so even a mount that came back cannot lose the user's files. */
static gboolean
ucv_job_folders_remove_entry(const gchar *dir, const gchar *name, GError **error)
{
	g_autofree gchar *entry = g_build_filename(dir, name, NULL);
	struct stat st;
	gint rc = -1;

	if (lstat(entry, &st) != 0)
		rc = errno == ENOENT ? 0 : -1;
	else if (S_ISDIR(st.st_mode))
		rc = rmdir(entry);
	else if (S_ISREG(st.st_mode) && st.st_size == 0)
		rc = unlink(entry);
	else
		errno = ENOTEMPTY;
	if (rc == 0)
		return TRUE;
	g_warning("removing %s failed: %s", entry, g_strerror(errno));
	g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED,
		    "the staging directory %s cannot be removed", dir);
	return FALSE;
}

static gboolean
ucv_job_folders_remove_entries(const gchar *dir, GError **error)
{
	g_autoptr(GError) open_error = NULL;
	g_autoptr(GDir) handle = g_dir_open(dir, 0, &open_error);
	const gchar *name;

	if (handle == NULL) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "%s", open_error->message);
		return FALSE;
	}
	while ((name = g_dir_read_name(handle)) != NULL) {
		if (!ucv_job_folders_remove_entry(dir, name, error))
			return FALSE;
	}
	return TRUE;
}

gboolean
ucv_job_folders_unstage(const gchar *staging_dir, GError **error)
{
	/* mountinfo names mount points by their real path */
	g_autofree gchar *real = realpath(staging_dir, NULL);

	if (real == NULL && errno == ENOENT)
		return TRUE;
	if (real == NULL || strcmp(real, "/") == 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "%s cannot be unstaged: %s",
			    staging_dir, real == NULL ? g_strerror(errno) : "it is the root");
		return FALSE;
	}
	if (!ucv_job_folders_detach_all(real, error) ||
	    !ucv_job_folders_remove_entries(real, error))
		return FALSE;
	if (rmdir(real) != 0 && errno != ENOENT) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "%s cannot be removed: %s", real,
			    g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}
