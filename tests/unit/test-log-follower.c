/* The log follower on real files in a temporary directory: the backlog, appends, a file that
 * appears late, rotation and truncation as virtlogd and an administrator cause them, pausing,
 * finishing, and characters split across writes. */
#include "config.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "console/ucv-log-follower.h"

#define FFFD "\xef\xbf\xbd"

typedef struct {
	gchar *dir;
	gchar *path;
	UcvLogFollower *follower;
	GString *output;
	guint pieces;
	guint finished_count;
	guint watchdog_id;
} Fixture;

/* A hung test fails here instead of waiting for the harness to kill it. */
static gboolean
watchdog_cb(gpointer user_data)
{
	g_error("test timed out");
	return G_SOURCE_REMOVE;
}

/* Every piece is checked as the owner relies on it: valid, NUL-terminated, not too long. The
 * tests write no NUL, so g_utf8_validate() can judge. */
static void
output_cb(UcvLogFollower *follower, const gchar *text, guint64 length, Fixture *fx)
{
	g_assert_cmpuint(length, >, 0);
	g_assert_cmpuint(length, <=, UCV_LOG_FOLLOWER_OUTPUT_MAX);
	g_assert_cmpint(text[length], ==, '\0');
	g_assert_true(g_utf8_validate(text, (gssize)length, NULL));
	g_assert_cmpuint(fx->finished_count, ==, 0);
	g_string_append_len(fx->output, text, (gssize)length);
	fx->pieces++;
}

static void
finished_cb(UcvLogFollower *follower, Fixture *fx)
{
	fx->finished_count++;
}

static void
fixture_setup(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	fx->dir = g_dir_make_tmp("ucv-log-follower-XXXXXX", &error);
	g_assert_no_error(error);
	fx->path = g_build_filename(fx->dir, "console.log", NULL);
	fx->output = g_string_new(NULL);
	fx->watchdog_id = g_timeout_add_seconds(30, watchdog_cb, NULL);
}

static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
	g_autoptr(GDir) dir = g_dir_open(fx->dir, 0, NULL);
	const gchar *name;

	if (fx->follower != NULL) {
		g_object_add_weak_pointer(G_OBJECT(fx->follower), (gpointer *)&fx->follower);
		g_object_unref(fx->follower);
		g_assert_null(fx->follower);
	}
	while (g_main_context_iteration(NULL, FALSE))
		;
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *file = g_build_filename(fx->dir, name, NULL);

		g_assert_cmpint(g_unlink(file), ==, 0);
	}
	g_assert_cmpint(g_rmdir(fx->dir), ==, 0);
	g_clear_handle_id(&fx->watchdog_id, g_source_remove);
	g_string_free(fx->output, TRUE);
	g_free(fx->path);
	g_free(fx->dir);
}

static void
follow(Fixture *fx, gsize backlog_bytes)
{
	fx->follower = ucv_log_follower_new(fx->path, backlog_bytes);
	g_signal_connect(fx->follower, "output", G_CALLBACK(output_cb), fx);
	g_signal_connect(fx->follower, "finished", G_CALLBACK(finished_cb), fx);
	ucv_log_follower_start(fx->follower);
}

/* Appends as virtlogd does: with O_APPEND, the file never reopened in between. */
static void
append_len(const gchar *path, const gchar *data, gsize len)
{
	gint fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, data, len), ==, (gssize)len);
	g_assert_cmpint(close(fd), ==, 0);
}

static void
append(const gchar *path, const gchar *text)
{
	append_len(path, text, strlen(text));
}

static void
wait_for_output(Fixture *fx, const gchar *expected)
{
	while (fx->output->len < strlen(expected))
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpstr(fx->output->str, ==, expected);
}

static gboolean
flag_cb(gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
	return G_SOURCE_REMOVE;
}

/* Long enough for file monitor events and idle reads to arrive, so that their absence means
 * something. */
static void
run_for(guint ms)
{
	gboolean done = FALSE;

	g_timeout_add(ms, flag_cb, &done);
	while (!done)
		g_main_context_iteration(NULL, TRUE);
}

/* Lines of differing lengths, so a window rarely starts at a line start by chance. */
static GString *
numbered_lines(guint count)
{
	GString *content = g_string_new(NULL);

	for (guint i = 0; i < count; i++)
		g_string_append_printf(content, "line %u%.*s\n", i, (gint)(i % 7), "-------");
	return content;
}

static void
test_backlog_whole_lines(Fixture *fx, gconstpointer data)
{
	g_autoptr(GString) content = numbered_lines(20000);
	const gsize backlog = 1000;
	gsize window = content->len - backlog;
	const gchar *last_line = g_strrstr_len(content->str, (gssize)content->len - 1, "\n") + 1;
	gsize start;

	g_assert_true(g_file_set_contents(fx->path, content->str, (gssize)content->len, NULL));
	follow(fx, backlog);
	while (!g_str_has_suffix(fx->output->str, last_line))
		g_main_context_iteration(NULL, TRUE);

	/* a tail of the file, within the window, starting right after the window's first break */
	g_assert_cmpuint(fx->output->len, <=, backlog);
	start = content->len - fx->output->len;
	g_assert_cmpstr(content->str + start, ==, fx->output->str);
	g_assert_cmpint(content->str[start - 1], ==, '\n');
	if (start > window)
		g_assert_null(memchr(content->str + window, '\n', start - 1 - window));
}

/* A window that starts exactly at a line start keeps that line. */
static void
test_backlog_window_at_line_start(Fixture *fx, gconstpointer data)
{
	g_assert_true(g_file_set_contents(fx->path, "aaaa\nbbbb\ncccc\ndddd\n", -1, NULL));
	follow(fx, 10);
	wait_for_output(fx, "cccc\ndddd\n");
	run_for(100);
	g_assert_cmpstr(fx->output->str, ==, "cccc\ndddd\n");
}

/* Output without line breaks (a progress bar) still has a backlog. */
static void
test_backlog_without_line_break(Fixture *fx, gconstpointer data)
{
	g_assert_true(g_file_set_contents(fx->path, "0123456789abcdefghij", -1, NULL));
	follow(fx, 8);
	wait_for_output(fx, "cdefghij");
}

static void
test_small_file_whole(Fixture *fx, gconstpointer data)
{
	g_assert_true(g_file_set_contents(fx->path, "booting\nlogin: ", -1, NULL));
	follow(fx, 64 * 1024);
	wait_for_output(fx, "booting\nlogin: ");
}

static void
test_appended_lines(Fixture *fx, gconstpointer data)
{
	append(fx->path, "");
	follow(fx, 1024);
	run_for(50);
	g_assert_cmpstr(fx->output->str, ==, "");
	append(fx->path, "first\n");
	wait_for_output(fx, "first\n");
	append(fx->path, "second\n");
	append(fx->path, "third\n");
	wait_for_output(fx, "first\nsecond\nthird\n");
}

/* A file that appears after the start is all new output: no backlog cut. */
static void
test_created_later(Fixture *fx, gconstpointer data)
{
	follow(fx, 4);
	run_for(100);
	g_assert_cmpuint(fx->output->len, ==, 0);
	append(fx->path, "first line\nsecond line\n");
	wait_for_output(fx, "first line\nsecond line\n");
}

/* virtlogd renames the full file to <path>.0 and goes on in a new one. What reached the old file
 * around the rename comes out before the new file, and nothing twice. */
static void
test_rotation(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *rotated = g_strdup_printf("%s.0", fx->path);
	g_autofree gchar *rotated_twice = g_strdup_printf("%s.1", fx->path);

	append(fx->path, "one\n");
	follow(fx, 1024);
	wait_for_output(fx, "one\n");

	append(fx->path, "two\n");
	g_assert_cmpint(g_rename(fx->path, rotated), ==, 0);
	append(rotated, "three\n");
	append(fx->path, "four\n");
	wait_for_output(fx, "one\ntwo\nthree\nfour\n");

	/* once more, with the new file's first line read before the rotation */
	append(fx->path, "five\n");
	wait_for_output(fx, "one\ntwo\nthree\nfour\nfive\n");
	g_assert_cmpint(g_rename(rotated, rotated_twice), ==, 0);
	g_assert_cmpint(g_rename(fx->path, rotated), ==, 0);
	run_for(100);
	append(fx->path, "six\n");
	wait_for_output(fx, "one\ntwo\nthree\nfour\nfive\nsix\n");
	run_for(100);
	g_assert_cmpstr(fx->output->str, ==, "one\ntwo\nthree\nfour\nfive\nsix\n");
}

static void
test_truncation(Fixture *fx, gconstpointer data)
{
	append(fx->path, "before truncation\n");
	follow(fx, 1024);
	wait_for_output(fx, "before truncation\n");
	g_assert_cmpint(truncate(fx->path, 0), ==, 0);
	append(fx->path, "after\n");
	wait_for_output(fx, "before truncation\nafter\n");
	run_for(100);
	g_assert_cmpstr(fx->output->str, ==, "before truncation\nafter\n");
}

static void
test_paused(Fixture *fx, gconstpointer data)
{
	append(fx->path, "backlog\n");
	fx->follower = ucv_log_follower_new(fx->path, 1024);
	g_signal_connect(fx->follower, "output", G_CALLBACK(output_cb), fx);
	ucv_log_follower_set_paused(fx->follower, TRUE);
	ucv_log_follower_start(fx->follower);
	run_for(100);
	append(fx->path, "while paused\n");
	run_for(200);
	g_assert_cmpuint(fx->output->len, ==, 0);

	ucv_log_follower_set_paused(fx->follower, FALSE);
	wait_for_output(fx, "backlog\nwhile paused\n");
}

/* Pausing from the output handler, as an owner with a full socket does, stops the reads at once:
 * a large file comes out one piece per pause. */
static void
pause_cb(UcvLogFollower *follower, const gchar *text, guint64 length, Fixture *fx)
{
	ucv_log_follower_set_paused(follower, TRUE);
}

static void
test_paused_from_handler(Fixture *fx, gconstpointer data)
{
	g_autoptr(GString) content = numbered_lines(10000);

	g_assert_true(g_file_set_contents(fx->path, content->str, (gssize)content->len, NULL));
	fx->follower = ucv_log_follower_new(fx->path, content->len);
	g_signal_connect(fx->follower, "output", G_CALLBACK(output_cb), fx);
	g_signal_connect(fx->follower, "output", G_CALLBACK(pause_cb), fx);
	ucv_log_follower_start(fx->follower);
	while (fx->output->len < content->len) {
		guint pieces = fx->pieces;

		while (fx->pieces == pieces)
			g_main_context_iteration(NULL, TRUE);
		run_for(10);
		g_assert_cmpuint(fx->pieces, ==, pieces + 1);
		ucv_log_follower_set_paused(fx->follower, FALSE);
	}
	g_assert_cmpstr(fx->output->str, ==, content->str);
}

/* The last lines written before the job ended come out before "finished", with a dangling
 * partial character as U+FFFD; afterwards nothing. */
static void
test_finish(Fixture *fx, gconstpointer data)
{
	append(fx->path, "running\n");
	follow(fx, 1024);
	wait_for_output(fx, "running\n");
	append(fx->path, "exit code 0\n\xe2\x82");
	ucv_log_follower_finish(fx->follower);
	g_assert_cmpuint(fx->finished_count, ==, 0);
	while (fx->finished_count == 0)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpstr(fx->output->str, ==, "running\nexit code 0\n" FFFD);

	append(fx->path, "too late\n");
	ucv_log_follower_finish(fx->follower);
	run_for(100);
	g_assert_cmpuint(fx->finished_count, ==, 1);
	g_assert_cmpstr(fx->output->str, ==, "running\nexit code 0\n" FFFD);
}

static void
test_finish_without_file(Fixture *fx, gconstpointer data)
{
	follow(fx, 1024);
	ucv_log_follower_finish(fx->follower);
	while (fx->finished_count == 0)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(fx->output->len, ==, 0);
}

static void
test_finish_while_paused(Fixture *fx, gconstpointer data)
{
	append(fx->path, "last words\n");
	fx->follower = ucv_log_follower_new(fx->path, 1024);
	g_signal_connect(fx->follower, "output", G_CALLBACK(output_cb), fx);
	g_signal_connect(fx->follower, "finished", G_CALLBACK(finished_cb), fx);
	ucv_log_follower_set_paused(fx->follower, TRUE);
	ucv_log_follower_start(fx->follower);
	ucv_log_follower_finish(fx->follower);
	run_for(100);
	g_assert_cmpuint(fx->finished_count, ==, 0);
	ucv_log_follower_set_paused(fx->follower, FALSE);
	while (fx->finished_count == 0)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpstr(fx->output->str, ==, "last words\n");
}

static void
test_split_character(Fixture *fx, gconstpointer data)
{
	append(fx->path, "");
	follow(fx, 1024);
	append(fx->path, "caf\xc3");
	wait_for_output(fx, "caf");
	run_for(100);
	g_assert_cmpstr(fx->output->str, ==, "caf");
	append(fx->path, "\xa9 \xf0\x9f");
	wait_for_output(fx, "caf\xc3\xa9 ");
	append(fx->path, "\x98\x80\n");
	wait_for_output(fx, "caf\xc3\xa9 \xf0\x9f\x98\x80\n");
}

/* A large file comes out in pieces within the limit, each valid on its own, even where
 * replacement characters make the text three times longer than the bytes read. */
static void
test_large_pieces(Fixture *fx, gconstpointer data)
{
	g_autoptr(GString) content = numbered_lines(30000);
	g_autoptr(GString) expected = NULL;
	g_autofree gchar *invalid = g_malloc(40000);

	memset(invalid, 0xff, 40000);
	g_string_append_len(content, invalid, 40000);
	g_string_append(content, "\xc3\xa9nd\n");
	expected = numbered_lines(30000);
	for (guint i = 0; i < 40000; i++)
		g_string_append(expected, FFFD);
	g_string_append(expected, "\xc3\xa9nd\n");

	g_assert_true(g_file_set_contents(fx->path, content->str, (gssize)content->len, NULL));
	follow(fx, content->len);
	wait_for_output(fx, expected->str);
	g_assert_cmpuint(fx->pieces, >=, expected->len / UCV_LOG_FOLLOWER_OUTPUT_MAX);
}

static void
test_stop(Fixture *fx, gconstpointer data)
{
	append(fx->path, "before\n");
	follow(fx, 1024);
	wait_for_output(fx, "before\n");
	ucv_log_follower_stop(fx->follower);
	append(fx->path, "after\n");
	ucv_log_follower_finish(fx->follower);
	run_for(100);
	g_assert_cmpstr(fx->output->str, ==, "before\n");
	g_assert_cmpuint(fx->finished_count, ==, 0);
}

static void
add_test(const gchar *name, void (*func)(Fixture *, gconstpointer))
{
	g_test_add(name, Fixture, NULL, fixture_setup, func, fixture_teardown);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	add_test("/log-follower/backlog/whole-lines", test_backlog_whole_lines);
	add_test("/log-follower/backlog/window-at-line-start", test_backlog_window_at_line_start);
	add_test("/log-follower/backlog/without-line-break", test_backlog_without_line_break);
	add_test("/log-follower/backlog/small-file", test_small_file_whole);
	add_test("/log-follower/appended-lines", test_appended_lines);
	add_test("/log-follower/created-later", test_created_later);
	add_test("/log-follower/rotation", test_rotation);
	add_test("/log-follower/truncation", test_truncation);
	add_test("/log-follower/paused", test_paused);
	add_test("/log-follower/paused-from-handler", test_paused_from_handler);
	add_test("/log-follower/finish", test_finish);
	add_test("/log-follower/finish-without-file", test_finish_without_file);
	add_test("/log-follower/finish-while-paused", test_finish_while_paused);
	add_test("/log-follower/split-character", test_split_character);
	add_test("/log-follower/large-pieces", test_large_pieces);
	add_test("/log-follower/stop", test_stop);
	return g_test_run();
}
