/* The one place where errors become HTTP: status codes and UCloud's CommonErrorMessage. */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* UCV_ERROR codes to HTTP status; anything unknown is an internal error (500). */
guint ucv_http_error_status(const GError *error);
/* The CommonErrorMessage errorCode for an error, or NULL when it carries none. */
const gchar *ucv_http_error_code(const GError *error);
/* {"statusCode":…,"why":…,"errorCode":…} as compact JSON; errorCode is left out when NULL. */
gchar *ucv_http_error_body(guint status, const gchar *why, const gchar *error_code);

/* Answers the message with `status` and a CommonErrorMessage. */
void ucv_http_respond_status(SoupServerMessage *msg, guint status, const gchar *why,
			     const gchar *error_code);
/* Answers the message with `error` as a CommonErrorMessage. */
void ucv_http_error_respond(SoupServerMessage *msg, const GError *error);
/* Answers the message with a JSON body and status 200. */
void ucv_http_respond_json(SoupServerMessage *msg, JsonNode *node);

G_END_DECLS
