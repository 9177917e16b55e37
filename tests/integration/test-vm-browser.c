/* The VNC console in a real browser: noVNC, given what UCloud's web client gets, shows a job's
 * screen and types into its keyboard. */
#include "config.h"

#include "ucv-harness.h"

#define GUEST_MARKER     "ucloud-virt-guest: ready"
#define BOOT_TIMEOUT_S   120
#define BROWSER_TIMEOUT  180 /* seconds; the test module gives up well before this */
#define KEYS_TIMEOUT_S   30
#define DEFAULT_CHROMIUM "/usr/bin/chromium"

/* What the browser test typed, as the guest's kernel numbers the keys (KEY_Q, KEY_W, KEY_E). */
static const struct {
	const gchar *letter;
	guint code;
} typed[] = {{"q", 16}, {"w", 17}, {"e", 18}};

typedef struct {
	gboolean done;
	gchar *output;
	GError *error;
} Browser;

static void
on_browser_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Browser *browser = user_data;

	g_subprocess_communicate_utf8_finish(G_SUBPROCESS(source), res, &browser->output, NULL,
					     &browser->error);
	browser->done = TRUE;
}

/* A browser test needs node and Chromium; without them this test fails rather than skips, since
 * it is the only proof that a real client works. */
static gchar *
require_node(void)
{
	gchar *node = g_find_program_in_path("node");
	const gchar *chromium = g_getenv("CHROMIUM");

	if (chromium == NULL)
		chromium = DEFAULT_CHROMIUM;
	if (node == NULL)
		g_error("node is not on PATH: the browser tests need it (tools/install-deps.sh)");
	if (!g_file_test(chromium, G_FILE_TEST_IS_EXECUTABLE))
		g_error("%s is missing: the browser tests need it (tools/install-deps.sh)",
			chromium);
	return node;
}

/* Runs tests/browser/<module> with `args` through the runner and waits for it while the main loop
 * turns: the fake Core and the console proxy's client side live in this process. */
static void
run_browser_test(const gchar *module, const gchar *const *args)
{
	const gchar *source_root = g_getenv("UCV_SOURCE_ROOT");
	g_autofree gchar *node = require_node();
	g_autofree gchar *runner = NULL;
	g_autofree gchar *test = NULL;
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) error = NULL;
	Browser browser = {0};
	gint64 deadline = g_get_monotonic_time() + BROWSER_TIMEOUT * G_USEC_PER_SEC;

	if (source_root == NULL)
		g_error("UCV_SOURCE_ROOT is not set: it locates tests/browser");
	runner = g_build_filename(source_root, "tests", "browser", "run.mjs", NULL);
	test = g_build_filename(source_root, "tests", "browser", module, NULL);
	g_ptr_array_add(argv, node);
	g_ptr_array_add(argv, runner);
	g_ptr_array_add(argv, test);
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);

	proc = g_subprocess_newv((const gchar *const *)argv->pdata,
				 G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
				 &error);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8_async(proc, NULL, NULL, on_browser_done, &browser);
	while (!browser.done && g_get_monotonic_time() < deadline)
		ucv_harness_spin(100);
	if (!browser.done) {
		g_subprocess_force_exit(proc);
		while (!browser.done)
			g_main_context_iteration(NULL, TRUE);
		g_error("the browser test %s ran longer than %d s:\n%s", module, BROWSER_TIMEOUT,
			browser.output != NULL ? browser.output : "");
	}
	g_assert_no_error(browser.error);
	/* communicate returns at end of output; the exit status may come a moment later */
	while (!g_subprocess_get_if_exited(proc) && !g_subprocess_get_if_signaled(proc))
		ucv_harness_spin(50);
	g_test_message("%s", browser.output);
	if (!g_subprocess_get_successful(proc))
		g_error("the browser test %s failed:\n%s", module, browser.output);
	g_free(browser.output);
}

/* noVNC connects through the session URL, draws the guest's screen, and the letters it types
 * arrive at the guest's keyboard. */
static void
test_novnc(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autoptr(JsonObject) session = NULL;
	const gchar *args[3] = {NULL};

	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	/* the keyboard is watched from before the ready line on */
	ucv_harness_wait_console(h, job_id, 0, GUEST_MARKER, BOOT_TIMEOUT_S);

	session = ucv_harness_open_session(h, job_id, "VNC");
	g_assert_cmpstr(json_object_get_string_member(session, "type"), ==, "vnc");
	args[0] = json_object_get_string_member(session, "url");
	/* the client passes the password along when there is one, as UCloud's does */
	if (!json_object_get_null_member(session, "password"))
		args[1] = json_object_get_string_member(session, "password");
	run_browser_test("vnc.mjs", args);

	for (gsize i = 0; i < G_N_ELEMENTS(typed); i++) {
		g_autofree gchar *line =
			g_strdup_printf("ucloud-virt-guest: key %u", typed[i].code);
		g_test_message("waiting for '%s' (code %u)", typed[i].letter, typed[i].code);
		ucv_harness_wait_console(h, job_id, 0, line, KEYS_TIMEOUT_S);
	}

	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

/* xterm.js on a page that speaks the shell protocol as UCloud's web client does: a command typed
 * into the terminal runs in the guest and its output shows in the terminal. */
static void
test_xterm(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autoptr(JsonObject) session = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *command = NULL;
	g_autofree gchar *expected = NULL;
	guint32 nonce = g_random_int();
	const gchar *args[5] = {NULL};

	ucv_harness_start_ready_job(h, job_id);
	session = ucv_harness_open_session(h, job_id, "SHELL");
	g_assert_cmpstr(json_object_get_string_member(session, "type"), ==, "shell");
	/* what the web client builds from providerDomain, providerId and the session */
	url = g_strdup_printf(
		"%s/ucloud/test/websocket?session=%s&usernameHint=dGVzdHVzZXI=", h->base_url,
		json_object_get_string_member(session, "sessionIdentifier"));
	command = g_strdup_printf("echo hello-$((6*7))-%08x", nonce);
	expected = g_strdup_printf("hello-42-%08x", nonce);
	args[0] = url;
	args[1] = json_object_get_string_member(session, "sessionIdentifier");
	args[2] = command;
	args[3] = expected;
	run_browser_test("shell.mjs", args);

	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vm/browser/novnc", test_novnc);
	g_test_add_func("/vm/browser/xterm", test_xterm);
	return g_test_run();
}
