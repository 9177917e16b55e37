/* Accounting against the fake Core with real machines: usage follows running time (and not
 * suspended time), a locked wallet suspends a VM and refuses to resume it, a SIGKILLed daemon
 * and a Core outage lose nothing, and charges are never made twice. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "ucv-harness.h"

#define START_TIMEOUT_S 120
/* saving a 1 GiB guest under emulation takes seconds; two busy cores stretch that */
#define SAVE_TIMEOUT_S 180
/* the first whole minute of running time, and the charge for it */
#define CHARGE_TIMEOUT_S 150

#define REPORT_USAGE   "[ucloud]\naccounting = report-usage\naccounting-interval = 1\n"
#define CHARGE_CREDITS "[ucloud]\naccounting = charge-credits\naccounting-interval = 1\n"

/* The harness's product costs one unit per millisecond of running time. Reports go out every
 * second; one more second covers the report's own way to Core. */
#define ONE_INTERVAL_MS 2000

static gint64
now_ms(void)
{
	return g_get_real_time() / 1000;
}

/* When the fake Core received the n-th (from 1) update of the job carrying `state`. */
static gint64
received_ms(UcvHarness *h, const gchar *job_id, const gchar *state, guint n)
{
	return ucv_harness_received_us(h, job_id, state, n) / 1000;
}

static gint64
usage_of(UcvHarness *h, const gchar *job_id)
{
	return ucv_fake_core_get_reported_usage(h->core, job_id);
}

static gchar *
start_job(UcvHarness *h)
{
	gchar *job_id = ucv_harness_new_job_id();

	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", START_TIMEOUT_S));
	return job_id;
}

/* The job's final usage, once reports have had a few rounds to settle. */
static gint64
final_usage(UcvHarness *h, const gchar *job_id)
{
	ucv_harness_spin(3 * 1000);
	return usage_of(h, job_id);
}

/* The reported usage is the running time so far, give or take one interval; a suspended
 * stretch adds nothing, not even at the end. */
static void
test_usage_follows_running(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new_with_config(NULL, REPORT_USAGE);
	g_autofree gchar *job_id = start_job(h);
	gint64 started = received_ms(h, job_id, "RUNNING", 1);
	gint64 elapsed, usage, at_suspend;

	ucv_harness_spin(5 * 1000);
	usage = usage_of(h, job_id);
	elapsed = now_ms() - started;
	g_assert_cmpint(usage, >=, elapsed - ONE_INTERVAL_MS);
	g_assert_cmpint(usage, <=, elapsed + ONE_INTERVAL_MS);

	ucv_harness_suspend_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUSPENDED", SAVE_TIMEOUT_S));
	at_suspend = final_usage(h, job_id);
	elapsed = received_ms(h, job_id, "SUSPENDED", 1) - started;
	g_assert_cmpint(at_suspend, >=, elapsed - ONE_INTERVAL_MS);
	g_assert_cmpint(at_suspend, <=, elapsed + ONE_INTERVAL_MS);
	ucv_harness_spin(4 * 1000);
	g_assert_cmpint(usage_of(h, job_id), ==, at_suspend);

	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	g_assert_cmpint(final_usage(h, job_id), ==, at_suspend);
	g_assert_cmpuint(ucv_fake_core_get_usage_decreases(h->core, job_id), ==, 0);
}

/* POSTs unsuspend as current Core does and returns the HTTP status; *why gets the error's text. */
static guint
try_unsuspend(UcvHarness *h, const gchar *job_id, gchar **why)
{
	g_autofree gchar *job = ucv_harness_vm_job_json(job_id, 1);
	g_autofree gchar *body = g_strdup_printf("{\"items\":[{\"job\":%s}]}", job);
	g_autoptr(JsonNode) reply = NULL;
	guint status = 0;

	reply = ucv_harness_call(h, "POST", "/ucloud/test/jobs/unsuspend", body, &status);
	if (why != NULL && reply != NULL && JSON_NODE_HOLDS_OBJECT(reply))
		*why = g_strdup(json_object_get_string_member_with_default(
			json_node_get_object(reply), "why", ""));
	return status;
}

/* Core locks the wallet: the VM is suspended with the reason, and cannot be resumed until Core
 * says the wallet has funds again. */
static void
test_wallet_locked_vm(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new_with_config(NULL, REPORT_USAGE);
	g_autofree gchar *job_id = start_job(h);
	g_autofree gchar *status = NULL;
	g_autofree gchar *why = NULL;

	ucv_fake_core_set_wallet_locked(h->core, TRUE);
	status = ucv_harness_wait_state(h, job_id, "SUSPENDED", SAVE_TIMEOUT_S);
	g_assert_true(g_str_has_prefix(status, "Insufficient funds"));
	g_assert_true(ucv_harness_domain_exists(h, job_id, 0));
	g_assert_false(ucv_harness_domain_is_active(h, job_id, 0));

	g_assert_cmpuint(try_unsuspend(h, job_id, &why), ==, 402);
	g_assert_nonnull(strstr(why, "insufficient funds"));
	g_assert_cmpstr(ucv_fake_core_get_last_state(h->core, job_id), ==, "SUSPENDED");

	/* funds again: the next round tells the provider, and the job resumes */
	ucv_fake_core_set_wallet_locked(h->core, FALSE);
	ucv_harness_spin(3 * 1000);
	g_assert_cmpuint(try_unsuspend(h, job_id, NULL), ==, 200);
	g_free(ucv_harness_wait_nth_state(h, job_id, "RUNNING", 2, SAVE_TIMEOUT_S));
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

/* A machine that cannot be saved (its save image leads to /dev/full, where every write fails)
 * is not left running on an empty wallet: the job ends with "Insufficient funds". */
static void
test_wallet_locked_unsaveable(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new_with_config(NULL, REPORT_USAGE);
	g_autofree gchar *job_id = start_job(h);
	g_autofree gchar *save_dir = ucv_harness_save_dir();
	g_autofree gchar *base = g_strdup_printf("ucloud-%s-0.save", job_id);
	g_autofree gchar *image = g_build_filename(save_dir, base, NULL);
	g_autofree gchar *status = NULL;

	g_assert_cmpint(symlink("/dev/full", image), ==, 0);
	ucv_fake_core_set_wallet_locked(h->core, TRUE);
	status = ucv_harness_wait_state(h, job_id, "SUCCESS", SAVE_TIMEOUT_S);
	g_unlink(image);
	g_assert_cmpstr(status, ==, "Insufficient funds");
	g_assert_false(ucv_harness_domain_exists(h, job_id, 0));
}

/* SIGKILL and a restart, then Core away for several intervals: the final usage is still the
 * whole running time (the machine ran on while the daemon was away). */
static void
test_restart_and_outage(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new_with_config(NULL, REPORT_USAGE);
	g_autofree gchar *job_id = start_job(h);
	g_autoptr(GError) error = NULL;
	gint64 before_kill, after_restart, running;
	guint reports;

	ucv_harness_spin(3 * 1000);
	before_kill = usage_of(h, job_id);
	g_assert_cmpint(before_kill, >, 0);
	ucv_harness_kill_daemon(h, TRUE);
	ucv_harness_spin(2 * 1000);
	ucv_harness_start_daemon(h);
	ucv_harness_spin(3 * 1000);
	after_restart = usage_of(h, job_id);
	/* continued from the record: the time the daemon was away is in it */
	g_assert_cmpint(after_restart, >=, before_kill + 2 * 1000);

	g_assert_true(ucv_fake_core_set_down(h->core, TRUE, &error));
	reports = ucv_fake_core_get_usage_reports(h->core, job_id);
	ucv_harness_spin(5 * 1000);
	g_assert_cmpuint(ucv_fake_core_get_usage_reports(h->core, job_id), ==, reports);
	g_assert_true(ucv_fake_core_set_down(h->core, FALSE, &error));

	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	running = received_ms(h, job_id, "SUCCESS", 1) - received_ms(h, job_id, "RUNNING", 1);
	g_assert_cmpint(llabs(final_usage(h, job_id) - running), <=, ONE_INTERVAL_MS);
	g_assert_cmpuint(ucv_fake_core_get_usage_decreases(h->core, job_id), ==, 0);
}

/* The machine stops while the daemon is away: the job is charged up to the last sweep that saw
 * it running, not up to the restart that found it stopped. */
static void
test_machine_gone_while_away(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new_with_config(
		NULL, REPORT_USAGE "[libvirt]\nreconcile-interval = 1\n");
	g_autofree gchar *job_id = start_job(h);
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	g_autofree gchar *status = NULL;
	virDomainPtr domain;
	gint64 started = received_ms(h, job_id, "RUNNING", 1);
	gint64 killed, usage;

	ucv_harness_spin(3 * 1000);
	ucv_harness_kill_daemon(h, TRUE);
	killed = now_ms();
	domain = virDomainLookupByName(h->conn, name);
	g_assert_nonnull(domain);
	g_assert_cmpint(virDomainDestroy(domain), ==, 0);
	virDomainFree(domain);
	ucv_harness_spin(6 * 1000);
	ucv_harness_start_daemon(h);
	status = ucv_harness_wait_state(h, job_id, "SUCCESS", 60);
	g_assert_cmpstr(status, ==, "The virtual machine stopped while the provider was away");
	usage = final_usage(h, job_id);
	/* up to the kill at most (the last sweep was within a second before it), nothing after */
	g_assert_cmpint(usage, <=, killed - started + ONE_INTERVAL_MS);
	g_assert_cmpint(usage, >=, killed - started - ONE_INTERVAL_MS);
}

static void
wait_held_charge(UcvHarness *h)
{
	for (guint i = 0; i < CHARGE_TIMEOUT_S * 10; i++) {
		if (ucv_fake_core_get_held_accounting_calls(h->core) > 0)
			return;
		ucv_harness_spin(100);
	}
	g_error("no charge reached Core within %u s", CHARGE_TIMEOUT_S);
}

/* charge-credits: the daemon dies after Core took the first minute's charge and before it heard
 * so; the restarted daemon sends the same chargeId again, and Core charges it once. */
static void
test_charge_credits_restart(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new_with_config(NULL, CHARGE_CREDITS);
	g_autofree gchar *job_id = start_job(h);

	ucv_fake_core_set_accounting_stalled(h->core, TRUE);
	wait_held_charge(h);
	g_assert_cmpint(ucv_fake_core_get_charged(h->core, job_id), ==, 1);
	ucv_harness_kill_daemon(h, TRUE);
	ucv_fake_core_set_accounting_stalled(h->core, FALSE);
	ucv_harness_start_daemon(h);
	for (guint i = 0; i < 100 && ucv_fake_core_get_repeated_charges(h->core, job_id) == 0; i++)
		ucv_harness_spin(100);
	g_assert_cmpuint(ucv_fake_core_get_repeated_charges(h->core, job_id), >=, 1);

	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	ucv_harness_spin(3 * 1000);
	/* one whole minute ran: one charge of one machine, however often it was sent */
	g_assert_cmpuint(ucv_fake_core_get_charges(h->core, job_id), ==, 1);
	g_assert_cmpint(ucv_fake_core_get_charged(h->core, job_id), ==, 1);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/accounting/usage-follows-running", test_usage_follows_running);
	g_test_add_func("/accounting/wallet-locked-vm", test_wallet_locked_vm);
	g_test_add_func("/accounting/wallet-locked-unsaveable", test_wallet_locked_unsaveable);
	g_test_add_func("/accounting/restart-and-outage", test_restart_and_outage);
	g_test_add_func("/accounting/machine-gone-while-away", test_machine_gone_while_away);
	g_test_add_func("/accounting/charge-credits-restart", test_charge_credits_restart);
	return g_test_run();
}
