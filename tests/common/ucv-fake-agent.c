/* The container host's agent played by a test, speaking with the shared codec. */
#include "config.h"

#include "ucv-fake-agent.h"

#include <sys/socket.h>

#include "agent/ucv-agent-frame.h"

struct _UcvFakeAgent {
	GSocket *socket; /* the agent's end, spoken by hand */
	GIOStream *host_stream;
	UcvAgentDecoder decoder; /* reads what the host writes, as the agent does */
};

UcvFakeAgent *
ucv_fake_agent_new_full(gint host_sndbuf)
{
	UcvFakeAgent *self = g_new0(UcvFakeAgent, 1);
	g_autoptr(GSocket) host = NULL;
	g_autoptr(GError) error = NULL;
	int fds[2];

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
	self->socket = g_socket_new_from_fd(fds[0], &error);
	g_assert_no_error(error);
	host = g_socket_new_from_fd(fds[1], &error);
	g_assert_no_error(error);
	if (host_sndbuf > 0)
		g_assert_true(
			g_socket_set_option(host, SOL_SOCKET, SO_SNDBUF, host_sndbuf, &error));
	g_assert_no_error(error);
	self->host_stream = G_IO_STREAM(g_socket_connection_factory_create_connection(host));
	ucv_agent_decoder_init(&self->decoder, UCV_AGENT_PEER_HOST);
	return self;
}

UcvFakeAgent *
ucv_fake_agent_new(void)
{
	return ucv_fake_agent_new_full(0);
}

void
ucv_fake_agent_free(UcvFakeAgent *self)
{
	g_clear_object(&self->host_stream);
	g_clear_object(&self->socket);
	g_free(self);
}

GIOStream *
ucv_fake_agent_get_host_stream(UcvFakeAgent *self)
{
	return self->host_stream;
}

void
ucv_fake_agent_write(UcvFakeAgent *self, const guint8 *data, gsize len)
{
	gsize done = 0;

	while (done < len) {
		g_autoptr(GError) error = NULL;
		gssize n = g_socket_send_with_blocking(self->socket, (const gchar *)data + done,
						       len - done, TRUE, NULL, &error);

		g_assert_no_error(error);
		done += n;
	}
}

void
ucv_fake_agent_append_frame(GByteArray *out, guint8 type, guint32 channel, const void *payload,
			    gsize len)
{
	guint start = out->len;

	g_byte_array_set_size(out, start + UCV_AGENT_FRAME_HEADER + len);
	g_assert_cmpuint(ucv_agent_frame_encode(out->data + start, UCV_AGENT_FRAME_HEADER + len,
						UCV_AGENT_PEER_GUEST, type, channel, payload, len),
			 ==, UCV_AGENT_FRAME_HEADER + len);
}

void
ucv_fake_agent_write_frame(UcvFakeAgent *self, guint8 type, guint32 channel, const void *payload,
			   gsize len)
{
	g_autoptr(GByteArray) out = g_byte_array_new();

	ucv_fake_agent_append_frame(out, type, channel, payload, len);
	ucv_fake_agent_write(self, out->data, out->len);
}

void
ucv_fake_agent_hang_up(UcvFakeAgent *self)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(g_socket_shutdown(self->socket, FALSE, TRUE, &error));
	g_assert_no_error(error);
}

/* Reads up to `len` bytes, running the loop until some arrive; 0 at EOF. */
static gsize
read_some(UcvFakeAgent *self, guint8 *buf, gsize len)
{
	for (;;) {
		g_autoptr(GError) error = NULL;
		gssize n = g_socket_receive_with_blocking(self->socket, (gchar *)buf, len, FALSE,
							  NULL, &error);

		if (n >= 0)
			return n;
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
		g_main_context_iteration(NULL, TRUE);
	}
}

static void
read_exact(UcvFakeAgent *self, guint8 *buf, gsize len)
{
	gsize done = 0;

	while (done < len) {
		gsize n = read_some(self, buf + done, len - done);

		g_assert_cmpuint(n, >, 0);
		done += n;
	}
}

void
ucv_fake_agent_frame_free(UcvFakeAgentFrame *frame)
{
	g_bytes_unref(frame->payload);
	g_free(frame);
}

UcvFakeAgentFrame *
ucv_fake_agent_read_frame(UcvFakeAgent *self)
{
	g_autofree guint8 *buf = g_malloc(UCV_AGENT_FRAME_MAX);
	UcvFakeAgentFrame *got = g_new0(UcvFakeAgentFrame, 1);
	UcvAgentFrame frame;
	gsize used = 0;
	guint32 len;

	read_exact(self, buf, 4);
	len = (guint32)buf[0] << 24 | (guint32)buf[1] << 16 | (guint32)buf[2] << 8 | buf[3];
	g_assert_cmpuint(len, >=, 5);
	g_assert_cmpuint(len, <=, UCV_AGENT_FRAME_MAX - 4);
	read_exact(self, buf + 4, len);
	g_assert_cmpint(ucv_agent_decoder_feed(&self->decoder, buf, 4 + len, &used, &frame), ==,
			UCV_AGENT_FEED_FRAME);
	g_assert_cmpuint(used, ==, 4 + len);
	got->type = frame.type;
	got->channel = frame.channel;
	got->payload = g_bytes_new(frame.payload, frame.payload_len);
	return got;
}

void
ucv_fake_agent_expect_frame(UcvFakeAgent *self, guint8 type, guint32 channel, const void *payload,
			    gsize len)
{
	g_autoptr(UcvFakeAgentFrame) got = ucv_fake_agent_read_frame(self);

	g_assert_cmpstr(ucv_agent_frame_type_name(got->type), ==, ucv_agent_frame_type_name(type));
	g_assert_cmpuint(got->channel, ==, channel);
	g_assert_cmpmem(g_bytes_get_data(got->payload, NULL), g_bytes_get_size(got->payload),
			payload, len);
}

void
ucv_fake_agent_expect_bytes(UcvFakeAgent *self, const guint8 *expected, gsize len)
{
	g_autofree guint8 *got = g_malloc(len);

	read_exact(self, got, len);
	g_assert_cmpmem(got, len, expected, len);
}

void
ucv_fake_agent_expect_eof(UcvFakeAgent *self)
{
	guint8 byte;

	g_assert_cmpuint(read_some(self, &byte, 1), ==, 0);
}

void
ucv_fake_agent_expect_nothing(UcvFakeAgent *self)
{
	guint8 byte;
	g_autoptr(GError) error = NULL;

	ucv_test_settle();
	g_assert_cmpint(g_socket_receive_with_blocking(self->socket, (gchar *)&byte, 1, FALSE, NULL,
						       &error),
			==, -1);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
}

void
ucv_test_settle(void)
{
	while (g_main_context_iteration(NULL, FALSE))
		;
}

static gboolean
watchdog_cb(gpointer user_data)
{
	g_error("test timed out");
	return G_SOURCE_REMOVE;
}

guint
ucv_test_add_watchdog(guint seconds)
{
	return g_timeout_add_seconds(seconds, watchdog_cb, NULL);
}

void
ucv_test_unref_and_wait(gpointer object)
{
	g_object_add_weak_pointer(G_OBJECT(object), &object);
	g_object_unref(object);
	while (object != NULL)
		g_main_context_iteration(NULL, TRUE);
}

void
ucv_test_events_wait(GPtrArray *events, guint n)
{
	while (events->len < n)
		g_main_context_iteration(NULL, TRUE);
}

void
ucv_test_events_assert(GPtrArray *events, const gchar *const *expected)
{
	guint n = g_strv_length((gchar **)expected);

	ucv_test_events_wait(events, n);
	ucv_test_settle();
	for (guint i = 0; i < MIN(n, events->len); i++)
		g_assert_cmpstr(g_ptr_array_index(events, i), ==, expected[i]);
	g_assert_cmpuint(events->len, ==, n);
}

void
ucv_test_store_result_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **slot = user_data;

	g_assert_null(*slot);
	*slot = g_object_ref(res);
}

GAsyncResult *
ucv_test_wait_result(GAsyncResult **slot)
{
	while (*slot == NULL)
		g_main_context_iteration(NULL, TRUE);
	return *slot;
}
