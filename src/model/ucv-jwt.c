/* Takes JSON Web Tokens apart and speaks base64url; signature checks live in the API layer. */
#include "config.h"

#include "ucv-jwt.h"

#include <string.h>

#include "ucv-error.h"

/* Core's tokens are well under a kilobyte; anything this large is not a token we want to decode. */
#define UCV_JWT_MAX_LENGTH 16384

gchar *
ucv_base64url_encode(const guint8 *data, gsize len)
{
	g_autofree gchar *b64 = g_base64_encode(data, len);
	g_autoptr(GString) out = g_string_sized_new(strlen(b64));

	for (const gchar *p = b64; *p != '\0'; p++) {
		if (*p == '=')
			break;
		if (*p == '+')
			g_string_append_c(out, '-');
		else if (*p == '/')
			g_string_append_c(out, '_');
		else
			g_string_append_c(out, *p);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

static gboolean
ucv_base64url_char_valid(gchar c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '_';
}

/* Translates to standard base64 with padding, since g_base64_decode silently skips bad input. */
static gchar *
ucv_base64url_to_base64(const gchar *text, GError **error)
{
	gsize len = strlen(text);
	g_autoptr(GString) out = NULL;

	/* padding is optional in base64url, but tolerated when present */
	while (len > 0 && text[len - 1] == '=')
		len--;
	if (len % 4 == 1) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
				    "bad base64url length");
		return NULL;
	}
	out = g_string_sized_new(len + 3);
	for (gsize i = 0; i < len; i++) {
		gchar c = text[i];
		if (!ucv_base64url_char_valid(c)) {
			g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
					    "bad base64url character");
			return NULL;
		}
		g_string_append_c(out, c == '-' ? '+' : c == '_' ? '/' : c);
	}
	while (out->len % 4 != 0)
		g_string_append_c(out, '=');
	return g_string_free(g_steal_pointer(&out), FALSE);
}

GBytes *
ucv_base64url_decode(const gchar *text, GError **error)
{
	g_autofree gchar *b64 = NULL;
	guchar *data;
	gsize len = 0;

	g_return_val_if_fail(text != NULL, NULL);

	b64 = ucv_base64url_to_base64(text, error);
	if (b64 == NULL)
		return NULL;
	if (b64[0] == '\0')
		return g_bytes_new(NULL, 0);
	data = g_base64_decode(b64, &len);
	return g_bytes_new_take(data, len);
}

static JsonObject *
ucv_jwt_decode_object(const gchar *part, const gchar *what, GError **error)
{
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error_local = NULL;
	gsize len = 0;
	const gchar *data;
	JsonNode *root;

	bytes = ucv_base64url_decode(part, error);
	if (bytes == NULL) {
		g_prefix_error(error, "token %s: ", what);
		return NULL;
	}
	data = g_bytes_get_data(bytes, &len);
	if (len == 0 || !json_parser_load_from_data(parser, data, (gssize)len, &error_local)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED, "token %s is not JSON", what);
		return NULL;
	}
	root = json_parser_get_root(parser);
	if (!JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
			    "token %s is not a JSON object", what);
		return NULL;
	}
	return json_node_dup_object(root);
}

UcvJwt *
ucv_jwt_parse(const gchar *token, GError **error)
{
	g_autoptr(UcvJwt) self = g_new0(UcvJwt, 1);
	g_auto(GStrv) parts = NULL;

	if (token == NULL || token[0] == '\0') {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED, "empty token");
		return NULL;
	}
	if (strlen(token) > UCV_JWT_MAX_LENGTH) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED, "token too long");
		return NULL;
	}
	parts = g_strsplit(token, ".", -1);
	if (g_strv_length(parts) != 3) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED,
				    "malformed token: expected three parts");
		return NULL;
	}
	self->header = ucv_jwt_decode_object(parts[0], "header", error);
	if (self->header == NULL)
		return NULL;
	self->claims = ucv_jwt_decode_object(parts[1], "claims", error);
	if (self->claims == NULL)
		return NULL;
	self->signature = ucv_base64url_decode(parts[2], error);
	if (self->signature == NULL) {
		g_prefix_error(error, "token signature: ");
		return NULL;
	}
	self->signed_part = g_strdup_printf("%s.%s", parts[0], parts[1]);
	return g_steal_pointer(&self);
}

void
ucv_jwt_free(UcvJwt *self)
{
	if (self == NULL)
		return;
	g_clear_pointer(&self->header, json_object_unref);
	g_clear_pointer(&self->claims, json_object_unref);
	g_clear_pointer(&self->signature, g_bytes_unref);
	g_free(self->signed_part);
	g_free(self);
}

gint64
ucv_jwt_get_expiry(const UcvJwt *self)
{
	JsonNode *node;
	GType type;

	g_return_val_if_fail(self != NULL, 0);

	node = json_object_get_member(self->claims, "exp");
	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node))
		return 0;
	type = json_node_get_value_type(node);
	if (type == G_TYPE_INT64)
		return json_node_get_int(node);
	if (type == G_TYPE_DOUBLE) {
		gdouble exp = json_node_get_double(node);
		/* keep the conversion defined for absurd values */
		if (exp >= 9.0e18)
			return G_MAXINT64;
		return exp >= 1 ? (gint64)exp : 0;
	}
	return 0;
}
