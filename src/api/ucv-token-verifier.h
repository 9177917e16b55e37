/* Checks Core's RS256 bearer tokens (spec §4): signature, alg, expiry, sub and role. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define UCV_TYPE_TOKEN_VERIFIER (ucv_token_verifier_get_type())
G_DECLARE_FINAL_TYPE(UcvTokenVerifier, ucv_token_verifier, UCV, TOKEN_VERIFIER, GObject)

/* `key` is base64 of DER SubjectPublicKeyInfo (as UCloud hands it out) or PEM. */
UcvTokenVerifier *ucv_token_verifier_new(const gchar *key, GError **error);
UcvTokenVerifier *ucv_token_verifier_new_from_file(const gchar *path, GError **error);

/* TRUE only for a token Core itself signed: RS256, valid signature, exp in the future (60 s skew
 * allowed), sub "_UCloud", role "SERVICE". `now_s` is the current Unix time in seconds. */
gboolean ucv_token_verifier_check(UcvTokenVerifier *self, const gchar *token, gint64 now_s,
				  GError **error);

/* The same for a request's Authorization header value ("Bearer <token>"; NULL when absent). */
gboolean ucv_token_verifier_check_authorization(UcvTokenVerifier *self, const gchar *header,
						GError **error);

G_END_DECLS
