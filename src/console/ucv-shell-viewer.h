/* One browser's terminal, speaking UCloud's shell protocol: it must initialize within 30 s with
 * the session it was admitted with; then its input goes to a terminal (a machine's serial
 * console, a shell in a container: each frame acknowledged once written), its resizes too, and
 * the terminal's output comes to it. */
#pragma once

#include <gio/gio.h>

#include "console/ucv-ws-connection.h"
#include "virt/ucv-console-stream.h"
#include "virt/ucv-terminal.h"

G_BEGIN_DECLS

#define UCV_TYPE_SHELL_VIEWER (ucv_shell_viewer_get_type())
G_DECLARE_FINAL_TYPE(UcvShellViewer, ucv_shell_viewer, UCV, SHELL_VIEWER, GObject)

/* Signals:
 *   "initialized" () — the browser initialized; the owner attaches a console
 *   "finished"    () — once, whichever side ended it */

/* `session_identifier` is the (already redeemed) session the browser was admitted with; its
 * initialize must name the same one. */
UcvShellViewer *ucv_shell_viewer_new(UcvWsConnection *browser, const gchar *session_identifier);
void ucv_shell_viewer_start(UcvShellViewer *self);
/* Input and resizes from here on go to `terminal` (may be shared with other viewers: writes keep
 * their order); `greeting` (may be NULL) is shown first. Output is the owner's to pass on. */
void ucv_shell_viewer_attach_terminal(UcvShellViewer *self, UcvTerminal *terminal,
				      const gchar *greeting);
/* A machine's serial console, with a greeting that says where the user is. */
void ucv_shell_viewer_attach(UcvShellViewer *self, UcvConsoleStream *console);
/* The browser's window size (its initialize's, or latest resize's), 80×24 when it sent none. */
void ucv_shell_viewer_get_size(UcvShellViewer *self, guint16 *cols, guint16 *rows);
/* Console output, valid UTF-8. A browser too slow to take it is let go. */
void ucv_shell_viewer_send_output(UcvShellViewer *self, const gchar *text);
/* Shows `message` in the terminal (when it has one) and closes the socket. */
void ucv_shell_viewer_end(UcvShellViewer *self, const gchar *message);
gboolean ucv_shell_viewer_is_finished(UcvShellViewer *self);
/* Tests shorten the 30 s. */
void ucv_shell_viewer_set_initialize_timeout(UcvShellViewer *self, guint timeout_ms);

G_END_DECLS
