/* Core's follow WebSocket (/ucloud/jobs.provider.<id>/websocket): each "init" call on it opens a
 * follow stream of one job's console logs, each "cancel" ends one; all share the socket. */
#pragma once

#include <glib-object.h>

#include "console/ucv-console-hub.h"
#include "console/ucv-ws-connection.h"

G_BEGIN_DECLS

#define UCV_TYPE_FOLLOW_CHANNEL (ucv_follow_channel_get_type())
G_DECLARE_FINAL_TYPE(UcvFollowChannel, ucv_follow_channel, UCV, FOLLOW_CHANNEL, GObject)

/* The console logs of the job's machines by rank, and whether the job has ended; NULL with an
 * error for a job the provider does not know. */
typedef GStrv (*UcvFollowResolveFunc)(const gchar *job_id, gboolean *ended, gpointer user_data,
				      GError **error);

/* Serves the calls named `call` ("jobs.provider.<id>.follow") on `core`; streams are kept in
 * `hub` (as UCV_CONSOLE_FOLLOW of their job) so they end with their job. The channel keeps
 * itself alive until the socket closes. */
UcvFollowChannel *ucv_follow_channel_new(UcvWsConnection *core, const gchar *call,
					 gsize backlog_bytes, UcvConsoleHub *hub,
					 UcvFollowResolveFunc resolve, gpointer resolve_data);
void ucv_follow_channel_start(UcvFollowChannel *self);

G_END_DECLS
