/* One "follow" of Core's: the console logs of a job's machines, each from a backlog on, as log
 * messages of one WebSocket stream; it ends with a response frame when the job ends or Core
 * cancels it. */
#pragma once

#include <glib-object.h>

#include "console/ucv-console-session.h"

G_BEGIN_DECLS

#define UCV_TYPE_FOLLOW_STREAM (ucv_follow_stream_get_type())
G_DECLARE_FINAL_TYPE(UcvFollowStream, ucv_follow_stream, UCV, FOLLOW_STREAM, GObject)

/* Where the stream's frames go (the channel's socket). */
typedef void (*UcvFollowSendFunc)(GBytes *frame, gpointer user_data);

/* Follows `logs` (one per rank) on WebSocket stream `ws_stream_id`. A UcvConsoleSession:
 * stopping it sends what the logs still hold, then the response frame, then "finished". */
UcvFollowStream *ucv_follow_stream_new(const gchar *ws_stream_id, const gchar *const *logs,
				       gsize backlog_bytes, UcvFollowSendFunc send,
				       gpointer send_data);
void ucv_follow_stream_start(UcvFollowStream *self);
/* The id Core names in a cancel request. */
const gchar *ucv_follow_stream_get_id(UcvFollowStream *self);
/* Backpressure from the socket: no log is read while paused. */
void ucv_follow_stream_set_paused(UcvFollowStream *self, gboolean paused);
/* Ends at once: nothing more is sent, not even the response (the socket is gone). */
void ucv_follow_stream_abandon(UcvFollowStream *self);

G_END_DECLS
