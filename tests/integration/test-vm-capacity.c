/* Capacity on a real host: a second job that does not fit waits IN_QUEUE, then runs. */
#include "config.h"

#include "ucv-harness.h"

#define BOOT_TIMEOUT_S 120
#define MIB            1048576

/* Reserves all of the private libvirtd's host but 1.5 GiB: one 1-GiB test guest fits. */
static gchar *
small_host_config(guint *host_cpus)
{
	virConnectPtr conn = virConnectOpen(g_getenv("UCV_TEST_LIBVIRT_URI"));
	virNodeInfo info = {0};
	guint64 host_mib;

	g_assert_nonnull(conn);
	g_assert_cmpint(virNodeGetInfo(conn, &info), ==, 0);
	virConnectClose(conn);
	host_mib = info.memory / 1024;
	g_assert_cmpuint(host_mib, >, 1536);
	*host_cpus = info.cpus;
	return g_strdup_printf(
		"[scheduler]\nreserved-cpus = 0\nreserved-memory = %" G_GUINT64_FORMAT "\n",
		host_mib - 1536);
}

static JsonObject *
get_object(UcvHarness *h, const gchar *path, JsonNode **keep)
{
	guint status = 0;

	*keep = ucv_harness_call(h, "GET", path, NULL, &status);
	g_assert_cmpuint(status, ==, 200);
	g_assert_nonnull(*keep);
	return json_node_get_object(*keep);
}

static void
assert_queue(JsonObject *queue, gint64 running, gint64 pending)
{
	g_assert_nonnull(queue);
	g_assert_cmpint(json_object_get_int_member(queue, "running"), ==, running);
	g_assert_cmpint(json_object_get_int_member(queue, "pending"), ==, pending);
}

static void
check_utilization(UcvHarness *h, guint host_cpus)
{
	g_autoptr(JsonNode) util_node = NULL;
	g_autoptr(JsonNode) products_node = NULL;
	JsonObject *util = get_object(h, "/ucloud/test/jobs/retrieveUtilization", &util_node);
	JsonObject *products = get_object(h, "/ucloud/test/jobs/retrieveProducts", &products_node);
	JsonObject *capacity = json_object_get_object_member(util, "capacity");
	JsonObject *used = json_object_get_object_member(util, "usedCapacity");
	JsonArray *responses = json_object_get_array_member(products, "responses");

	g_assert_cmpfloat(json_object_get_double_member(capacity, "cpu"), ==, host_cpus);
	g_assert_cmpint(json_object_get_int_member(capacity, "memory"), ==, 1536 * (gint64)MIB);
	g_assert_cmpfloat(json_object_get_double_member(used, "cpu"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(used, "memory"), ==, 1024 * (gint64)MIB);
	assert_queue(json_object_get_object_member(util, "queueStatus"), 1, 1);
	assert_queue(json_object_get_object_member(json_array_get_object_element(responses, 0),
						   "queueStatus"),
		     1, 1);
}

static void
test_second_job_waits(void)
{
	guint host_cpus = 0;
	g_autofree gchar *extra = small_host_config(&host_cpus);
	g_autoptr(UcvHarness) h = ucv_harness_new_with_config(NULL, extra);
	g_autofree gchar *first = ucv_harness_new_job_id();
	g_autofree gchar *second = ucv_harness_new_job_id();
	g_autofree gchar *status = NULL;
	g_autofree gchar *states = NULL;

	ucv_harness_create_job(h, first, 1);
	g_free(ucv_harness_wait_state(h, first, "RUNNING", BOOT_TIMEOUT_S));
	ucv_harness_create_job(h, second, 1);
	status = ucv_harness_wait_state(h, second, "IN_QUEUE", 30);
	g_assert_cmpstr(status, ==, "Waiting for capacity (0 jobs ahead)");
	ucv_harness_spin(1000);
	g_assert_false(ucv_harness_domain_exists(h, second, 0));
	check_utilization(h, host_cpus);

	ucv_harness_terminate_job(h, first);
	g_free(ucv_harness_wait_state(h, first, "SUCCESS", 60));
	g_free(ucv_harness_wait_state(h, second, "RUNNING", BOOT_TIMEOUT_S));
	g_assert_true(ucv_harness_domain_is_active(h, second, 0));
	ucv_harness_terminate_job(h, second);
	g_free(ucv_harness_wait_state(h, second, "SUCCESS", 60));
	states = ucv_harness_states_of(h, second);
	g_assert_cmpstr(states, ==, "IN_QUEUE,RUNNING,SUCCESS");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vm/capacity/second-job-waits", test_second_job_waits);
	return g_test_run();
}
