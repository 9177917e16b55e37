/* Terminals of a DOCKER job, as UCloud's web client opens them: each browser gets its own shell
 * inside the rank's container, through the container host's agent, as UCloud's user, with the
 * job's folders mounted as the job sees them. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "ucv-docker-fixture.h"
#include "ucv-shell-client.h"

#define OUTPUT_TIMEOUT_S 30
/* from RUNNING (the domain started) until the agent greeted and the container runs */
#define READY_TIMEOUT_S 120

static const gchar sleep_invocation[] = "[{'type':'word','word':'sleep'},"
					"{'type':'word','word':'600'}]";
static const gchar folders[] = "[{'type':'file','path':'/" UCV_DOCKER_DRIVE "/ro-data',"
			       "'readOnly':true},"
			       "{'type':'file','path':'/" UCV_DOCKER_DRIVE "/rw-data',"
			       "'readOnly':false}]";

static const UcvDockerJob sleep_job = {
	.invocation = sleep_invocation,
	.values = "{}",
	.resources = folders,
};

/* interactiveSession SHELL for rank 0 of the DOCKER job `job_json`; its sessionIdentifier. */
static gchar *
new_session(UcvHarness *h, const gchar *job_json)
{
	g_autofree gchar *body = g_strdup_printf(
		"{\"items\":[{\"job\":%s,\"rank\":0,\"sessionType\":\"SHELL\",\"target\":null}]}",
		job_json);
	g_autoptr(JsonNode) reply = NULL;
	JsonObject *session;
	guint status = 0;

	reply = ucv_harness_call(h, "POST", "/ucloud/test/jobs/interactiveSession", body, &status);
	g_assert_cmpuint(status, ==, 200);
	g_assert_nonnull(reply);
	session = json_array_get_object_element(
		json_object_get_array_member(json_node_get_object(reply), "responses"), 0);
	g_assert_cmpstr(json_object_get_string_member(session, "type"), ==, "shell");
	return g_strdup(json_object_get_string_member(session, "sessionIdentifier"));
}

static UcvShellClient *
connect_shell(UcvHarness *h, const gchar *job_json)
{
	g_autofree gchar *session = new_session(h, job_json);
	UcvShellClient *shell;
	guint status = 0;

	shell = ucv_shell_client_connect(h, session, &status);
	g_assert_nonnull(shell);
	g_assert_cmpuint(status, ==, 101);
	ucv_shell_client_initialize(shell, session, 100, 30);
	return shell;
}

/* The first match of `pattern` in the output after `from`, its first group (or all of it);
 * NULL when the socket closed or `timeout_s` passed first. */
static gchar *
wait_match(UcvShellClient *shell, gsize from, const gchar *pattern, guint timeout_s)
{
	g_autoptr(GRegex) regex = g_regex_new(pattern, 0, 0, NULL);
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;

	g_assert_nonnull(regex);
	for (;;) {
		g_autoptr(GMatchInfo) match = NULL;

		if (from <= shell->output->len &&
		    g_regex_match(regex, shell->output->str + from, 0, &match))
			return g_match_info_fetch(match, g_match_info_get_match_count(match) > 1);
		if (shell->closed || g_get_monotonic_time() > deadline)
			return NULL;
		ucv_harness_spin(20);
	}
}

/* Types `command` (with Enter), checks its input was acknowledged once, and returns what
 * `pattern` matched in the output that followed. */
static gchar *
run(UcvShellClient *shell, const gchar *command, const gchar *pattern)
{
	g_autofree gchar *line = g_strconcat(command, "\r", NULL);
	gsize mark = shell->output->len;
	g_autofree gchar *stream_id = ucv_shell_client_input(shell, line);
	gchar *found;

	ucv_shell_client_wait_ack(shell, stream_id, OUTPUT_TIMEOUT_S);
	g_assert_cmpuint(ucv_shell_client_acks(shell, stream_id), ==, 1);
	found = wait_match(shell, mark, pattern, OUTPUT_TIMEOUT_S);
	if (found == NULL)
		g_error("\"%s\" did not answer /%s/ (closed %d); output:\n%s", command, pattern,
			shell->closed, shell->output->str);
	return found;
}

/* A terminal whose shell answers. The job is RUNNING once its machine started: until the agent
 * greeted a terminal is told to come back, and until the container runs the agent refuses the
 * shell; either way the socket closes, and another one is tried. */
static UcvShellClient *
open_ready_shell(UcvHarness *h, const gchar *job_json)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)READY_TIMEOUT_S * G_USEC_PER_SEC;

	for (;;) {
		g_autoptr(UcvShellClient) shell = connect_shell(h, job_json);
		g_autofree gchar *input = NULL;
		g_autofree gchar *ready = NULL;

		/* a refused terminal is closed right after its initialize was answered */
		if (soup_websocket_connection_get_state(shell->ws) == SOUP_WEBSOCKET_STATE_OPEN)
			input = ucv_shell_client_input(shell, "echo ready-$((40+2))\r");
		ready = wait_match(shell, 0, "ready-42", OUTPUT_TIMEOUT_S);
		if (ready != NULL)
			return g_steal_pointer(&shell);
		/* the only two reasons there may be: the engine's and the agent's */
		if (strstr(shell->output->str, "[The container is not ready for a shell yet]") ==
			    NULL &&
		    strstr(shell->output->str, "ucv-agent: the container is not running") == NULL)
			g_error("the terminal ended for another reason:\n%s", shell->output->str);
		g_test_message("no shell yet: %s", shell->output->str);
		if (g_get_monotonic_time() > deadline)
			g_error("no shell within %u s; the last terminal showed:\n%s",
				READY_TIMEOUT_S, shell->output->str);
		ucv_harness_spin(1000);
	}
}

static gboolean
file_exists(const gchar *relative)
{
	g_autofree gchar *path = ucv_docker_drive_path(relative);

	return g_file_test(path, G_FILE_TEST_EXISTS);
}

/* A folder of the drive the job may write to: on UCloud's storage the user's files belong to
 * UCloud's user, as they do inside the container. */
static void
give_to_ucloud_user(const gchar *relative)
{
	g_autofree gchar *keep = g_build_filename(relative, ".keep", NULL);
	g_autofree gchar *path = ucv_docker_drive_path(relative);

	ucv_docker_write_drive_file(keep, "");
	g_assert_cmpint(chown(path, UCV_DOCKER_UID, UCV_DOCKER_UID), ==, 0);
}

/* One terminal: UCloud's user, the browser's size (and its resizes), the folders read-only and
 * read-write as the job asked, the shell's output as it comes; a second terminal at the same
 * time is another shell; `exit` ends a terminal, a browser that leaves ends its shell, and
 * terminate ends the rest. */
static void
test_shell(void)
{
	g_autoptr(UcvHarness) h = ucv_docker_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *job_json = ucv_docker_job_json(job_id, &sleep_job);
	g_autoptr(UcvShellClient) first = NULL;
	g_autoptr(UcvShellClient) second = NULL;
	g_autofree gchar *contents = g_strdup_printf("read-only contents %08x", g_random_int());
	g_autofree gchar *first_pid = NULL;
	g_autofree gchar *second_pid = NULL;
	g_autofree gchar *resize = NULL;
	g_autofree gchar *exit_input = NULL;
	g_autoptr(UcvShellClient) third = NULL;
	g_autofree gchar *third_pid = NULL;
	g_autofree gchar *gone = NULL;
	gchar *found;

	ucv_docker_write_drive_file("ro-data/hello.txt", contents);
	give_to_ucloud_user("rw-data");
	g_assert_false(file_exists("rw-data/y"));
	ucv_docker_start_job(h, job_id, &sleep_job);
	first = open_ready_shell(h, job_json);

	g_free(run(first, "echo uid=$(id -u)", "uid=11042"));
	g_free(run(first, "echo size=$(stty size)", "size=30 100"));
	resize = ucv_shell_client_resize(first, 132, 43);
	ucv_shell_client_wait_ack(first, resize, OUTPUT_TIMEOUT_S);
	g_free(run(first, "echo size=$(stty size)", "size=43 132"));

	g_free(run(first, "cat /work/ro-data/hello.txt", contents));
	g_free(run(first, "touch /work/ro-data/x; echo touch-rc=$?",
		   "(?s)Read-only file system.*touch-rc=1"));
	g_assert_false(file_exists("ro-data/x"));
	g_free(run(first, "touch /work/rw-data/y && echo touched-$((1+1))", "touched-2"));
	g_assert_true(file_exists("rw-data/y"));

	/* a second browser gets a shell of its own, and sees nothing of the first one's */
	second = open_ready_shell(h, job_json);
	first_pid = run(first, "echo pid-$$-end", "pid-([0-9]+)-end");
	second_pid = run(second, "echo pid-$$-end", "pid-([0-9]+)-end");
	g_assert_cmpstr(first_pid, !=, second_pid);
	g_assert_null(strstr(second->output->str, contents));
	found = run(second, "echo uid=$(id -u)", "uid=([0-9]+)");
	g_assert_cmpstr(found, ==, "11042");
	g_free(found);
	g_assert_cmpuint(first->stray_frames, ==, 0);
	g_assert_cmpuint(second->stray_frames, ==, 0);

	/* the shell's own end ends its terminal; the other one goes on */
	exit_input = ucv_shell_client_input(second, "exit\r");
	ucv_shell_client_wait_closed(second, OUTPUT_TIMEOUT_S);
	g_assert_nonnull(strstr(second->output->str, "[The shell ended]"));
	g_free(run(first, "echo still-$((2+2))", "still-4"));

	/* a browser that leaves takes its shell along: the agent hangs up its terminal */
	third = open_ready_shell(h, job_json);
	third_pid = run(third, "echo pid-$$-end", "pid-([0-9]+)-end");
	g_clear_pointer(&third, ucv_shell_client_free);
	gone = g_strdup_printf("for i in 1 2 3 4 5 6 7 8 9 10; do test -d /proc/%s || break; "
			       "sleep 1; done; test -d /proc/%s || echo gone-$((5+5))",
			       third_pid, third_pid);
	g_free(run(first, gone, "gone-10"));

	ucv_harness_terminate_job(h, job_id);
	ucv_shell_client_wait_closed(first, 60);
	g_assert_nonnull(strstr(first->output->str, "[the job ended]"));
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 120));
}

/* An application that runs as root gets root's shell. */
static void
test_shell_as_root(void)
{
	g_autoptr(UcvHarness) h = ucv_docker_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	UcvDockerJob root_job = sleep_job;
	g_autofree gchar *job_json = NULL;
	g_autoptr(UcvShellClient) shell = NULL;

	root_job.run_as_root = TRUE;
	job_json = ucv_docker_job_json(job_id, &root_job);
	ucv_docker_write_drive_file("ro-data/hello.txt", "root\n");
	give_to_ucloud_user("rw-data");
	ucv_docker_start_job(h, job_id, &root_job);
	shell = open_ready_shell(h, job_json);
	g_free(run(shell, "echo uid=$(id -u)", "uid=0\\b"));
	ucv_harness_terminate_job(h, job_id);
	ucv_shell_client_wait_closed(shell, 60);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 120));
}

int
main(int argc, char **argv)
{
	ucv_docker_test_init(&argc, &argv);
	g_test_add_func("/docker-shell/shell", test_shell);
	g_test_add_func("/docker-shell/as-root", test_shell_as_root);
	return ucv_docker_test_run();
}
