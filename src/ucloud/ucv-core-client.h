/* The client for UCloud/Core: access-token refresh and authenticated control calls. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define UCV_TYPE_CORE_CLIENT (ucv_core_client_get_type())
G_DECLARE_FINAL_TYPE(UcvCoreClient, ucv_core_client, UCV, CORE_CLIENT, GObject)

UcvCoreClient *ucv_core_client_new(const gchar *core_url, const gchar *refresh_token);

/* POSTs `body` (compact JSON) to <core_url><path> with a valid access token: renewed ahead of
 * expiry and once more on a 401. Errors: UCV_ERROR_NOT_FOUND on 404, UCV_ERROR_PAYMENT_REQUIRED
 * on 402, UCV_ERROR_INVALID on other 4xx, UCV_ERROR_UNAVAILABLE when Core cannot be reached or
 * answers 5xx (or the token refresh fails that way), UCV_ERROR_UNAUTHORIZED when Core refuses
 * the refresh token or a freshly renewed access token. */
void ucv_core_client_post_async(UcvCoreClient *self, const gchar *path, const gchar *body,
				GCancellable *cancellable, GAsyncReadyCallback callback,
				gpointer user_data);
/* GETs <core_url><path_and_query> the same way; finish with ucv_core_client_post_finish(). */
void ucv_core_client_get_async(UcvCoreClient *self, const gchar *path_and_query,
			       GCancellable *cancellable, GAsyncReadyCallback callback,
			       gpointer user_data);
/* Returns the parsed response body (NULL for an empty body, without error). */
JsonNode *ucv_core_client_post_finish(UcvCoreClient *self, GAsyncResult *res, GError **error);

/* How many token refreshes this client has started (diagnostics, tests). */
guint ucv_core_client_get_refresh_count(UcvCoreClient *self);

G_END_DECLS
