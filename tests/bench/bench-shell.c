/* What the shell WebSocket costs a terminal: keystroke -> echo round trip and the rate of a large
 * `cat`, through the daemon's shell WebSocket next to a console stream this process opens with
 * virDomainOpenConsole on the same guest in the same run. libvirt gives out one console stream
 * per domain, so the two paths take turns in phases (the daemon lets the console go when its last
 * viewer leaves), in the order ucloud-virt, direct, direct, ucloud-virt, … so drift hits both. */
#include "config.h"

#include <glib/gstdio.h>
#include <libvirt-glib/libvirt-glib.h>
#include <string.h>
#include <unistd.h>

#include "ucv-bench.h"
#include "ucv-harness.h"
#include "ucv-shell-client.h"

#define GUEST_MARKER     "ucloud-virt-guest: ready"
#define PROMPT           "ucv# "
#define BOOT_TIMEOUT_S   120
#define SYNC_TIMEOUT_S   30
#define KEY_TIMEOUT_S    10
#define CAT_TIMEOUT_S    300
#define HANDOVER_TIMEOUT 10 /* seconds for the daemon to let the console go */
#define PHASES           6  /* 3 per path */
#define KEY_WARMUP       7  /* per phase, not counted */
#define KEY_SAMPLES      70 /* per phase */
#define CLEAR_EVERY      25 /* keys typed before the line is cleared again */
#define QUIET_MS         150
#define KEY              "a"
#define CLEAR_LINE       "\x15" /* Ctrl-U: the shell's line editor clears the line */
/* The file to `cat`: lines of 79 'x' and a newline, which the tty sends as CR LF. The emulated
 * serial port moves some tens of KB/s under TCG, so this takes a few seconds. */
#define FILE_LINES   4000
#define LINE_CHARS   79
#define LINE_BYTES   (LINE_CHARS + 2)
#define MAKE_FILE    "yes $(printf %%%us|tr ' ' x)|head -n %u >/tmp/big;echo made-$((2+3))\r"
#define MADE_MARKER  "made-5"
#define CAT_COMMAND  "cat /tmp/big;echo end-$((1+1))"
#define CAT_MARKER   "end-2"
#define DIRECT_CHUNK (64 * 1024)

typedef enum { PATH_DAEMON, PATH_DIRECT, N_PATHS } PathKind;

static const gchar *const path_names[N_PATHS] = {
	"ucloud-virt (shell WebSocket)",
	"direct (virDomainOpenConsole)",
};

/* One terminal on the guest's serial console, through either path. Output is collected as it
 * comes, in the shell client's buffer or, for the direct stream, in `direct_output`; `pieces`
 * counts the WebSocket frames or stream reads it came in. */
typedef struct {
	PathKind kind;
	UcvShellClient *shell;
	virStreamPtr stream;
	GString *direct_output;
	gboolean ended;
	guint pieces;
} Terminal;

static void
terminal_free(Terminal *t)
{
	if (t->stream != NULL) {
		virStreamEventRemoveCallback(t->stream);
		virStreamAbort(t->stream);
		virStreamFree(t->stream);
	}
	if (t->shell != NULL) {
		g_signal_handlers_disconnect_by_data(t->shell->ws, t);
		ucv_shell_client_free(t->shell);
	}
	if (t->direct_output != NULL)
		g_string_free(t->direct_output, TRUE);
	g_free(t);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Terminal, terminal_free)

static GString *
terminal_output(Terminal *t)
{
	return t->kind == PATH_DAEMON ? t->shell->output : t->direct_output;
}

static gboolean
terminal_ended(Terminal *t)
{
	return t->kind == PATH_DAEMON ? t->shell->closed : t->ended;
}

static void
on_shell_frame(SoupWebsocketConnection *ws, gint type, GBytes *message, Terminal *t)
{
	t->pieces++;
}

static void
on_direct_event(virStreamPtr stream, int events, void *opaque)
{
	Terminal *t = opaque;

	if (events & VIR_STREAM_EVENT_READABLE) {
		gchar buffer[DIRECT_CHUNK];
		int n;

		while ((n = virStreamRecv(stream, buffer, sizeof(buffer))) > 0) {
			g_string_append_len(t->direct_output, buffer, n);
			t->pieces++;
		}
		if (n != -2)
			t->ended = TRUE;
	}
	if (events & (VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP))
		t->ended = TRUE;
}

static Terminal *
terminal_open_daemon(UcvHarness *h, const gchar *job_id)
{
	g_autofree gchar *session = ucv_shell_client_new_session(h, job_id);
	Terminal *t = g_new0(Terminal, 1);
	guint status = 0;

	t->kind = PATH_DAEMON;
	t->shell = ucv_shell_client_connect(h, session, &status);
	if (t->shell == NULL)
		g_error("the shell WebSocket was refused with HTTP %u", status);
	g_signal_connect(t->shell->ws, "message", G_CALLBACK(on_shell_frame), t);
	ucv_shell_client_initialize(t->shell, session, 80, 24);
	return t;
}

/* Without FORCE, as the daemon opens it: this fails while the daemon still holds the console,
 * so the time until it succeeds is how long the daemon took to let go. */
static Terminal *
terminal_open_direct(virConnectPtr conn, virDomainPtr domain, gdouble *handover_ms)
{
	gint64 start = g_get_monotonic_time();
	Terminal *t = g_new0(Terminal, 1);

	t->kind = PATH_DIRECT;
	t->direct_output = g_string_sized_new(1 << 20);
	for (;;) {
		t->stream = virStreamNew(conn, VIR_STREAM_NONBLOCK);
		g_assert_nonnull(t->stream);
		if (virDomainOpenConsole(domain, NULL, t->stream, 0) == 0)
			break;
		virStreamFree(t->stream);
		t->stream = NULL;
		if (ucv_bench_seconds_since(start) > HANDOVER_TIMEOUT)
			g_error("the console was still taken %u s after the shell closed: %s",
				HANDOVER_TIMEOUT, virGetLastErrorMessage());
		ucv_harness_spin(20);
	}
	*handover_ms = ucv_bench_seconds_since(start) * 1000;
	if (virStreamEventAddCallback(t->stream,
				      VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR |
					      VIR_STREAM_EVENT_HANGUP,
				      on_direct_event, t, NULL) < 0)
		g_error("cannot watch the console stream: %s", virGetLastErrorMessage());
	return t;
}

static void
terminal_send(Terminal *t, const gchar *text)
{
	gsize len = strlen(text);
	gsize sent = 0;

	if (t->kind == PATH_DAEMON) {
		g_free(ucv_shell_client_input(t->shell, text));
		return;
	}
	while (sent < len) {
		int n = virStreamSend(t->stream, text + sent, len - sent);

		if (n == -2) {
			g_main_context_iteration(NULL, FALSE);
			continue;
		}
		if (n < 0)
			g_error("cannot write to the console: %s", virGetLastErrorMessage());
		sent += n;
	}
}

static gboolean
on_deadline(gpointer user_data)
{
	gboolean *expired = user_data;

	*expired = TRUE;
	return G_SOURCE_REMOVE;
}

/* Runs the main loop until `text` is in the output after byte `from`; returns where it ends.
 * Only what arrived since the last look is searched, so a long output costs no more than once. */
static gsize
terminal_wait(Terminal *t, gsize from, const gchar *text, guint timeout_s)
{
	GString *out = terminal_output(t);
	gsize text_len = strlen(text);
	gsize scan = from;
	gboolean expired = FALSE;
	guint deadline = g_timeout_add_seconds(timeout_s, on_deadline, &expired);

	for (;;) {
		const gchar *found = NULL;

		if (out->len >= scan + text_len)
			found = memmem(out->str + scan, out->len - scan, text, text_len);
		if (found != NULL) {
			if (!expired)
				g_source_remove(deadline);
			return (gsize)(found - out->str) + text_len;
		}
		if (out->len >= text_len)
			scan = MAX(scan, out->len - text_len + 1);
		if (expired || terminal_ended(t))
			g_error("%s: \"%s\" did not arrive within %u s (ended %d); the last "
				"output:\n"
				"%s",
				path_names[t->kind], text, timeout_s, terminal_ended(t),
				out->str + MAX(from, out->len > 2000 ? out->len - 2000 : 0));
		g_main_context_iteration(NULL, TRUE);
	}
}

/* Until the output has been still for QUIET_MS (the line editor redraws after Ctrl-U). */
static void
terminal_settle(Terminal *t)
{
	GString *out = terminal_output(t);
	gsize len;

	do {
		len = out->len;
		ucv_harness_spin(QUIET_MS);
	} while (out->len != len);
}

/* The shell answers a fresh command on a clear line. QEMU reads a freshly opened console only
 * once it has noticed the client (it looks once a second): the line waits in the pty till then,
 * and the guest's output before it is dropped. */
static void
terminal_sync(Terminal *t)
{
	static guint counter;
	guint n = ++counter;
	g_autofree gchar *line = g_strdup_printf(CLEAR_LINE "echo ready-$((%u+1))\r", n);
	g_autofree gchar *marker = g_strdup_printf("ready-%u\r\n", n + 1);
	gsize mark = terminal_output(t)->len;
	gsize end;

	terminal_send(t, line);
	end = terminal_wait(t, mark, marker, SYNC_TIMEOUT_S);
	terminal_wait(t, end, PROMPT, SYNC_TIMEOUT_S);
	terminal_settle(t);
}

/* Types KEY at the prompt and times each one until its echo is back; the line is cleared every
 * CLEAR_EVERY keys, so it never grows long. */
static void
keystroke_block(Terminal *t, GArray *latencies_ms)
{
	GString *out = terminal_output(t);

	for (guint i = 0; i < KEY_WARMUP + KEY_SAMPLES; i++) {
		gsize mark;
		gint64 start;
		gdouble ms;

		if (i > 0 && i % CLEAR_EVERY == 0) {
			terminal_send(t, CLEAR_LINE);
			terminal_settle(t);
		}
		mark = out->len;
		start = g_get_monotonic_time();
		terminal_send(t, KEY);
		terminal_wait(t, mark, KEY, KEY_TIMEOUT_S);
		ms = (g_get_monotonic_time() - start) / 1000.0;
		if (i >= KEY_WARMUP)
			g_array_append_val(latencies_ms, ms);
	}
	terminal_send(t, CLEAR_LINE);
	terminal_settle(t);
}

/* Bytes of the file as the tty sends it that are missing, extra or different: 0 when intact. */
static gsize
damaged_bytes(const gchar *got, gsize got_len)
{
	gsize expected_len = (gsize)FILE_LINES * LINE_BYTES;
	gsize damaged = got_len > expected_len ? got_len - expected_len : expected_len - got_len;

	for (gsize i = 0; i < MIN(got_len, expected_len); i++) {
		gsize column = i % LINE_BYTES;
		gchar expected = column < LINE_CHARS ? 'x' : column == LINE_CHARS ? '\r' : '\n';

		damaged += got[i] != expected;
	}
	return damaged;
}

/* CPU seconds (user + system) a process has used so far; 0 when it cannot be read. */
static gdouble
cpu_seconds(const gchar *pid)
{
	g_autofree gchar *path = NULL;
	g_autofree gchar *stat = NULL;
	g_auto(GStrv) fields = NULL;
	const gchar *after_name;

	if (pid == NULL)
		return 0;
	path = g_strdup_printf("/proc/%s/stat", pid);
	if (!g_file_get_contents(path, &stat, NULL, NULL))
		return 0;
	/* the name in parentheses may hold spaces; fields 14 and 15 (utime, stime) follow it */
	after_name = strrchr(stat, ')');
	if (after_name == NULL)
		return 0;
	fields = g_strsplit(after_name + 2, " ", 0);
	if (g_strv_length(fields) < 13)
		return 0;
	return (g_ascii_strtod(fields[11], NULL) + g_ascii_strtod(fields[12], NULL)) /
	       sysconf(_SC_CLK_TCK);
}

/* The processes a terminal's output passes: the guest's QEMU, libvirtd, the daemon (only on its
 * path) and this process, which is the browser's side. */
enum { PROC_QEMU, PROC_LIBVIRTD, PROC_DAEMON, PROC_SELF, N_PROCS };
static const gchar *const proc_names[N_PROCS] = {"QEMU", "libvirtd", "ucloud-virt", "this process"};

typedef struct {
	gchar *pids[N_PROCS]; /* NULL when not known */
	gchar *daemon_log;
} Processes;

/* QEMU and libvirtd from the private libvirtd's pid files, when UCV_TEST_LIBVIRT_DIR names it. */
static void
processes_init(Processes *p, UcvHarness *h, const gchar *domain_name)
{
	const gchar *libvirt_dir = g_getenv("UCV_TEST_LIBVIRT_DIR");

	p->pids[PROC_DAEMON] = g_strdup(g_subprocess_get_identifier(h->daemon));
	p->pids[PROC_SELF] = g_strdup_printf("%d", getpid());
	p->daemon_log = g_build_filename(h->dir, "daemon.log", NULL);
	if (libvirt_dir != NULL) {
		g_autofree gchar *pid_name = g_strdup_printf("%s.pid", domain_name);
		g_autofree gchar *qemu =
			g_build_filename(libvirt_dir, "run", "qemu", pid_name, NULL);
		g_autofree gchar *libvirtd = g_build_filename(libvirt_dir, "libvirtd.pid", NULL);

		if (g_file_get_contents(qemu, &p->pids[PROC_QEMU], NULL, NULL))
			g_strstrip(p->pids[PROC_QEMU]);
		if (g_file_get_contents(libvirtd, &p->pids[PROC_LIBVIRTD], NULL, NULL))
			g_strstrip(p->pids[PROC_LIBVIRTD]);
	}
}

static void
processes_clear(Processes *p)
{
	for (guint i = 0; i < N_PROCS; i++)
		g_clear_pointer(&p->pids[i], g_free);
	g_clear_pointer(&p->daemon_log, g_free);
}

static void
processes_cpu(Processes *p, gdouble *seconds)
{
	for (guint i = 0; i < N_PROCS; i++)
		seconds[i] = cpu_seconds(p->pids[i]);
}

static gdouble
file_bytes(const gchar *path)
{
	GStatBuf info;

	return g_stat(path, &info) == 0 ? (gdouble)info.st_size : 0;
}

/* What a path's `cat` rounds add up to. */
typedef struct {
	GArray *mb_per_s;
	GString *rounds;
	gdouble bytes, seconds;
	gdouble cpu[N_PROCS];
	gdouble log_bytes; /* what the daemon's log grew by */
	guint pieces;
	gsize damaged;
} CatFigures;

/* `cat` of the file: MB/s of its bytes on the wire, from the command's Enter until the marker
 * after it is in; with the CPU each process spent meanwhile and the bytes lost or garbled. */
static void
cat_round(Terminal *t, Processes *procs, CatFigures *fig)
{
	GString *out = terminal_output(t);
	gsize mark = out->len;
	gsize command_end, content_start, content_end, end;
	gdouble cpu_before[N_PROCS], cpu_after[N_PROCS];
	guint pieces = t->pieces;
	gdouble log_before = file_bytes(procs->daemon_log);
	gint64 start;
	gdouble seconds, mbs;

	processes_cpu(procs, cpu_before);
	start = g_get_monotonic_time();
	terminal_send(t, CAT_COMMAND "\r");
	end = terminal_wait(t, mark, CAT_MARKER, CAT_TIMEOUT_S);
	seconds = ucv_bench_seconds_since(start);
	processes_cpu(procs, cpu_after);
	fig->log_bytes += file_bytes(procs->daemon_log) - log_before;
	fig->pieces += t->pieces - pieces;

	command_end = terminal_wait(t, mark, CAT_COMMAND, 1);
	content_start = terminal_wait(t, command_end, "\n", 1);
	content_end = end - strlen(CAT_MARKER);
	fig->damaged += damaged_bytes(out->str + content_start, content_end - content_start);
	mbs = (content_end - content_start) / seconds / 1e6;
	g_array_append_val(fig->mb_per_s, mbs);
	g_string_append_printf(fig->rounds, "%s%.3f", fig->rounds->len > 0 ? " " : "", mbs);
	fig->bytes += content_end - content_start;
	fig->seconds += seconds;
	for (guint i = 0; i < N_PROCS; i++)
		fig->cpu[i] += cpu_after[i] - cpu_before[i];
	terminal_wait(t, end, PROMPT, KEY_TIMEOUT_S);
	terminal_settle(t);
}

static void
make_file(Terminal *t)
{
	g_autofree gchar *line = g_strdup_printf(MAKE_FILE, LINE_CHARS, FILE_LINES);
	gsize mark = terminal_output(t)->len;
	gsize end;

	terminal_send(t, line);
	end = terminal_wait(t, mark, MADE_MARKER "\r\n", CAT_TIMEOUT_S);
	terminal_wait(t, end, PROMPT, KEY_TIMEOUT_S);
	terminal_settle(t);
}

static void
report_latency(GArray **latency_ms, GArray **phase_p50_ms)
{
	gdouble p50[N_PATHS], p99[N_PATHS], max[N_PATHS];

	g_print("keystroke -> echo round trip, %u samples per path after %u warm-up, %u phases "
		"alternating:\n",
		latency_ms[0]->len, KEY_WARMUP * PHASES / N_PATHS, PHASES);
	for (guint k = 0; k < N_PATHS; k++) {
		g_autoptr(GString) phases = g_string_new(NULL);

		p50[k] = ucv_bench_percentile(latency_ms[k], 0.5);
		p99[k] = ucv_bench_percentile(latency_ms[k], 0.99);
		max[k] = ucv_bench_percentile(latency_ms[k], 1.0);
		for (guint i = 0; i < phase_p50_ms[k]->len; i++)
			g_string_append_printf(phases, "%s%.3f", i > 0 ? " " : "",
					       g_array_index(phase_p50_ms[k], gdouble, i));
		g_print("  %s: p50 %.3f ms, p99 %.3f ms, max %.3f ms (p50 per phase: %s)\n",
			path_names[k], p50[k], p99[k], max[k], phases->str);
	}
	g_print("  ratio ucloud-virt / direct: p50 %.2f, p99 %.2f\n",
		p50[PATH_DAEMON] / p50[PATH_DIRECT], p99[PATH_DAEMON] / p99[PATH_DIRECT]);
}

static void
report_throughput(CatFigures *fig)
{
	gdouble mbs[N_PATHS];

	g_print("cat of a %.3f MB file (%u lines of %u characters and CR LF), %u rounds per path "
		"alternating, median:\n",
		(gdouble)FILE_LINES * LINE_BYTES / 1e6, FILE_LINES, LINE_CHARS,
		fig[0].mb_per_s->len);
	for (guint k = 0; k < N_PATHS; k++) {
		mbs[k] = ucv_bench_percentile(fig[k].mb_per_s, 0.5);
		g_print("  %s: %.3f MB/s (rounds: %s), %s\n", path_names[k], mbs[k],
			fig[k].rounds->str,
			fig[k].damaged > 0 ? "OUTPUT DAMAGED" : "output intact");
	}
	g_print("  ratio ucloud-virt / direct: %.2f\n", mbs[PATH_DAEMON] / mbs[PATH_DIRECT]);
	for (guint k = 0; k < N_PATHS; k++) {
		g_autoptr(GString) cpu = g_string_new(NULL);
		gdouble mb = fig[k].bytes / 1e6;

		for (guint i = 0; i < N_PROCS; i++)
			if (k == PATH_DAEMON || i != PROC_DAEMON)
				g_string_append_printf(cpu, "%s%s %.2f", cpu->len > 0 ? ", " : "",
						       proc_names[i], fig[k].cpu[i] / mb);
		g_print("  %s: CPU seconds per MB: %s; QEMU busy %.0f %% of the time; output in "
			"%u pieces of %.0f bytes on average\n",
			path_names[k], cpu->str, 100 * fig[k].cpu[PROC_QEMU] / fig[k].seconds,
			fig[k].pieces, fig[k].bytes / MAX(fig[k].pieces, 1));
		if (fig[k].damaged > 0)
			g_print("  %s: %zu bytes of the file lost or garbled on the way\n",
				path_names[k], fig[k].damaged);
	}
	g_print("  the daemon's log grew by %.1f MB per MB of output on its path (the harness "
		"runs it with -vv)\n",
		fig[PATH_DAEMON].log_bytes / fig[PATH_DAEMON].bytes);
}

static void
bench_shell(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	GArray *latency_ms[N_PATHS], *phase_p50_ms[N_PATHS];
	CatFigures cat[N_PATHS] = {0};
	Processes procs = {0};
	gdouble max_handover_ms = 0;
	virDomainPtr domain;

	for (guint k = 0; k < N_PATHS; k++) {
		latency_ms[k] = g_array_new(FALSE, FALSE, sizeof(gdouble));
		phase_p50_ms[k] = g_array_new(FALSE, FALSE, sizeof(gdouble));
		cat[k].mb_per_s = g_array_new(FALSE, FALSE, sizeof(gdouble));
		cat[k].rounds = g_string_new(NULL);
	}
	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", BOOT_TIMEOUT_S));
	ucv_harness_wait_console(h, job_id, 0, GUEST_MARKER, BOOT_TIMEOUT_S);
	domain = virDomainLookupByName(h->conn, name);
	g_assert_nonnull(domain);
	processes_init(&procs, h, name);

	for (guint phase = 0; phase < PHASES; phase++) {
		/* ucloud-virt, direct, direct, ucloud-virt, ucloud-virt, direct */
		PathKind kind = ((phase + 1) / 2) % 2 ? PATH_DIRECT : PATH_DAEMON;
		g_autoptr(Terminal) t = NULL;
		g_autoptr(GArray) block_ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
		gdouble handover_ms = 0;
		gdouble p50;

		if (kind == PATH_DAEMON)
			t = terminal_open_daemon(h, job_id);
		else
			t = terminal_open_direct(h->conn, domain, &handover_ms);
		max_handover_ms = MAX(max_handover_ms, handover_ms);
		terminal_sync(t);
		if (phase == 0)
			make_file(t);

		keystroke_block(t, block_ms);
		g_array_append_vals(latency_ms[kind], block_ms->data, block_ms->len);
		p50 = ucv_bench_percentile(block_ms, 0.5);
		g_array_append_val(phase_p50_ms[kind], p50);

		cat_round(t, &procs, &cat[kind]);
	}

	g_print("serial console of a running guest under TCG, echoed by the guest's shell:\n");
	report_latency(latency_ms, phase_p50_ms);
	report_throughput(cat);
	g_print("(the daemon let the console go within %.0f ms of its last browser leaving)\n",
		max_handover_ms);

	for (guint k = 0; k < N_PATHS; k++) {
		g_array_unref(latency_ms[k]);
		g_array_unref(phase_p50_ms[k]);
		g_array_unref(cat[k].mb_per_s);
		g_string_free(cat[k].rounds, TRUE);
	}
	processes_clear(&procs);
	virDomainFree(domain);
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

static GLogFunc test_log_handler;

/* In a test, GLib prints debug messages; libvirt's and libsoup's write one per event and frame,
 * which would cost this process more than the terminal it measures. */
static void
drop_debug(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer user_data)
{
	if ((level & G_LOG_LEVEL_DEBUG) == 0)
		test_log_handler(domain, level, message, user_data);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	test_log_handler = g_log_set_default_handler(drop_debug, NULL);
	/* libvirt's events on GLib's loop, before any connection: the direct stream reports there
	 */
	gvir_init(NULL, NULL);
	gvir_event_register();
	g_test_add_func("/bench/shell", bench_shell);
	return g_test_run();
}
