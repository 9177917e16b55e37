/* Accounting accuracy: the absolute usage a VM job's reports end at in the fake Core, against
 * the running time libvirt itself shows for the machine, over a run in which the daemon is
 * SIGKILLed and restarted once and Core is unreachable for several report intervals. */
#include "config.h"

#include "ucv-harness.h"

#define INTERVAL_S 10
#define CONFIG                                                                                     \
	"[ucloud]\naccounting = report-usage\naccounting-interval = " G_STRINGIFY(INTERVAL_S) "\n"
#define DEFAULT_MINUTES 10.0
/* shares of the run: SIGKILL, then Core down and for how long */
#define RESTART_AT     0.3
#define OUTAGE_AT      0.6
#define OUTAGE_SHARE   0.1
#define DAEMON_AWAY_MS 5000
#define POLL_MS        50
/* more than two intervals without a change: no round that could still report is left */
#define SETTLED_MS       25000
#define START_TIMEOUT_S  120
#define END_TIMEOUT_S    60
#define SETTLE_TIMEOUT_S 180
/* a sanity bound on the result, not a timing requirement */
#define MAX_ERROR_PERCENT 1.0

/* A stretch of the run (monotonic µs) in which reports cannot arrive on time. */
typedef struct {
	gint64 from_us;
	gint64 to_us;
} Window;

typedef struct {
	UcvHarness *h;
	gchar *job_id;
	gchar *domain_name;
	gdouble run_ms;
	guint poll_source;
	gboolean terminating; /* the machine may stop from now on */
	gint64 running_us;    /* the first poll that saw the guest running */
	gint64 stopped_us;    /* the first one after that which saw it not running, or gone */
	/* the same two moments on the wall clock, which the fake Core stamps updates with */
	gint64 running_real_us;
	gint64 stopped_real_us;
	guint reports;    /* usage reports seen so far */
	GArray *arrivals; /* gint64: when each report was first seen */
	Window restart;   /* SIGKILL sent → the new daemon answers */
	Window outage;    /* Core down → Core up */
} Run;

static void
run_free(Run *run)
{
	if (run->poll_source != 0)
		g_source_remove(run->poll_source);
	g_free(run->job_id);
	g_free(run->domain_name);
	g_array_unref(run->arrivals);
	g_free(run);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Run, run_free)

static gdouble
run_minutes(void)
{
	const gchar *env = g_getenv("UCV_BENCH_ACCOUNTING_MINUTES");
	gchar *end = NULL;
	gdouble minutes;

	if (env == NULL)
		return DEFAULT_MINUTES;
	minutes = g_ascii_strtod(env, &end);
	if (end == env || *end != '\0' || !(minutes > 0))
		g_error("UCV_BENCH_ACCOUNTING_MINUTES must be a positive number of minutes, not "
			"'%s'",
			env);
	return minutes;
}

/* Asks libvirt, not the daemon: the daemon is what is being measured. Running means the guest's
 * CPUs run: a domain is active a second earlier, while QEMU starts paused and libvirt sets it
 * up, which is no guest's time. */
static gboolean
domain_running(Run *run)
{
	virDomainPtr domain = virDomainLookupByName(run->h->conn, run->domain_name);
	int state = VIR_DOMAIN_NOSTATE;

	if (domain == NULL)
		return FALSE;
	if (virDomainGetState(domain, &state, NULL, 0) != 0)
		state = VIR_DOMAIN_NOSTATE;
	virDomainFree(domain);
	return state == VIR_DOMAIN_RUNNING;
}

/* Runs from the main loop, so every wait of the harness (which spins it) keeps watching. */
static gboolean
on_poll(gpointer user_data)
{
	Run *run = user_data;
	gboolean running = domain_running(run);
	guint reports = ucv_fake_core_get_usage_reports(run->h->core, run->job_id);
	gint64 now = g_get_monotonic_time();

	if (run->running_us == 0 && running) {
		run->running_us = now;
		run->running_real_us = g_get_real_time();
	}
	if (run->running_us != 0 && run->stopped_us == 0 && !running) {
		if (!run->terminating)
			g_error("the machine of job %s stopped before it was terminated; see "
				"%s/daemon.log",
				run->job_id, run->h->dir);
		run->stopped_us = now;
		run->stopped_real_us = g_get_real_time();
	}
	for (; run->reports < reports; run->reports++)
		g_array_append_val(run->arrivals, now);
	return G_SOURCE_CONTINUE;
}

static Run *
run_new(UcvHarness *h, gdouble minutes)
{
	Run *run = g_new0(Run, 1);

	run->h = h;
	run->job_id = ucv_harness_new_job_id();
	run->domain_name = g_strdup_printf("ucloud-%s-0", run->job_id);
	run->run_ms = minutes * 60 * 1000;
	run->arrivals = g_array_new(FALSE, FALSE, sizeof(gint64));
	run->poll_source = g_timeout_add(POLL_MS, on_poll, run);
	return run;
}

static void
run_stop_polling(Run *run)
{
	g_source_remove(run->poll_source);
	run->poll_source = 0;
}

/* Spins until `share` of the run has passed since the guest was first seen running. */
static void
run_until(Run *run, gdouble share)
{
	gint64 at_us = run->running_us + (gint64)(share * run->run_ms * 1000);
	gint64 left_us = at_us - g_get_monotonic_time();

	if (left_us > 0)
		ucv_harness_spin((guint)(left_us / 1000));
}

static void
run_start(Run *run)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)START_TIMEOUT_S * G_USEC_PER_SEC;

	ucv_harness_create_job(run->h, run->job_id, 1);
	while (run->running_us == 0) {
		if (g_get_monotonic_time() > deadline)
			g_error("the machine of job %s was not running within %u s", run->job_id,
				START_TIMEOUT_S);
		ucv_harness_spin(POLL_MS);
	}
	g_free(ucv_harness_wait_state(run->h, run->job_id, "RUNNING", START_TIMEOUT_S));
}

/* SIGKILL, DAEMON_AWAY_MS without a daemon while the machine runs on, then a fresh one. */
static void
run_restart_daemon(Run *run)
{
	run->restart.from_us = g_get_monotonic_time();
	ucv_harness_kill_daemon(run->h, TRUE);
	ucv_harness_spin(DAEMON_AWAY_MS);
	ucv_harness_start_daemon(run->h);
	run->restart.to_us = g_get_monotonic_time();
}

static void
set_core_down(Run *run, gboolean down)
{
	g_autoptr(GError) error = NULL;

	ucv_fake_core_set_down(run->h->core, down, &error);
	g_assert_no_error(error);
}

static void
run_outage(Run *run)
{
	set_core_down(run, TRUE);
	run->outage.from_us = g_get_monotonic_time();
	run_until(run, OUTAGE_AT + OUTAGE_SHARE);
	set_core_down(run, FALSE);
	run->outage.to_us = g_get_monotonic_time();
}

static void
run_end(Run *run)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)END_TIMEOUT_S * G_USEC_PER_SEC;

	run->terminating = TRUE;
	ucv_harness_terminate_job(run->h, run->job_id);
	g_free(ucv_harness_wait_state(run->h, run->job_id, "SUCCESS", END_TIMEOUT_S));
	while (run->stopped_us == 0) {
		if (g_get_monotonic_time() > deadline)
			g_error("the machine of job %s still runs after SUCCESS", run->job_id);
		ucv_harness_spin(POLL_MS);
	}
}

/* The reported usage once it has not changed for SETTLED_MS. */
static gint64
run_final_usage(Run *run)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)SETTLE_TIMEOUT_S * G_USEC_PER_SEC;
	gint64 usage = ucv_fake_core_get_reported_usage(run->h->core, run->job_id);
	gint64 changed_us = g_get_monotonic_time();

	while (g_get_monotonic_time() - changed_us < (gint64)SETTLED_MS * 1000) {
		gint64 now_usage;

		if (g_get_monotonic_time() > deadline)
			g_error("the reported usage of job %s kept changing for %u s", run->job_id,
				SETTLE_TIMEOUT_S);
		ucv_harness_spin(POLL_MS * 10);
		now_usage = ucv_fake_core_get_reported_usage(run->h->core, run->job_id);
		if (now_usage != usage) {
			usage = now_usage;
			changed_us = g_get_monotonic_time();
		}
	}
	return usage;
}

static gboolean
overlaps(gint64 from_us, gint64 to_us, const Window *window)
{
	return from_us < window->to_us && to_us > window->from_us;
}

/* "12.3 s", or "none" for a class of gaps that did not occur. */
static gchar *
format_gap(gdouble gap_s)
{
	return gap_s < 0 ? g_strdup("none") : g_strdup_printf("%.1f s", gap_s);
}

/* The longest gap between consecutive reports' arrival in steady running, across the restart
 * and across the outage: only the steady one says how well the interval is kept. */
static void
print_gaps(Run *run)
{
	gdouble steady = -1, restart = -1, outage = -1;
	g_autofree gchar *steady_text = NULL;
	g_autofree gchar *restart_text = NULL;
	g_autofree gchar *outage_text = NULL;

	for (guint i = 1; i < run->arrivals->len; i++) {
		gint64 from_us = g_array_index(run->arrivals, gint64, i - 1);
		gint64 to_us = g_array_index(run->arrivals, gint64, i);
		gdouble gap_s = (to_us - from_us) / (gdouble)G_USEC_PER_SEC;

		if (overlaps(from_us, to_us, &run->restart))
			restart = MAX(restart, gap_s);
		else if (overlaps(from_us, to_us, &run->outage))
			outage = MAX(outage, gap_s);
		else
			steady = MAX(steady, gap_s);
	}
	steady_text = format_gap(steady);
	restart_text = format_gap(restart);
	outage_text = format_gap(outage);
	g_print("  longest gap between reports' arrival (seen every %u ms): %s in steady running, "
		"%s across the restart, %s across the outage\n",
		POLL_MS, steady_text, restart_text, outage_text);
}

static void
bench_accounting(void)
{
	gdouble minutes = run_minutes();
	g_autoptr(UcvHarness) h = ucv_harness_new_with_config(NULL, CONFIG);
	g_autoptr(Run) run = run_new(h, minutes);
	gint64 true_ms, core_ms, reported, running_at_core_us, success_at_core_us;
	guint reports, decreases;
	gdouble error_percent;

	run_start(run);
	run_until(run, RESTART_AT);
	run_restart_daemon(run);
	run_until(run, OUTAGE_AT);
	run_outage(run);
	run_until(run, 1.0);
	run_end(run);
	reported = run_final_usage(run);
	run_stop_polling(run);

	true_ms = (run->stopped_us - run->running_us) / 1000;
	running_at_core_us = ucv_harness_received_us(h, run->job_id, "RUNNING", 1);
	success_at_core_us = ucv_harness_received_us(h, run->job_id, "SUCCESS", 1);
	core_ms = (success_at_core_us - running_at_core_us) / 1000;
	reports = ucv_fake_core_get_usage_reports(h->core, run->job_id);
	decreases = ucv_fake_core_get_usage_decreases(h->core, run->job_id);
	error_percent = 100.0 * (reported - true_ms) / true_ms;
	g_print("reported against true usage, one VM over %.1f minutes (report-usage every %u s; "
		"SIGKILL at %.1f min and a new daemon %.1f s later; Core down for %.1f s from "
		"%.1f min):\n",
		minutes, INTERVAL_S, RESTART_AT * minutes,
		(run->restart.to_us - run->restart.from_us) / (gdouble)G_USEC_PER_SEC,
		(run->outage.to_us - run->outage.from_us) / (gdouble)G_USEC_PER_SEC,
		OUTAGE_AT * minutes);
	g_print("  true running time (libvirt, polled every %u ms): %" G_GINT64_FORMAT " ms\n",
		POLL_MS, true_ms);
	g_print("  RUNNING -> SUCCESS received by the fake Core:    %" G_GINT64_FORMAT " ms\n",
		core_ms);
	g_print("    (guest running -> RUNNING at the fake Core %+" G_GINT64_FORMAT
		" ms, guest stopped -> SUCCESS at the fake Core %+" G_GINT64_FORMAT " ms)\n",
		(running_at_core_us - run->running_real_us) / 1000,
		(success_at_core_us - run->stopped_real_us) / 1000);
	g_print("  final reported usage:                            %" G_GINT64_FORMAT
		" (ms of one machine)\n",
		reported);
	g_print("  relative error, reported against true: %+.3f %% (%+" G_GINT64_FORMAT " ms)\n",
		error_percent, reported - true_ms);
	g_print("  usage reports: %u, decreases: %u\n", reports, decreases);
	print_gaps(run);

	g_assert_cmpuint(decreases, ==, 0);
	g_assert_cmpfloat(ABS(error_percent), <, MAX_ERROR_PERCENT);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/bench/accounting", bench_accounting);
	return g_test_run();
}
