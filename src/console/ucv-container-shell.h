/* One browser's shell inside a container: a viewer and its own terminal (a shell the agent runs
 * in the container), ending together. */
#pragma once

#include <glib-object.h>

#include "console/ucv-console-session.h"
#include "console/ucv-shell-viewer.h"
#include "virt/ucv-terminal.h"

G_BEGIN_DECLS

#define UCV_TYPE_CONTAINER_SHELL (ucv_container_shell_get_type())
G_DECLARE_FINAL_TYPE(UcvContainerShell, ucv_container_shell, UCV, CONTAINER_SHELL, GObject)

/* Attaches the initialized `viewer` to `terminal` (an open shell) and passes the terminal's
 * output on as text. The terminal's end ends the viewer ("The shell ended"); the viewer's end
 * (the browser left) closes the terminal; stopping the session does both. Either way the
 * session "finished" (UcvConsoleSession). */
UcvContainerShell *ucv_container_shell_new(UcvShellViewer *viewer, UcvTerminal *terminal);

G_END_DECLS
