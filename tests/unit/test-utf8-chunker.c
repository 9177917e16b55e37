/* The UTF-8 chunker: characters cut at every possible place come out whole and once, invalid
 * bytes become U+FFFD the way browsers decode them, and every piece of output is valid on its
 * own. */
#include "config.h"

#include <string.h>

#include "console/ucv-utf8-chunker.h"

#define FFFD "\xef\xbf\xbd"

/* Pushes `data` and checks that the piece is valid text on its own. Appends it to `all`. */
static void
push_checked(UcvUtf8Chunker *chunker, const gchar *data, gsize len, GString *all)
{
	gsize out_len = G_MAXSIZE;
	g_autofree gchar *out = ucv_utf8_chunker_push(chunker, (const guint8 *)data, len, &out_len);

	g_assert_nonnull(out);
	g_assert_cmpuint(out_len, !=, G_MAXSIZE);
	g_assert_cmpint(out[out_len], ==, '\0');
	g_assert_true(g_utf8_validate(out, out_len, NULL));
	g_string_append_len(all, out, out_len);
}

static void
flush_checked(UcvUtf8Chunker *chunker, GString *all)
{
	gsize out_len = G_MAXSIZE;
	g_autofree gchar *out = ucv_utf8_chunker_flush(chunker, &out_len);

	g_assert_cmpint(out[out_len], ==, '\0');
	g_assert_true(g_utf8_validate(out, out_len, NULL));
	g_string_append_len(all, out, out_len);
}

/* All of `input` in one push, then the end of the stream. */
static gchar *
convert(const gchar *input)
{
	g_autoptr(UcvUtf8Chunker) chunker = ucv_utf8_chunker_new();
	GString *all = g_string_new(NULL);

	push_checked(chunker, input, strlen(input), all);
	flush_checked(chunker, all);
	return g_string_free(all, FALSE);
}

static void
test_ascii(void)
{
	g_autoptr(UcvUtf8Chunker) chunker = ucv_utf8_chunker_new();
	const gchar *line = "login: root\r\n$ ls -l\r\n";
	gsize out_len = 0;
	g_autofree gchar *out = NULL;
	g_autofree gchar *empty = NULL;
	g_autofree gchar *flushed = NULL;

	out = ucv_utf8_chunker_push(chunker, (const guint8 *)line, strlen(line), &out_len);
	g_assert_cmpstr(out, ==, line);
	g_assert_cmpuint(out_len, ==, strlen(line));

	empty = ucv_utf8_chunker_push(chunker, NULL, 0, &out_len);
	g_assert_cmpstr(empty, ==, "");
	g_assert_cmpuint(out_len, ==, 0);

	flushed = ucv_utf8_chunker_flush(chunker, &out_len);
	g_assert_cmpstr(flushed, ==, "");
	g_assert_cmpuint(out_len, ==, 0);
}

/* Every character between two ASCII letters, cut at every byte boundary. */
static void
test_split_everywhere(void)
{
	const gchar *texts[] = {
		"a\xc3\xa9z",         /* é, two bytes */
		"a\xe2\x82\xacz",     /* €, three bytes */
		"a\xf0\x9f\x98\x80z", /* 😀, four bytes */
		"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf",
	};

	for (gsize t = 0; t < G_N_ELEMENTS(texts); t++) {
		const gchar *text = texts[t];
		gsize len = strlen(text);

		for (gsize cut = 0; cut <= len; cut++) {
			g_autoptr(UcvUtf8Chunker) chunker = ucv_utf8_chunker_new();
			g_autoptr(GString) all = g_string_new(NULL);

			push_checked(chunker, text, cut, all);
			push_checked(chunker, text + cut, len - cut, all);
			flush_checked(chunker, all);
			g_assert_cmpstr(all->str, ==, text);
		}
	}
}

static void
test_byte_at_a_time(void)
{
	const gchar *text = "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80!";
	g_autoptr(UcvUtf8Chunker) chunker = ucv_utf8_chunker_new();
	g_autoptr(GString) all = g_string_new(NULL);

	for (gsize i = 0; text[i] != '\0'; i++)
		push_checked(chunker, text + i, 1, all);
	flush_checked(chunker, all);
	g_assert_cmpstr(all->str, ==, text);
}

static void
test_invalid(void)
{
	const struct {
		const gchar *input;
		const gchar *output;
	} cases[] = {
		{"a\x80z", "a" FFFD "z"},                  /* stray continuation byte */
		{"\xc0\xaf", FFFD FFFD},                   /* 0xC0 can only be overlong */
		{"\xc1\xbf", FFFD FFFD},                   /* so can 0xC1 */
		{"\xe0\x80\xaf", FFFD FFFD FFFD},          /* overlong '/' */
		{"\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD}, /* overlong '/' again */
		{"\xed\xa0\x80", FFFD FFFD FFFD},          /* surrogate U+D800 */
		{"\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD}, /* above U+10FFFF */
		{"\xf5\xf8\xfe\xff", FFFD FFFD FFFD FFFD}, /* bytes that never occur */
		{"\xe2\x82z", FFFD "z"},                   /* a character broken off */
		{"\xf0\x9f\x98\xc3\xa9", FFFD "\xc3\xa9"}, /* ... by the next character */
		{"\xc3\xa9\x80\x80\xc3\xa9", "\xc3\xa9" FFFD FFFD "\xc3\xa9"},
		{"\xef\xbf\xbe", "\xef\xbf\xbe"}, /* U+FFFE is a noncharacter, not invalid */
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *out = convert(cases[i].input);

		g_assert_cmpstr(out, ==, cases[i].output);
	}
}

/* The held-back start of a character is judged only when the byte that breaks it arrives. */
static void
test_pending_then_invalid(void)
{
	g_autoptr(UcvUtf8Chunker) chunker = ucv_utf8_chunker_new();
	g_autoptr(GString) all = g_string_new(NULL);

	push_checked(chunker, "ok \xe2\x82", 5, all);
	g_assert_cmpstr(all->str, ==, "ok ");
	push_checked(chunker, "\xffz", 2, all);
	g_assert_cmpstr(all->str, ==, "ok " FFFD FFFD "z");

	/* a new lead byte breaks the held-back one and starts a character of its own */
	push_checked(chunker, "\xe2", 1, all);
	push_checked(chunker, "\xe2\x82\xac", 3, all);
	flush_checked(chunker, all);
	g_assert_cmpstr(all->str, ==, "ok " FFFD FFFD "z" FFFD "\xe2\x82\xac");
}

static void
test_flush(void)
{
	g_autoptr(UcvUtf8Chunker) chunker = ucv_utf8_chunker_new();
	g_autoptr(GString) all = g_string_new(NULL);

	push_checked(chunker, "ab\xf0\x9f", 4, all);
	g_assert_cmpstr(all->str, ==, "ab");
	flush_checked(chunker, all);
	g_assert_cmpstr(all->str, ==, "ab" FFFD);
	flush_checked(chunker, all);
	g_assert_cmpstr(all->str, ==, "ab" FFFD);

	/* the stream after a flush starts afresh */
	push_checked(chunker, "\xc3\xa9", 2, all);
	g_assert_cmpstr(all->str, ==, "ab" FFFD "\xc3\xa9");
}

/* NUL (padding a serial line may carry) is dropped: terminals ignore it, and the text must work
 * as a C string; a NUL still breaks off a character it interrupts. */
static void
test_nul_dropped(void)
{
	g_autoptr(UcvUtf8Chunker) chunker = ucv_utf8_chunker_new();
	const guint8 input[] = {'a', 0, 0xc3, 0, 'b'};
	const gchar expected[] = {'a', '\xef', '\xbf', '\xbd', 'b'};
	gsize out_len = 0;
	g_autofree gchar *out = ucv_utf8_chunker_push(chunker, input, sizeof(input), &out_len);

	g_assert_cmpmem(out, out_len, expected, sizeof(expected));
}

/* Random bytes, mostly characters, in random pieces: every piece is valid, and the pieces join to
 * exactly what one push of everything gives. NUL is left out so g_utf8_validate() can judge. */
static void
test_random_pieces(void)
{
	const gchar *alphabet[] = {"a",    "\n",   "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
				   "\x80", "\xc0", "\xed\xa0", "\xf4\x90",     "\xff"};

	for (guint round = 0; round < 200; round++) {
		g_autoptr(GString) input = g_string_new(NULL);
		g_autoptr(GString) pieces = g_string_new(NULL);
		g_autofree gchar *whole = NULL;
		g_autoptr(UcvUtf8Chunker) chunker = ucv_utf8_chunker_new();
		gsize pos = 0;

		for (guint i = 0; i < 64; i++)
			g_string_append(input,
					alphabet[g_test_rand_int_range(0, G_N_ELEMENTS(alphabet))]);
		while (pos < input->len) {
			gsize n = (gsize)g_test_rand_int_range(0, 8);

			n = MIN(n, input->len - pos);
			push_checked(chunker, input->str + pos, n, pieces);
			pos += n;
		}
		flush_checked(chunker, pieces);
		whole = convert(input->str);
		g_assert_cmpstr(pieces->str, ==, whole);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/utf8-chunker/ascii", test_ascii);
	g_test_add_func("/utf8-chunker/split-everywhere", test_split_everywhere);
	g_test_add_func("/utf8-chunker/byte-at-a-time", test_byte_at_a_time);
	g_test_add_func("/utf8-chunker/invalid", test_invalid);
	g_test_add_func("/utf8-chunker/pending-then-invalid", test_pending_then_invalid);
	g_test_add_func("/utf8-chunker/flush", test_flush);
	g_test_add_func("/utf8-chunker/nul-dropped", test_nul_dropped);
	g_test_add_func("/utf8-chunker/random-pieces", test_random_pieces);
	return g_test_run();
}
