/* Terminals on a machine's serial console, as UCloud's web client opens them. */
#include "config.h"

#include <string.h>

#include "ucv-harness.h"
#include "ucv-shell-client.h"

#define PROMPT         "ucv# "
#define OUTPUT_TIMEOUT 30
#define SAVE_TIMEOUT_S 120
/* a short session lifetime, so expiry can be seen without a long wait */
#define SESSION_TIMEOUT "[console]\nsession-timeout = 5\n"

static UcvShellClient *
open_shell(UcvHarness *h, const gchar *job_id)
{
	g_autofree gchar *session = ucv_shell_client_new_session(h, job_id);
	UcvShellClient *shell;
	guint status = 0;

	shell = ucv_shell_client_connect(h, session, &status);
	g_assert_nonnull(shell);
	g_assert_cmpuint(status, ==, 101);
	ucv_shell_client_initialize(shell, session, 80, 24);
	return shell;
}

/* Types `command` (with Enter), checks the input was acked, and waits for `output`. */
static void
run(UcvShellClient *shell, const gchar *command, const gchar *output)
{
	g_autofree gchar *line = g_strconcat(command, "\r", NULL);
	g_autofree gchar *stream_id = ucv_shell_client_input(shell, line);
	gsize mark = shell->output->len;

	ucv_shell_client_wait_ack(shell, stream_id, OUTPUT_TIMEOUT);
	g_assert_cmpuint(ucv_shell_client_acks(shell, stream_id), ==, 1);
	ucv_shell_client_wait_output(shell, mark, output, OUTPUT_TIMEOUT);
}

/* A token the command line does not contain but its output does: the shell computed it. */
static gchar *
echo_command(gchar **expected)
{
	guint32 nonce = g_random_int();

	*expected = g_strdup_printf("hello-42-%08x", nonce);
	return g_strdup_printf("echo hello-$((6*7))-%08x", nonce);
}

static void
test_shell_session(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autoptr(UcvShellClient) shell = NULL;
	g_autofree gchar *expected = NULL;
	g_autofree gchar *command = echo_command(&expected);
	g_autofree gchar *enter = NULL;
	g_autofree gchar *resize = NULL;

	ucv_harness_start_ready_job(h, job_id);
	shell = open_shell(h, job_id);

	ucv_shell_client_wait_output(shell, 0, "[Connected to the machine's serial console.",
				     OUTPUT_TIMEOUT);
	/* Enter shows the prompt: the console is the guest's root shell */
	enter = ucv_shell_client_input(shell, "\r");
	ucv_shell_client_wait_output(shell, 0, PROMPT, OUTPUT_TIMEOUT);
	ucv_shell_client_wait_ack(shell, enter, OUTPUT_TIMEOUT);
	run(shell, command, expected);

	resize = ucv_shell_client_resize(shell, 132, 43);
	ucv_shell_client_wait_ack(shell, resize, OUTPUT_TIMEOUT);
	g_assert_cmpuint(ucv_shell_client_acks(shell, resize), ==, 1);
	g_assert_cmpuint(shell->stray_frames, ==, 0);
	g_assert_false(shell->closed);

	ucv_harness_terminate_job(h, job_id);
	ucv_shell_client_wait_closed(shell, 60);
	g_assert_nonnull(strstr(shell->output->str, "[the job ended]"));
}

/* Two browsers on one console: libvirt gives out one stream, both see everything. */
static void
test_two_viewers(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autoptr(UcvShellClient) first = NULL;
	g_autoptr(UcvShellClient) second = NULL;
	g_autofree gchar *expected = NULL;
	g_autofree gchar *command = echo_command(&expected);
	g_autofree gchar *expected_too = NULL;
	g_autofree gchar *command_too = echo_command(&expected_too);
	gsize second_mark;

	ucv_harness_start_ready_job(h, job_id);
	first = open_shell(h, job_id);
	second = open_shell(h, job_id);
	second_mark = second->output->len;

	run(first, command, expected);
	ucv_shell_client_wait_output(second, second_mark, expected, OUTPUT_TIMEOUT);
	second_mark = second->output->len;
	run(second, command_too, expected_too);
	ucv_shell_client_wait_output(first, 0, expected_too, OUTPUT_TIMEOUT);

	/* one leaves; the other keeps the console */
	g_clear_pointer(&first, ucv_shell_client_free);
	ucv_harness_spin(500);
	run(second, "echo still-$((1+1))", "still-2");
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

static void
assert_refused(UcvHarness *h, const gchar *session)
{
	g_autoptr(UcvShellClient) shell = NULL;
	guint status = 0;

	shell = ucv_shell_client_connect(h, session, &status);
	g_assert_null(shell);
	g_assert_cmpuint(status, ==, 401);
}

/* Made-up, reused, expired and VNC sessions are refused before any upgrade; a socket that
 * names another session when it initializes is closed. */
static void
test_shell_refused(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new_with_config(NULL, SESSION_TIMEOUT);
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *used = NULL;
	g_autofree gchar *expiring = NULL;
	g_autofree gchar *mismatched = NULL;
	g_autofree gchar *other = NULL;
	g_autoptr(JsonObject) vnc = NULL;
	g_autoptr(UcvShellClient) shell = NULL;
	g_autoptr(UcvShellClient) wrong = NULL;
	g_autofree gchar *init = NULL;
	guint status = 0;

	ucv_harness_start_ready_job(h, job_id);
	assert_refused(h, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");

	used = ucv_shell_client_new_session(h, job_id);
	shell = ucv_shell_client_connect(h, used, &status);
	g_assert_nonnull(shell);
	assert_refused(h, used);

	expiring = ucv_shell_client_new_session(h, job_id);
	ucv_harness_spin(6500);
	assert_refused(h, expiring);

	/* a display token is not a shell session */
	vnc = ucv_harness_open_session(h, job_id, "VNC");
	assert_refused(h, strstr(json_object_get_string_member(vnc, "url"), "token=") + 6);

	mismatched = ucv_shell_client_new_session(h, job_id);
	other = ucv_shell_client_new_session(h, job_id);
	wrong = ucv_shell_client_connect(h, mismatched, &status);
	g_assert_nonnull(wrong);
	init = ucv_shell_client_send_initialize(wrong, other, 80, 24);
	ucv_shell_client_wait_closed(wrong, 10);
	g_assert_cmpuint(wrong->close_code, ==, 1008);
	g_assert_null(wrong->out_stream);
	g_assert_cmpuint(ucv_shell_client_acks(wrong, init), ==, 0);
}

/* A socket that never initializes is dropped after 30 s. */
static void
test_shell_not_initialized(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *session = NULL;
	g_autoptr(UcvShellClient) shell = NULL;
	gint64 opened;
	guint status = 0;

	ucv_harness_start_ready_job(h, job_id);
	session = ucv_shell_client_new_session(h, job_id);
	shell = ucv_shell_client_connect(h, session, &status);
	g_assert_nonnull(shell);
	opened = g_get_monotonic_time();
	ucv_shell_client_wait_closed(shell, 60);
	g_assert_cmpint(g_get_monotonic_time() - opened, >=, 29 * G_USEC_PER_SEC);
	g_assert_cmpuint(shell->close_code, ==, 1008);
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

/* Suspend ends the terminal with a message; after the restore a new one works. */
static void
test_shell_across_suspend(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autoptr(UcvShellClient) before = NULL;
	g_autoptr(UcvShellClient) after = NULL;
	g_autofree gchar *expected = NULL;
	g_autofree gchar *command = echo_command(&expected);

	ucv_harness_start_ready_job(h, job_id);
	before = open_shell(h, job_id);
	run(before, "echo before-$((2+3))", "before-5");

	ucv_harness_suspend_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUSPENDED", SAVE_TIMEOUT_S));
	ucv_shell_client_wait_closed(before, 30);
	g_assert_nonnull(strstr(before->output->str, "[the job was suspended]"));

	ucv_harness_unsuspend_job(h, job_id);
	g_free(ucv_harness_wait_nth_state(h, job_id, "RUNNING", 2, SAVE_TIMEOUT_S));
	after = open_shell(h, job_id);
	run(after, command, expected);
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

/* An administrator's console, the way `virsh console` holds it. */
static virStreamPtr
admin_console(UcvHarness *h, const gchar *job_id, guint flags)
{
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	virDomainPtr domain = virDomainLookupByName(h->conn, name);
	virStreamPtr stream = virStreamNew(h->conn, 0);

	g_assert_nonnull(domain);
	g_assert_cmpint(virDomainOpenConsole(domain, NULL, stream, flags), ==, 0);
	virDomainFree(domain);
	return stream;
}

/* `virsh console --force` takes the console from the terminals (they are told); while the admin
 * holds it, a new terminal says so instead of taking it back; afterwards terminals work again. */
static void
test_admin_console(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autoptr(UcvShellClient) user = NULL;
	g_autoptr(UcvShellClient) refused = NULL;
	g_autoptr(UcvShellClient) again = NULL;
	virStreamPtr admin;

	ucv_harness_start_ready_job(h, job_id);
	user = open_shell(h, job_id);
	run(user, "echo mine-$((3*3))", "mine-9");

	admin = admin_console(h, job_id, VIR_DOMAIN_CONSOLE_FORCE);
	ucv_shell_client_wait_closed(user, 30);
	g_assert_nonnull(strstr(user->output->str, "[The console closed"));

	refused = open_shell(h, job_id);
	ucv_shell_client_wait_closed(refused, 30);
	g_assert_nonnull(strstr(refused->output->str, "virsh console"));

	virStreamAbort(admin);
	virStreamFree(admin);
	again = open_shell(h, job_id);
	run(again, "echo back-$((4*4))", "back-16");
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/shell/session", test_shell_session);
	g_test_add_func("/shell/two-viewers", test_two_viewers);
	g_test_add_func("/shell/refused", test_shell_refused);
	g_test_add_func("/shell/not-initialized", test_shell_not_initialized);
	g_test_add_func("/shell/across-suspend", test_shell_across_suspend);
	g_test_add_func("/shell/admin-console", test_admin_console);
	return g_test_run();
}
