/* Where a job's files live on the host: <state-dir>/jobs/<job-id>/, one set per rank. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gchar *ucv_job_files_dir(const gchar *state_dir, const gchar *job_id);
gchar *ucv_job_files_disk(const gchar *state_dir, const gchar *job_id, guint rank);
gchar *ucv_job_files_console_log(const gchar *state_dir, const gchar *job_id, guint rank);
gchar *ucv_job_files_seed(const gchar *state_dir, const gchar *job_id, guint rank);
gchar *ucv_job_files_vnc_socket(const gchar *state_dir, const gchar *job_id, guint rank);

/* Creates the job's directory (0700). */
gboolean ucv_job_files_prepare(const gchar *state_dir, const gchar *job_id, GError **error);
/* Removes the job's directory and everything in it; a missing directory is fine. */
gboolean ucv_job_files_remove(const gchar *state_dir, const gchar *job_id, GError **error);

G_END_DECLS
