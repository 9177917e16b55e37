/* Upgrade tunnels (WebSocket and the like): the handshake, then both connections spliced. */
#define G_LOG_DOMAIN "ucv-api"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "api/ucv-web-proxy-private.h"
#include "model/ucv-error.h"

/* an upstream's answer to an upgrade request: its head, and the body of a refusal */
#define MAX_HEAD_BYTES    (64 * 1024)
#define MAX_REFUSAL_BODY  (1024 * 1024)
#define CONNECT_TIMEOUT_S 30

/* What the application answered to an upgrade request. */
typedef struct {
	GSocketConnection *conn;
	guint status;
	gchar *reason;
	SoupMessageHeaders *headers;
	GBytes *head; /* the head as received (passed on verbatim after a 101) */
	GBytes *rest; /* after a 101: the new protocol's first bytes; otherwise the body */
} UcvHandshake;

static void
handshake_free(UcvHandshake *hs)
{
	g_clear_object(&hs->conn);
	g_free(hs->reason);
	g_clear_pointer(&hs->headers, soup_message_headers_unref);
	g_clear_pointer(&hs->head, g_bytes_unref);
	g_clear_pointer(&hs->rest, g_bytes_unref);
	g_free(hs);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(UcvHandshake, handshake_free)

/* Reads more into `buffer`; FALSE at the end of the stream (with `error` unset) or on error. */
static gboolean
read_more(GInputStream *in, GByteArray *buffer, gsize limit, GCancellable *cancellable,
	  GError **error)
{
	guint8 block[4096];
	gssize n;

	if (buffer->len >= limit) {
		g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
				    "the application's answer is too long");
		return FALSE;
	}
	n = g_input_stream_read(in, block, sizeof(block), cancellable, error);
	if (n <= 0)
		return FALSE;
	g_byte_array_append(buffer, block, (guint)n);
	return TRUE;
}

static gboolean
read_until_length(GInputStream *in, GByteArray *buffer, gsize length, GCancellable *cancellable,
		  GError **error)
{
	while (buffer->len < length) {
		if (!read_more(in, buffer, length + sizeof(guint8) * 4096, cancellable, error)) {
			if (error != NULL && *error == NULL)
				g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
						    "the application's answer ends early");
			return FALSE;
		}
	}
	return TRUE;
}

/* The offset of "\r\n" at or after `from`, reading more as needed; -1 on error. */
static gssize
find_line_end(GInputStream *in, GByteArray *buffer, gsize from, GCancellable *cancellable,
	      GError **error)
{
	for (;;) {
		for (gsize i = from; i + 1 < buffer->len; i++) {
			if (buffer->data[i] == '\r' && buffer->data[i + 1] == '\n')
				return (gssize)i;
		}
		if (!read_until_length(in, buffer, buffer->len + 1, cancellable, error))
			return -1;
		if (buffer->len > MAX_REFUSAL_BODY + MAX_HEAD_BYTES) {
			g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
					    "the application's answer is too long");
			return -1;
		}
	}
}

/* A chunked refusal body, from `buffer` (which holds what came after the head) and `in`. */
static GBytes *
read_chunked(GInputStream *in, GByteArray *buffer, GCancellable *cancellable, GError **error)
{
	g_autoptr(GByteArray) body = g_byte_array_new();
	gsize pos = 0;

	for (;;) {
		gssize eol = find_line_end(in, buffer, pos, cancellable, error);
		guint64 size;

		if (eol < 0)
			return NULL;
		size = g_ascii_strtoull((const gchar *)buffer->data + pos, NULL, 16);
		pos = (gsize)eol + 2;
		if (size == 0)
			return g_byte_array_free_to_bytes(g_steal_pointer(&body));
		if (size > MAX_REFUSAL_BODY || body->len + size > MAX_REFUSAL_BODY) {
			g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
					    "the application's answer is too long");
			return NULL;
		}
		if (!read_until_length(in, buffer, pos + (gsize)size + 2, cancellable, error))
			return NULL;
		g_byte_array_append(body, buffer->data + pos, (guint)size);
		pos += (gsize)size + 2;
	}
}

/* The body of a refusal (anything but 101), framed as its headers say. */
static GBytes *
read_refusal_body(UcvHandshake *hs, GInputStream *in, GByteArray *rest, gboolean head_request,
		  GCancellable *cancellable, GError **error)
{
	goffset length;

	if (head_request || hs->status == SOUP_STATUS_NO_CONTENT ||
	    hs->status == SOUP_STATUS_NOT_MODIFIED || SOUP_STATUS_IS_INFORMATIONAL(hs->status))
		return g_bytes_new(NULL, 0);
	switch (soup_message_headers_get_encoding(hs->headers)) {
	case SOUP_ENCODING_CHUNKED:
		return read_chunked(in, rest, cancellable, error);
	case SOUP_ENCODING_CONTENT_LENGTH:
		length = soup_message_headers_get_content_length(hs->headers);
		if (length > MAX_REFUSAL_BODY) {
			g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
					    "the application's answer is too long");
			return NULL;
		}
		if (!read_until_length(in, rest, (gsize)length, cancellable, error))
			return NULL;
		return g_bytes_new(rest->data, (gsize)length);
	default:
		/* until the application closes the connection */
		for (;;) {
			g_autoptr(GError) error_local = NULL;

			if (read_more(in, rest, MAX_REFUSAL_BODY, cancellable, &error_local))
				continue;
			if (error_local != NULL) {
				g_propagate_error(error, g_steal_pointer(&error_local));
				return NULL;
			}
			return g_bytes_new(rest->data, rest->len);
		}
	}
}

/* The offset after the blank line that ends the head, reading as needed; 0 on error. */
static gsize
read_head(GInputStream *in, GByteArray *buffer, GCancellable *cancellable, GError **error)
{
	for (;;) {
		for (gsize i = 0; i + 3 < buffer->len; i++) {
			if (memcmp(buffer->data + i, "\r\n\r\n", 4) == 0)
				return i + 4;
		}
		if (!read_more(in, buffer, MAX_HEAD_BYTES, cancellable, error)) {
			if (error != NULL && *error == NULL)
				g_set_error_literal(error, UCV_ERROR, UCV_ERROR_FAILED,
						    "the application closed the connection");
			return 0;
		}
	}
}

/* In a worker: blocking I/O with timeouts keeps the handshake plain. */
static void
handshake_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	UcvWebExchange *ex = task_data;
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(UcvHandshake) hs = g_new0(UcvHandshake, 1);
	g_autoptr(GByteArray) buffer = g_byte_array_new();
	g_autoptr(GByteArray) rest = NULL;
	g_autoptr(GError) error = NULL;
	GInputStream *in;
	gsize head_len;

	g_socket_client_set_timeout(client, CONNECT_TIMEOUT_S);
	hs->conn = g_socket_client_connect_to_host(client, ex->upstream_address, 80, cancellable,
						   &error);
	if (hs->conn == NULL ||
	    !g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(hs->conn)),
				       ex->head, strlen(ex->head), NULL, cancellable, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	in = g_io_stream_get_input_stream(G_IO_STREAM(hs->conn));
	head_len = read_head(in, buffer, cancellable, &error);
	if (head_len == 0) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	hs->headers = soup_message_headers_new(SOUP_MESSAGE_HEADERS_RESPONSE);
	if (!soup_headers_parse_response((const gchar *)buffer->data, (gint)head_len, hs->headers,
					 NULL, &hs->status, &hs->reason)) {
		g_task_return_new_error(task, UCV_ERROR, UCV_ERROR_FAILED,
					"the application's answer is not HTTP");
		return;
	}
	hs->head = g_bytes_new(buffer->data, head_len);
	rest = g_byte_array_new();
	g_byte_array_append(rest, buffer->data + head_len, buffer->len - (guint)head_len);
	if (hs->status == SOUP_STATUS_SWITCHING_PROTOCOLS) {
		/* the tunnel may stay quiet for as long as its ends like */
		g_socket_set_timeout(g_socket_connection_get_socket(hs->conn), 0);
		hs->rest = g_byte_array_free_to_bytes(g_steal_pointer(&rest));
	} else {
		hs->rest = read_refusal_body(hs, in, rest, g_strcmp0(ex->method, "HEAD") == 0,
					     cancellable, &error);
		if (hs->rest == NULL) {
			g_task_return_error(task, g_steal_pointer(&error));
			return;
		}
	}
	g_task_return_pointer(task, g_steal_pointer(&hs), (GDestroyNotify)handshake_free);
}

static void
on_spliced(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWebExchange) ex = user_data;
	g_autoptr(GError) error = NULL;

	if (!g_io_stream_splice_finish(res, &error))
		g_debug("job %s: web tunnel ended: %s", ex->job_id, error->message);
	/* whichever side ended, or a revoked job: both connections go */
	g_io_stream_close(ex->client_stream, NULL, NULL);
	g_io_stream_close(G_IO_STREAM(ex->upstream_conn), NULL, NULL);
	ucv_web_exchange_end(ex);
}

static void
on_client_head_written(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWebExchange) ex = user_data;
	g_autoptr(GError) error = NULL;

	if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, &error) ||
	    ex->self == NULL) {
		g_io_stream_close(ex->client_stream, NULL, NULL);
		g_io_stream_close(G_IO_STREAM(ex->upstream_conn), NULL, NULL);
		ucv_web_exchange_end(ex);
		return;
	}
	g_io_stream_splice_async(ex->client_stream, G_IO_STREAM(ex->upstream_conn),
				 G_IO_STREAM_SPLICE_NONE, G_PRIORITY_DEFAULT, ex->cancellable,
				 on_spliced, ucv_web_exchange_ref(ex));
}

/* 101: the client's connection leaves libsoup and is joined to the application's. */
static void
join_connections(UcvWebExchange *ex, UcvHandshake *hs)
{
	g_autoptr(SoupServerMessage) msg = g_object_ref(ex->msg);
	g_autoptr(GByteArray) greeting = g_byte_array_new();

	ucv_web_exchange_release_msg(ex);
	ex->client_stream = soup_server_message_steal_connection(msg);
	ex->upstream_conn = g_steal_pointer(&hs->conn);
	if (ex->client_stream == NULL) {
		g_io_stream_close(G_IO_STREAM(ex->upstream_conn), NULL, NULL);
		ucv_web_exchange_end(ex);
		return;
	}
	g_byte_array_append(greeting, g_bytes_get_data(hs->head, NULL),
			    (guint)g_bytes_get_size(hs->head));
	if (g_bytes_get_size(hs->rest) > 0)
		g_byte_array_append(greeting, g_bytes_get_data(hs->rest, NULL),
				    (guint)g_bytes_get_size(hs->rest));
	ex->greeting = g_byte_array_free_to_bytes(g_steal_pointer(&greeting));
	g_output_stream_write_all_async(g_io_stream_get_output_stream(ex->client_stream),
					g_bytes_get_data(ex->greeting, NULL),
					g_bytes_get_size(ex->greeting), G_PRIORITY_DEFAULT,
					ex->cancellable, on_client_head_written,
					ucv_web_exchange_ref(ex));
	g_debug("job %s: web tunnel of rank %u open", ex->job_id, ex->rank);
}

static void
on_handshake(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(UcvWebExchange) ex = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvHandshake) hs = g_task_propagate_pointer(G_TASK(res), &error);

	if (ex->msg == NULL)
		return;
	if (hs == NULL) {
		ucv_web_exchange_fail_error(ex, error, _("The application does not answer"));
		return;
	}
	if (hs->status == SOUP_STATUS_SWITCHING_PROTOCOLS) {
		join_connections(ex, hs);
		return;
	}
	/* a refusal of the upgrade reaches the browser as an ordinary answer */
	ucv_web_exchange_relay_head(ex, hs->status, hs->reason, hs->headers,
				    (goffset)g_bytes_get_size(hs->rest));
	soup_message_body_append_bytes(soup_server_message_get_response_body(ex->msg), hs->rest);
	soup_message_body_complete(soup_server_message_get_response_body(ex->msg));
	soup_server_message_unpause(ex->msg);
}

/* The request head the application gets: the browser's Host, our cookie gone, one Connection. */
static gchar *
build_tunnel_head(UcvWebExchange *ex)
{
	GString *head = g_string_new(NULL);
	SoupMessageHeadersIter iter;
	const gchar *name;
	const gchar *value;

	g_string_append_printf(head, "%s %s HTTP/1.1\r\n", ex->method, ex->target_path);
	soup_message_headers_iter_init(&iter, ex->forward);
	while (soup_message_headers_iter_next(&iter, &name, &value))
		g_string_append_printf(head, "%s: %s\r\n", name, value);
	g_string_append(head, "Connection: Upgrade\r\n\r\n");
	return g_string_free(head, FALSE);
}

void
ucv_web_tunnel_open(UcvWebExchange *ex)
{
	g_autoptr(GTask) task = NULL;

	ex->head = build_tunnel_head(ex);
	task = g_task_new(NULL, ex->cancellable, on_handshake, ucv_web_exchange_ref(ex));
	g_task_set_task_data(task, ucv_web_exchange_ref(ex),
			     (GDestroyNotify)ucv_web_exchange_unref);
	g_task_run_in_thread(task, handshake_thread);
}
