/* The display of a job's machine, reached the way the console proxy reaches it. */
#include "config.h"

#include "ucv-harness.h"
#include "virt/ucv-hypervisor.h"

#define RFB_VERSION     "RFB 003.008\n"
#define RUNNING_TIMEOUT 120

static void
on_result(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **result = user_data;

	*result = g_object_ref(res);
}

/* libvirt hands over a socket to QEMU's VNC server (no TCP port, no password); the server
 * speaks first, with its protocol version. */
static void
test_open_graphics(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	g_autoptr(UcvHypervisor) hypervisor = ucv_hypervisor_new(h->libvirt_uri);
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GSocketConnection) connection = NULL;
	g_autoptr(GError) error = NULL;
	gchar greeting[sizeof(RFB_VERSION)] = {0};
	gsize got = 0;

	g_assert_true(ucv_hypervisor_connect(hypervisor, &error));
	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", RUNNING_TIMEOUT));

	ucv_hypervisor_open_graphics_async(hypervisor, name, NULL, on_result, &res);
	while (res == NULL)
		g_main_context_iteration(NULL, TRUE);
	connection = ucv_hypervisor_open_graphics_finish(hypervisor, res, &error);
	g_assert_no_error(error);
	g_assert_true(g_input_stream_read_all(g_io_stream_get_input_stream(G_IO_STREAM(connection)),
					      greeting, strlen(RFB_VERSION), &got, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(greeting, ==, RFB_VERSION);

	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vm/display/open-graphics", test_open_graphics);
	return g_test_run();
}
