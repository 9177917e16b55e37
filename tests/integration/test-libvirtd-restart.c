/* libvirtd restarting or down under the daemon: guests and jobs survive, events work again. */
#include "config.h"

#include "ucv-harness.h"

#define BOOT_TIMEOUT_S      120
#define RECONNECT_TIMEOUT_S 30
#define GONE_TIMEOUT_MS     10000
#define CREATE_ANSWER_MS    2000
#define DOWN_MS             12000
#define SETTLE_MS           11000
#define SOCKET_SUFFIX       "/sock/libvirt-sock"

/* The private libvirtd's directory, from the socket in UCV_TEST_LIBVIRT_URI. */
static gchar *
libvirtd_dir(UcvHarness *h)
{
	const gchar *param = strstr(h->libvirt_uri, "socket=");
	g_autofree gchar *path = NULL;

	g_assert_nonnull(param);
	path = g_strndup(param + strlen("socket="), strcspn(param + strlen("socket="), "&"));
	g_assert_true(g_str_has_suffix(path, SOCKET_SUFFIX));
	return g_strndup(path, strlen(path) - strlen(SOCKET_SUFFIX));
}

static gchar *
script_path(void)
{
	const gchar *source_root = g_getenv("UCV_SOURCE_ROOT");

	if (source_root == NULL)
		g_error("UCV_SOURCE_ROOT must name the source tree (meson sets it)");
	return g_build_filename(source_root, "tests", "integration", "private-libvirtd.sh", NULL);
}

/* Runs a verb of private-libvirtd.sh (restart, kill) against the private libvirtd. */
static void
libvirtd_control(UcvHarness *h, const gchar *verb)
{
	g_autofree gchar *script = script_path();
	g_autofree gchar *dir = libvirtd_dir(h);
	g_autofree gchar *err = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *argv[] = {"bash", script, verb, dir, NULL};
	gint64 started = g_get_monotonic_time();
	gint status = 0;

	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
		     NULL, NULL, NULL, &err, &status, &error);
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, &error))
		g_error("private-libvirtd.sh %s %s failed: %s\n%s", verb, dir, error->message, err);
	g_test_message("private-libvirtd.sh %s took %.2f s", verb,
		       (g_get_monotonic_time() - started) / (gdouble)G_USEC_PER_SEC);
}

static guint
count_in_daemon_log(UcvHarness *h, const gchar *text)
{
	g_autofree gchar *path = g_build_filename(h->dir, "daemon.log", NULL);
	g_autofree gchar *contents = NULL;
	guint n = 0;

	if (!g_file_get_contents(path, &contents, NULL, NULL))
		return 0;
	for (const gchar *p = strstr(contents, text); p != NULL; p = strstr(p + 1, text))
		n++;
	return n;
}

/* The daemon's reconnect is not visible through its API; its log says when it happened. */
static void
wait_daemon_reconnected(UcvHarness *h, guint before, gint64 started)
{
	gint64 deadline = g_get_monotonic_time() + RECONNECT_TIMEOUT_S * G_USEC_PER_SEC;

	while (g_get_monotonic_time() < deadline) {
		if (count_in_daemon_log(h, "reconnected to libvirt") > before) {
			g_test_message("the daemon reconnected %.2f s after the restart began",
				       (g_get_monotonic_time() - started) /
					       (gdouble)G_USEC_PER_SEC);
			return;
		}
		ucv_harness_spin(100);
	}
	g_error("the daemon did not reconnect to libvirt within %u s; see %s/daemon.log",
		RECONNECT_TIMEOUT_S, h->dir);
}

static void
assert_rank_gone(UcvHarness *h, const gchar *job_id, guint rank)
{
	g_autofree gchar *disk = ucv_harness_disk_path(h, job_id, rank);

	for (guint waited = 0; waited < GONE_TIMEOUT_MS; waited += 100) {
		if (!ucv_harness_domain_exists(h, job_id, rank) &&
		    !g_file_test(disk, G_FILE_TEST_EXISTS))
			break;
		ucv_harness_spin(100);
	}
	g_assert_false(ucv_harness_domain_exists(h, job_id, rank));
	g_assert_false(g_file_test(disk, G_FILE_TEST_EXISTS));
}

static void
assert_states(UcvHarness *h, const gchar *job_id, const gchar *expected)
{
	g_autofree gchar *states = ucv_harness_states_of(h, job_id);

	g_assert_cmpstr(states, ==, expected);
}

/* An admin restarts libvirtd under a running job: the guest runs on, the job stays RUNNING, and
 * once the daemon has reconnected it hears the domain's events again. */
static void
test_restart(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	g_autofree gchar *status = NULL;
	guint reconnects = count_in_daemon_log(h, "reconnected to libvirt");
	virDomainPtr domain;
	gint64 restarted;

	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));

	restarted = g_get_monotonic_time();
	libvirtd_control(h, "restart");
	ucv_harness_reconnect_libvirt(h);
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));

	wait_daemon_reconnected(h, reconnects, restarted);
	/* the reconciliation after the reconnect neither lost nor invented anything */
	ucv_harness_spin(1000);
	assert_states(h, job_id, "RUNNING");
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));

	domain = virDomainLookupByName(h->conn, name);
	g_assert_nonnull(domain);
	g_assert_cmpint(virDomainDestroy(domain), ==, 0);
	virDomainFree(domain);
	status = ucv_harness_wait_state(h, job_id, "SUCCESS", 30);
	g_assert_nonnull(strstr(status, "outside UCloud"));
	assert_rank_gone(h, job_id, 0);

	ucv_harness_spin(500);
	assert_states(h, job_id, "RUNNING,SUCCESS");
}

/* A suspended job across a libvirtd restart: the saved machine is still SUSPENDED afterwards
 * (libvirt says shut off; its managed-save image says otherwise), and unsuspend restores it. */
static void
test_restart_while_suspended(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	guint reconnects = count_in_daemon_log(h, "reconnected to libvirt");
	virDomainPtr domain;
	gint64 restarted;

	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	ucv_harness_suspend_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUSPENDED", BOOT_TIMEOUT_S));

	restarted = g_get_monotonic_time();
	libvirtd_control(h, "restart");
	ucv_harness_reconnect_libvirt(h);
	wait_daemon_reconnected(h, reconnects, restarted);
	ucv_harness_spin(1000);
	assert_states(h, job_id, "RUNNING,SUSPENDED");
	domain = virDomainLookupByName(h->conn, name);
	g_assert_nonnull(domain);
	g_assert_cmpint(virDomainHasManagedSaveImage(domain, 0), ==, 1);
	virDomainFree(domain);

	ucv_harness_unsuspend_job(h, job_id);
	g_free(ucv_harness_wait_nth_state(h, job_id, "RUNNING", 2, BOOT_TIMEOUT_S));
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	assert_rank_gone(h, job_id, 0);
}

/* libvirtd is down when the job arrives: the API accepts it at once, the daemon keeps trying,
 * and the job starts once libvirtd is back. */
static void
test_down_during_create(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *job = ucv_harness_vm_job_json(job_id, 1);
	g_autofree gchar *body = g_strdup_printf("{\"items\":[%s]}", job);
	g_autofree gchar *states_while_down = NULL;
	g_autoptr(JsonNode) reply = NULL;
	guint http_status = 0;
	gint64 started;
	gint64 answered_ms;

	/* nothing is asserted while libvirtd is down, so a failure cannot leave it down for the
	 * tests that follow */
	libvirtd_control(h, "kill");
	started = g_get_monotonic_time();
	reply = ucv_harness_call(h, "POST", "/ucloud/test/jobs", body, &http_status);
	answered_ms = (g_get_monotonic_time() - started) / 1000;
	/* longer than the daemon's provisioning retry (10 s), so it tries at least twice */
	ucv_harness_spin(DOWN_MS);
	states_while_down = ucv_harness_states_of(h, job_id);
	libvirtd_control(h, "restart");
	ucv_harness_reconnect_libvirt(h);

	g_test_message("create answered %u in %" G_GINT64_FORMAT " ms with libvirtd down",
		       http_status, answered_ms);
	g_assert_cmpuint(http_status, ==, 200);
	g_assert_nonnull(reply);
	g_assert_cmpint(answered_ms, <, CREATE_ANSWER_MS);
	g_assert_cmpstr(states_while_down, ==, "");

	started = g_get_monotonic_time();
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	g_test_message("RUNNING %.2f s after libvirtd came back",
		       (g_get_monotonic_time() - started) / (gdouble)G_USEC_PER_SEC);
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));

	/* a provisioning retry still pending from the outage must leave the running job alone */
	ucv_harness_spin(SETTLE_MS);
	assert_states(h, job_id, "RUNNING");
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));

	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	assert_rank_gone(h, job_id, 0);

	ucv_harness_spin(500);
	assert_states(h, job_id, "RUNNING,SUCCESS");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/libvirtd/restart", test_restart);
	g_test_add_func("/libvirtd/down-during-create", test_down_during_create);
	g_test_add_func("/libvirtd/restart-while-suspended", test_restart_while_suspended);
	return g_test_run();
}
