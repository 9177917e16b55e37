/* Suspend and resume cost: libvirt managed save and restore of guests whose RAM is mostly random
 * data, with and without the host's page cache, against dd on the directory the images go to;
 * and the provider's suspend against a bare managed save of an equally filled guest. */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "ucv-bench.h"
#include "ucv-harness.h"

#define ROUNDS         3
#define GUEST_MARKER   "ucloud-virt-guest: ready"
#define BOOT_TIMEOUT_S 120
#define FILL_TIMEOUT_S 300
#define SAVE_TIMEOUT_S 300
#define SETTLE_MS      1000
/* QEMU writes a zero page as a few bytes, so only what the guest filled costs anything */
#define DIRTY_SHARE 0.8
/* fills until the image is within this share of the RAM below DIRTY_SHARE, in at most FILL_STEPS */
#define FILL_SLACK 0.02
#define FILL_STEPS 4
/* printed by the shell only once the fill is done; the typed line reads "filled-$((6*7))" */
#define FILLED_MARKER "filled-42"
#define MB            1e6

typedef struct {
	virDomainPtr domain;
	gchar *name;
	gchar *console_log;
} Guest;

static void
guest_free(Guest *g)
{
	if (g->domain != NULL)
		virDomainFree(g->domain);
	g_free(g->name);
	g_free(g->console_log);
	g_free(g);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Guest, guest_free)

static gchar *
save_dir(void)
{
	const gchar *libvirt_dir = g_getenv("UCV_TEST_LIBVIRT_DIR");

	if (libvirt_dir == NULL)
		g_error("UCV_TEST_LIBVIRT_DIR must name the private libvirtd's directory "
			"(tools/with-test-env.sh sets it)");
	/* its lib/ is the private libvirtd's /var/lib/libvirt */
	return g_build_filename(libvirt_dir, "lib", "qemu", "save", NULL);
}

static gchar *
save_image(const gchar *name)
{
	g_autofree gchar *dir = save_dir();
	g_autofree gchar *file = g_strdup_printf("%s.save", name);

	return g_build_filename(dir, file, NULL);
}

static gdouble
file_bytes(const gchar *path)
{
	GStatBuf info;

	if (g_stat(path, &info) != 0)
		g_error("no managed-save image at %s", path);
	return (gdouble)info.st_size;
}

static void
copy_file(const gchar *from_dir, const gchar *name, const gchar *to_dir)
{
	g_autoptr(GFile) from = g_file_new_build_filename(from_dir, name, NULL);
	g_autoptr(GFile) to = g_file_new_build_filename(to_dir, name, NULL);
	g_autoptr(GError) error = NULL;

	g_file_copy(from, to, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error);
	g_assert_no_error(error);
}

static void
run(const gchar *cmd)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *err = NULL;
	gint status = 0;

	if (!g_spawn_command_line_sync(cmd, NULL, &err, &status, &error) ||
	    !g_spawn_check_wait_status(status, NULL))
		g_error("%s failed: %s", cmd, error != NULL ? error->message : err);
}

/* A provider job's domain XML with the job's directory written as @JOBDIR@, and its seed, so bare
 * guests carry the same devices as the provider's. */
static gchar *
domain_template(UcvHarness *h)
{
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *job_dir = g_build_filename(h->state_dir, "jobs", job_id, NULL);
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	g_auto(GStrv) parts = NULL;
	virDomainPtr domain;
	gchar *xml;

	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	domain = virDomainLookupByName(h->conn, name);
	g_assert_nonnull(domain);
	xml = virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE);
	virDomainFree(domain);
	copy_file(job_dir, "seed-0.iso", h->dir);
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	parts = g_strsplit(xml, job_dir, -1);
	free(xml);
	return g_strjoinv("@JOBDIR@", parts);
}

static gsize
log_size(const gchar *log)
{
	GStatBuf info;

	return g_stat(log, &info) == 0 ? (gsize)info.st_size : 0;
}

/* memmem, not strstr: boot firmware may write NUL bytes into a console log */
static gboolean
log_has(const gchar *log, gsize offset, const gchar *text)
{
	g_autofree gchar *contents = NULL;
	gsize len = 0;

	return g_file_get_contents(log, &contents, &len, NULL) && len >= offset &&
	       memmem(contents + offset, len - offset, text, strlen(text)) != NULL;
}

static void
wait_log(const gchar *log, gsize offset, const gchar *text, guint timeout_s)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;

	while (!log_has(log, offset, text)) {
		if (g_get_monotonic_time() > deadline)
			g_error("'%s' did not appear in %s within %u s", text, log, timeout_s);
		/* spinning, not sleeping: the fake Core in this process must keep answering */
		ucv_harness_spin(100);
	}
}

/* Types a line into the guest's serial console. QEMU reads a freshly opened pty only after it
 * noticed the client (it polls once a second), so the stream stays open until the guest echoes. */
static void
console_type(virConnectPtr conn, Guest *g, const gchar *line)
{
	g_autofree gchar *echo = g_strndup(line, strcspn(line, "\r\n"));
	virStreamPtr stream = virStreamNew(conn, 0);
	gsize offset = log_size(g->console_log);
	gsize sent = 0;
	gboolean echoed = FALSE;

	g_assert_nonnull(stream);
	if (virDomainOpenConsole(g->domain, NULL, stream, VIR_DOMAIN_CONSOLE_FORCE) != 0)
		g_error("console of %s: %s", g->name, virGetLastErrorMessage());
	while (sent < strlen(line)) {
		int n = virStreamSend(stream, line + sent, strlen(line) - sent);
		g_assert_cmpint(n, >, 0);
		sent += n;
	}
	for (guint waited = 0; waited < 10000 && !echoed; waited += 100) {
		ucv_harness_spin(100);
		echoed = log_has(g->console_log, offset, echo);
	}
	if (virStreamFinish(stream) < 0)
		virStreamAbort(stream);
	virStreamFree(stream);
	if (!echoed)
		g_error("%s did not echo '%s' within 10 s; see %s", g->name, echo, g->console_log);
}

/* Adds fill_mib MiB of random bytes to the guest's /tmp (a tmpfs, so RAM), in a file of its own
 * (the index-th). Each typed line fits one terminal row, so the shell echoes it verbatim. */
static void
fill_memory(virConnectPtr conn, Guest *g, guint index, guint fill_mib)
{
	g_autofree gchar *dd =
		g_strdup_printf("dd if=/dev/urandom of=/tmp/fill%u bs=1M count=%u;echo "
				"filled-$((6*7))\n",
				index, fill_mib);
	gsize offset;

	if (index == 0)
		console_type(conn, g, "mount -o remount,size=95% /tmp\n");
	offset = log_size(g->console_log);
	console_type(conn, g, dd);
	wait_log(g->console_log, offset, FILLED_MARKER, FILL_TIMEOUT_S);
	if (log_has(g->console_log, offset, "No space") ||
	    log_has(g->console_log, offset, "Killed"))
		g_error("%s could not hold %u MiB more in /tmp; see %s", g->name, fill_mib,
			g->console_log);
}

/* A persistent domain (managed save needs one) from the template: own directory, name, overlay
 * on the test guest and memory size; started and booted to its shell. */
static Guest *
bare_guest_start(UcvHarness *h, const gchar *template, const gchar *name, guint memory_mib)
{
	g_autofree gchar *dir = g_build_filename(h->dir, name, NULL);
	g_autofree gchar *disk = g_build_filename(dir, "disk-0.qcow2", NULL);
	g_autofree gchar *base = g_build_filename(h->image_dir, "ucv-test-guest.qcow2", NULL);
	g_autofree gchar *cmd = NULL;
	g_auto(GStrv) parts = g_strsplit(template, "@JOBDIR@", -1);
	g_autofree gchar *relocated = g_strjoinv(dir, parts);
	g_autoptr(GRegex) name_re = g_regex_new("<name>[^<]*</name>", 0, 0, NULL);
	g_autoptr(GRegex) memory_re =
		g_regex_new("<(memory|currentMemory)( unit='[^']*')?>[0-9]+</", 0, 0, NULL);
	g_autofree gchar *name_tag = g_strdup_printf("<name>%s</name>", name);
	g_autofree gchar *memory_tag = g_strdup_printf("<\\1 unit='MiB'>%u</", memory_mib);
	g_autofree gchar *named = NULL;
	g_autofree gchar *xml = NULL;
	Guest *g = g_new0(Guest, 1);

	g->name = g_strdup(name);
	g->console_log = g_build_filename(dir, "console-0.log", NULL);
	g_assert_cmpint(g_mkdir_with_parents(dir, 0711), ==, 0);
	copy_file(h->dir, "seed-0.iso", dir);
	cmd = g_strdup_printf("qemu-img create -q -f qcow2 -F qcow2 -b %s %s", base, disk);
	run(cmd);
	named = g_regex_replace_literal(name_re, relocated, -1, 0, name_tag, 0, NULL);
	xml = g_regex_replace(memory_re, named, -1, 0, memory_tag, 0, NULL);
	g->domain = virDomainDefineXML(h->conn, xml);
	if (g->domain == NULL || virDomainCreate(g->domain) < 0)
		g_error("starting %s: %s", name, virGetLastErrorMessage());
	wait_log(g->console_log, 0, GUEST_MARKER, BOOT_TIMEOUT_S);
	return g;
}

static void
bare_guest_remove(Guest *g)
{
	virDomainDestroy(g->domain);
	virDomainUndefineFlags(g->domain, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE);
}

/* Whatever a previous step left for the host to write back is not charged to the next one. */
static gint64
quiet_start(void)
{
	sync();
	return g_get_monotonic_time();
}

/* Seconds until virDomainManagedSave returns and, in *durable_s, until its image is surely on the
 * disk as well, as dd's conv=fdatasync makes sure: without BYPASS_CACHE the image is written
 * through the page cache, and a save that returned before flushing it would look faster. */
static gdouble
timed_save(Guest *g, gboolean bypass, gdouble *durable_s)
{
	g_autofree gchar *image = save_image(g->name);
	gint64 start = quiet_start();
	gdouble saved;
	int fd;

	if (virDomainManagedSave(g->domain, bypass ? VIR_DOMAIN_SAVE_BYPASS_CACHE : 0) < 0)
		g_error("managed save of %s: %s", g->name, virGetLastErrorMessage());
	saved = ucv_bench_seconds_since(start);
	if (durable_s != NULL) {
		fd = g_open(image, O_RDONLY, 0);
		g_assert_cmpint(fd, >=, 0);
		g_assert_cmpint(fdatasync(fd), ==, 0);
		close(fd);
		*durable_s = ucv_bench_seconds_since(start);
	}
	return saved;
}

/* Starting a domain that has a managed-save image restores it; the call returns once the guest
 * runs again. */
static gdouble
timed_restore(Guest *g, gboolean bypass)
{
	gint64 start = quiet_start();

	if (virDomainCreateWithFlags(g->domain, bypass ? VIR_DOMAIN_START_BYPASS_CACHE : 0) < 0)
		g_error("restore of %s: %s", g->name, virGetLastErrorMessage());
	return ucv_bench_seconds_since(start);
}

/* Fills the guest until a save image holds DIRTY_SHARE of its RAM; returns the fills (MiB each)
 * to repeat them on another guest of the size. What a fill adds is found out by saving: the guest
 * reuses pages it freed while booting, and those were not zero to begin with. */
static GArray *
fill_to_share(virConnectPtr conn, Guest *g, guint memory_mib)
{
	g_autofree gchar *image = save_image(g->name);
	GArray *fills = g_array_new(FALSE, FALSE, sizeof(guint));
	gdouble target = DIRTY_SHARE * memory_mib;

	for (guint i = 0; i < FILL_STEPS; i++) {
		gdouble held;
		guint more;

		timed_save(g, FALSE, NULL);
		held = file_bytes(image) / 1048576.0;
		timed_restore(g, FALSE);
		if (held >= target - FILL_SLACK * memory_mib)
			break;
		more = (guint)(target - held + 0.5);
		fill_memory(conn, g, fills->len, more);
		g_array_append_val(fills, more);
	}
	return fills;
}

/* Random bytes in RAM for dd to write: zeros might be cheaper for the host's disk than what the
 * images hold, and reading /dev/urandom might be slower than the disk. */
typedef struct {
	gchar *dir;
	gchar *source;
	gchar *target;
} DdFiles;

static DdFiles *
dd_files_new(guint max_mib)
{
	DdFiles *f = g_new0(DdFiles, 1);
	g_autofree gchar *images = save_dir();
	g_autofree gchar *cmd = NULL;

	f->dir = g_mkdtemp(g_strdup(g_file_test("/dev/shm", G_FILE_TEST_IS_DIR)
					    ? "/dev/shm/ucv-bench-XXXXXX"
					    : "/tmp/ucv-bench-XXXXXX"));
	g_assert_nonnull(f->dir);
	f->source = g_build_filename(f->dir, "random", NULL);
	f->target = g_build_filename(images, "bench-dd.img", NULL);
	cmd = g_strdup_printf("dd if=/dev/urandom of=%s bs=1M count=%u status=none", f->source,
			      max_mib);
	run(cmd);
	return f;
}

static void
dd_files_free(DdFiles *f)
{
	g_unlink(f->source);
	g_unlink(f->target);
	g_rmdir(f->dir);
	g_free(f->dir);
	g_free(f->source);
	g_free(f->target);
	g_free(f);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DdFiles, dd_files_free)

/* dd's write (on the disk before it ends) and direct read of `mib` MiB in the image directory,
 * in MB/s. */
static void
dd_round(DdFiles *f, guint mib, gdouble *write_mbs, gdouble *read_mbs)
{
	g_autofree gchar *write =
		g_strdup_printf("dd if=%s of=%s bs=1M count=%u conv=fdatasync status=none",
				f->source, f->target, mib);
	g_autofree gchar *read =
		g_strdup_printf("dd if=%s of=/dev/null bs=1M iflag=direct status=none", f->target);
	gdouble bytes = mib * 1048576.0;
	gint64 start;

	start = quiet_start();
	run(write);
	*write_mbs = bytes / MB / ucv_bench_seconds_since(start);
	start = quiet_start();
	run(read);
	*read_mbs = bytes / MB / ucv_bench_seconds_since(start);
	g_unlink(f->target);
}

/* Drops the image's pages from the host's page cache, as a long suspension would. */
static void
evict(const gchar *path)
{
	int fd = g_open(path, O_RDONLY, 0);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(fdatasync(fd), ==, 0);
	g_assert_cmpint(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), ==, 0);
	close(fd);
}

/* A save + restore cycle: flags 0 restoring while the image is still in the page cache (resumed
 * soon after the suspend), flags 0 with it evicted first (resumed much later), BYPASS_CACHE. */
enum { WARM, COLD, BYPASS, N_CYCLES };
static const gchar *const restore_names[N_CYCLES] = {
	"restore, flags 0, image still in the page cache:",
	"restore, flags 0, image evicted from the cache: ",
	"restore, BYPASS_CACHE:                          ",
};

typedef struct {
	GArray *save[2]; /* MB/s; [0] flags 0 (warm and cold cycles), [1] BYPASS_CACHE */
	GArray *restore[N_CYCLES];
	GArray *dd_write;
	GArray *dd_read;
	gdouble image_bytes;
	gdouble max_flush_ms; /* an fdatasync of the image right after the save returned */
} Throughput;

static GArray *
doubles_new(void)
{
	return g_array_new(FALSE, FALSE, sizeof(gdouble));
}

static void
throughput_report(Throughput *t, guint memory_mib)
{
	gdouble dd_write = ucv_bench_percentile(t->dd_write, 0.5);
	gdouble dd_read = ucv_bench_percentile(t->dd_read, 0.5);
	gdouble save[2], restore[N_CYCLES];

	for (guint i = 0; i < 2; i++)
		save[i] = ucv_bench_percentile(t->save[i], 0.5);
	for (guint c = 0; c < N_CYCLES; c++)
		restore[c] = ucv_bench_percentile(t->restore[c], 0.5);
	g_print("  %u MiB guest, save image %.0f MB (%.0f %% of its RAM):\n", memory_mib,
		t->image_bytes / MB, 100.0 * t->image_bytes / (memory_mib * 1048576.0));
	g_print("    dd in the image directory: write (conv=fdatasync) %.0f MB/s, read "
		"(iflag=direct) %.0f MB/s\n",
		dd_write, dd_read);
	g_print("    save, flags 0:        %4.0f MB/s = %.2f x dd write\n", save[0],
		save[0] / dd_write);
	g_print("    save, BYPASS_CACHE:   %4.0f MB/s = %.2f x dd write\n", save[1],
		save[1] / dd_write);
	g_print("    (an fdatasync of the image right after a save returned took at most %.1f "
		"ms%s)\n",
		t->max_flush_ms,
		t->max_flush_ms < 50 ? ": the saves return with their image on the disk" : "");
	for (guint c = 0; c < N_CYCLES; c++)
		g_print("    %s %4.0f MB/s = %.2f x dd read\n", restore_names[c], restore[c],
			restore[c] / dd_read);
	g_print("    BYPASS_CACHE / flags 0: save %.2f, restore %.2f (image cached), %.2f (image "
		"evicted)\n",
		save[1] / save[0], restore[BYPASS] / restore[WARM],
		restore[BYPASS] / restore[COLD]);
}

/* Rounds of the three cycles, which goes first rotating every round, and dd on the image
 * directory in the same round. */
static void
throughput_rounds(Guest *g, guint memory_mib, DdFiles *dd)
{
	g_autofree gchar *image = save_image(g->name);
	Throughput t = {0};

	for (guint i = 0; i < 2; i++)
		t.save[i] = doubles_new();
	for (guint c = 0; c < N_CYCLES; c++)
		t.restore[c] = doubles_new();
	t.dd_write = doubles_new();
	t.dd_read = doubles_new();
	for (guint round = 0; round < ROUNDS; round++) {
		gdouble write_mbs, read_mbs;

		for (guint i = 0; i < N_CYCLES; i++) {
			guint c = (round + i) % N_CYCLES;
			gboolean bypass = c == BYPASS;
			gdouble durable_s = 0;
			gdouble saved_s = timed_save(g, bypass, &durable_s);
			gdouble mb = file_bytes(image) / MB;
			gdouble mbs = mb / saved_s;

			g_array_append_val(t.save[bypass], mbs);
			t.max_flush_ms = MAX(t.max_flush_ms, (durable_s - saved_s) * 1000);
			t.image_bytes = MAX(t.image_bytes, mb * MB);
			if (c == COLD)
				evict(image);
			mbs = mb / timed_restore(g, bypass);
			g_array_append_val(t.restore[c], mbs);
		}
		dd_round(dd, (guint)(t.image_bytes / 1048576.0 + 0.5), &write_mbs, &read_mbs);
		g_array_append_val(t.dd_write, write_mbs);
		g_array_append_val(t.dd_read, read_mbs);
	}
	throughput_report(&t, memory_mib);
	for (guint i = 0; i < 2; i++)
		g_array_unref(t.save[i]);
	for (guint c = 0; c < N_CYCLES; c++)
		g_array_unref(t.restore[c]);
	g_array_unref(t.dd_write);
	g_array_unref(t.dd_read);
}

/* The update carrying `state` that came after the first `seen` of them; its arrival time. */
static gint64
wait_update(UcvHarness *h, const gchar *job_id, const gchar *state, guint seen, guint timeout_s)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;

	while (g_get_monotonic_time() < deadline) {
		g_autoptr(GPtrArray) updates = ucv_fake_core_get_updates(h->core, job_id);
		guint n = 0;

		for (guint i = 0; i < updates->len; i++) {
			UcvFakeCoreUpdate *update = g_ptr_array_index(updates, i);
			if (g_strcmp0(update->state, state) == 0 && n++ == seen)
				return update->received_us;
		}
		ucv_harness_spin(20);
	}
	g_error("job %s: no new %s within %u s (Core saw: %s); see %s/daemon.log", job_id, state,
		timeout_s, ucv_harness_states_of(h, job_id), h->dir);
	return 0;
}

static guint
count_updates(UcvHarness *h, const gchar *job_id, const gchar *state)
{
	g_autoptr(GPtrArray) updates = ucv_fake_core_get_updates(h->core, job_id);
	guint n = 0;

	for (guint i = 0; i < updates->len; i++) {
		UcvFakeCoreUpdate *update = g_ptr_array_index(updates, i);
		n += g_strcmp0(update->state, state) == 0;
	}
	return n;
}

/* Core's suspend or unsuspend call for one job, in the form Core sends: {"items":[{"job":Job}]}.
 */
static void
call_job(UcvHarness *h, const gchar *path, const gchar *job_id)
{
	g_autofree gchar *job = ucv_harness_vm_job_json(job_id, 1);
	g_autofree gchar *body = g_strdup_printf("{\"items\":[{\"job\":%s}]}", job);
	g_autoptr(JsonNode) reply = NULL;
	guint status = 0;

	reply = ucv_harness_call(h, "POST", path, body, &status);
	if (status != 200)
		g_error("POST %s answered %u", path, status);
}

/* Request → SUSPENDED at Core, then unsuspend request → RUNNING at Core, in seconds. Timed with
 * the wall clock, as the fake Core stamps its updates. */
static void
provider_round(UcvHarness *h, const gchar *job_id, gdouble *suspend_s, gdouble *resume_s,
	       gdouble *image_bytes)
{
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	g_autofree gchar *image = save_image(name);
	guint suspended = count_updates(h, job_id, "SUSPENDED");
	guint running = count_updates(h, job_id, "RUNNING");
	gint64 start;

	sync();
	start = g_get_real_time();
	call_job(h, "/ucloud/test/jobs/suspend", job_id);
	*suspend_s = (wait_update(h, job_id, "SUSPENDED", suspended, SAVE_TIMEOUT_S) - start) /
		     (gdouble)G_USEC_PER_SEC;
	*image_bytes = file_bytes(image);
	sync();
	start = g_get_real_time();
	call_job(h, "/ucloud/test/jobs/unsuspend", job_id);
	*resume_s = (wait_update(h, job_id, "RUNNING", running, SAVE_TIMEOUT_S) - start) /
		    (gdouble)G_USEC_PER_SEC;
	g_assert_true(ucv_harness_domain_is_active(h, job_id, 0));
}

/* The bare counterpart, with the provider's default flags (page cache). */
static void
bare_round(Guest *g, gdouble *save_s, gdouble *restore_s, gdouble *image_bytes)
{
	g_autofree gchar *image = save_image(g->name);

	*save_s = timed_save(g, FALSE, NULL);
	*image_bytes = file_bytes(image);
	*restore_s = timed_restore(g, FALSE);
}

/* "a b c" in round order, and then the median (which sorts the array). */
static gdouble
rounds_and_median(GArray *values, GString *out)
{
	for (guint i = 0; i < values->len; i++)
		g_string_append_printf(out, "%s%.3f", i > 0 ? " " : "",
				       g_array_index(values, gdouble, i));
	return ucv_bench_percentile(values, 0.5);
}

static void
print_pair(const gchar *what, const gchar *bare_what, GArray *provider, GArray *bare)
{
	g_autoptr(GString) provider_rounds = g_string_new(NULL);
	g_autoptr(GString) bare_rounds = g_string_new(NULL);
	gdouble p50_provider = rounds_and_median(provider, provider_rounds);
	gdouble p50_bare = rounds_and_median(bare, bare_rounds);

	g_print("  %s %.3f s, %s %.3f s, ratio %.2f (rounds: %s / %s)\n", what, p50_provider,
		bare_what, p50_bare, p50_provider / p50_bare, provider_rounds->str,
		bare_rounds->str);
}

/* A provider job and a bare guest of the same size, both fresh and filled alike, and rounds that
 * alternate which side goes first. The first save of a freshly filled guest takes up to twice as
 * long as later ones, on either side: that first cycle is shown on its own, out of the medians,
 * which three rounds could not otherwise hold steady. */
static void
provider_against_bare(UcvHarness *h, const gchar *template, guint memory_mib, GArray *fills)
{
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autoptr(Guest) job = g_new0(Guest, 1);
	g_autoptr(Guest) bare = NULL;
	g_autoptr(GArray) suspend = doubles_new();
	g_autoptr(GArray) save = doubles_new();
	g_autoptr(GArray) resume = doubles_new();
	g_autoptr(GArray) restore = doubles_new();
	gdouble job_image = 0, bare_image = 0;
	gdouble first_suspend, first_resume, first_save, first_restore;

	job->name = g_strdup_printf("ucloud-%s-0", job_id);
	job->console_log = g_build_filename(h->state_dir, "jobs", job_id, "console-0.log", NULL);
	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	job->domain = virDomainLookupByName(h->conn, job->name);
	g_assert_nonnull(job->domain);
	bare = bare_guest_start(h, template, "bench-suspend-bare", memory_mib);
	wait_log(job->console_log, 0, GUEST_MARKER, BOOT_TIMEOUT_S);
	for (guint i = 0; i < fills->len; i++) {
		fill_memory(h->conn, job, i, g_array_index(fills, guint, i));
		fill_memory(h->conn, bare, i, g_array_index(fills, guint, i));
	}
	provider_round(h, job_id, &first_suspend, &first_resume, &job_image);
	ucv_harness_spin(SETTLE_MS);
	bare_round(bare, &first_save, &first_restore, &bare_image);
	ucv_harness_spin(SETTLE_MS);
	for (guint round = 0; round < ROUNDS; round++) {
		for (guint i = 0; i < 2; i++) {
			gdouble first, second;

			if ((round + i) % 2 == 0) {
				provider_round(h, job_id, &first, &second, &job_image);
				g_array_append_val(suspend, first);
				g_array_append_val(resume, second);
			} else {
				bare_round(bare, &first, &second, &bare_image);
				g_array_append_val(save, first);
				g_array_append_val(restore, second);
			}
			/* the provider reports RUNNING before it is done resuming, and a suspend
			 * waits for that; Core does not send them back to back, so both sides
			 * rest between rounds */
			ucv_harness_spin(SETTLE_MS);
		}
	}
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	bare_guest_remove(bare);
	g_print("provider against bare libvirt, fresh %u MiB guests filled alike (save images: job "
		"%.0f MB, bare %.0f MB), both with the provider's default flags (page cache), "
		"median of %u:\n",
		memory_mib, job_image / MB, bare_image / MB, ROUNDS);
	print_pair("suspend request -> SUSPENDED at Core", "bare virDomainManagedSave", suspend,
		   save);
	print_pair("unsuspend request -> RUNNING at Core", "bare virDomainCreate (restore)", resume,
		   restore);
	g_print("  the first cycle of each fresh guest, before those rounds: suspend %.3f s, bare "
		"save %.3f s; unsuspend %.3f s, bare restore %.3f s\n",
		first_suspend, first_save, first_resume, first_restore);
}

static void
bench_suspend(void)
{
	static const guint sizes_mib[] = {256, 1024};
	/* the harness's product, so the size provider jobs have */
	const guint job_mib = 1024;
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *template = domain_template(h);
	g_autoptr(DdFiles) dd = dd_files_new(sizes_mib[G_N_ELEMENTS(sizes_mib) - 1]);
	g_autoptr(GArray) job_fills = NULL;

	g_print("managed save and restore of guests %.0f %% filled with random bytes, median of %u "
		"(MB = 10^6 bytes of the save image):\n",
		DIRTY_SHARE * 100, ROUNDS);
	for (guint i = 0; i < G_N_ELEMENTS(sizes_mib); i++) {
		g_autofree gchar *name = g_strdup_printf("bench-suspend-%u", sizes_mib[i]);
		g_autoptr(Guest) g = bare_guest_start(h, template, name, sizes_mib[i]);
		g_autoptr(GArray) fills = fill_to_share(h->conn, g, sizes_mib[i]);

		throughput_rounds(g, sizes_mib[i], dd);
		bare_guest_remove(g);
		if (sizes_mib[i] == job_mib)
			job_fills = g_steal_pointer(&fills);
	}
	g_assert_nonnull(job_fills);
	provider_against_bare(h, template, job_mib, job_fills);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/bench/suspend", bench_suspend);
	return g_test_run();
}
