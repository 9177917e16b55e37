/* A running domain's serial console as a non-blocking libvirt stream on the GLib loop: output
 * as signals, input written in order. */
#pragma once

#include <gio/gio.h>
#include <libvirt/libvirt.h>

#include "virt/ucv-terminal.h"

G_BEGIN_DECLS

#define UCV_TYPE_CONSOLE_STREAM (ucv_console_stream_get_type())
G_DECLARE_FINAL_TYPE(UcvConsoleStream, ucv_console_stream, UCV, CONSOLE_STREAM, GObject)

/* A UcvTerminal (without a window size). Signals (main loop):
 *   "output" (GBytes *data) — bytes the guest wrote to its console (the UcvTerminal signal)
 *   "ended"  (const gchar *why) — once: the console closed (the machine stopped or was saved,
 *            or another client took the console over); `why` is libvirt's reason or NULL
 *   "closed" (const gchar *why) — the UcvTerminal signal, emitted just before "ended" */

/* Takes over `stream`, a non-blocking stream that virDomainOpenConsole() has attached. Nothing
 * is read before ucv_console_stream_start(), so handlers connected first see every byte. */
UcvConsoleStream *ucv_console_stream_new(virStreamPtr stream, const gchar *domain_name);
void ucv_console_stream_start(UcvConsoleStream *self);

/* Writes all of `data` to the console; completes once libvirt has taken every byte. Writes are
 * kept in order. */
void ucv_console_stream_write_async(UcvConsoleStream *self, GBytes *data, GCancellable *cancellable,
				    GAsyncReadyCallback callback, gpointer user_data);
gboolean ucv_console_stream_write_finish(UcvConsoleStream *self, GAsyncResult *res, GError **error);

/* Backpressure: while paused nothing is read, so output waits in the guest and in libvirt. */
void ucv_console_stream_set_paused(UcvConsoleStream *self, gboolean paused);

/* Lets the console go (others may open it); pending writes fail, no "ended" follows. */
void ucv_console_stream_close(UcvConsoleStream *self);
gboolean ucv_console_stream_is_open(UcvConsoleStream *self);
const gchar *ucv_console_stream_get_domain_name(UcvConsoleStream *self);

G_END_DECLS
