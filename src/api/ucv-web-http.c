/* Plain HTTP through the web proxy: the request forwarded, the answer streamed back. */
#define G_LOG_DOMAIN "ucv-api"

#include "config.h"

#include <glib/gi18n.h>

#include "api/ucv-web-proxy-private.h"

/* never more than this of an upstream body in memory per request */
#define CHUNK_BYTES (64 * 1024)

static void read_next_chunk(UcvWebExchange *ex);

static void
on_chunk_read(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWebExchange) ex = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) chunk =
		g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), res, &error);
	SoupMessageBody *body;

	if (ex->msg == NULL)
		return;
	if (chunk == NULL) {
		g_debug("job %s: web response cut off: %s", ex->job_id, error->message);
		ucv_web_exchange_abort_client(ex);
		return;
	}
	body = soup_server_message_get_response_body(ex->msg);
	if (g_bytes_get_size(chunk) == 0)
		soup_message_body_complete(body);
	else
		soup_message_body_append_bytes(body, chunk);
	/* the next chunk is read once this one is written ("wrote-chunk"): a client that does not
	 * read holds the application back instead of filling memory */
	soup_server_message_unpause(ex->msg);
}

static void
read_next_chunk(UcvWebExchange *ex)
{
	g_input_stream_read_bytes_async(ex->upstream_body, CHUNK_BYTES, G_PRIORITY_DEFAULT,
					ex->cancellable, on_chunk_read, ucv_web_exchange_ref(ex));
}

static void
on_wrote_chunk(SoupServerMessage *msg, UcvWebExchange *ex)
{
	read_next_chunk(ex);
}

static void
on_upstream_sent(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWebExchange) ex = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GInputStream) stream =
		soup_session_send_finish(SOUP_SESSION(source), res, &error);
	SoupMessageHeaders *headers;
	goffset length = -1;

	if (ex->msg == NULL)
		return;
	if (stream == NULL) {
		ucv_web_exchange_fail_error(ex, error, _("The application does not answer"));
		return;
	}
	headers = soup_message_get_response_headers(ex->upstream);
	if (soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH)
		length = soup_message_headers_get_content_length(headers);
	ucv_web_exchange_relay_head(ex, soup_message_get_status(ex->upstream),
				    soup_message_get_reason_phrase(ex->upstream), headers, length);
	ex->upstream_body = g_steal_pointer(&stream);
	ex->wrote_chunk_id =
		g_signal_connect(ex->msg, "wrote-chunk", G_CALLBACK(on_wrote_chunk), ex);
	/* the head goes out now, before the first byte of the body (event streams need that) */
	soup_server_message_unpause(ex->msg);
	read_next_chunk(ex);
}

void
ucv_web_http_forward(UcvWebExchange *ex)
{
	g_autofree gchar *uri =
		g_strdup_printf("http://%s%s", ex->upstream_address, ex->target_path);
	SoupMessageHeadersIter iter;
	const gchar *name;
	const gchar *value;

	ex->upstream = soup_message_new(ex->method, uri);
	if (ex->upstream == NULL) {
		ucv_web_exchange_fail(ex, SOUP_STATUS_BAD_GATEWAY,
				      _("The application's address is not usable"));
		return;
	}
	soup_message_add_flags(ex->upstream, SOUP_MESSAGE_NO_REDIRECT);
	/* Host among them: libsoup sends ours instead of one from the URI */
	soup_message_headers_iter_init(&iter, ex->forward);
	while (soup_message_headers_iter_next(&iter, &name, &value))
		soup_message_headers_append(soup_message_get_request_headers(ex->upstream), name,
					    value);
	if (ex->body != NULL)
		soup_message_set_request_body_from_bytes(ex->upstream, NULL, ex->body);
	soup_session_send_async(ucv_web_proxy_get_upstream(ex->self), ex->upstream,
				G_PRIORITY_DEFAULT, ex->cancellable, on_upstream_sent,
				ucv_web_exchange_ref(ex));
}
