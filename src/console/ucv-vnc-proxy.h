/* One browser's view of one machine's display: RFB bytes pumped between the browser's WebSocket
 * and the display's stream, one buffer in flight each way. */
#pragma once

#include <gio/gio.h>

#include "console/ucv-console-session.h"
#include "console/ucv-ws-connection.h"

G_BEGIN_DECLS

#define UCV_TYPE_VNC_PROXY (ucv_vnc_proxy_get_type())
G_DECLARE_FINAL_TYPE(UcvVncProxy, ucv_vnc_proxy, UCV, VNC_PROXY, GObject)

/* Takes references to both ends; nothing moves before ucv_vnc_proxy_start(). */
UcvVncProxy *ucv_vnc_proxy_new(UcvWsConnection *browser, GIOStream *display);
void ucv_vnc_proxy_start(UcvVncProxy *self);
/* Closes both ends, the browser's with `code` and `reason`; "finished" (UcvConsoleSession)
 * follows, once, whichever side ended the session. */
void ucv_vnc_proxy_stop(UcvVncProxy *self, guint16 code, const gchar *reason);

G_END_DECLS
