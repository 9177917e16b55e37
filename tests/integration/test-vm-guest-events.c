/* What the guest itself does (powers off, panics, runs as several replicas), through the daemon. */
#include "config.h"

#include "ucv-harness.h"

#define GUEST_MARKER    "ucloud-virt-guest: ready"
#define GUEST_PROMPT    "ucv# "
#define BOOT_TIMEOUT_S  120
#define GONE_TIMEOUT_MS 10000

/* The outcome is recorded before the cleanup, so the machine and its disk go a little later. */
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

/* A running single-machine job whose console shell is ready for input. */
static void
start_job_at_prompt(UcvHarness *h, const gchar *job_id)
{
	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	ucv_harness_wait_console(h, job_id, 0, GUEST_MARKER, BOOT_TIMEOUT_S);
	ucv_harness_wait_console(h, job_id, 0, GUEST_PROMPT, 30);
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));
}

/* The user powers the machine off from inside: the job ended well. */
static void
test_poweroff(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *disk = ucv_harness_disk_path(h, job_id, 0);
	g_autofree gchar *status = NULL;
	g_autofree gchar *states = NULL;

	start_job_at_prompt(h, job_id);
	g_assert_true(g_file_test(disk, G_FILE_TEST_EXISTS));

	ucv_harness_type(h, job_id, 0, "poweroff -f\n");
	status = ucv_harness_wait_state(h, job_id, "SUCCESS", 60);
	g_assert_nonnull(strstr(status, "powered off"));
	assert_rank_gone(h, job_id, 0);

	ucv_harness_spin(500);
	states = ucv_harness_states_of(h, job_id);
	g_assert_cmpstr(states, ==, "RUNNING,SUCCESS");
}

/* A kernel panic (reported by the pvpanic device): the job failed. */
static void
test_crash(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *status = NULL;
	g_autofree gchar *states = NULL;

	start_job_at_prompt(h, job_id);
	ucv_harness_type(h, job_id, 0, "echo c > /proc/sysrq-trigger\n");
	status = ucv_harness_wait_state(h, job_id, "FAILURE", 60);
	g_assert_nonnull(strstr(status, "crashed"));
	assert_rank_gone(h, job_id, 0);

	/* libvirt reports the panic twice (CRASHED, then STOPPED/crashed): one FAILURE only */
	ucv_harness_spin(500);
	states = ucv_harness_states_of(h, job_id);
	g_assert_cmpstr(states, ==, "RUNNING,FAILURE");
}

/* Two machines for one job: both boot, RUNNING once, terminate removes both. */
static void
test_replicas(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *states = NULL;
	g_autofree gchar *final_states = NULL;

	ucv_harness_create_job(h, job_id, 2);
	ucv_harness_wait_console(h, job_id, 0, GUEST_MARKER, BOOT_TIMEOUT_S);
	ucv_harness_wait_console(h, job_id, 1, GUEST_MARKER, BOOT_TIMEOUT_S);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", 30));
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 1));
	for (guint rank = 0; rank < 2; rank++) {
		g_autofree gchar *disk = ucv_harness_disk_path(h, job_id, rank);
		g_assert_true(g_file_test(disk, G_FILE_TEST_EXISTS));
	}
	ucv_harness_spin(1000);
	states = ucv_harness_states_of(h, job_id);
	g_assert_cmpstr(states, ==, "RUNNING");

	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	assert_rank_gone(h, job_id, 0);
	assert_rank_gone(h, job_id, 1);

	ucv_harness_spin(500);
	final_states = ucv_harness_states_of(h, job_id);
	g_assert_cmpstr(final_states, ==, "RUNNING,SUCCESS");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/guest/poweroff", test_poweroff);
	g_test_add_func("/guest/crash", test_crash);
	g_test_add_func("/guest/replicas", test_replicas);
	return g_test_run();
}
