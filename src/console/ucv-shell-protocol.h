/* The browser's side of UCloud's shell WebSocket: what the web client sends (initialize, input,
 * resize, each in the call envelope) and what it expects back. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	UCV_SHELL_INITIALIZE,
	UCV_SHELL_INPUT,
	UCV_SHELL_RESIZE,
} UcvShellRequestType;

typedef struct {
	UcvShellRequestType type;
	gchar *stream_id;
	gchar *session_identifier; /* initialize */
	gchar *data;               /* input: what the terminal produced */
	guint cols, rows;          /* initialize and resize; 0 when absent */
} UcvShellRequest;

void ucv_shell_request_free(UcvShellRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvShellRequest, ucv_shell_request_free)

/* One text frame from the browser; anything else is UCV_ERROR_INVALID with a reason. */
UcvShellRequest *ucv_shell_request_parse(GBytes *frame, GError **error);

/* {"type":"message","streamId":…,"payload":{"type":"initialize"}} */
GBytes *ucv_shell_reply_initialized(const gchar *stream_id);
/* {"type":"message","streamId":…,"payload":{"type":"data","data":<text>}}; text is UTF-8 */
GBytes *ucv_shell_reply_data(const gchar *stream_id, const gchar *text);
/* {"type":"message","streamId":…,"payload":{"type":"ack"}} */
GBytes *ucv_shell_reply_ack(const gchar *stream_id);

G_END_DECLS
