/* How fast an admin's virsh action on a job's machine reaches Core: destroy, managedsave and
 * shutdown of real guests on the private libvirtd, timed to the update the fake Core records. */
#include "config.h"

#include "ucv-bench.h"
#include "ucv-harness.h"

#define DESTROY_ROUNDS  20
#define SAVE_ROUNDS     5
#define SHUTDOWN_ROUNDS 5
#define GUEST_MARKER    "ucloud-virt-guest: ready"

typedef enum {
	ADMIN_DESTROY,
	ADMIN_MANAGED_SAVE,
	ADMIN_SHUTDOWN,
} AdminAction;

static const gchar *
expected_state(AdminAction action)
{
	return action == ADMIN_MANAGED_SAVE ? "SUSPENDED" : "SUCCESS";
}

static int
run_action(virDomainPtr domain, AdminAction action)
{
	switch (action) {
	case ADMIN_DESTROY:
		return virDomainDestroy(domain);
	case ADMIN_MANAGED_SAVE:
		return virDomainManagedSave(domain, 0);
	case ADMIN_SHUTDOWN:
		return virDomainShutdown(domain);
	}
	g_assert_not_reached();
}

/* One job: the action on its machine, then the time until Core hears of it, in ms. Destroy and
 * managedsave are timed from the moment libvirt has done them (the call returned); shutdown from
 * the request, since the guest decides when it is done. */
static gdouble
admin_round(UcvHarness *h, AdminAction action)
{
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	virDomainPtr domain;
	gint64 start;

	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", 120));
	if (action == ADMIN_SHUTDOWN)
		ucv_harness_wait_console(h, job_id, 0, GUEST_MARKER, 120);
	domain = virDomainLookupByName(h->conn, name);
	g_assert_nonnull(domain);
	start = g_get_real_time();
	if (run_action(domain, action) < 0)
		g_error("admin action on %s: %s", name, virGetLastErrorMessage());
	if (action != ADMIN_SHUTDOWN)
		start = g_get_real_time();
	virDomainFree(domain);
	g_free(ucv_harness_wait_state(h, job_id, expected_state(action), 120));
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	return (ucv_harness_received_us(h, job_id, expected_state(action), 1) - start) / 1000.0;
}

static void
report(UcvHarness *h, const gchar *what, AdminAction action, guint rounds)
{
	g_autoptr(GArray) latencies = g_array_new(FALSE, FALSE, sizeof(gdouble));

	for (guint i = 0; i < rounds; i++) {
		gdouble ms = admin_round(h, action);
		g_array_append_val(latencies, ms);
	}
	g_print("%s -> %s at Core, %u rounds: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", what,
		expected_state(action), rounds, ucv_bench_percentile(latencies, 0.5),
		ucv_bench_percentile(latencies, 0.99), ucv_bench_percentile(latencies, 1.0));
}

static void
bench_admin_actions(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();

	report(h, "virsh destroy (from its return)", ADMIN_DESTROY, DESTROY_ROUNDS);
	report(h, "virsh managedsave (from its return)", ADMIN_MANAGED_SAVE, SAVE_ROUNDS);
	report(h, "virsh shutdown (from the request; the guest takes ~2 s to power off)",
	       ADMIN_SHUTDOWN, SHUTDOWN_ROUNDS);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/bench/admin-actions", bench_admin_actions);
	return g_test_run();
}
