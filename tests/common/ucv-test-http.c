/* Sending one HTTP request from a test and waiting for the whole answer. */
#include "config.h"

#include "ucv-test-http.h"

typedef struct {
	GBytes *bytes;
	GError *error;
	gboolean done;
} Sent;

static void
send_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Sent *sent = user_data;

	sent->bytes = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &sent->error);
	sent->done = TRUE;
}

gchar *
ucv_test_http_send(SoupSession *session, SoupMessage *msg)
{
	Sent sent = {NULL, NULL, FALSE};
	gsize size;
	gchar *text;

	soup_session_send_and_read_async(session, msg, G_PRIORITY_DEFAULT, NULL, send_cb, &sent);
	while (!sent.done)
		g_main_context_iteration(NULL, TRUE);
	g_assert_no_error(sent.error);
	size = g_bytes_get_size(sent.bytes);
	text = g_strndup(size > 0 ? g_bytes_get_data(sent.bytes, NULL) : "", size);
	g_bytes_unref(sent.bytes);
	return text;
}
