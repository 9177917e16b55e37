/* Follows a log file that another process appends to and rotates (virtlogd and a machine's
 * serial console), the way `tail -F` does, as text for a job's "follow" stream. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define UCV_TYPE_LOG_FOLLOWER (ucv_log_follower_get_type())
G_DECLARE_FINAL_TYPE(UcvLogFollower, ucv_log_follower, UCV, LOG_FOLLOWER, GObject)

/* The most text one "output" signal carries, in bytes. */
#define UCV_LOG_FOLLOWER_OUTPUT_MAX (16 * 1024)

/* Follows `path`, which need not exist yet: a missing file is waited for, and read from its
 * beginning when it appears. A file that exists at start is read from its last `backlog_bytes`,
 * beginning after the first line break in that window unless the window is the whole file or
 * starts a line anyway, so that the backlog begins with a whole line; a window without a line
 * break comes out whole.
 *
 * Signals:
 *   "output" (const gchar *text, guint64 length) — the next piece of the log, valid UTF-8 of at
 *     most UCV_LOG_FOLLOWER_OUTPUT_MAX bytes that never splits a character (see
 *     ucv-utf8-chunker.h: NUL bytes are dropped, so it is a C string of `length` bytes);
 *   "finished" () — after ucv_log_follower_finish(), once all was read; nothing follows it. */
UcvLogFollower *ucv_log_follower_new(const gchar *path, gsize backlog_bytes);
void ucv_log_follower_start(UcvLogFollower *self);

/* While paused nothing is read, so the file is the only buffer: for an owner whose socket is
 * full. Signals come from the main loop, never from inside this call. */
void ucv_log_follower_set_paused(UcvLogFollower *self, gboolean paused);

/* Reads up to the current end of the file (after resuming, if paused), emits it, then emits
 * "finished": when the job has ended its last lines must not be lost. */
void ucv_log_follower_finish(UcvLogFollower *self);

/* Stops at once: no more signals. Idempotent, and implied when the follower is disposed. */
void ucv_log_follower_stop(UcvLogFollower *self);

G_END_DECLS
