/* A thousand jobs on libvirt's test driver: created, reconciled and terminated, nothing left. */
#include "config.h"

#include <glib/gstdio.h>

#include "ucv-harness.h"

#define JOBS 1000

static const gchar *scale_config = "[scheduler]\ncpu-overcommit = 20\n"
				   "[libvirt]\nreconcile-interval = 2\n";

static guint
count_entries(const gchar *path)
{
	g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
	guint n = 0;

	if (dir == NULL)
		return 0;
	while (g_dir_read_name(dir) != NULL)
		n++;
	return n;
}

static void
test_thousand_jobs(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new_big_test_host(scale_config);
	g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *jobs_dir = g_build_filename(h->state_dir, "jobs", NULL);
	g_autofree gchar *full_sweep =
		g_strdup_printf("reconciled %u job\\(s\\) against %u domain\\(s\\)", JOBS, JOBS);
	goffset offset;

	for (guint i = 0; i < JOBS; i++)
		g_ptr_array_add(ids, ucv_harness_new_job_id());
	ucv_harness_create_jobs(h, ids);
	for (guint i = 0; i < ids->len; i++)
		g_free(ucv_harness_wait_state(h, g_ptr_array_index(ids, i), "RUNNING", 600));

	/* a sweep that starts after the last start sees every job with its domain */
	offset = ucv_harness_log_end(h);
	g_free(ucv_harness_wait_log(h, &offset, full_sweep, 120));

	ucv_harness_terminate_jobs(h, ids);
	for (guint i = 0; i < ids->len; i++) {
		const gchar *id = g_ptr_array_index(ids, i);
		g_autofree gchar *states = NULL;

		g_free(ucv_harness_wait_state(h, id, "SUCCESS", 600));
		states = ucv_harness_states_of(h, id);
		g_assert_cmpstr(states, ==, "RUNNING,SUCCESS");
	}
	offset = ucv_harness_log_end(h);
	g_free(ucv_harness_wait_log(h, &offset, "reconciled 0 job\\(s\\) against 0 domain\\(s\\)",
				    120));
	g_assert_cmpuint(count_entries(jobs_dir), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/scale/thousand-jobs", test_thousand_jobs);
	return g_test_run();
}
