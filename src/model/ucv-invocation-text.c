/* Text helpers of the command-line builder matching the Go builder: trimming, float formatting,
 * shell names. */
#define G_LOG_DOMAIN "ucv-model"

#include "config.h"

#include "ucv-invocation-text.h"

#include <math.h>
#include <string.h>

/* unicode.IsSpace of Go, which strings.TrimSpace uses: GLib's spaces plus \v and U+0085. */
static gboolean
ucv_invocation_is_space(gunichar c)
{
	return g_unichar_isspace(c) || c == '\v' || c == 0x85;
}

static gboolean
ucv_invocation_space_at(const gchar *p, const gchar *end)
{
	gunichar c = g_utf8_get_char_validated(p, end - p);

	return c != (gunichar)-1 && c != (gunichar)-2 && ucv_invocation_is_space(c);
}

/* strings.TrimSpace of Go; bytes that are not valid UTF-8 stop the trimming, as in Go. */
gchar *
ucv_invocation_trim_space(const gchar *s)
{
	const gchar *start = s;
	const gchar *end = s + strlen(s);

	while (start < end && ucv_invocation_space_at(start, end))
		start = g_utf8_next_char(start);
	while (end > start) {
		const gchar *prev = g_utf8_find_prev_char(start, end);

		if (prev == NULL || !ucv_invocation_space_at(prev, end) ||
		    g_utf8_next_char(prev) != end)
			break;
		end = prev;
	}
	return g_strndup(start, end - start);
}

/* strings.Trim(s, " ") of Go: ASCII spaces only. */
gchar *
ucv_invocation_trim_blanks(const gchar *s)
{
	gsize len;

	while (*s == ' ')
		s++;
	len = strlen(s);
	while (len > 0 && s[len - 1] == ' ')
		len--;
	return g_strndup(s, len);
}

/* fmt.Sprint of a float64 in Go: the fewest digits that read back as the same double, in
 * exponent form (1e+06, 1.5e-05) when the decimal exponent is below -4 or at least 6. */
gchar *
ucv_invocation_format_double(gdouble v)
{
	gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
	gchar digits[24];
	GString *out;
	const gchar *p = buf;
	gint n = 0, exponent, dp;

	if (isnan(v))
		return g_strdup("NaN");
	if (isinf(v))
		return g_strdup(v > 0 ? "+Inf" : "-Inf");
	for (gint prec = 0; prec <= 16; prec++) {
		gchar format[8];

		g_snprintf(format, sizeof format, "%%.%de", prec);
		g_ascii_formatd(buf, sizeof buf, format, v);
		if (g_ascii_strtod(buf, NULL) == v)
			break;
	}
	/* buf is "[-]d[.ddd]e±XX" */
	out = g_string_new(NULL);
	if (*p == '-') {
		g_string_append_c(out, '-');
		p++;
	}
	for (; *p != 'e' && *p != '\0'; p++) {
		if (g_ascii_isdigit(*p))
			digits[n++] = *p;
	}
	exponent = *p == 'e' ? (gint)g_ascii_strtoll(p + 1, NULL, 10) : 0;
	if (exponent < -4 || exponent >= 6) {
		g_string_append_c(out, digits[0]);
		if (n > 1)
			g_string_append_printf(out, ".%.*s", n - 1, digits + 1);
		g_string_append_printf(out, "e%c%02d", exponent < 0 ? '-' : '+', ABS(exponent));
		return g_string_free(out, FALSE);
	}
	dp = exponent + 1;
	if (dp <= 0)
		g_string_append_c(out, '0');
	for (gint i = 0; i < dp; i++)
		g_string_append_c(out, i < n ? digits[i] : '0');
	if (n > dp) {
		g_string_append_c(out, '.');
		for (gint i = dp; i < n; i++)
			g_string_append_c(out, i < 0 ? '0' : digits[i]);
	}
	return g_string_free(out, FALSE);
}

gboolean
ucv_invocation_is_shell_name(const gchar *name)
{
	if (!g_ascii_isalpha(name[0]) && name[0] != '_')
		return FALSE;
	for (const gchar *p = name; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '_')
			return FALSE;
	}
	return TRUE;
}
