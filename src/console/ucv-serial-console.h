/* One machine's serial console shared by every browser watching it: libvirt lets one client at a
 * time hold a console, so one stream serves all viewers, output to each and input from each. */
#pragma once

#include <glib-object.h>

#include "console/ucv-console-session.h"
#include "console/ucv-shell-viewer.h"
#include "virt/ucv-console-stream.h"

G_BEGIN_DECLS

#define UCV_TYPE_SERIAL_CONSOLE (ucv_serial_console_get_type())
G_DECLARE_FINAL_TYPE(UcvSerialConsole, ucv_serial_console, UCV, SERIAL_CONSOLE, GObject)

/* A console of the job's rank whose stream is still being opened: viewers added now wait. It
 * is a UcvConsoleSession: stopping it ends every viewer with the reason, and it finishes by
 * itself when its last viewer leaves (letting the console go) or the stream ends. */
UcvSerialConsole *ucv_serial_console_new(guint rank);
guint ucv_serial_console_get_rank(UcvSerialConsole *self);

/* The stream is open: waiting viewers are attached and output starts. */
void ucv_serial_console_take_stream(UcvSerialConsole *self, UcvConsoleStream *stream);
/* The stream could not be opened: every viewer is told `why`. */
void ucv_serial_console_fail(UcvSerialConsole *self, const gchar *why);

/* An initialized viewer; it sees output from now on. */
void ucv_serial_console_add_viewer(UcvSerialConsole *self, UcvShellViewer *viewer);
guint ucv_serial_console_get_n_viewers(UcvSerialConsole *self);

G_END_DECLS
