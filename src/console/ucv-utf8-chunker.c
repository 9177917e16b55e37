/* Serial console bytes turned into valid UTF-8 text without splitting a character. */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-utf8-chunker.h"

#include <string.h>

#define REPLACEMENT  "\xef\xbf\xbd" /* U+FFFD */
#define SEQUENCE_MAX 4

typedef enum {
	SEQUENCE_VALID,
	SEQUENCE_INVALID,
	SEQUENCE_INCOMPLETE,
} UcvSequence;

struct _UcvUtf8Chunker {
	guint8 pending[SEQUENCE_MAX - 1]; /* the start of a character cut off by the last push */
	gsize pending_len;
};

UcvUtf8Chunker *
ucv_utf8_chunker_new(void)
{
	return g_new0(UcvUtf8Chunker, 1);
}

void
ucv_utf8_chunker_free(UcvUtf8Chunker *self)
{
	g_free(self);
}

/* The length a lead byte announces; 0 for bytes that cannot start a character. */
static gsize
sequence_length(guint8 lead)
{
	if (lead < 0x80)
		return 1;
	if (lead >= 0xc2 && lead <= 0xdf)
		return 2;
	if (lead >= 0xe0 && lead <= 0xef)
		return 3;
	if (lead >= 0xf0 && lead <= 0xf4)
		return 4;
	return 0;
}

/* The second byte narrows what a lead byte may start (Unicode table 3-7): this is where overlong
 * forms, surrogates and code points above U+10FFFF are caught. */
static gboolean
is_valid_second(guint8 lead, guint8 byte)
{
	switch (lead) {
	case 0xe0:
		return byte >= 0xa0 && byte <= 0xbf;
	case 0xed:
		return byte >= 0x80 && byte <= 0x9f;
	case 0xf0:
		return byte >= 0x90 && byte <= 0xbf;
	case 0xf4:
		return byte >= 0x80 && byte <= 0x8f;
	default:
		return byte >= 0x80 && byte <= 0xbf;
	}
}

/* Classifies the character at the start of `data`. `*seq_len` gets its length when valid, the
 * length of the maximal invalid subpart (at least 1) when invalid, and `len` when the bytes are
 * the valid start of a character that goes on beyond them. */
static UcvSequence
check_sequence(const guint8 *data, gsize len, gsize *seq_len)
{
	gsize need = sequence_length(data[0]);
	gsize i;

	if (need == 0) {
		*seq_len = 1;
		return SEQUENCE_INVALID;
	}
	for (i = 1; i < need && i < len; i++) {
		gboolean ok = i == 1 ? is_valid_second(data[0], data[i]) : (data[i] & 0xc0) == 0x80;

		if (!ok) {
			*seq_len = i;
			return SEQUENCE_INVALID;
		}
	}
	*seq_len = i;
	return i == need ? SEQUENCE_VALID : SEQUENCE_INCOMPLETE;
}

static void
hold_back(UcvUtf8Chunker *self, const guint8 *data, gsize len)
{
	g_assert(len < SEQUENCE_MAX);
	memmove(self->pending, data, len);
	self->pending_len = len;
}

/* Finishes the held-back character with the first bytes of `data`; returns how many of them it
 * took. */
static gsize
complete_pending(UcvUtf8Chunker *self, GString *out, const guint8 *data, gsize len)
{
	guint8 seq[SEQUENCE_MAX];
	gsize have = self->pending_len;
	gsize take = MIN(len, SEQUENCE_MAX - have);
	gsize seq_len;

	if (have == 0)
		return 0;
	memcpy(seq, self->pending, have);
	memcpy(seq + have, data, take);
	self->pending_len = 0;
	switch (check_sequence(seq, have + take, &seq_len)) {
	case SEQUENCE_INCOMPLETE:
		hold_back(self, seq, seq_len);
		break;
	case SEQUENCE_VALID:
		g_string_append_len(out, (const gchar *)seq, seq_len);
		break;
	case SEQUENCE_INVALID:
		g_string_append(out, REPLACEMENT);
		break;
	}
	/* the held-back bytes are a valid start, so whatever broke it lies in `data` */
	return seq_len - have;
}

/* The valid run at the start of `data`. g_utf8_validate_len() also stops at NUL, which is then
 * taken one byte at a time by the caller. */
static gsize
valid_run(const guint8 *data, gsize len)
{
	const gchar *end = NULL;

	g_utf8_validate_len((const gchar *)data, len, &end);
	return (gsize)((const guint8 *)end - data);
}

static void
decode(UcvUtf8Chunker *self, GString *out, const guint8 *data, gsize len)
{
	while (len > 0) {
		gsize run = valid_run(data, len);
		gsize seq_len;

		g_string_append_len(out, (const gchar *)data, run);
		data += run;
		len -= run;
		if (len == 0)
			return;
		switch (check_sequence(data, len, &seq_len)) {
		case SEQUENCE_INCOMPLETE:
			hold_back(self, data, len);
			return;
		case SEQUENCE_VALID:
			/* only NUL stops a valid run and is valid itself: it is dropped */
			if (data[0] != '\0')
				g_string_append_len(out, (const gchar *)data, seq_len);
			break;
		case SEQUENCE_INVALID:
			g_string_append(out, REPLACEMENT);
			break;
		}
		data += seq_len;
		len -= seq_len;
	}
}

static gchar *
take_text(GString *out, gsize *out_len)
{
	if (out_len != NULL)
		*out_len = out->len;
	return g_string_free(out, FALSE);
}

gchar *
ucv_utf8_chunker_push(UcvUtf8Chunker *self, const guint8 *data, gsize len, gsize *out_len)
{
	GString *out;
	gsize taken;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(data != NULL || len == 0, NULL);

	/* room for the usual case: valid text, plus the character the held-back bytes begin */
	out = g_string_sized_new(len + SEQUENCE_MAX);
	taken = complete_pending(self, out, data, len);
	decode(self, out, data + taken, len - taken);
	return take_text(out, out_len);
}

gchar *
ucv_utf8_chunker_flush(UcvUtf8Chunker *self, gsize *out_len)
{
	GString *out;

	g_return_val_if_fail(self != NULL, NULL);

	out = g_string_new(NULL);
	if (self->pending_len > 0)
		g_string_append(out, REPLACEMENT);
	self->pending_len = 0;
	return take_text(out, out_len);
}
