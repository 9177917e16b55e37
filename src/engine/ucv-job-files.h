/* Where a job's files live on the host: <state-dir>/jobs/<job-id>/, one set per rank. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gchar *ucv_job_files_dir(const gchar *state_dir, const gchar *job_id);
gchar *ucv_job_files_disk(const gchar *state_dir, const gchar *job_id, guint rank);
gchar *ucv_job_files_console_log(const gchar *state_dir, const gchar *job_id, guint rank);
gchar *ucv_job_files_seed(const gchar *state_dir, const gchar *job_id, guint rank);
gchar *ucv_job_files_vnc_socket(const gchar *state_dir, const gchar *job_id, guint rank);
/* DOCKER jobs: the rank's OCI runtime config, its agent channel, and the copy of its output
 * that follow reads (outside the folders the container can change). */
gchar *ucv_job_files_container_config(const gchar *state_dir, const gchar *job_id, guint rank);
gchar *ucv_job_files_agent_socket(const gchar *state_dir, const gchar *job_id, guint rank);
gchar *ucv_job_files_stdout_log(const gchar *state_dir, const gchar *job_id, guint rank);
/* The directory shared with the job's container hosts (<state-dir>/shares/<job-id>), holding
 * bind mounts of the job's folders: never inside the job's directory, whose removal is
 * recursive. */
gchar *ucv_job_files_share_dir(const gchar *state_dir, const gchar *job_id);
/* The job's /work (<state-dir>/work/<job-id>): kept after the job, with its output. */
gchar *ucv_job_files_work_dir(const gchar *state_dir, const gchar *job_id);

/* Creates the job's directory (0700). */
gboolean ucv_job_files_prepare(const gchar *state_dir, const gchar *job_id, GError **error);
/* Removes the job's directory and everything in it; a missing directory is fine. */
gboolean ucv_job_files_remove(const gchar *state_dir, const gchar *job_id, GError **error);

G_END_DECLS
