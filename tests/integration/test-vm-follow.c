/* Core's follow of a job: the machine's console log from boot on, live, across suspend and
 * restarts of the daemon, ending with the job. */
#include "config.h"

#include <string.h>

#include "ucv-follow-client.h"
#include "ucv-harness.h"

#define GUEST_MARKER   "ucloud-virt-guest: ready"
#define BOOT_TIMEOUT_S 120
#define LOG_TIMEOUT_S  30
#define SAVE_TIMEOUT_S 120

/* Makes the guest print a line only its shell can produce; returns that line. */
static gchar *
guest_prints(UcvHarness *h, const gchar *job_id)
{
	guint32 nonce = g_random_int();
	g_autofree gchar *command = g_strdup_printf("echo follow-$((5*5))-%08x\r", nonce);

	ucv_harness_type(h, job_id, 0, command);
	return g_strdup_printf("follow-25-%08x", nonce);
}

/* The backlog holds the boot, then a line printed now arrives; the job's end ends the stream. */
static void
test_follow_live(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autoptr(UcvFollowClient) follow = NULL;
	g_autofree gchar *line = NULL;
	gsize mark;

	ucv_harness_start_ready_job(h, job_id);
	follow = ucv_follow_client_open(h, job_id);
	mark = ucv_follow_client_wait(follow, 0, 0, GUEST_MARKER, LOG_TIMEOUT_S);
	line = guest_prints(h, job_id);
	ucv_follow_client_wait(follow, 0, mark, line, LOG_TIMEOUT_S);

	ucv_harness_terminate_job(h, job_id);
	ucv_follow_client_wait_end(follow, 60);
	g_assert_cmpint(follow->end_status, ==, 200);
	g_assert_false(follow->closed);
}

/* One follow stays open across suspend and resume; after the daemon was killed and restarted a
 * new follow finds the whole history (boot, before and after the suspend) in its backlog. */
static void
test_follow_across_suspend_and_restart(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autoptr(UcvFollowClient) follow = NULL;
	g_autoptr(UcvFollowClient) again = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	gsize mark;

	ucv_harness_start_ready_job(h, job_id);
	follow = ucv_follow_client_open(h, job_id);
	before = guest_prints(h, job_id);
	mark = ucv_follow_client_wait(follow, 0, 0, before, LOG_TIMEOUT_S);

	ucv_harness_suspend_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUSPENDED", SAVE_TIMEOUT_S));
	ucv_harness_spin(1000);
	g_assert_false(follow->ended);
	ucv_harness_unsuspend_job(h, job_id);
	g_free(ucv_harness_wait_nth_state(h, job_id, "RUNNING", 2, SAVE_TIMEOUT_S));
	after = guest_prints(h, job_id);
	ucv_follow_client_wait(follow, 0, mark, after, LOG_TIMEOUT_S);

	ucv_harness_kill_daemon(h, TRUE);
	ucv_harness_start_daemon(h);
	again = ucv_follow_client_open(h, job_id);
	mark = ucv_follow_client_wait(again, 0, 0, GUEST_MARKER, LOG_TIMEOUT_S);
	mark = ucv_follow_client_wait(again, 0, mark, before, LOG_TIMEOUT_S);
	ucv_follow_client_wait(again, 0, mark, after, LOG_TIMEOUT_S);

	ucv_harness_terminate_job(h, job_id);
	ucv_follow_client_wait_end(again, 60);
}

/* Every machine of a job has its own log, told apart by rank. */
static void
test_follow_ranks(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autoptr(UcvFollowClient) follow = NULL;

	ucv_harness_create_job(h, job_id, 2);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	follow = ucv_follow_client_open(h, job_id);
	for (guint rank = 0; rank < 2; rank++) {
		g_autofree gchar *hostname = g_strdup_printf("hostname=j%s-%u", job_id, rank);
		ucv_follow_client_wait(follow, rank, 0, hostname, BOOT_TIMEOUT_S);
	}
	ucv_harness_terminate_job(h, job_id);
	ucv_follow_client_wait_end(follow, 60);
}

/* A job the provider does not know ends its stream at once with 404; the socket stays usable. */
static void
test_follow_unknown_job(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autoptr(UcvFollowClient) follow = ucv_follow_client_open(h, "999999999");

	ucv_follow_client_wait_end(follow, 10);
	g_assert_cmpint(follow->end_status, ==, 404);
	g_assert_nonnull(strstr(follow->end_why, "999999999"));
	g_assert_false(follow->closed);
}

/* Without Core's token there is no socket. */
static void
test_follow_needs_token(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	guint status = 0;
	SoupWebsocketConnection *ws =
		ucv_harness_ws_connect(h, "/ucloud/jobs.provider.test/websocket", FALSE, &status);

	g_assert_null(ws);
	g_assert_cmpuint(status, ==, 401);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/follow/live", test_follow_live);
	g_test_add_func("/follow/across-suspend-and-restart",
			test_follow_across_suspend_and_restart);
	g_test_add_func("/follow/ranks", test_follow_ranks);
	g_test_add_func("/follow/unknown-job", test_follow_unknown_job);
	g_test_add_func("/follow/needs-token", test_follow_needs_token);
	return g_test_run();
}
