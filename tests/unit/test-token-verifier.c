/* Unit tests for the bearer-token check: only Core's own, fresh RS256 tokens pass. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "api/ucv-token-verifier.h"
#include "ucv-test-signer.h"
#include "model/ucv-error.h"
#include "model/ucv-jwt.h"

typedef struct {
	UcvTestSigner *signer;
	UcvTestSigner *other;
	UcvTokenVerifier *verifier;
} Fixture;

/* RSA key generation is slow enough that the keys are made once per run. */
static Fixture fixture;

static gint64
now_s(void)
{
	return g_get_real_time() / G_USEC_PER_SEC;
}

static void
assert_rejected(const gchar *token, const gchar *reason_part)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(ucv_token_verifier_check(fixture.verifier, token, now_s(), &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED);
	if (reason_part != NULL)
		g_assert_nonnull(strstr(error->message, reason_part));
	/* the token must never end up in a message that may be logged */
	if (token != NULL && token[0] != '\0')
		g_assert_null(strstr(error->message, token));
}

static void
test_verifier_valid(void)
{
	g_autofree gchar *token = ucv_test_signer_mint_core_token(fixture.signer, 600);
	g_autoptr(GError) error = NULL;

	g_assert_true(ucv_token_verifier_check(fixture.verifier, token, now_s(), &error));
	g_assert_no_error(error);
}

static void
test_verifier_expired(void)
{
	g_autofree gchar *token = ucv_test_signer_mint_core_token(fixture.signer, -3600);

	assert_rejected(token, "expired");
}

static void
test_verifier_skew(void)
{
	g_autofree gchar *token = ucv_test_signer_mint_core_token(fixture.signer, -30);
	g_autoptr(GError) error = NULL;

	/* half a minute past exp is within the allowed clock skew */
	g_assert_true(ucv_token_verifier_check(fixture.verifier, token, now_s(), &error));
	g_assert_no_error(error);
}

static void
test_verifier_no_expiry(void)
{
	g_autofree gchar *token =
		ucv_test_signer_sign(fixture.signer, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
				     "{\"sub\":\"_UCloud\",\"role\":\"SERVICE\"}");

	assert_rejected(token, "expiry");
}

static void
test_verifier_wrong_sub(void)
{
	g_autofree gchar *claims = g_strdup_printf(
		"{\"sub\":\"someone\",\"role\":\"SERVICE\",\"exp\":%" G_GINT64_FORMAT "}",
		now_s() + 600);
	g_autofree gchar *token =
		ucv_test_signer_sign(fixture.signer, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", claims);

	assert_rejected(token, "sub");
}

static void
test_verifier_wrong_role(void)
{
	g_autofree gchar *token =
		ucv_test_signer_mint_provider_token(fixture.signer, "example", 600);

	assert_rejected(token, NULL);
}

static void
test_verifier_role_only_wrong(void)
{
	g_autofree gchar *claims = g_strdup_printf(
		"{\"sub\":\"_UCloud\",\"role\":\"PROVIDER\",\"exp\":%" G_GINT64_FORMAT "}",
		now_s() + 600);
	g_autofree gchar *token =
		ucv_test_signer_sign(fixture.signer, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", claims);

	assert_rejected(token, "role");
}

static void
test_verifier_other_key(void)
{
	g_autofree gchar *token = ucv_test_signer_mint_core_token(fixture.other, 600);

	assert_rejected(token, "signature");
}

static void
test_verifier_tampered(void)
{
	g_autofree gchar *token = ucv_test_signer_mint_core_token(fixture.signer, 600);
	g_autofree gchar *claims = g_strdup_printf(
		"{\"sub\":\"_UCloud\",\"role\":\"SERVICE\",\"exp\":%" G_GINT64_FORMAT "}",
		now_s() + 999999);
	g_autofree gchar *forged_claims =
		ucv_base64url_encode((const guint8 *)claims, strlen(claims));
	g_auto(GStrv) parts = g_strsplit(token, ".", 3);
	g_autofree gchar *forged = g_strjoin(".", parts[0], forged_claims, parts[2], NULL);

	assert_rejected(forged, "signature");
}

static gchar *
unsigned_token(const gchar *header, const gchar *signature)
{
	g_autofree gchar *claims = g_strdup_printf(
		"{\"sub\":\"_UCloud\",\"role\":\"SERVICE\",\"exp\":%" G_GINT64_FORMAT "}",
		now_s() + 600);
	g_autofree gchar *h = ucv_base64url_encode((const guint8 *)header, strlen(header));
	g_autofree gchar *c = ucv_base64url_encode((const guint8 *)claims, strlen(claims));

	return g_strdup_printf("%s.%s.%s", h, c, signature);
}

static void
test_verifier_alg_none(void)
{
	g_autofree gchar *token = unsigned_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", "");
	g_autofree gchar *lower = unsigned_token("{\"alg\":\"rs256\"}", "");
	g_autofree gchar *missing = unsigned_token("{\"typ\":\"JWT\"}", "");

	assert_rejected(token, "algorithm");
	assert_rejected(lower, "algorithm");
	assert_rejected(missing, "algorithm");
}

static void
test_verifier_alg_none_signed(void)
{
	g_autofree gchar *claims = g_strdup_printf(
		"{\"sub\":\"_UCloud\",\"role\":\"SERVICE\",\"exp\":%" G_GINT64_FORMAT "}",
		now_s() + 600);
	g_autofree gchar *token =
		ucv_test_signer_sign(fixture.signer, "{\"alg\":\"none\"}", claims);

	/* even a valid RSA signature does not rescue a token that names another algorithm */
	assert_rejected(token, "algorithm");
}

static void
test_verifier_hs256(void)
{
	g_autofree gchar *pub = ucv_test_signer_get_public_key_base64(fixture.signer);
	g_autofree gchar *token = unsigned_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "");
	g_auto(GStrv) parts = g_strsplit(token, ".", 3);
	g_autofree gchar *signed_part = g_strjoin(".", parts[0], parts[1], NULL);
	g_autoptr(GBytes) mac = NULL;
	g_autofree gchar *mac_text = NULL;
	g_autofree gchar *hs_token = NULL;
	gsize mac_len = 32;
	guint8 mac_data[32];
	g_autoptr(GHmac) hmac = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)pub, strlen(pub));

	/* the classic confusion attack: an HMAC keyed with the public key */
	g_hmac_update(hmac, (const guchar *)signed_part, -1);
	g_hmac_get_digest(hmac, mac_data, &mac_len);
	mac_text = ucv_base64url_encode(mac_data, mac_len);
	hs_token = g_strdup_printf("%s.%s", signed_part, mac_text);
	assert_rejected(hs_token, "algorithm");
}

static void
test_verifier_garbage(void)
{
	const gchar *bad[] = {"", "garbage", "a.b.c", "Bearer x.y.z", "....", "e30.e30.e30"};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		assert_rejected(bad[i], NULL);
}

static void
test_verifier_pem(void)
{
	g_autofree gchar *pem = ucv_test_signer_get_public_key_pem(fixture.signer);
	g_autofree gchar *token = ucv_test_signer_mint_core_token(fixture.signer, 600);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvTokenVerifier) verifier = ucv_token_verifier_new(pem, &error);

	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(pem, "-----BEGIN PUBLIC KEY-----"));
	g_assert_true(ucv_token_verifier_check(verifier, token, now_s(), &error));
	g_assert_no_error(error);
}

static void
test_verifier_key_file(void)
{
	g_autofree gchar *b64 = ucv_test_signer_get_public_key_base64(fixture.signer);
	g_autofree gchar *with_newline = g_strdup_printf("%s\n", b64);
	g_autofree gchar *token = ucv_test_signer_mint_core_token(fixture.signer, 600);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dir = g_dir_make_tmp("ucv-test-XXXXXX", &error);
	g_autofree gchar *path = g_build_filename(dir, "key", NULL);
	g_autoptr(UcvTokenVerifier) verifier = NULL;

	g_assert_no_error(error);
	g_assert_true(g_file_set_contents(path, with_newline, -1, &error));
	verifier = ucv_token_verifier_new_from_file(path, &error);
	g_assert_no_error(error);
	g_assert_true(ucv_token_verifier_check(verifier, token, now_s(), &error));
	g_assert_no_error(error);
	g_unlink(path);
	g_rmdir(dir);
}

static void
test_verifier_bad_keys(void)
{
	const gchar *bad[] = {"", "not a key!", "AAAA", "-----BEGIN PUBLIC KEY-----\nAAAA\n"};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UcvTokenVerifier) verifier = ucv_token_verifier_new(bad[i], &error);
		g_assert_error(error, UCV_ERROR, UCV_ERROR_CONFIG);
		g_assert_null(verifier);
	}
}

static void
test_signer_save_load(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dir = g_dir_make_tmp("ucv-test-XXXXXX", &error);
	g_autofree gchar *path = g_build_filename(dir, "key.pem", NULL);
	g_autoptr(UcvTestSigner) loaded = NULL;
	g_autofree gchar *token = NULL;

	g_assert_no_error(error);
	g_assert_true(ucv_test_signer_save(fixture.signer, path, &error));
	g_assert_no_error(error);
	loaded = ucv_test_signer_new_from_file(path, &error);
	g_assert_no_error(error);
	token = ucv_test_signer_mint_core_token(loaded, 600);
	g_assert_true(ucv_token_verifier_check(fixture.verifier, token, now_s(), &error));
	g_assert_no_error(error);
	g_unlink(path);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *key = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	fixture.signer = ucv_test_signer_new(&error);
	g_assert_no_error(error);
	fixture.other = ucv_test_signer_new(&error);
	g_assert_no_error(error);
	key = ucv_test_signer_get_public_key_base64(fixture.signer);
	fixture.verifier = ucv_token_verifier_new(key, &error);
	g_assert_no_error(error);

	g_test_add_func("/token-verifier/valid", test_verifier_valid);
	g_test_add_func("/token-verifier/expired", test_verifier_expired);
	g_test_add_func("/token-verifier/clock-skew", test_verifier_skew);
	g_test_add_func("/token-verifier/no-expiry", test_verifier_no_expiry);
	g_test_add_func("/token-verifier/wrong-sub", test_verifier_wrong_sub);
	g_test_add_func("/token-verifier/provider-token", test_verifier_wrong_role);
	g_test_add_func("/token-verifier/wrong-role", test_verifier_role_only_wrong);
	g_test_add_func("/token-verifier/other-key", test_verifier_other_key);
	g_test_add_func("/token-verifier/tampered", test_verifier_tampered);
	g_test_add_func("/token-verifier/alg-none", test_verifier_alg_none);
	g_test_add_func("/token-verifier/alg-none-signed", test_verifier_alg_none_signed);
	g_test_add_func("/token-verifier/hs256", test_verifier_hs256);
	g_test_add_func("/token-verifier/garbage", test_verifier_garbage);
	g_test_add_func("/token-verifier/pem", test_verifier_pem);
	g_test_add_func("/token-verifier/key-file", test_verifier_key_file);
	g_test_add_func("/token-verifier/bad-keys", test_verifier_bad_keys);
	g_test_add_func("/test-signer/save-load", test_signer_save_load);
	rc = g_test_run();
	g_clear_object(&fixture.verifier);
	g_clear_object(&fixture.other);
	g_clear_object(&fixture.signer);
	return rc;
}
