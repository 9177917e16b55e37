/* JSON Web Tokens taken apart (no signature check here): header, claims, signed part, signature. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct {
	JsonObject *header;
	JsonObject *claims;
	gchar *signed_part; /* "<header>.<payload>" exactly as in the token */
	GBytes *signature;  /* decoded from base64url */
} UcvJwt;

UcvJwt *ucv_jwt_parse(const gchar *token, GError **error);
void ucv_jwt_free(UcvJwt *self);

/* exp claim in seconds, or 0 if absent. */
gint64 ucv_jwt_get_expiry(const UcvJwt *self);

gchar *ucv_base64url_encode(const guint8 *data, gsize len);
GBytes *ucv_base64url_decode(const gchar *text, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvJwt, ucv_jwt_free)

G_END_DECLS
