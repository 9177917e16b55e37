/* Turns a byte stream cut at arbitrary places (a serial console's output) into pieces of valid
 * UTF-8 text, each of which can go out on its own as a JSON string. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _UcvUtf8Chunker UcvUtf8Chunker;

UcvUtf8Chunker *ucv_utf8_chunker_new(void);
void ucv_utf8_chunker_free(UcvUtf8Chunker *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvUtf8Chunker, ucv_utf8_chunker_free)

/* Appends bytes and returns, newly allocated, all the text they complete (possibly ""), its byte
 * length in `out_len`. A character cut off at the end (at most 3 bytes) is held back for the next
 * call. What can never become valid UTF-8 (stray continuation bytes, 0xC0, 0xC1, 0xF5 to 0xFF,
 * overlong forms, surrogates, code points above U+10FFFF, a sequence broken off by another byte)
 * becomes U+FFFD, one for each maximal invalid subpart, as browsers decode it. NUL bytes are
 * dropped: terminals ignore them, and the text then works as a C string (and a JSON string). */
gchar *ucv_utf8_chunker_push(UcvUtf8Chunker *self, const guint8 *data, gsize len, gsize *out_len);

/* The end of the stream: a held-back partial character as one U+FFFD, or "" when there is none.
 * The chunker can be used again afterwards, as if new. */
gchar *ucv_utf8_chunker_flush(UcvUtf8Chunker *self, gsize *out_len);

G_END_DECLS
