/* Where a job's files live on the host, and their removal when the job is over. */
#include "config.h"

#include "ucv-job-files.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "model/ucv-error.h"

gchar *
ucv_job_files_dir(const gchar *state_dir, const gchar *job_id)
{
	return g_build_filename(state_dir, "jobs", job_id, NULL);
}

static gchar *
job_file(const gchar *state_dir, const gchar *job_id, const gchar *prefix, guint rank,
	 const gchar *suffix)
{
	g_autofree gchar *dir = ucv_job_files_dir(state_dir, job_id);
	g_autofree gchar *base = g_strdup_printf("%s-%u%s", prefix, rank, suffix);

	return g_build_filename(dir, base, NULL);
}

gchar *
ucv_job_files_disk(const gchar *state_dir, const gchar *job_id, guint rank)
{
	return job_file(state_dir, job_id, "disk", rank, ".qcow2");
}

gchar *
ucv_job_files_console_log(const gchar *state_dir, const gchar *job_id, guint rank)
{
	return job_file(state_dir, job_id, "console", rank, ".log");
}

gchar *
ucv_job_files_seed(const gchar *state_dir, const gchar *job_id, guint rank)
{
	return job_file(state_dir, job_id, "seed", rank, ".iso");
}

gchar *
ucv_job_files_vnc_socket(const gchar *state_dir, const gchar *job_id, guint rank)
{
	return job_file(state_dir, job_id, "vnc", rank, ".sock");
}

gchar *
ucv_job_files_container_config(const gchar *state_dir, const gchar *job_id, guint rank)
{
	return job_file(state_dir, job_id, "config", rank, ".json");
}

gchar *
ucv_job_files_agent_socket(const gchar *state_dir, const gchar *job_id, guint rank)
{
	return job_file(state_dir, job_id, "agent", rank, ".sock");
}

gchar *
ucv_job_files_stdout_log(const gchar *state_dir, const gchar *job_id, guint rank)
{
	return job_file(state_dir, job_id, "stdout", rank, ".log");
}

gchar *
ucv_job_files_share_dir(const gchar *state_dir, const gchar *job_id)
{
	return g_build_filename(state_dir, "shares", job_id, NULL);
}

gchar *
ucv_job_files_work_dir(const gchar *state_dir, const gchar *job_id)
{
	return g_build_filename(state_dir, "work", job_id, NULL);
}

gboolean
ucv_job_files_prepare(const gchar *state_dir, const gchar *job_id, GError **error)
{
	g_autofree gchar *dir = ucv_job_files_dir(state_dir, job_id);

	/* QEMU may run as another user and must reach the disk; listing stays private */
	if (g_mkdir_with_parents(dir, 0711) != 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot create %s: %s", dir,
			    g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/* Depth-first removal that never follows symbolic links out of the directory. */
static gboolean
remove_tree(GFile *file, GError **error)
{
	g_autoptr(GFileEnumerator) children = NULL;
	g_autoptr(GError) error_local = NULL;
	GFileType type = g_file_query_file_type(file, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL);

	if (type == G_FILE_TYPE_DIRECTORY)
		children =
			g_file_enumerate_children(file, G_FILE_ATTRIBUTE_STANDARD_NAME,
						  G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, error);
	if (type == G_FILE_TYPE_DIRECTORY && children == NULL)
		return FALSE;
	while (children != NULL) {
		GFile *child = NULL;
		if (!g_file_enumerator_iterate(children, NULL, &child, NULL, error))
			return FALSE;
		if (child == NULL)
			break;
		if (!remove_tree(child, error))
			return FALSE;
	}
	if (!g_file_delete(file, NULL, &error_local) &&
	    !g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	return TRUE;
}

gboolean
ucv_job_files_remove(const gchar *state_dir, const gchar *job_id, GError **error)
{
	g_autofree gchar *dir = ucv_job_files_dir(state_dir, job_id);
	g_autoptr(GFile) file = g_file_new_for_path(dir);

	if (!remove_tree(file, error)) {
		g_prefix_error(error, "cannot remove %s: ", dir);
		return FALSE;
	}
	return TRUE;
}
