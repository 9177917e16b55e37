/* Test helper: an RSA key pair that mints RS256 JWTs the way UCloud/Core does. */
#include "config.h"

#include "ucv-test-signer.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "model/ucv-error.h"
#include "model/ucv-jwt.h"

struct _UcvTestSigner {
	GObject parent_instance;
	gnutls_privkey_t key;
};

G_DEFINE_TYPE(UcvTestSigner, ucv_test_signer, G_TYPE_OBJECT)

typedef gnutls_datum_t UcvTestDatum;

static void
ucv_test_datum_clear(UcvTestDatum *datum)
{
	g_clear_pointer(&datum->data, gnutls_free);
	datum->size = 0;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UcvTestDatum, ucv_test_datum_clear)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_pubkey_t, gnutls_pubkey_deinit, NULL)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(gnutls_x509_privkey_t, gnutls_x509_privkey_deinit, NULL)

static gboolean
ucv_test_gnutls_check(int rc, const gchar *what, GError **error)
{
	if (rc >= 0)
		return TRUE;
	g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "%s: %s", what, gnutls_strerror(rc));
	return FALSE;
}

static void
ucv_test_signer_finalize(GObject *object)
{
	UcvTestSigner *self = UCV_TEST_SIGNER(object);

	g_clear_pointer(&self->key, gnutls_privkey_deinit);
	G_OBJECT_CLASS(ucv_test_signer_parent_class)->finalize(object);
}

static void
ucv_test_signer_class_init(UcvTestSignerClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ucv_test_signer_finalize;
}

static void
ucv_test_signer_init(UcvTestSigner *self)
{
}

static UcvTestSigner *
ucv_test_signer_new_empty(GError **error)
{
	g_autoptr(UcvTestSigner) self = g_object_new(UCV_TYPE_TEST_SIGNER, NULL);

	if (!ucv_test_gnutls_check(gnutls_privkey_init(&self->key), "privkey init", error))
		return NULL;
	return g_steal_pointer(&self);
}

UcvTestSigner *
ucv_test_signer_new(GError **error)
{
	g_autoptr(UcvTestSigner) self = ucv_test_signer_new_empty(error);
	int rc;

	if (self == NULL)
		return NULL;
	rc = gnutls_privkey_generate(self->key, GNUTLS_PK_RSA, 2048, 0);
	if (!ucv_test_gnutls_check(rc, "cannot generate an RSA key", error))
		return NULL;
	return g_steal_pointer(&self);
}

UcvTestSigner *
ucv_test_signer_new_from_file(const gchar *path, GError **error)
{
	g_autoptr(UcvTestSigner) self = NULL;
	g_autofree gchar *pem = NULL;
	gsize len = 0;
	gnutls_datum_t datum;
	int rc;

	if (!g_file_get_contents(path, &pem, &len, error))
		return NULL;
	self = ucv_test_signer_new_empty(error);
	if (self == NULL)
		return NULL;
	datum.data = (unsigned char *)pem;
	datum.size = (unsigned int)len;
	rc = gnutls_privkey_import_x509_raw(self->key, &datum, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (!ucv_test_gnutls_check(rc, "cannot read the private key", error)) {
		g_prefix_error(error, "%s: ", path);
		return NULL;
	}
	return g_steal_pointer(&self);
}

gboolean
ucv_test_signer_save(UcvTestSigner *self, const gchar *path, GError **error)
{
	g_auto(gnutls_x509_privkey_t) x509 = NULL;
	g_auto(UcvTestDatum) pem = {NULL, 0};
	int rc;

	g_return_val_if_fail(UCV_IS_TEST_SIGNER(self), FALSE);

	rc = gnutls_privkey_export_x509(self->key, &x509);
	if (!ucv_test_gnutls_check(rc, "cannot export the private key", error))
		return FALSE;
	rc = gnutls_x509_privkey_export2_pkcs8(x509, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
					       &pem);
	if (!ucv_test_gnutls_check(rc, "cannot encode the private key", error))
		return FALSE;
	return g_file_set_contents_full(path, (const gchar *)pem.data, pem.size,
					G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

static gboolean
ucv_test_signer_export_public(UcvTestSigner *self, gnutls_x509_crt_fmt_t format, UcvTestDatum *out)
{
	g_auto(gnutls_pubkey_t) pub = NULL;

	if (gnutls_pubkey_init(&pub) < 0)
		return FALSE;
	if (gnutls_pubkey_import_privkey(pub, self->key, 0, 0) < 0)
		return FALSE;
	return gnutls_pubkey_export2(pub, format, out) >= 0;
}

gchar *
ucv_test_signer_get_public_key_base64(UcvTestSigner *self)
{
	g_auto(UcvTestDatum) der = {NULL, 0};

	g_return_val_if_fail(UCV_IS_TEST_SIGNER(self), NULL);

	if (!ucv_test_signer_export_public(self, GNUTLS_X509_FMT_DER, &der))
		return NULL;
	return g_base64_encode(der.data, der.size);
}

gchar *
ucv_test_signer_get_public_key_pem(UcvTestSigner *self)
{
	g_auto(UcvTestDatum) pem = {NULL, 0};

	g_return_val_if_fail(UCV_IS_TEST_SIGNER(self), NULL);

	if (!ucv_test_signer_export_public(self, GNUTLS_X509_FMT_PEM, &pem))
		return NULL;
	return g_strndup((const gchar *)pem.data, pem.size);
}

gchar *
ucv_test_signer_sign(UcvTestSigner *self, const gchar *header_json, const gchar *claims_json)
{
	g_autofree gchar *header = NULL;
	g_autofree gchar *claims = NULL;
	g_autofree gchar *signed_part = NULL;
	g_autofree gchar *signature = NULL;
	g_auto(UcvTestDatum) sig = {NULL, 0};
	gnutls_datum_t data;
	int rc;

	g_return_val_if_fail(UCV_IS_TEST_SIGNER(self), NULL);

	header = ucv_base64url_encode((const guint8 *)header_json, strlen(header_json));
	claims = ucv_base64url_encode((const guint8 *)claims_json, strlen(claims_json));
	signed_part = g_strdup_printf("%s.%s", header, claims);
	data.data = (unsigned char *)signed_part;
	data.size = (unsigned int)strlen(signed_part);
	rc = gnutls_privkey_sign_data2(self->key, GNUTLS_SIGN_RSA_SHA256, 0, &data, &sig);
	if (rc < 0) {
		g_warning("cannot sign a test token: %s", gnutls_strerror(rc));
		return NULL;
	}
	signature = ucv_base64url_encode(sig.data, sig.size);
	return g_strdup_printf("%s.%s", signed_part, signature);
}

static gchar *
ucv_test_signer_mint(UcvTestSigner *self, const gchar *sub, const gchar *role,
		     const gchar *principal_type, gint64 lifetime_s)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *claims = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "principalType");
	json_builder_add_string_value(builder, principal_type);
	json_builder_set_member_name(builder, "role");
	json_builder_add_string_value(builder, role);
	json_builder_set_member_name(builder, "iss");
	json_builder_add_string_value(builder, "cloud.sdu.dk");
	json_builder_set_member_name(builder, "sub");
	json_builder_add_string_value(builder, sub);
	json_builder_set_member_name(builder, "aud");
	json_builder_begin_array(builder);
	json_builder_add_string_value(builder, "all:write");
	json_builder_end_array(builder);
	json_builder_set_member_name(builder, "exp");
	json_builder_add_int_value(builder, now + lifetime_s);
	json_builder_set_member_name(builder, "iat");
	json_builder_add_int_value(builder, now);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	claims = json_to_string(root, FALSE);
	return ucv_test_signer_sign(self, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", claims);
}

gchar *
ucv_test_signer_mint_core_token(UcvTestSigner *self, gint64 lifetime_s)
{
	return ucv_test_signer_mint(self, "_UCloud", "SERVICE", "service", lifetime_s);
}

gchar *
ucv_test_signer_mint_provider_token(UcvTestSigner *self, const gchar *provider_id,
				    gint64 lifetime_s)
{
	g_autofree gchar *sub = g_strdup_printf("#P_%s", provider_id);

	return ucv_test_signer_mint(self, sub, "PROVIDER", "provider", lifetime_s);
}
