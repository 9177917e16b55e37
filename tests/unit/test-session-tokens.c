/* Console session tokens: single use, bound to job, rank and kind, expiring, rate-limited. */
#include "config.h"

#include <string.h>

#include "console/ucv-session-tokens.h"
#include "model/ucv-error.h"

#define LIFETIME_S    60
#define MAX_FAILURES  3
#define FAIL_WINDOW_S 30
#define CLIENT        "192.0.2.7"
#define OTHER_CLIENT  "192.0.2.8"

static gint64 fake_now_us;

static gint64
fake_clock(void)
{
	return fake_now_us;
}

static UcvSessionTokens *
make_tokens(void)
{
	UcvSessionTokens *tokens = ucv_session_tokens_new(LIFETIME_S, MAX_FAILURES, FAIL_WINDOW_S);

	fake_now_us = 1000 * G_USEC_PER_SEC;
	ucv_session_tokens_set_clock(tokens, fake_clock);
	return tokens;
}

static gchar *
issue(UcvSessionTokens *tokens, const gchar *job_id, guint rank, UcvSessionKind kind)
{
	g_autoptr(GError) error = NULL;
	gchar *token = ucv_session_tokens_issue(tokens, job_id, rank, kind, &error);

	g_assert_no_error(error);
	g_assert_nonnull(token);
	return token;
}

static void
assert_refused(UcvSessionTokens *tokens, const gchar *token, UcvSessionKind kind,
	       const gchar *client)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvSessionGrant) grant =
		ucv_session_tokens_redeem(tokens, token, kind, client, &error);

	g_assert_null(grant);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED);
}

/* A token is long, URL-safe, different every time, and admits exactly once to its job and rank. */
static void
test_single_use(void)
{
	g_autoptr(UcvSessionTokens) tokens = make_tokens();
	g_autofree gchar *token = issue(tokens, "42", 1, UCV_SESSION_VNC);
	g_autofree gchar *other = issue(tokens, "42", 1, UCV_SESSION_VNC);
	g_autoptr(UcvSessionGrant) grant = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_cmpuint(strlen(token), >=, 43);
	g_assert_cmpuint(strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789-_"),
			 ==, strlen(token));
	g_assert_cmpstr(token, !=, other);
	grant = ucv_session_tokens_redeem(tokens, token, UCV_SESSION_VNC, CLIENT, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(grant->job_id, ==, "42");
	g_assert_cmpuint(grant->rank, ==, 1);
	g_assert_cmpint(grant->kind, ==, UCV_SESSION_VNC);
	assert_refused(tokens, token, UCV_SESSION_VNC, CLIENT);
	g_assert_cmpuint(ucv_session_tokens_get_n_pending(tokens), ==, 1);
}

/* Unused for the lifetime, a token is void; a shell token does not open a VNC socket. */
static void
test_expiry_and_kind(void)
{
	g_autoptr(UcvSessionTokens) tokens = make_tokens();
	g_autofree gchar *old = issue(tokens, "7", 0, UCV_SESSION_VNC);
	g_autofree gchar *shell = issue(tokens, "7", 0, UCV_SESSION_SHELL);
	g_autoptr(UcvSessionGrant) grant = NULL;

	fake_now_us += (LIFETIME_S - 1) * G_USEC_PER_SEC;
	assert_refused(tokens, shell, UCV_SESSION_VNC, NULL);
	grant = ucv_session_tokens_redeem(tokens, shell, UCV_SESSION_SHELL, NULL, NULL);
	g_assert_nonnull(grant);
	fake_now_us += 2 * G_USEC_PER_SEC;
	assert_refused(tokens, old, UCV_SESSION_VNC, NULL);
	g_assert_cmpuint(ucv_session_tokens_get_n_pending(tokens), ==, 0);
}

/* A job that ends or suspends takes its unused tokens with it. */
static void
test_revoke_job(void)
{
	g_autoptr(UcvSessionTokens) tokens = make_tokens();
	g_autofree gchar *gone = issue(tokens, "1", 0, UCV_SESSION_VNC);
	g_autofree gchar *kept = issue(tokens, "2", 0, UCV_SESSION_VNC);
	g_autoptr(UcvSessionGrant) grant = NULL;

	ucv_session_tokens_revoke_job(tokens, "1");
	assert_refused(tokens, gone, UCV_SESSION_VNC, NULL);
	grant = ucv_session_tokens_redeem(tokens, kept, UCV_SESSION_VNC, NULL, NULL);
	g_assert_nonnull(grant);
}

/* A client guessing tokens is stopped after a few misses, even with a valid token, until its
 * window has passed; other clients are not affected. */
static void
test_rate_limit(void)
{
	g_autoptr(UcvSessionTokens) tokens = make_tokens();
	g_autofree gchar *valid = issue(tokens, "9", 0, UCV_SESSION_VNC);
	g_autofree gchar *for_other = issue(tokens, "9", 0, UCV_SESSION_VNC);
	g_autoptr(UcvSessionGrant) other = NULL;
	g_autoptr(UcvSessionGrant) later = NULL;

	for (guint i = 0; i < MAX_FAILURES; i++)
		assert_refused(tokens, "guess", UCV_SESSION_VNC, CLIENT);
	assert_refused(tokens, valid, UCV_SESSION_VNC, CLIENT);
	other = ucv_session_tokens_redeem(tokens, for_other, UCV_SESSION_VNC, OTHER_CLIENT, NULL);
	g_assert_nonnull(other);

	fake_now_us += FAIL_WINDOW_S * G_USEC_PER_SEC;
	later = ucv_session_tokens_redeem(tokens, valid, UCV_SESSION_VNC, CLIENT, NULL);
	g_assert_nonnull(later);
	assert_refused(tokens, NULL, UCV_SESSION_VNC, CLIENT);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/session-tokens/single-use", test_single_use);
	g_test_add_func("/session-tokens/expiry-and-kind", test_expiry_and_kind);
	g_test_add_func("/session-tokens/revoke-job", test_revoke_job);
	g_test_add_func("/session-tokens/rate-limit", test_rate_limit);
	return g_test_run();
}
