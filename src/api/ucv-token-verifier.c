/* Checks Core's RS256 bearer tokens against the public key UCloud handed to the provider. */
#include "config.h"

#include "ucv-token-verifier.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "model/ucv-error.h"
#include "model/ucv-jwt.h"

/* Core's clock and ours may disagree a little; a token is still good this long after exp. */
#define UCV_TOKEN_CLOCK_SKEW_S 60

struct _UcvTokenVerifier {
	GObject parent_instance;
	gnutls_pubkey_t key;
};

G_DEFINE_TYPE(UcvTokenVerifier, ucv_token_verifier, G_TYPE_OBJECT)

static void
ucv_token_verifier_finalize(GObject *object)
{
	UcvTokenVerifier *self = UCV_TOKEN_VERIFIER(object);

	g_clear_pointer(&self->key, gnutls_pubkey_deinit);
	G_OBJECT_CLASS(ucv_token_verifier_parent_class)->finalize(object);
}

static void
ucv_token_verifier_class_init(UcvTokenVerifierClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ucv_token_verifier_finalize;
}

static void
ucv_token_verifier_init(UcvTokenVerifier *self)
{
}

/* g_base64_decode skips characters it does not know, so a garbled key must be caught first. */
static GBytes *
ucv_token_verifier_decode_base64(const gchar *key, GError **error)
{
	g_autoptr(GString) clean = g_string_new(NULL);
	guchar *data;
	gsize len = 0;

	for (const gchar *p = key; *p != '\0'; p++) {
		if (g_ascii_isspace(*p))
			continue;
		if (!g_ascii_isalnum(*p) && *p != '+' && *p != '/' && *p != '=') {
			g_set_error_literal(error, UCV_ERROR, UCV_ERROR_CONFIG,
					    "the public key is neither base64 nor PEM");
			return NULL;
		}
		g_string_append_c(clean, *p);
	}
	if (clean->len == 0 || clean->len % 4 != 0) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_CONFIG,
				    "the public key is not valid base64");
		return NULL;
	}
	data = g_base64_decode(clean->str, &len);
	return g_bytes_new_take(data, len);
}

static gboolean
ucv_token_verifier_import(UcvTokenVerifier *self, const gchar *key, GError **error)
{
	g_autoptr(GBytes) der = NULL;
	gnutls_x509_crt_fmt_t format = GNUTLS_X509_FMT_PEM;
	gnutls_datum_t datum = {(unsigned char *)key, (unsigned int)strlen(key)};
	int rc;

	if (strstr(key, "-----BEGIN") == NULL) {
		gsize len = 0;
		der = ucv_token_verifier_decode_base64(key, error);
		if (der == NULL)
			return FALSE;
		datum.data = (unsigned char *)g_bytes_get_data(der, &len);
		datum.size = (unsigned int)len;
		format = GNUTLS_X509_FMT_DER;
	}
	rc = gnutls_pubkey_import(self->key, &datum, format);
	if (rc < 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG, "cannot read the public key: %s",
			    gnutls_strerror(rc));
		return FALSE;
	}
	if (gnutls_pubkey_get_pk_algorithm(self->key, NULL) != GNUTLS_PK_RSA) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_CONFIG,
				    "the public key is not an RSA key");
		return FALSE;
	}
	return TRUE;
}

UcvTokenVerifier *
ucv_token_verifier_new(const gchar *key, GError **error)
{
	g_autoptr(UcvTokenVerifier) self = g_object_new(UCV_TYPE_TOKEN_VERIFIER, NULL);
	int rc;

	g_return_val_if_fail(key != NULL, NULL);

	rc = gnutls_pubkey_init(&self->key);
	if (rc < 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_FAILED, "cannot create a public key: %s",
			    gnutls_strerror(rc));
		return NULL;
	}
	if (!ucv_token_verifier_import(self, key, error))
		return NULL;
	return g_steal_pointer(&self);
}

UcvTokenVerifier *
ucv_token_verifier_new_from_file(const gchar *path, GError **error)
{
	g_autofree gchar *contents = NULL;
	UcvTokenVerifier *self;

	if (!g_file_get_contents(path, &contents, NULL, error)) {
		g_prefix_error(error, "public key: ");
		return NULL;
	}
	self = ucv_token_verifier_new(contents, error);
	if (self == NULL)
		g_prefix_error(error, "%s: ", path);
	return self;
}

static gboolean
ucv_token_verifier_check_alg(const UcvJwt *jwt, GError **error)
{
	JsonNode *alg = json_object_get_member(jwt->header, "alg");

	if (alg == NULL || json_node_get_value_type(alg) != G_TYPE_STRING ||
	    g_strcmp0(json_node_get_string(alg), "RS256") != 0) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
				    "token algorithm is not RS256");
		return FALSE;
	}
	return TRUE;
}

static gboolean
ucv_token_verifier_check_signature(UcvTokenVerifier *self, const UcvJwt *jwt, GError **error)
{
	gsize sig_len = 0;
	const guint8 *sig_data = g_bytes_get_data(jwt->signature, &sig_len);
	gnutls_datum_t data = {(unsigned char *)jwt->signed_part,
			       (unsigned int)strlen(jwt->signed_part)};
	gnutls_datum_t sig = {(unsigned char *)sig_data, (unsigned int)sig_len};

	if (sig_len == 0 ||
	    gnutls_pubkey_verify_data2(self->key, GNUTLS_SIGN_RSA_SHA256, 0, &data, &sig) < 0) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
				    "token signature is invalid");
		return FALSE;
	}
	return TRUE;
}

static gboolean
ucv_token_verifier_check_string_claim(const UcvJwt *jwt, const gchar *name, const gchar *expected,
				      GError **error)
{
	JsonNode *node = json_object_get_member(jwt->claims, name);

	if (node == NULL || json_node_get_value_type(node) != G_TYPE_STRING ||
	    g_strcmp0(json_node_get_string(node), expected) != 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
			    "token is not from UCloud/Core (%s)", name);
		return FALSE;
	}
	return TRUE;
}

static gboolean
ucv_token_verifier_check_expiry(const UcvJwt *jwt, gint64 now_s, GError **error)
{
	gint64 exp = ucv_jwt_get_expiry(jwt);

	if (exp <= 0) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
				    "token has no expiry");
		return FALSE;
	}
	if (exp < G_MAXINT64 - UCV_TOKEN_CLOCK_SKEW_S && exp + UCV_TOKEN_CLOCK_SKEW_S < now_s) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED, "token has expired");
		return FALSE;
	}
	return TRUE;
}

gboolean
ucv_token_verifier_check(UcvTokenVerifier *self, const gchar *token, gint64 now_s, GError **error)
{
	g_autoptr(UcvJwt) jwt = NULL;

	g_return_val_if_fail(UCV_IS_TOKEN_VERIFIER(self), FALSE);

	jwt = ucv_jwt_parse(token, error);
	if (jwt == NULL)
		return FALSE;
	/* the algorithm comes first: "none" and HMAC tokens never reach the RSA check */
	if (!ucv_token_verifier_check_alg(jwt, error))
		return FALSE;
	if (!ucv_token_verifier_check_signature(self, jwt, error))
		return FALSE;
	if (!ucv_token_verifier_check_expiry(jwt, now_s, error))
		return FALSE;
	/* the same key signs the provider's own tokens, so the subject and role decide */
	if (!ucv_token_verifier_check_string_claim(jwt, "sub", "_UCloud", error))
		return FALSE;
	if (!ucv_token_verifier_check_string_claim(jwt, "role", "SERVICE", error))
		return FALSE;

	/* success */
	return TRUE;
}

gboolean
ucv_token_verifier_check_authorization(UcvTokenVerifier *self, const gchar *header, GError **error)
{
	const gchar *token;

	if (header == NULL) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
				    "the request has no bearer token");
		return FALSE;
	}
	if (g_ascii_strncasecmp(header, "Bearer ", 7) != 0) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
				    "the Authorization header is not a bearer token");
		return FALSE;
	}
	for (token = header + 7; *token == ' '; token++)
		;
	return ucv_token_verifier_check(self, token, g_get_real_time() / G_USEC_PER_SEC, error);
}
