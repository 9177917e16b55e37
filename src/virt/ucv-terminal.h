/* What a browser's terminal drives, whatever is behind it: a machine's serial console or a shell
 * inside a container. Input is written in order and paced by the far end; output and the end
 * come as signals. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define UCV_TYPE_TERMINAL (ucv_terminal_get_type())
G_DECLARE_INTERFACE(UcvTerminal, ucv_terminal, UCV, TERMINAL, GObject)

/* Signals (main loop), declared here so that code which only knows the interface can use them:
 *   "output" (GBytes *data) — bytes the far end wrote, cut anywhere (not necessarily UTF-8)
 *   "closed" (const gchar *why) — once, when the far end ended the terminal; `why` is NULL for
 *            a normal end (the shell exited), else a reason for the user. Not emitted after
 *            ucv_terminal_close(): the owner knows.
 * A UcvConsoleStream emits "closed" just before its own "ended", with the same `why`. */
struct _UcvTerminalInterface {
	GTypeInterface parent_iface;

	void (*write_async)(UcvTerminal *self, GBytes *data, GCancellable *cancellable,
			    GAsyncReadyCallback callback, gpointer user_data);
	gboolean (*write_finish)(UcvTerminal *self, GAsyncResult *res, GError **error);
	/* optional: a serial line has no window size */
	void (*resize)(UcvTerminal *self, guint16 cols, guint16 rows);
	void (*close)(UcvTerminal *self);
};

/* Writes all of `data`; completes once the far end (or the stream to it) has taken it. Writes
 * keep their order. A closed terminal fails them with G_IO_ERROR_CLOSED. */
void ucv_terminal_write_async(UcvTerminal *self, GBytes *data, GCancellable *cancellable,
			      GAsyncReadyCallback callback, gpointer user_data);
gboolean ucv_terminal_write_finish(UcvTerminal *self, GAsyncResult *res, GError **error);
/* The browser's window is `cols`×`rows` now; ignored by terminals without a size and for 0. */
void ucv_terminal_resize(UcvTerminal *self, guint16 cols, guint16 rows);
/* Lets the terminal go (a shell is ended); idempotent, no "closed" follows. */
void ucv_terminal_close(UcvTerminal *self);

/* For implementations. */
void ucv_terminal_emit_output(UcvTerminal *self, GBytes *data);
void ucv_terminal_emit_closed(UcvTerminal *self, const gchar *why);

G_END_DECLS
