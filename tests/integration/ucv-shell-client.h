/* The browser's side of a shell session, as UCloud's web client speaks it: the call envelope with
 * a fresh streamId per frame, output collected as text, acknowledgements counted. */
#pragma once

#include "ucv-harness.h"

G_BEGIN_DECLS

typedef struct {
	SoupWebsocketConnection *ws;
	GString *output;   /* every "data" text of the output stream, in order */
	GHashTable *acks;  /* streamId -> number of acks */
	gchar *out_stream; /* the initialize frame's streamId, once answered */
	guint next_stream;
	guint stray_frames; /* frames that are neither output, ack nor the initialize answer */
	gboolean closed;
	gushort close_code;
	gchar *close_reason;
} UcvShellClient;

void ucv_shell_client_free(UcvShellClient *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvShellClient, ucv_shell_client_free)

/* interactiveSession SHELL for the job's rank 0; returns the sessionIdentifier. */
gchar *ucv_shell_client_new_session(UcvHarness *h, const gchar *job_id);
/* Opens /ucloud/test/websocket?session=…; NULL when refused, with the HTTP status in *status. */
UcvShellClient *ucv_shell_client_connect(UcvHarness *h, const gchar *session, guint *status);
/* Sends initialize (on stream "0" when first) and returns its streamId, without waiting. */
gchar *ucv_shell_client_send_initialize(UcvShellClient *self, const gchar *session, guint cols,
					guint rows);
/* Sends initialize on stream "0" and waits for its answer. */
void ucv_shell_client_initialize(UcvShellClient *self, const gchar *session, guint cols,
				 guint rows);
/* Both return the frame's streamId (free it). */
gchar *ucv_shell_client_input(UcvShellClient *self, const gchar *data);
gchar *ucv_shell_client_resize(UcvShellClient *self, guint cols, guint rows);
guint ucv_shell_client_acks(UcvShellClient *self, const gchar *stream_id);
void ucv_shell_client_wait_ack(UcvShellClient *self, const gchar *stream_id, guint timeout_s);
/* Waits until `text` appears in the output after byte `from`; returns where it ends. */
gsize ucv_shell_client_wait_output(UcvShellClient *self, gsize from, const gchar *text,
				   guint timeout_s);
void ucv_shell_client_wait_closed(UcvShellClient *self, guint timeout_s);

G_END_DECLS
