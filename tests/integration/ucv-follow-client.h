/* Core's side of a follow: the socket with Core's token, one init per job, the log text collected
 * per rank and the end of the stream noted. */
#pragma once

#include "ucv-harness.h"

G_BEGIN_DECLS

#define UCV_FOLLOW_MAX_RANKS 4

typedef struct {
	SoupWebsocketConnection *ws;
	GString *logs[UCV_FOLLOW_MAX_RANKS]; /* stdout text per rank, in order */
	gchar *follow_id;                    /* the payloads' streamId, for a cancel */
	gboolean ended;                      /* the response frame arrived */
	gint end_status;
	gchar *end_why; /* the response's why, for a refused follow */
	gboolean closed;
} UcvFollowClient;

void ucv_follow_client_free(UcvFollowClient *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvFollowClient, ucv_follow_client_free)

/* Connects as Core and sends init for the job (streamId "0"). */
UcvFollowClient *ucv_follow_client_open(UcvHarness *h, const gchar *job_id);
/* Waits until `text` is in the rank's log after byte `from`; returns where it ends. */
gsize ucv_follow_client_wait(UcvFollowClient *self, guint rank, gsize from, const gchar *text,
			     guint timeout_s);
void ucv_follow_client_wait_end(UcvFollowClient *self, guint timeout_s);

G_END_DECLS
