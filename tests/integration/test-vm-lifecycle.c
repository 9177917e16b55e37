/* A VM job end to end: real guests on the private libvirtd, a fake Core recording updates. */
#include "config.h"

#include <glib/gstdio.h>

#include "ucv-harness.h"

#define GUEST_MARKER   "ucloud-virt-guest: ready"
#define BOOT_TIMEOUT_S 120

/* Create → boot → RUNNING → terminate → everything gone → SUCCESS, in that order. */
static void
test_round_trip(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *disk = ucv_harness_disk_path(h, job_id, 0);
	g_autofree gchar *states = NULL;

	ucv_harness_create_job(h, job_id, 1);
	ucv_harness_wait_console(h, job_id, 0, GUEST_MARKER, BOOT_TIMEOUT_S);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", 30));
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));
	g_assert_true(g_file_test(disk, G_FILE_TEST_EXISTS));

	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	g_assert_false(ucv_harness_domain_exists(h, job_id, 0));
	g_assert_false(g_file_test(disk, G_FILE_TEST_EXISTS));

	/* terminating again, and terminating a job never seen, are fine */
	ucv_harness_terminate_job(h, job_id);
	ucv_harness_terminate_job(h, "424242");
	ucv_harness_spin(500);
	states = ucv_harness_states_of(h, job_id);
	g_assert_cmpstr(states, ==, "RUNNING,SUCCESS");
}

/* Core is down when the machine starts: RUNNING arrives, in order, once Core is back. */
static void
test_core_down(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *states = NULL;

	g_autoptr(GPtrArray) updates = NULL;

	g_assert_true(ucv_fake_core_set_down(h->core, TRUE, NULL));
	ucv_harness_create_job(h, job_id, 1);
	ucv_harness_wait_console(h, job_id, 0, GUEST_MARKER, BOOT_TIMEOUT_S);
	ucv_harness_terminate_job(h, job_id);
	for (guint i = 0; i < 100 && ucv_harness_domain_exists(h, job_id, 0); i++)
		ucv_harness_spin(100);
	g_assert_false(ucv_harness_domain_exists(h, job_id, 0));
	updates = ucv_fake_core_get_updates(h->core, NULL);
	g_assert_cmpuint(updates->len, ==, 0);

	g_assert_true(ucv_fake_core_set_down(h->core, FALSE, NULL));
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 90));
	states = ucv_harness_states_of(h, job_id);
	g_assert_cmpstr(states, ==, "RUNNING,SUCCESS");
}

/* The daemon is SIGKILLed while a job runs: after a restart it still knows the job. */
static void
test_daemon_killed(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *disk = ucv_harness_disk_path(h, job_id, 0);
	g_autofree gchar *states = NULL;

	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	ucv_harness_wait_outbox_drained(h, 10);
	ucv_harness_kill_daemon(h, TRUE);
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));

	ucv_harness_start_daemon(h);
	ucv_harness_spin(1000);
	/* the restart neither reported anything new nor touched the machine */
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));
	states = ucv_harness_states_of(h, job_id);
	g_assert_cmpstr(states, ==, "RUNNING");

	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	g_assert_false(ucv_harness_domain_exists(h, job_id, 0));
	g_assert_false(g_file_test(disk, G_FILE_TEST_EXISTS));
}

/* A clean SIGTERM leaves running machines alone; the next start picks them up. */
static void
test_daemon_stopped_cleanly(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();

	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	ucv_harness_kill_daemon(h, FALSE);
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));
	ucv_harness_start_daemon(h);
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

/* An admin's `virsh destroy`: SUCCESS with a status that says it happened outside UCloud. */
static void
test_admin_destroy(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	g_autofree gchar *status = NULL;
	virDomainPtr domain;

	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	domain = virDomainLookupByName(h->conn, name);
	g_assert_nonnull(domain);
	g_assert_cmpint(virDomainDestroy(domain), ==, 0);
	virDomainFree(domain);

	status = ucv_harness_wait_state(h, job_id, "SUCCESS", 60);
	g_assert_nonnull(strstr(status, "outside UCloud"));
	for (guint i = 0; i < 50 && ucv_harness_domain_exists(h, job_id, 0); i++)
		ucv_harness_spin(100);
	g_assert_false(ucv_harness_domain_exists(h, job_id, 0));
}

/* An admin's `virsh shutdown` (the ACPI power button): the guest powers itself off, which is the
 * job ending normally, so SUCCESS and nothing after it. */
static void
test_admin_shutdown(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	g_autofree gchar *status = NULL;
	g_autofree gchar *states = NULL;
	virDomainPtr domain;
	gint64 pressed;

	ucv_harness_create_job(h, job_id, 1);
	/* the guest handles the power button from its ready line on; earlier presses are lost */
	ucv_harness_wait_console(h, job_id, 0, GUEST_MARKER, BOOT_TIMEOUT_S);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", 30));
	domain = virDomainLookupByName(h->conn, name);
	g_assert_nonnull(domain);
	pressed = g_get_monotonic_time();
	g_assert_cmpint(virDomainShutdown(domain), ==, 0);
	virDomainFree(domain);

	status = ucv_harness_wait_state(h, job_id, "SUCCESS", 60);
	g_test_message("shutdown to SUCCESS: %.1f s",
		       (g_get_monotonic_time() - pressed) / (gdouble)G_USEC_PER_SEC);
	/* the guest's own power-off, not a destroy */
	g_assert_nonnull(strstr(status, "powered off"));
	for (guint i = 0; i < 50 && ucv_harness_domain_exists(h, job_id, 0); i++)
		ucv_harness_spin(100);
	g_assert_false(ucv_harness_domain_exists(h, job_id, 0));
	ucv_harness_spin(500);
	states = ucv_harness_states_of(h, job_id);
	g_assert_cmpstr(states, ==, "RUNNING,SUCCESS");
}

/* An admin's `virsh managedsave`: SUSPENDED; `virsh start` restores it: RUNNING again. */
static void
test_admin_managed_save(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	g_autofree gchar *status = NULL;
	g_autofree gchar *states = NULL;
	virDomainPtr domain;

	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	domain = virDomainLookupByName(h->conn, name);
	g_assert_nonnull(domain);
	g_assert_cmpint(virDomainManagedSave(domain, 0), ==, 0);
	status = ucv_harness_wait_state(h, job_id, "SUSPENDED", 30);
	g_assert_nonnull(strstr(status, "outside UCloud"));

	g_assert_cmpint(virDomainCreate(domain), ==, 0);
	virDomainFree(domain);
	g_free(ucv_harness_wait_nth_state(h, job_id, "RUNNING", 2, 10));
	states = ucv_harness_states_of(h, job_id);
	g_assert_cmpstr(states, ==, "RUNNING,SUSPENDED,RUNNING");
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	g_assert_false(ucv_harness_domain_exists(h, job_id, 0));
}

/* The machine vanished while the daemon was away: FAILURE on the next start. */
static void
test_domain_vanished(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	g_autofree gchar *status = NULL;
	virDomainPtr domain;

	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	ucv_harness_kill_daemon(h, TRUE);
	domain = virDomainLookupByName(h->conn, name);
	g_assert_nonnull(domain);
	virDomainDestroy(domain);
	virDomainUndefine(domain);
	virDomainFree(domain);

	ucv_harness_start_daemon(h);
	status = ucv_harness_wait_state(h, job_id, "FAILURE", 30);
	g_assert_nonnull(strstr(status, "disappeared"));
}

/* A bad image: FAILURE with a readable status, nothing left behind. */
static void
test_bad_image(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *broken = g_build_filename(h->image_dir, "ucv-test-guest.qcow2", NULL);
	g_autofree gchar *status = NULL;

	/* replace the guest with a qcow2 whose header is garbage after the magic */
	g_assert_cmpint(g_unlink(broken), ==, 0);
	g_assert_true(g_file_set_contents(broken, "QFI\xfb garbage, not a disk", -1, NULL));
	ucv_harness_create_job(h, job_id, 1);
	status = ucv_harness_wait_state(h, job_id, "FAILURE", 60);
	g_assert_nonnull(strstr(status, "disk"));
	g_assert_false(ucv_harness_domain_exists(h, job_id, 0));
}

/* An image the site does not have: FAILURE that names it. */
static void
test_missing_image(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *image = g_build_filename(h->image_dir, "ucv-test-guest.qcow2", NULL);
	g_autofree gchar *status = NULL;

	g_assert_cmpint(g_unlink(image), ==, 0);
	ucv_harness_create_job(h, job_id, 1);
	status = ucv_harness_wait_state(h, job_id, "FAILURE", 60);
	g_assert_nonnull(strstr(status, "ucv-test-guest"));
	g_assert_false(ucv_harness_domain_exists(h, job_id, 0));
}

/* The documented API's create leaves the application out: the provider asks Core for it. */
static void
test_documented_form(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *full = ucv_harness_vm_job_json(job_id, 1);
	g_autofree gchar *body = g_strdup_printf(
		"{\"items\":[{\"id\":\"%s\",\"owner\":{\"createdBy\":\"user\",\"project\":null},"
		"\"updates\":[],\"specification\":{\"application\":{\"name\":\"test-guest\","
		"\"version\":\"1\"},\"product\":{\"id\":\"test-vm\",\"category\":\"test-vm\","
		"\"provider\":\"test\"},\"name\":null,\"replicas\":1,\"allowDuplicateJob\":false,"
		"\"parameters\":{\"debug\":{\"type\":\"boolean\",\"value\":true}},"
		"\"resources\":null,\"timeAllocation\":{\"hours\":1,\"minutes\":0,\"seconds\":0}},"
		"\"status\":{\"state\":\"IN_QUEUE\"},\"createdAt\":1633329776235}]}",
		job_id);
	g_autoptr(JsonNode) reply = NULL;
	guint status = 0;

	ucv_fake_core_set_job(h->core, job_id, full);
	reply = ucv_harness_call(h, "POST", "/ucloud/test/jobs", body, &status);
	g_assert_cmpuint(status, ==, 200);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

/* A job with a time allocation: extend pushes the whole new allocation and postpones expiry;
 * at the deadline the machine goes and Core hears EXPIRED. */
static void
test_expiry_and_extend(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *job = ucv_harness_vm_job_json(job_id, 1);
	g_auto(GStrv) parts = g_strsplit(job, "\"timeAllocation\":null", 2);
	g_autofree gchar *timed =
		g_strjoinv("\"timeAllocation\":{\"hours\":0,\"minutes\":0,\"seconds\":6}", parts);
	g_autofree gchar *create = g_strdup_printf("{\"items\":[%s]}", timed);
	g_autofree gchar *extend = g_strdup_printf(
		"{\"items\":[{\"job\":%s,\"requestedTime\":{\"hours\":0,\"minutes\":0,"
		"\"seconds\":10}}]}",
		timed);
	g_autoptr(JsonNode) created = NULL;
	g_autoptr(JsonNode) extended = NULL;
	g_autoptr(GPtrArray) updates = NULL;
	g_autofree gchar *states = NULL;
	gint64 new_time = 0;
	guint status = 0;

	created = ucv_harness_call(h, "POST", "/ucloud/test/jobs", create, &status);
	g_assert_cmpuint(status, ==, 200);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	extended = ucv_harness_call(h, "POST", "/ucloud/test/jobs/extend", extend, &status);
	g_assert_cmpuint(status, ==, 200);
	/* without the extend it would have expired 6 s after RUNNING */
	ucv_harness_spin(8000);
	states = ucv_harness_states_of(h, job_id);
	g_assert_cmpstr(states, ==, "RUNNING");
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));
	updates = ucv_fake_core_get_updates(h->core, job_id);
	for (guint i = 0; i < updates->len; i++) {
		UcvFakeCoreUpdate *update = g_ptr_array_index(updates, i);
		if (update->new_time_allocation_ms > 0)
			new_time = update->new_time_allocation_ms;
	}
	g_assert_cmpint(new_time, ==, 16000);

	g_free(ucv_harness_wait_state(h, job_id, "EXPIRED", 30));
	for (guint i = 0; i < 50 && ucv_harness_domain_exists(h, job_id, 0); i++)
		ucv_harness_spin(100);
	g_assert_false(ucv_harness_domain_exists(h, job_id, 0));
}

/* Core's documented verify lists a job this provider never saw: Core hears FAILURE. */
static void
test_verify_unknown(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *job = ucv_harness_vm_job_json(job_id, 1);
	g_autofree gchar *body = g_strdup_printf("{\"items\":[%s]}", job);
	g_autoptr(JsonNode) reply = NULL;
	g_autofree gchar *status_line = NULL;
	guint status = 0;

	reply = ucv_harness_call(h, "POST", "/ucloud/test/jobs/verify", body, &status);
	g_assert_cmpuint(status, ==, 200);
	status_line = ucv_harness_wait_state(h, job_id, "FAILURE", 30);
	g_assert_nonnull(strstr(status_line, "does not know"));
	g_assert_false(ucv_harness_domain_exists(h, job_id, 0));
}

/* An ed25519 public key with random key bytes, and its OpenSSH fingerprint. */
static gchar *
make_ssh_key(gchar **fingerprint)
{
	g_autoptr(GByteArray) blob = g_byte_array_new();
	const gchar *type = "ssh-ed25519";
	guint8 length[4] = {0, 0, 0, 11};
	guint8 key_length[4] = {0, 0, 0, 32};
	guint8 digest[32];
	gsize digest_len = sizeof(digest);
	g_autoptr(GChecksum) sha256 = g_checksum_new(G_CHECKSUM_SHA256);
	g_autofree gchar *blob64 = NULL;
	g_autofree gchar *digest64 = NULL;

	g_byte_array_append(blob, length, 4);
	g_byte_array_append(blob, (const guint8 *)type, 11);
	g_byte_array_append(blob, key_length, 4);
	for (guint i = 0; i < 32; i++) {
		guint8 byte = g_random_int_range(0, 256);
		g_byte_array_append(blob, &byte, 1);
	}
	g_checksum_update(sha256, blob->data, blob->len);
	g_checksum_get_digest(sha256, digest, &digest_len);
	digest64 = g_base64_encode(digest, digest_len);
	g_strdelimit(digest64, "=", '\0');
	*fingerprint = g_strdup_printf("SHA256:%s", digest64);
	blob64 = g_base64_encode(blob->data, blob->len);
	return g_strdup_printf("ssh-ed25519 %s tester@example", blob64);
}

/* The machine's first boot: its hostname and the owner's SSH key arrive on the seed. */
static void
test_first_boot(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *job = ucv_harness_vm_job_json(job_id, 1);
	g_autofree gchar *fingerprint = NULL;
	g_autofree gchar *key = make_ssh_key(&fingerprint);
	g_auto(GStrv) parts = g_strsplit(job, "\"sshEnabled\":false", 2);
	g_autofree gchar *ssh_job = g_strjoinv("\"sshEnabled\":true", parts);
	g_autofree gchar *body = g_strdup_printf("{\"items\":[%s]}", ssh_job);
	g_autofree gchar *expected =
		g_strdup_printf("seed hostname=j%s-0 key=%s", job_id, fingerprint);
	g_autoptr(JsonNode) reply = NULL;
	guint status = 0;

	ucv_fake_core_add_ssh_key(h->core, "laptop", key);
	reply = ucv_harness_call(h, "POST", "/ucloud/test/jobs", body, &status);
	g_assert_cmpuint(status, ==, 200);
	ucv_harness_wait_console(h, job_id, 0, expected, BOOT_TIMEOUT_S);
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vm/round-trip", test_round_trip);
	g_test_add_func("/vm/core-down", test_core_down);
	g_test_add_func("/vm/daemon-killed", test_daemon_killed);
	g_test_add_func("/vm/daemon-stopped-cleanly", test_daemon_stopped_cleanly);
	g_test_add_func("/vm/admin-destroy", test_admin_destroy);
	g_test_add_func("/vm/admin-shutdown", test_admin_shutdown);
	g_test_add_func("/vm/admin-managed-save", test_admin_managed_save);
	g_test_add_func("/vm/domain-vanished", test_domain_vanished);
	g_test_add_func("/vm/bad-image", test_bad_image);
	g_test_add_func("/vm/missing-image", test_missing_image);
	g_test_add_func("/vm/documented-form", test_documented_form);
	g_test_add_func("/vm/expiry-and-extend", test_expiry_and_extend);
	g_test_add_func("/vm/verify-unknown", test_verify_unknown);
	g_test_add_func("/vm/first-boot", test_first_boot);
	return g_test_run();
}
