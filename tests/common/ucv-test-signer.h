/* Test helper: an RSA key pair that mints RS256 JWTs the way UCloud/Core does. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define UCV_TYPE_TEST_SIGNER (ucv_test_signer_get_type())
G_DECLARE_FINAL_TYPE(UcvTestSigner, ucv_test_signer, UCV, TEST_SIGNER, GObject)

/* A fresh 2048-bit RSA key. */
UcvTestSigner *ucv_test_signer_new(GError **error);
/* A key saved earlier with ucv_test_signer_save (PEM, PKCS#8 or PKCS#1). */
UcvTestSigner *ucv_test_signer_new_from_file(const gchar *path, GError **error);
gboolean ucv_test_signer_save(UcvTestSigner *self, const gchar *path, GError **error);

/* base64 of DER SubjectPublicKeyInfo, exactly as UCloud hands the key to providers. */
gchar *ucv_test_signer_get_public_key_base64(UcvTestSigner *self);
gchar *ucv_test_signer_get_public_key_pem(UcvTestSigner *self);

/* header_json.claims_json.signature, each part base64url; signs with RSA PKCS#1 v1.5 SHA-256 no
 * matter what the header says (so tests can forge "alg" values). */
gchar *ucv_test_signer_sign(UcvTestSigner *self, const gchar *header_json,
			    const gchar *claims_json);
/* A token like Core's own: sub "_UCloud", role "SERVICE", exp = now + lifetime_s. */
gchar *ucv_test_signer_mint_core_token(UcvTestSigner *self, gint64 lifetime_s);
/* A provider access token: sub "#P_<provider_id>", role "PROVIDER". */
gchar *ucv_test_signer_mint_provider_token(UcvTestSigner *self, const gchar *provider_id,
					   gint64 lifetime_s);

G_END_DECLS
