/* Single-use tokens that admit a browser to one job's console (VNC or shell) or web application. */
#define G_LOG_DOMAIN "ucv-console"

#include "config.h"

#include "ucv-session-tokens.h"

#include <glib/gi18n.h>
#include <gnutls/crypto.h>

#include "model/ucv-error.h"

#define TOKEN_BYTES 32

typedef struct {
	UcvSessionGrant grant;
	gint64 expires_us;
} UcvPendingToken;

typedef struct {
	guint failures;
	gint64 window_start_us;
} UcvClientFailures;

struct _UcvSessionTokens {
	GObject parent_instance;
	gint64 lifetime_us;
	guint max_failures;
	gint64 failure_window_us;
	GHashTable *pending; /* SHA-256 of the token (hex) -> UcvPendingToken */
	GHashTable *clients; /* client -> UcvClientFailures */
	gint64 (*now_us)(void);
};

G_DEFINE_TYPE(UcvSessionTokens, ucv_session_tokens, G_TYPE_OBJECT)

void
ucv_session_grant_free(UcvSessionGrant *grant)
{
	if (grant == NULL)
		return;
	g_free(grant->job_id);
	g_free(grant);
}

static void
pending_free(UcvPendingToken *pending)
{
	g_free(pending->grant.job_id);
	g_free(pending);
}

static gchar *
token_hash(const gchar *token)
{
	return g_compute_checksum_for_string(G_CHECKSUM_SHA256, token, -1);
}

/* Unused tokens past their time go, so the table stays as small as the live sessions. */
static void
prune_expired(UcvSessionTokens *self, gint64 now)
{
	GHashTableIter iter;
	UcvPendingToken *pending;

	g_hash_table_iter_init(&iter, self->pending);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&pending)) {
		if (pending->expires_us <= now)
			g_hash_table_iter_remove(&iter);
	}
}

gchar *
ucv_session_tokens_issue(UcvSessionTokens *self, const gchar *job_id, guint rank,
			 UcvSessionKind kind, GError **error)
{
	guchar bytes[TOKEN_BYTES];
	g_autofree gchar *token = NULL;
	UcvPendingToken *pending;
	gint64 now;

	g_return_val_if_fail(UCV_IS_SESSION_TOKENS(self), NULL);
	g_return_val_if_fail(job_id != NULL, NULL);

	/* the key-grade generator: these tokens are the only credential a browser shows */
	if (gnutls_rnd(GNUTLS_RND_KEY, bytes, sizeof(bytes)) != 0) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
				    "no random bytes for a session token");
		return NULL;
	}
	token = g_base64_encode(bytes, sizeof(bytes));
	/* URL-safe alphabet, no padding: it travels in a query string */
	g_strdelimit(token, "+", '-');
	g_strdelimit(token, "/", '_');
	g_strdelimit(token, "=", '\0');
	now = self->now_us();
	prune_expired(self, now);
	pending = g_new0(UcvPendingToken, 1);
	pending->grant.job_id = g_strdup(job_id);
	pending->grant.rank = rank;
	pending->grant.kind = kind;
	pending->expires_us = now + self->lifetime_us;
	g_hash_table_insert(self->pending, token_hash(token), pending);
	return g_steal_pointer(&token);
}

static gboolean
client_blocked(UcvSessionTokens *self, const gchar *client, gint64 now)
{
	UcvClientFailures *record =
		client != NULL ? g_hash_table_lookup(self->clients, client) : NULL;

	if (record == NULL)
		return FALSE;
	if (now - record->window_start_us >= self->failure_window_us) {
		g_hash_table_remove(self->clients, client);
		return FALSE;
	}
	return record->failures >= self->max_failures;
}

static void
note_failure(UcvSessionTokens *self, const gchar *client, gint64 now)
{
	UcvClientFailures *record;

	if (client == NULL)
		return;
	record = g_hash_table_lookup(self->clients, client);
	if (record == NULL) {
		record = g_new0(UcvClientFailures, 1);
		record->window_start_us = now;
		g_hash_table_insert(self->clients, g_strdup(client), record);
	}
	record->failures++;
}

UcvSessionGrant *
ucv_session_tokens_redeem(UcvSessionTokens *self, const gchar *token, UcvSessionKind kind,
			  const gchar *client, GError **error)
{
	g_autofree gchar *hash = NULL;
	UcvPendingToken *pending;
	UcvSessionGrant *grant;
	gint64 now;

	g_return_val_if_fail(UCV_IS_SESSION_TOKENS(self), NULL);

	now = self->now_us();
	if (client_blocked(self, client, now)) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
				    _("Too many invalid session tokens; try again later"));
		return NULL;
	}
	hash = token != NULL ? token_hash(token) : NULL;
	pending = hash != NULL ? g_hash_table_lookup(self->pending, hash) : NULL;
	if (pending == NULL || pending->expires_us <= now || pending->grant.kind != kind) {
		/* one answer for all three: a prober learns nothing */
		note_failure(self, client, now);
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
				    _("The session token is not valid (unknown, used or expired)"));
		return NULL;
	}
	grant = g_new0(UcvSessionGrant, 1);
	grant->job_id = g_strdup(pending->grant.job_id);
	grant->rank = pending->grant.rank;
	grant->kind = pending->grant.kind;
	/* single use */
	g_hash_table_remove(self->pending, hash);
	return grant;
}

void
ucv_session_tokens_revoke_job(UcvSessionTokens *self, const gchar *job_id)
{
	GHashTableIter iter;
	UcvPendingToken *pending;

	g_return_if_fail(UCV_IS_SESSION_TOKENS(self));

	g_hash_table_iter_init(&iter, self->pending);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&pending)) {
		if (g_strcmp0(pending->grant.job_id, job_id) == 0)
			g_hash_table_iter_remove(&iter);
	}
}

guint
ucv_session_tokens_get_n_pending(UcvSessionTokens *self)
{
	g_return_val_if_fail(UCV_IS_SESSION_TOKENS(self), 0);
	prune_expired(self, self->now_us());
	return g_hash_table_size(self->pending);
}

void
ucv_session_tokens_set_clock(UcvSessionTokens *self, gint64 (*now_us)(void))
{
	g_return_if_fail(UCV_IS_SESSION_TOKENS(self));
	self->now_us = now_us != NULL ? now_us : g_get_monotonic_time;
}

static void
ucv_session_tokens_finalize(GObject *object)
{
	UcvSessionTokens *self = UCV_SESSION_TOKENS(object);

	g_hash_table_unref(self->pending);
	g_hash_table_unref(self->clients);
	G_OBJECT_CLASS(ucv_session_tokens_parent_class)->finalize(object);
}

static void
ucv_session_tokens_class_init(UcvSessionTokensClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ucv_session_tokens_finalize;
}

static void
ucv_session_tokens_init(UcvSessionTokens *self)
{
	self->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					      (GDestroyNotify)pending_free);
	self->clients = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->now_us = g_get_monotonic_time;
}

UcvSessionTokens *
ucv_session_tokens_new(guint lifetime_s, guint max_failures, guint failure_window_s)
{
	UcvSessionTokens *self = g_object_new(UCV_TYPE_SESSION_TOKENS, NULL);

	self->lifetime_us = (gint64)lifetime_s * G_USEC_PER_SEC;
	self->max_failures = MAX(max_failures, 1);
	self->failure_window_us = (gint64)failure_window_s * G_USEC_PER_SEC;
	return self;
}
