/* One shell inside a container host's container, as a UcvTerminal: a shell channel of the
 * host's agent channel, opened when made and closed when let go. */
#pragma once

#include <gio/gio.h>

#include "container/ucv-agent-channel.h"
#include "virt/ucv-terminal.h"

G_BEGIN_DECLS

#define UCV_TYPE_AGENT_SHELL (ucv_agent_shell_get_type())
G_DECLARE_FINAL_TYPE(UcvAgentShell, ucv_agent_shell, UCV, AGENT_SHELL, GObject)

/* Signals (the UcvTerminal ones, main loop), for this shell's channel only:
 *   "output" (GBytes *data) — what the shell's terminal showed
 *   "closed" (const gchar *why) — once: the shell ended in the container (NULL), or the agent
 *            channel closed (a reason for the user)
 * Writes go out as DATA frames and complete once written to the agent (its pace); a resize is a
 * RESIZE frame; ucv_terminal_close() or ucv_agent_shell_close() is CLOSE. */

/* Sends SHELL_OPEN for `channel_number` (not 0, unused on this channel) as `uid`, with a
 * `cols`×`rows` terminal. A channel already closed reports "closed" from the main loop. */
UcvAgentShell *ucv_agent_shell_new(UcvAgentChannel *channel, guint channel_number, guint32 uid,
				   guint16 cols, guint16 rows);
/* Ends the shell (CLOSE, after the input already queued); idempotent, no "closed" follows.
 * Dropping the last reference of an open shell closes it too. */
void ucv_agent_shell_close(UcvAgentShell *self);
gboolean ucv_agent_shell_is_open(UcvAgentShell *self);
guint ucv_agent_shell_get_channel_number(UcvAgentShell *self);

G_END_DECLS
