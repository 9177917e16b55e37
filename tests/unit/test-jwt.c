/* Unit tests for JWT parsing and base64url. */
#include "config.h"

#include <string.h>

#include "ucv-test-signer.h"
#include "model/ucv-error.h"
#include "model/ucv-jwt.h"

static void
test_base64url_roundtrip(void)
{
	for (gsize len = 0; len < 40; len++) {
		g_autofree guint8 *data = g_malloc(len + 1);
		g_autofree gchar *text = NULL;
		g_autoptr(GBytes) back = NULL;
		g_autoptr(GError) error = NULL;

		for (gsize i = 0; i < len; i++)
			data[i] = (guint8)(0xf0 + i * 37);
		text = ucv_base64url_encode(data, len);
		g_assert_null(strchr(text, '='));
		g_assert_null(strchr(text, '+'));
		g_assert_null(strchr(text, '/'));
		back = ucv_base64url_decode(text, &error);
		g_assert_no_error(error);
		g_assert_cmpmem(g_bytes_get_data(back, NULL), g_bytes_get_size(back), data, len);
	}
}

static void
test_base64url_padding(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) padded = ucv_base64url_decode("YWI=", &error);
	g_autoptr(GBytes) bare = NULL;

	g_assert_no_error(error);
	g_assert_cmpmem(g_bytes_get_data(padded, NULL), g_bytes_get_size(padded), "ab", 2);
	bare = ucv_base64url_decode("YWI", &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(padded, bare));
}

static void
test_base64url_invalid(void)
{
	const gchar *bad[] = {"a", "ab$d", "a b", "YW+/", "abcde"};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) bytes = ucv_base64url_decode(bad[i], &error);
		g_assert_error(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED);
		g_assert_null(bytes);
	}
}

static gchar *
make_token(const gchar *header, const gchar *claims, const gchar *signature)
{
	g_autofree gchar *h = ucv_base64url_encode((const guint8 *)header, strlen(header));
	g_autofree gchar *c = ucv_base64url_encode((const guint8 *)claims, strlen(claims));

	return g_strdup_printf("%s.%s.%s", h, c, signature);
}

static void
test_jwt_parse(void)
{
	g_autofree gchar *token =
		make_token("{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
			   "{\"sub\":\"_UCloud\",\"exp\":1700000000,\"role\":\"SERVICE\"}", "AQID");
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvJwt) jwt = ucv_jwt_parse(token, &error);

	g_assert_no_error(error);
	g_assert_nonnull(jwt);
	g_assert_cmpstr(json_object_get_string_member(jwt->header, "alg"), ==, "RS256");
	g_assert_cmpstr(json_object_get_string_member(jwt->claims, "sub"), ==, "_UCloud");
	g_assert_cmpint(ucv_jwt_get_expiry(jwt), ==, 1700000000);
	g_assert_true(g_str_has_prefix(token, jwt->signed_part));
	g_assert_cmpint(strlen(jwt->signed_part), ==, strrchr(token, '.') - token);
	g_assert_cmpmem(g_bytes_get_data(jwt->signature, NULL), g_bytes_get_size(jwt->signature),
			"\x01\x02\x03", 3);
}

static void
test_jwt_no_expiry(void)
{
	g_autofree gchar *token = make_token("{\"alg\":\"RS256\"}", "{\"exp\":\"soon\"}", "");
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvJwt) jwt = ucv_jwt_parse(token, &error);

	g_assert_no_error(error);
	g_assert_cmpint(ucv_jwt_get_expiry(jwt), ==, 0);
	g_assert_cmpuint(g_bytes_get_size(jwt->signature), ==, 0);
}

static void
test_jwt_float_expiry(void)
{
	g_autofree gchar *token = make_token("{\"alg\":\"RS256\"}", "{\"exp\":1.7e9}", "");
	g_autofree gchar *huge = make_token("{\"alg\":\"RS256\"}", "{\"exp\":1e300}", "");
	g_autoptr(UcvJwt) jwt = ucv_jwt_parse(token, NULL);
	g_autoptr(UcvJwt) jwt_huge = ucv_jwt_parse(huge, NULL);

	g_assert_cmpint(ucv_jwt_get_expiry(jwt), ==, 1700000000);
	g_assert_cmpint(ucv_jwt_get_expiry(jwt_huge), ==, G_MAXINT64);
}

static void
test_jwt_malformed(void)
{
	g_autofree gchar *not_json = make_token("not json", "{}", "");
	g_autofree gchar *array_claims = make_token("{}", "[1,2]", "");
	g_autofree gchar *bad_sig = make_token("{}", "{}", "***");
	g_autofree gchar *long_token = g_strnfill(20000, 'a');
	const gchar *bad[] = {"",       "abc",        "a.b",   "a.b.c.d", "..",
			      not_json, array_claims, bad_sig, long_token};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(UcvJwt) jwt = ucv_jwt_parse(bad[i], &error);
		g_assert_error(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED);
		g_assert_null(jwt);
	}
}

static void
test_jwt_signed_by_signer(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvTestSigner) signer = ucv_test_signer_new(&error);
	g_autofree gchar *token = NULL;
	g_autoptr(UcvJwt) jwt = NULL;

	g_assert_no_error(error);
	token = ucv_test_signer_mint_core_token(signer, 600);
	jwt = ucv_jwt_parse(token, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(json_object_get_string_member(jwt->claims, "role"), ==, "SERVICE");
	g_assert_cmpuint(g_bytes_get_size(jwt->signature), ==, 256);
	g_assert_cmpint(ucv_jwt_get_expiry(jwt), >, g_get_real_time() / G_USEC_PER_SEC);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/base64url/roundtrip", test_base64url_roundtrip);
	g_test_add_func("/base64url/padding", test_base64url_padding);
	g_test_add_func("/base64url/invalid", test_base64url_invalid);
	g_test_add_func("/jwt/parse", test_jwt_parse);
	g_test_add_func("/jwt/no-expiry", test_jwt_no_expiry);
	g_test_add_func("/jwt/float-expiry", test_jwt_float_expiry);
	g_test_add_func("/jwt/malformed", test_jwt_malformed);
	g_test_add_func("/jwt/signed-by-signer", test_jwt_signed_by_signer);
	return g_test_run();
}
