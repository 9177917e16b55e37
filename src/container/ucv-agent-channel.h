/* The host end of the agent protocol: one container-host VM's control channel as signals, with
 * writes to the agent queued in call order. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The "output" signal's stream. */
typedef enum {
	UCV_AGENT_OUTPUT_STDOUT = 1,
	UCV_AGENT_OUTPUT_STDERR = 2,
} UcvAgentOutput;

#define UCV_TYPE_AGENT_CHANNEL (ucv_agent_channel_get_type())
G_DECLARE_FINAL_TYPE(UcvAgentChannel, ucv_agent_channel, UCV, AGENT_CHANNEL, GObject)

/* Signals, all emitted from the main loop; every frame is checked by the shared decoder first:
 *   "hello"        (guint protocol, const gchar *agent_version) on each HELLO
 *   "started"      the container runs
 *   "output"       (guint stream: a UcvAgentOutput, GBytes *data)
 *   "exited"       (gint code) once, however often the agent repeats EXIT; the channel answers
 *                  every EXIT with EXIT_ACK itself, queued before the signal, so a handler may
 *                  close the channel at once and the acknowledgement still goes out
 *   "shell-data"   (guint channel, GBytes *data)
 *   "shell-closed" (guint channel) the agent ended that shell
 *   "closed"       (const gchar *reason) once, when the agent hung up (reason NULL), a read or
 *                  write failed, or a frame broke the protocol (the decoder's error text). The
 *                  stream is closed after it, writes waiting fail with G_IO_ERROR_CLOSED, and
 *                  nothing is emitted any more. Not emitted for ucv_agent_channel_close(): the
 *                  owner knows.
 * PING from the agent is answered with PONG; PONG is ignored (the host sends no PING yet). */

/* Takes over `stream`, connected to the agent's port, and closes it when done. Reading begins
 * with ucv_agent_channel_start(), so handlers can be connected first. */
UcvAgentChannel *ucv_agent_channel_new(GIOStream *stream);
void ucv_agent_channel_start(UcvAgentChannel *self);

/* Connects to the unix socket QEMU listens on for the port. QEMU creates it while the domain
 * starts, so a missing or refusing socket is tried again every 100 ms; after `timeout_ms` the
 * call fails with UCV_ERROR_UNAVAILABLE (as it does at once for any other failure to connect).
 * The channel is not started yet. */
void ucv_agent_channel_connect_async(const gchar *socket_path, guint timeout_ms,
				     GCancellable *cancellable, GAsyncReadyCallback callback,
				     gpointer user_data);
UcvAgentChannel *ucv_agent_channel_connect_finish(GAsyncResult *res, GError **error);

/* Frames to the agent. These queue behind earlier writes and report nothing: a closed channel
 * drops them, and a failed write shows as "closed". Arguments the receiving agent would refuse
 * (channel 0 for a shell, 0 columns or rows, a signal outside 1…64) are not sent. Signal channel
 * 0 is the container's main process. */
void ucv_agent_channel_open_shell(UcvAgentChannel *self, guint channel, guint32 uid, guint16 cols,
				  guint16 rows);
void ucv_agent_channel_resize(UcvAgentChannel *self, guint channel, guint16 cols, guint16 rows);
void ucv_agent_channel_signal(UcvAgentChannel *self, guint channel, gint signo);
void ucv_agent_channel_close_shell(UcvAgentChannel *self, guint channel);

/* Terminal input for shell `channel` (not 0), as DATA frames of at most 64 KiB each. Completes
 * once all of it is written to the stream, so a caller waiting for it before reading more input
 * is paced by the agent. Fails with G_IO_ERROR_CLOSED once the channel is closed; cancelling
 * gives it up only if none of it was written yet. */
void ucv_agent_channel_send_data_async(UcvAgentChannel *self, guint channel, GBytes *data,
				       GCancellable *cancellable, GAsyncReadyCallback callback,
				       gpointer user_data);
gboolean ucv_agent_channel_send_data_finish(UcvAgentChannel *self, GAsyncResult *res,
					    GError **error);

/* Stops emitting signals and refuses new writes at once; what is already queued (an EXIT_ACK,
 * say) is still written, for at most 2 s, and then the stream is closed. Emits no "closed".
 * Idempotent. Reads and writes in flight hold a reference on the channel, so an owner drops a
 * running channel only after closing it. */
void ucv_agent_channel_close(UcvAgentChannel *self);
gboolean ucv_agent_channel_is_closed(UcvAgentChannel *self);

/* The agent's version from its last HELLO; NULL before one arrived. */
const gchar *ucv_agent_channel_get_version(UcvAgentChannel *self);

G_END_DECLS
