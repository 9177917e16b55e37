/* Single-use tokens that admit a browser to one job's console (VNC or shell) or web application. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
	UCV_SESSION_VNC,
	UCV_SESSION_SHELL,
	UCV_SESSION_WEB, /* authorizes a browser once for a job's web application */
} UcvSessionKind;

/* What a redeemed token admits to. */
typedef struct {
	gchar *job_id;
	guint rank;
	UcvSessionKind kind;
} UcvSessionGrant;

void ucv_session_grant_free(UcvSessionGrant *grant);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvSessionGrant, ucv_session_grant_free)

#define UCV_TYPE_SESSION_TOKENS (ucv_session_tokens_get_type())
G_DECLARE_FINAL_TYPE(UcvSessionTokens, ucv_session_tokens, UCV, SESSION_TOKENS, GObject)

/* Tokens expire when unused for `lifetime_s`; a client with `max_failures` bad tokens within
 * `failure_window_s` is refused until the window has passed. */
UcvSessionTokens *ucv_session_tokens_new(guint lifetime_s, guint max_failures,
					 guint failure_window_s);

/* A fresh token (256 random bits, URL-safe) for the job's rank. Only its hash is kept, so the
 * token itself exists only in the caller's answer. */
gchar *ucv_session_tokens_issue(UcvSessionTokens *self, const gchar *job_id, guint rank,
				UcvSessionKind kind, GError **error);

/* The grant of a valid, unused, unexpired token of `kind`, which is then used up. Anything else
 * is UCV_ERROR_UNAUTHORIZED and counts as a failure of `client` (an address; may be NULL);
 * a client over its limit is refused without the token being looked at. */
UcvSessionGrant *ucv_session_tokens_redeem(UcvSessionTokens *self, const gchar *token,
					   UcvSessionKind kind, const gchar *client,
					   GError **error);

/* The job ended or is suspended: its unused tokens are void. */
void ucv_session_tokens_revoke_job(UcvSessionTokens *self, const gchar *job_id);

guint ucv_session_tokens_get_n_pending(UcvSessionTokens *self);

/* Tests move time themselves: `now_us` replaces g_get_monotonic_time(). */
void ucv_session_tokens_set_clock(UcvSessionTokens *self, gint64 (*now_us)(void));

G_END_DECLS
