/* Answers a request at once, before (the rest of) its body is read, and closes the connection. */
#include "config.h"

#define G_LOG_DOMAIN "ucv-api"

#include "ucv-http-reject.h"

#include <string.h>

#include "api/ucv-http-error.h"

/* After the answer, the client's remaining upload is read and dropped so that closing the socket
 * does not reset the connection under the answer; these bound how long that goes on. */
#define UCV_REJECT_DRAIN_MAX_BYTES (64 * 1024 * 1024)
#define UCV_REJECT_DRAIN_TIMEOUT_S 5

typedef struct {
	SoupServerMessage *msg;
	GIOStream *stream;
	GCancellable *cancellable;
	gchar *response;
	gsize drained;
	guint timeout_id;
	guint8 buffer[16384];
} UcvRejectHelper;

static void
ucv_reject_helper_free(UcvRejectHelper *helper)
{
	g_clear_handle_id(&helper->timeout_id, g_source_remove);
	g_clear_object(&helper->msg);
	g_clear_object(&helper->stream);
	g_clear_object(&helper->cancellable);
	g_free(helper->response);
	g_free(helper);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvRejectHelper, ucv_reject_helper_free)

static gchar *
ucv_reject_build_response(const GError *error)
{
	guint status = ucv_http_error_status(error);
	g_autofree gchar *body =
		ucv_http_error_body(status, error->message, ucv_http_error_code(error));

	return g_strdup_printf("HTTP/1.1 %u %s\r\n"
			       "Content-Type: application/json\r\n"
			       "Content-Length: %zu\r\n"
			       "Connection: close\r\n"
			       "\r\n"
			       "%s",
			       status, soup_status_get_phrase(status), strlen(body), body);
}

static void
ucv_reject_close_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvRejectHelper) helper = user_data;

	g_io_stream_close_finish(G_IO_STREAM(source), res, NULL);
}

static void
ucv_reject_close(UcvRejectHelper *helper)
{
	g_clear_handle_id(&helper->timeout_id, g_source_remove);
	/* not cancellable: the drain's cancellable may have fired already */
	g_io_stream_close_async(helper->stream, G_PRIORITY_DEFAULT, NULL, ucv_reject_close_cb,
				helper);
}

static void ucv_reject_drain(UcvRejectHelper *helper);

static void
ucv_reject_read_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvRejectHelper *helper = user_data;
	gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), res, NULL);

	if (n <= 0 || helper->drained + (gsize)n > UCV_REJECT_DRAIN_MAX_BYTES) {
		ucv_reject_close(helper);
		return;
	}
	helper->drained += (gsize)n;
	ucv_reject_drain(helper);
}

static void
ucv_reject_drain(UcvRejectHelper *helper)
{
	g_input_stream_read_async(g_io_stream_get_input_stream(helper->stream), helper->buffer,
				  sizeof(helper->buffer), G_PRIORITY_DEFAULT, helper->cancellable,
				  ucv_reject_read_cb, helper);
}

static gboolean
ucv_reject_timeout_cb(gpointer user_data)
{
	UcvRejectHelper *helper = user_data;

	helper->timeout_id = 0;
	g_cancellable_cancel(helper->cancellable);
	return G_SOURCE_REMOVE;
}

static void
ucv_reject_write_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	UcvRejectHelper *helper = user_data;
	GSocket *socket = g_object_get_data(G_OBJECT(helper->stream), "GSocket");

	if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, NULL)) {
		ucv_reject_close(helper);
		return;
	}
	/* the client sees the end of the answer while it may still be uploading */
	if (socket != NULL)
		g_socket_shutdown(socket, FALSE, TRUE, NULL);
	ucv_reject_drain(helper);
}

static gboolean
ucv_reject_steal_cb(gpointer user_data)
{
	UcvRejectHelper *helper = user_data;

	/* only outside libsoup's own I/O loop is it safe to take the connection away */
	helper->stream = soup_server_message_steal_connection(helper->msg);
	if (helper->stream == NULL) {
		ucv_reject_helper_free(helper);
		return G_SOURCE_REMOVE;
	}
	helper->timeout_id =
		g_timeout_add_seconds(UCV_REJECT_DRAIN_TIMEOUT_S, ucv_reject_timeout_cb, helper);
	g_output_stream_write_all_async(g_io_stream_get_output_stream(helper->stream),
					helper->response, strlen(helper->response),
					G_PRIORITY_DEFAULT, helper->cancellable,
					ucv_reject_write_cb, helper);
	return G_SOURCE_REMOVE;
}

void
ucv_http_reject_now(SoupServerMessage *msg, const GError *error)
{
	UcvRejectHelper *helper = g_new0(UcvRejectHelper, 1);

	g_return_if_fail(error != NULL);

	g_debug("%s %s %u (answered at once, connection closed): %s",
		soup_server_message_get_method(msg),
		g_uri_get_path(soup_server_message_get_uri(msg)), ucv_http_error_status(error),
		error->message);
	helper->msg = g_object_ref(msg);
	helper->cancellable = g_cancellable_new();
	helper->response = ucv_reject_build_response(error);
	soup_server_message_pause(msg);
	g_idle_add_full(G_PRIORITY_HIGH, ucv_reject_steal_cb, helper, NULL);
}
