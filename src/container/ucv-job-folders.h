/* The folders of a DOCKER job: the UCloud paths it asks for, staged on the host as one directory
 * of bind mounts that a single virtiofs share hands to the job's VM. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The staging directory's entry holding the job's work folder, and where it appears in the job. */
#define UCV_JOB_FOLDERS_WORK_SHARE  "work"
#define UCV_JOB_FOLDERS_WORK_TARGET "/work"

typedef struct {
	gchar *ucloud_path; /* "/<driveId>/a/b", normalized: no empty or "." components */
	gboolean read_only;
	gchar *mount_path; /* nullable: the value's mountPath */
} UcvFolderRequest;

typedef struct {
	gchar *ucloud_path;
	gchar *share_name; /* "m0", "m1", …: the entry in the staging directory */
	gchar *target;     /* where it appears inside the container */
	gboolean read_only;
	gboolean is_directory; /* FALSE: a regular file */
} UcvStagedFolder;

/* Normalizes ucloud_path; NULL (UCV_ERROR_INVALID naming the path) when it is not absolute,
 * has a ".." component or names no file or folder inside a drive. An empty mount_path counts as
 * none. */
UcvFolderRequest *ucv_folder_request_new(const gchar *ucloud_path, gboolean read_only,
					 const gchar *mount_path, GError **error);
void ucv_folder_request_free(UcvFolderRequest *request);
void ucv_staged_folder_free(UcvStagedFolder *folder);

/* Every value of type `file` in specification.parameters (name → AppParameterValue) and
 * specification.resources, parameters first, in the job's order; absent and null fields (current
 * Core sends all keys) read as unset, readOnly unset as FALSE. A path given twice is one request,
 * read-only only if every value says so; its mountPath is the first one given (two different ones
 * are UCV_ERROR_INVALID). Errors: UCV_ERROR_INVALID for a malformed job or path. Returns an array
 * of UcvFolderRequest, possibly empty. */
GPtrArray *ucv_job_folders_requests_from_job(JsonNode *job, GError **error);

/* Where a request appears inside the container: its mountPath, or "/work/<last component>" when
 * it has none. A target must be absolute and normalized (no empty, "." or ".." components, no
 * trailing "/"), at most 4095 bytes with components of at most 255, and must not be "/",
 * "/work" itself, or at or below /proc, /sys or /dev (the runtime mounts those); otherwise
 * UCV_ERROR_INVALID naming the UCloud path. */
gchar *ucv_job_folders_target(const UcvFolderRequest *request, GError **error);

/* The target of ucloud_path (normalized before the lookup) in an array of UcvStagedFolder, or
 * NULL; meant for UcvInvocationPaths.file_path. */
const gchar *ucv_job_folders_lookup_target(GPtrArray *staged, const gchar *ucloud_path);

/* Blocking, needs root; run it before the domain (and so virtiofsd) starts. Creates staging_dir
 * (0711; it must not exist yet, its parent is created), a private bind of itself so nothing staged
 * propagates to other mount namespaces, then in it: UCV_JOB_FOLDERS_WORK_SHARE, a read-write bind
 * of work_dir, and per request "m<i>", a bind of the resolved folder, or of the file onto an empty
 * file, nosuid and nodev, read-only for read-only requests (the source's own noexec and ro are
 * kept). Binds are not recursive: host mounts below a folder stay hidden, so none of them can be
 * a writable hole in a read-only folder. A UCloud path resolves only inside its own drive,
 * <drive_root>/<driveId>: the drive must be a directory (not a symlink) in drive_root, and below it
 * symlinks are followed only while they stay in the drive; absolute symlinks, ".." out of it and
 * /proc magic links are refused. What is bound is exactly what was resolved, so a symlink swapped
 * in later cannot redirect it. Errors name the UCloud path, never a host path: UCV_ERROR_INVALID
 * (malformed path or target, two folders at one target, a path leaving its drive, neither file nor
 * folder), UCV_ERROR_NOT_FOUND (the path does not exist), UCV_ERROR_FAILED (host trouble, details
 * in the log). On failure nothing stays mounted and staging_dir is removed again (unless it existed
 * before). *staged: an array of UcvStagedFolder, in the order of requests. */
gboolean ucv_job_folders_stage(const gchar *drive_root, const gchar *staging_dir,
			       const gchar *work_dir, GPtrArray *requests, GPtrArray **staged,
			       GError **error);

/* Blocking, needs root. Detaches every mount at or below staging_dir, deepest first, as found in
 * /proc/self/mountinfo (so it works after a restart that forgot what was staged), then removes the
 * entries, which must be empty directories or empty files, and the directory itself; it never
 * deletes anything recursively. A missing staging_dir is success. UCV_ERROR_FAILED when a mount
 * cannot be detached or an entry is not empty; what could not be removed is left in place. */
gboolean ucv_job_folders_unstage(const gchar *staging_dir, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvFolderRequest, ucv_folder_request_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvStagedFolder, ucv_staged_folder_free)

G_END_DECLS
