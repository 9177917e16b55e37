/* A thousand jobs on libvirt's test driver: how long a reconcile sweep takes and how much memory
 * the daemon holds per job. */
#include "config.h"

#include "ucv-bench.h"
#include "ucv-harness.h"

#define JOBS   1000
#define SWEEPS 10

static const gchar *scale_config = "[scheduler]\ncpu-overcommit = 20\n"
				   "[libvirt]\nreconcile-interval = 1\n";

/* The times of the next `sweeps` sweeps that saw `jobs` jobs, in ms, read from the daemon's log. */
static GArray *
sweep_times(UcvHarness *h, guint jobs, guint sweeps)
{
	g_autofree gchar *pattern = g_strdup_printf(
		"reconciled %u job\\(s\\) against %u domain\\(s\\) in ([0-9.]+) ms", jobs, jobs);
	g_autoptr(GRegex) regex = g_regex_new(pattern, 0, 0, NULL);
	GArray *times = g_array_new(FALSE, FALSE, sizeof(gdouble));
	goffset offset = ucv_harness_log_end(h);

	while (times->len < sweeps) {
		g_autofree gchar *line = ucv_harness_wait_log(h, &offset, pattern, 60);
		g_autoptr(GMatchInfo) match = NULL;
		g_autofree gchar *ms_text = NULL;
		gdouble ms;

		g_assert_true(g_regex_match(regex, line, 0, &match));
		ms_text = g_match_info_fetch(match, 1);
		ms = g_ascii_strtod(ms_text, NULL);
		g_array_append_val(times, ms);
	}
	return times;
}

static void
bench_thousand_jobs(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new_big_test_host(scale_config);
	g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GArray) idle_sweeps = NULL;
	g_autoptr(GArray) full_sweeps = NULL;
	guint64 rss_idle, rss_full;
	gint64 start;
	gdouble to_running;

	idle_sweeps = sweep_times(h, 0, 3);
	rss_idle = ucv_harness_daemon_rss(h);
	for (guint i = 0; i < JOBS; i++)
		g_ptr_array_add(ids, ucv_harness_new_job_id());
	start = g_get_monotonic_time();
	ucv_harness_create_jobs(h, ids);
	for (guint i = 0; i < ids->len; i++)
		g_free(ucv_harness_wait_state(h, g_ptr_array_index(ids, i), "RUNNING", 600));
	to_running = ucv_bench_seconds_since(start);
	full_sweeps = sweep_times(h, JOBS, SWEEPS);
	rss_full = ucv_harness_daemon_rss(h);

	g_print("%u jobs created -> all RUNNING at Core in %.1f s (libvirt test driver)\n", JOBS,
		to_running);
	g_print("reconcile sweep at %u jobs, %u sweeps: p50 %.1f ms, max %.1f ms "
		"(idle: %.1f ms)\n",
		JOBS, SWEEPS, ucv_bench_percentile(full_sweeps, 0.5),
		ucv_bench_percentile(full_sweeps, 1.0), ucv_bench_percentile(idle_sweeps, 0.5));
	g_print("daemon RSS: %.1f MiB idle, %.1f MiB at %u jobs: %.0f bytes per job (the test "
		"driver keeps its domains in the daemon's process, so this includes libvirt's "
		"share)\n",
		rss_idle / 1048576.0, rss_full / 1048576.0, JOBS,
		((gdouble)rss_full - (gdouble)rss_idle) / JOBS);
	ucv_harness_terminate_jobs(h, ids);
	for (guint i = 0; i < ids->len; i++)
		g_free(ucv_harness_wait_state(h, g_ptr_array_index(ids, i), "SUCCESS", 600));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/bench/thousand-jobs", bench_thousand_jobs);
	return g_test_run();
}
