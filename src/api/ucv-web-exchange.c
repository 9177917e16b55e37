/* The life of one proxied web request: its state, its end, and answers to its client. */
#define G_LOG_DOMAIN "ucv-api"

#include "config.h"

#include "api/ucv-web-exchange.h"

#include <glib/gi18n.h>

#include "api/ucv-web-headers.h"
#include "api/ucv-web-proxy-private.h"
#include "model/ucv-error.h"

UcvWebExchange *
ucv_web_exchange_ref(UcvWebExchange *ex)
{
	g_atomic_int_inc(&ex->ref_count);
	return ex;
}

void
ucv_web_exchange_unref(UcvWebExchange *ex)
{
	if (!g_atomic_int_dec_and_test(&ex->ref_count))
		return;
	g_free(ex->job_id);
	g_free(ex->method);
	g_free(ex->target_path);
	g_free(ex->host);
	g_clear_pointer(&ex->forward, soup_message_headers_unref);
	g_clear_pointer(&ex->body, g_bytes_unref);
	g_free(ex->upstream_address);
	g_clear_object(&ex->cancellable);
	g_clear_object(&ex->upstream);
	g_clear_object(&ex->upstream_body);
	g_free(ex->head);
	g_clear_pointer(&ex->greeting, g_bytes_unref);
	g_clear_object(&ex->client_stream);
	g_clear_object(&ex->upstream_conn);
	g_free(ex);
}

void
ucv_web_exchange_release_msg(UcvWebExchange *ex)
{
	if (ex->msg == NULL)
		return;
	g_clear_signal_handler(&ex->finished_id, ex->msg);
	g_clear_signal_handler(&ex->wrote_chunk_id, ex->msg);
	g_clear_object(&ex->msg);
}

void
ucv_web_exchange_end(UcvWebExchange *ex)
{
	if (ex->self == NULL)
		return;
	ucv_web_exchange_release_msg(ex);
	g_cancellable_cancel(ex->cancellable);
	ucv_web_proxy_remove_exchange(ex->self, ex);
	ex->self = NULL;
	/* the reference the proxy's set held */
	ucv_web_exchange_unref(ex);
}

static void
on_msg_finished(SoupServerMessage *msg, UcvWebExchange *ex)
{
	g_autoptr(UcvWebExchange) keep = ucv_web_exchange_ref(ex);

	ucv_web_exchange_end(ex);
}

void
ucv_web_exchange_abort_client(UcvWebExchange *ex)
{
	g_autoptr(SoupServerMessage) msg = ex->msg != NULL ? g_object_ref(ex->msg) : NULL;
	g_autoptr(GIOStream) stream = NULL;

	ucv_web_exchange_release_msg(ex);
	if (msg != NULL)
		stream = soup_server_message_steal_connection(msg);
	if (stream != NULL)
		g_io_stream_close(stream, NULL, NULL);
	ucv_web_exchange_end(ex);
}

void
ucv_web_exchange_fail(UcvWebExchange *ex, guint status, const gchar *why)
{
	SoupServerMessage *msg = ex->msg;

	if (msg == NULL)
		return;
	if (ex->headers_out) {
		ucv_web_exchange_abort_client(ex);
		return;
	}
	g_debug("job %s: web request answered %u: %s", ex->job_id, status, why);
	ex->headers_out = TRUE;
	soup_message_headers_clear(soup_server_message_get_response_headers(msg));
	ucv_web_respond_text(msg, status, why);
	soup_server_message_unpause(msg);
}

void
ucv_web_exchange_fail_error(UcvWebExchange *ex, const GError *error, const gchar *what)
{
	g_autofree gchar *why = NULL;

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		ucv_web_exchange_fail(ex, SOUP_STATUS_SERVICE_UNAVAILABLE,
				      _("The job stopped, so its application is closed."));
		return;
	}
	why = g_strdup_printf("%s: %s", what, error->message);
	ucv_web_exchange_fail(ex,
			      g_error_matches(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE)
				      ? SOUP_STATUS_SERVICE_UNAVAILABLE
				      : SOUP_STATUS_BAD_GATEWAY,
			      why);
}

void
ucv_web_exchange_relay_head(UcvWebExchange *ex, guint status, const gchar *reason,
			    SoupMessageHeaders *in, goffset length)
{
	SoupMessageHeaders *out = soup_server_message_get_response_headers(ex->msg);

	soup_message_headers_clear(out);
	ucv_web_headers_copy_response(in, out, ex->upstream_address,
				      ucv_web_proxy_get_scheme(ex->self), ex->host);
	if (length >= 0)
		soup_message_headers_set_content_length(out, length);
	else
		soup_message_headers_set_encoding(out, SOUP_ENCODING_CHUNKED);
	soup_server_message_set_status(ex->msg, status, reason);
	soup_message_body_set_accumulate(soup_server_message_get_response_body(ex->msg), FALSE);
	ex->headers_out = TRUE;
}

UcvWebExchange *
ucv_web_exchange_new(UcvWebProxy *self, SoupServerMessage *msg, const gchar *job_id, guint rank,
		     gboolean upgrade, SoupMessageHeaders *forward)
{
	UcvWebExchange *ex = g_new0(UcvWebExchange, 1);
	SoupMessageHeaders *request = soup_server_message_get_request_headers(msg);

	ex->ref_count = 1; /* the proxy's set */
	ex->self = self;
	ex->msg = g_object_ref(msg);
	ex->job_id = g_strdup(job_id);
	ex->rank = rank;
	ex->upgrade = upgrade;
	ex->method = g_strdup(soup_server_message_get_method(msg));
	ex->target_path = ucv_web_headers_request_target(msg);
	ex->host = g_strdup(soup_message_headers_get_one(request, "Host"));
	ex->forward = soup_message_headers_ref(forward);
	ex->cancellable = g_cancellable_new();
	if (soup_message_headers_get_encoding(request) != SOUP_ENCODING_NONE)
		ex->body = soup_message_body_flatten(soup_server_message_get_request_body(msg));
	ex->finished_id = g_signal_connect(msg, "finished", G_CALLBACK(on_msg_finished), ex);
	ucv_web_proxy_add_exchange(self, ex);
	soup_server_message_pause(msg);
	return ex;
}
