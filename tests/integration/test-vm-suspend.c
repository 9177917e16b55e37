/* Suspend and unsuspend of VM jobs: guest RAM kept in a managed save, the host's share freed. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "ucv-harness.h"

#define GUEST_MARKER   "ucloud-virt-guest: ready"
#define BOOT_TIMEOUT_S 120
/* saving or restoring a 1 GiB guest under emulation takes seconds; two busy cores stretch that */
#define SAVE_TIMEOUT_S 180
#define READ_TIMEOUT_S 30
#define COUNT_TRIES    30

/* Short enough (with the prompt) for one terminal row, so the shell echoes it verbatim. */
#define COUNTER_LOOP "(n=0;while :;do n=$((n+1));echo $n>/tmp/count;sleep 1;done)&\n"

static gchar *
console_log(UcvHarness *h, const gchar *job_id)
{
	return g_build_filename(h->state_dir, "jobs", job_id, "console-0.log", NULL);
}

static gchar *
save_image_path(const gchar *job_id)
{
	g_autofree gchar *dir = ucv_harness_save_dir();
	g_autofree gchar *base = g_strdup_printf("ucloud-%s-0.save", job_id);

	return g_build_filename(dir, base, NULL);
}

/* Types `echo "<label>=$(cat <file>)"` and returns what the guest printed after "<label>=". The
 * typed line comes back too, but there "<label>=" is followed by "$(", which the pattern rejects;
 * only the log written after the typing is searched, so a label may be used again. */
static gchar *
guest_read(UcvHarness *h, const gchar *job_id, const gchar *label, const gchar *file)
{
	g_autofree gchar *log = console_log(h, job_id);
	g_autofree gchar *command = g_strdup_printf("echo \"%s=$(cat %s)\"\n", label, file);
	g_autofree gchar *pattern = g_strdup_printf("%s=([0-9a-f]*)\\r?\\n", label);
	g_autoptr(GRegex) regex = g_regex_new(pattern, G_REGEX_RAW, 0, NULL);
	g_autofree gchar *before = NULL;
	gsize offset = 0;
	gint64 deadline;

	g_assert_nonnull(regex);
	if (!g_file_get_contents(log, &before, &offset, NULL))
		offset = 0;
	ucv_harness_type(h, job_id, 0, command);
	deadline = g_get_monotonic_time() + READ_TIMEOUT_S * G_USEC_PER_SEC;
	while (g_get_monotonic_time() < deadline) {
		g_autofree gchar *contents = NULL;
		g_autoptr(GMatchInfo) match = NULL;
		gsize len = 0;

		if (g_file_get_contents(log, &contents, &len, NULL) && len >= offset &&
		    g_regex_match_full(regex, contents + offset, len - offset, 0, 0, &match, NULL))
			return g_match_info_fetch(match, 1);
		ucv_harness_spin(100);
	}
	g_error("the guest did not answer '%s' within %u s; see %s", command, READ_TIMEOUT_S, log);
	return NULL;
}

/* Reads the background counter until it is past `floor`; a read racing the counter's rewrite of
 * the file sees it empty, which counts as 0. */
static guint64
wait_count_above(UcvHarness *h, const gchar *job_id, guint64 floor)
{
	guint64 count = 0;

	for (guint i = 0; i < COUNT_TRIES && count <= floor; i++) {
		g_autofree gchar *value = guest_read(h, job_id, "cnt", "/tmp/count");
		count = g_ascii_strtoull(value, NULL, 10);
	}
	g_assert_cmpuint(count, >, floor);
	return count;
}

/* Waits for the booted guest and gives it something to hold in RAM only (/tmp is a tmpfs): a
 * random token and a counter a background loop bumps every second. Returns the token; *count is
 * a value the counter was seen to reach after it started moving. */
static gchar *
plant_memory(UcvHarness *h, const gchar *job_id, guint64 *count)
{
	g_autofree gchar *token = g_strdup_printf("%08x%08x", g_random_int(), g_random_int());
	g_autofree gchar *store = g_strdup_printf("echo %s >/tmp/token\n", token);
	g_autofree gchar *stored = NULL;

	ucv_harness_wait_console(h, job_id, 0, GUEST_MARKER, BOOT_TIMEOUT_S);
	ucv_harness_type(h, job_id, 0, store);
	stored = guest_read(h, job_id, "tok", "/tmp/token");
	g_assert_cmpstr(stored, ==, token);
	ucv_harness_type(h, job_id, 0, COUNTER_LOOP);
	*count = wait_count_above(h, job_id, 1);
	return g_steal_pointer(&token);
}

static guint
count_ready_markers(UcvHarness *h, const gchar *job_id)
{
	g_autofree gchar *log = console_log(h, job_id);
	g_autofree gchar *contents = NULL;
	gsize len = 0;
	guint found = 0;

	g_assert_true(g_file_get_contents(log, &contents, &len, NULL));
	/* memmem, not strstr: boot firmware may have written NUL bytes into the log */
	for (const gchar *at = contents;
	     (at = memmem(at, contents + len - at, GUEST_MARKER, strlen(GUEST_MARKER))) != NULL;
	     at += strlen(GUEST_MARKER))
		found++;
	return found;
}

/* The guest went on where it stopped: the same token, a counter still counting up from its value
 * before the suspend, and no second boot. */
static void
assert_memory_kept(UcvHarness *h, const gchar *job_id, const gchar *token, guint64 count)
{
	g_autofree gchar *stored = guest_read(h, job_id, "tok", "/tmp/token");

	g_assert_cmpstr(stored, ==, token);
	wait_count_above(h, job_id, count);
	g_assert_cmpuint(count_ready_markers(h, job_id), ==, 1);
}

static gint
has_managed_save(UcvHarness *h, const gchar *job_id)
{
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	virDomainPtr domain = virDomainLookupByName(h->conn, name);
	gint has;

	g_assert_nonnull(domain);
	has = virDomainHasManagedSaveImage(domain, 0);
	virDomainFree(domain);
	return has;
}

/* Suspended: the machine is defined but not running, its RAM in a managed-save image. */
static void
assert_saved(UcvHarness *h, const gchar *job_id)
{
	g_assert_true(ucv_harness_domain_exists(h, job_id, 0));
	g_assert_false(ucv_harness_domain_is_active(h, job_id, 0));
	g_assert_cmpint(has_managed_save(h, job_id), ==, 1);
}

/* Resumed: running again, and libvirt consumed the image when it restored from it. */
static void
assert_restored(UcvHarness *h, const gchar *job_id)
{
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));
	/* libvirt deletes the image only after announcing the restored machine as started */
	for (guint i = 0; i < 50 && has_managed_save(h, job_id) != 0; i++)
		ucv_harness_spin(100);
	g_assert_cmpint(has_managed_save(h, job_id), ==, 0);
}

static void
assert_states(UcvHarness *h, const gchar *job_id, const gchar *expected)
{
	g_autofree gchar *states = NULL;

	/* a late or duplicate update would arrive within this */
	ucv_harness_spin(1000);
	states = ucv_harness_states_of(h, job_id);
	g_assert_cmpstr(states, ==, expected);
}

/* After an unsuspend: RUNNING again, the image consumed, the guest went on where it stopped,
 * and Core heard exactly one suspend and one resume. */
static void
assert_resumed(UcvHarness *h, const gchar *job_id, const gchar *token, guint64 count)
{
	g_free(ucv_harness_wait_nth_state(h, job_id, "RUNNING", 2, SAVE_TIMEOUT_S));
	assert_restored(h, job_id);
	assert_memory_kept(h, job_id, token, count);
	assert_states(h, job_id, "RUNNING,SUSPENDED,RUNNING");
}

typedef void (*JobCall)(UcvHarness *h, const gchar *job_id);

/* A guest with something in RAM, suspended and resumed by the given calls: it goes on where it
 * stopped. */
static void
suspend_and_resume(JobCall suspend, JobCall unsuspend)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *token = NULL;
	guint64 count = 0;

	ucv_harness_create_job(h, job_id, 1);
	token = plant_memory(h, job_id, &count);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", 30));

	suspend(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUSPENDED", SAVE_TIMEOUT_S));
	assert_saved(h, job_id);

	unsuspend(h, job_id);
	assert_resumed(h, job_id, token, count);
}

/* Suspend keeps the guest's RAM; unsuspend continues it where it stopped. */
static void
test_ram_kept(void)
{
	suspend_and_resume(ucv_harness_suspend_job, ucv_harness_unsuspend_job);
}

/* Reserves all of the private libvirtd's host but 1.5 GiB: one 1-GiB test guest fits. */
static gchar *
one_job_host_config(void)
{
	virConnectPtr conn = virConnectOpen(g_getenv("UCV_TEST_LIBVIRT_URI"));
	virNodeInfo info = {0};
	guint64 host_mib;

	g_assert_nonnull(conn);
	g_assert_cmpint(virNodeGetInfo(conn, &info), ==, 0);
	virConnectClose(conn);
	host_mib = info.memory / 1024;
	g_assert_cmpuint(host_mib, >, 1536);
	return g_strdup_printf(
		"[scheduler]\nreserved-cpus = 0\nreserved-memory = %" G_GUINT64_FORMAT "\n",
		host_mib - 1536);
}

/* A suspended job's share of the host goes to a waiting job; resuming it then has to wait for
 * capacity in turn, and it continues with its RAM once that job ends. */
static void
test_frees_capacity(void)
{
	g_autofree gchar *extra = one_job_host_config();
	g_autoptr(UcvHarness) h = ucv_harness_new_with_config(NULL, extra);
	g_autofree gchar *first = ucv_harness_new_job_id();
	g_autofree gchar *second = ucv_harness_new_job_id();
	g_autofree gchar *token = NULL;
	g_autofree gchar *status = NULL;
	g_autofree gchar *last = NULL;
	guint64 count = 0;

	ucv_harness_create_job(h, first, 1);
	token = plant_memory(h, first, &count);
	g_free(ucv_harness_wait_state(h, first, "RUNNING", 30));
	ucv_harness_create_job(h, second, 1);
	g_free(ucv_harness_wait_state(h, second, "IN_QUEUE", 30));
	ucv_harness_spin(1000);
	g_assert_false(ucv_harness_domain_exists(h, second, 0));

	ucv_harness_suspend_job(h, first);
	g_free(ucv_harness_wait_state(h, first, "SUSPENDED", SAVE_TIMEOUT_S));
	g_free(ucv_harness_wait_state(h, second, "RUNNING", BOOT_TIMEOUT_S));
	g_assert_true(ucv_harness_domain_is_active(h, second, 0));
	assert_saved(h, first);

	ucv_harness_unsuspend_job(h, first);
	status = ucv_harness_wait_state(h, first, "IN_QUEUE", 30);
	g_assert_nonnull(status);
	g_assert_nonnull(strstr(status, "Waiting for capacity"));
	/* it stays saved while it waits */
	ucv_harness_spin(1000);
	assert_saved(h, first);
	last = ucv_fake_core_get_last_state(h->core, first);
	g_assert_cmpstr(last, ==, "IN_QUEUE");

	ucv_harness_terminate_job(h, second);
	g_free(ucv_harness_wait_state(h, second, "SUCCESS", 60));
	g_free(ucv_harness_wait_nth_state(h, first, "RUNNING", 2, SAVE_TIMEOUT_S));
	assert_restored(h, first);
	assert_memory_kept(h, first, token, count);
}

/* Core's restart: suspend and unsuspend back to back end in one save and one restore. */
static void
test_restart(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *token = NULL;
	guint64 count = 0;

	ucv_harness_create_job(h, job_id, 1);
	token = plant_memory(h, job_id, &count);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", 30));

	ucv_harness_suspend_job(h, job_id);
	ucv_harness_unsuspend_job(h, job_id);
	g_free(ucv_harness_wait_nth_state(h, job_id, "RUNNING", 2, 2 * SAVE_TIMEOUT_S));
	assert_restored(h, job_id);
	assert_memory_kept(h, job_id, token, count);
	assert_states(h, job_id, "RUNNING,SUSPENDED,RUNNING");
}

/* The daemon is SIGKILLed while a job is suspended: after a restart the job is still suspended,
 * its image untouched, and unsuspend restores it. */
static void
test_daemon_killed(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *token = NULL;
	g_autofree gchar *last = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *after = NULL;
	guint64 count = 0;

	ucv_harness_create_job(h, job_id, 1);
	token = plant_memory(h, job_id, &count);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", 30));
	ucv_harness_suspend_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUSPENDED", SAVE_TIMEOUT_S));
	ucv_harness_wait_outbox_drained(h, 10);
	before = ucv_harness_states_of(h, job_id);

	ucv_harness_kill_daemon(h, TRUE);
	assert_saved(h, job_id);
	ucv_harness_start_daemon(h);
	/* time for the restarted daemon to look at the machine and, wrongly, report or start it */
	ucv_harness_spin(4000);
	after = ucv_harness_states_of(h, job_id);
	g_assert_cmpstr(after, ==, before);
	last = ucv_fake_core_get_last_state(h->core, job_id);
	g_assert_cmpstr(last, ==, "SUSPENDED");
	assert_saved(h, job_id);

	ucv_harness_unsuspend_job(h, job_id);
	assert_resumed(h, job_id, token, count);
}

/* Terminating a suspended job throws its saved RAM away with the machine: SUCCESS. */
static void
test_terminate(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *disk = ucv_harness_disk_path(h, job_id, 0);
	g_autofree gchar *image = save_image_path(job_id);

	ucv_harness_create_job(h, job_id, 1);
	ucv_harness_wait_console(h, job_id, 0, GUEST_MARKER, BOOT_TIMEOUT_S);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", 30));
	ucv_harness_suspend_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUSPENDED", SAVE_TIMEOUT_S));
	assert_saved(h, job_id);
	g_assert_true(g_file_test(image, G_FILE_TEST_EXISTS));

	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	for (guint i = 0; i < 50 && ucv_harness_domain_exists(h, job_id, 0); i++)
		ucv_harness_spin(100);
	g_assert_false(ucv_harness_domain_exists(h, job_id, 0));
	g_assert_false(g_file_test(disk, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(image, G_FILE_TEST_EXISTS));
	assert_states(h, job_id, "RUNNING,SUSPENDED,SUCCESS");
}

/* The documented API's items are the jobs themselves rather than {"job": …}. */
static void
test_documented_form(void)
{
	suspend_and_resume(ucv_harness_suspend_job_documented,
			   ucv_harness_unsuspend_job_documented);
}

/* Waits for an update of the job whose status contains `text`; returns that status. */
static gchar *
wait_status(UcvHarness *h, const gchar *job_id, const gchar *text, guint timeout_s)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;

	while (g_get_monotonic_time() < deadline) {
		g_autoptr(GPtrArray) updates = ucv_fake_core_get_updates(h->core, job_id);

		for (guint i = 0; i < updates->len; i++) {
			UcvFakeCoreUpdate *update = g_ptr_array_index(updates, i);
			if (update->status != NULL && strstr(update->status, text) != NULL)
				return g_strdup(update->status);
		}
		ucv_harness_spin(100);
	}
	g_error("job %s: no status with '%s' within %u s", job_id, text, timeout_s);
	return NULL;
}

/* The save directory is full (the image's name leads to /dev/full, where every write fails with
 * ENOSPC): the job stays RUNNING, its status says why, the guest lost nothing. */
static void
test_save_fails(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *image = save_image_path(job_id);
	g_autofree gchar *token = NULL;
	g_autofree gchar *status = NULL;
	g_autofree gchar *last = NULL;
	g_autofree gchar *states = NULL;
	guint64 count = 0;

	ucv_harness_create_job(h, job_id, 1);
	token = plant_memory(h, job_id, &count);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", 30));
	g_assert_cmpint(symlink("/dev/full", image), ==, 0);

	ucv_harness_suspend_job(h, job_id);
	status = wait_status(h, job_id, "could not be suspended", SAVE_TIMEOUT_S);
	g_test_message("status after the failed save: %s", status);
	g_unlink(image);
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));
	assert_memory_kept(h, job_id, token, count);
	last = ucv_fake_core_get_last_state(h->core, job_id);
	g_assert_cmpstr(last, ==, "RUNNING");
	states = ucv_harness_states_of(h, job_id);
	g_assert_null(strstr(states, "SUSPENDED"));
}

/* Saved memory that will not restore: the machine boots afresh from its disk, the status says
 * so, and the image is kept aside for the admin. */
static void
test_corrupt_image(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *image = save_image_path(job_id);
	g_autofree gchar *status = NULL;
	g_autofree gchar *aside = NULL;
	g_autofree gchar *last = NULL;
	g_autoptr(GError) error = NULL;

	ucv_harness_create_job(h, job_id, 1);
	ucv_harness_wait_console(h, job_id, 0, GUEST_MARKER, BOOT_TIMEOUT_S);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", 30));
	ucv_harness_suspend_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUSPENDED", SAVE_TIMEOUT_S));
	g_assert_true(g_file_set_contents(image, "not a saved machine", -1, &error));
	g_assert_no_error(error);

	ucv_harness_unsuspend_job(h, job_id);
	status = wait_status(h, job_id, "could not be restored", SAVE_TIMEOUT_S);
	last = ucv_fake_core_get_last_state(h->core, job_id);
	g_assert_cmpstr(last, ==, "RUNNING");
	aside = g_strdup_printf("%s.corrupt-", image);
	g_assert_nonnull(strstr(status, aside));
	g_assert_false(g_file_test(image, G_FILE_TEST_EXISTS));
	/* booted from its disk: a second ready line */
	for (guint i = 0; i < BOOT_TIMEOUT_S * 10 && count_ready_markers(h, job_id) < 2; i++)
		ucv_harness_spin(100);
	g_assert_cmpuint(count_ready_markers(h, job_id), ==, 2);
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vm/suspend/ram-kept", test_ram_kept);
	g_test_add_func("/vm/suspend/frees-capacity", test_frees_capacity);
	g_test_add_func("/vm/suspend/restart", test_restart);
	g_test_add_func("/vm/suspend/daemon-killed", test_daemon_killed);
	g_test_add_func("/vm/suspend/terminate", test_terminate);
	g_test_add_func("/vm/suspend/documented-form", test_documented_form);
	g_test_add_func("/vm/suspend/save-fails", test_save_fails);
	g_test_add_func("/vm/suspend/corrupt-image", test_corrupt_image);
	return g_test_run();
}
