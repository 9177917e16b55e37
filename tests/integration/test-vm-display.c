/* The display of a job's machine, reached the way the console proxy reaches it. */
#include "config.h"

#include <string.h>

#include "ucv-harness.h"
#include "virt/ucv-hypervisor.h"

#define RFB_VERSION     "RFB 003.008\n"
#define RUNNING_TIMEOUT 120
#define RFB_TIMEOUT_S   60
#define SECURITY_NONE   1
/* a short token lifetime, so expiry can be seen without a long wait */
#define SESSION_TIMEOUT "[console]\nsession-timeout = 5\n"

/* The browser's side of a display session: noVNC's view of the WebSocket, as bytes. */
typedef struct {
	SoupWebsocketConnection *ws;
	GByteArray *received;
	gboolean closed;
	gushort close_code;
} Viewer;

static void
viewer_free(Viewer *viewer)
{
	if (viewer->ws != NULL) {
		g_signal_handlers_disconnect_by_data(viewer->ws, viewer);
		if (soup_websocket_connection_get_state(viewer->ws) == SOUP_WEBSOCKET_STATE_OPEN)
			soup_websocket_connection_close(viewer->ws, SOUP_WEBSOCKET_CLOSE_NORMAL,
							NULL);
		g_object_unref(viewer->ws);
	}
	g_byte_array_unref(viewer->received);
	g_free(viewer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Viewer, viewer_free)

static void
on_viewer_message(SoupWebsocketConnection *ws, gint type, GBytes *message, Viewer *viewer)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(message, &len);

	g_assert_cmpint(type, ==, SOUP_WEBSOCKET_DATA_BINARY);
	g_byte_array_append(viewer->received, data, len);
}

static void
on_viewer_closed(SoupWebsocketConnection *ws, Viewer *viewer)
{
	viewer->closed = TRUE;
	viewer->close_code = soup_websocket_connection_get_close_code(ws);
}

static void
on_connected(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **result = user_data;

	*result = g_object_ref(res);
}

/* Opens the session URL as noVNC does (subprotocol "binary"); NULL when it is refused, with the
 * HTTP status in *status. */
static Viewer *
viewer_open_from(UcvHarness *h, const gchar *url, const gchar *origin, guint *status)
{
	g_autofree gchar *ws_url = g_strconcat("ws", url + strlen("http"), NULL);
	g_autoptr(SoupMessage) msg = soup_message_new("GET", ws_url);
	const gchar *protocols[] = {"binary", NULL};
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	Viewer *viewer;
	SoupWebsocketConnection *ws;

	g_assert_true(g_str_has_prefix(url, "http://"));
	soup_session_websocket_connect_async(h->session, msg, origin, (char **)protocols,
					     G_PRIORITY_DEFAULT, NULL, on_connected, &res);
	while (res == NULL)
		g_main_context_iteration(NULL, TRUE);
	ws = soup_session_websocket_connect_finish(h->session, res, &error);
	*status = soup_message_get_status(msg);
	if (ws == NULL)
		return NULL;
	g_assert_cmpstr(soup_websocket_connection_get_protocol(ws), ==, "binary");
	viewer = g_new0(Viewer, 1);
	viewer->ws = ws;
	viewer->received = g_byte_array_new();
	g_signal_connect(ws, "message", G_CALLBACK(on_viewer_message), viewer);
	g_signal_connect(ws, "closed", G_CALLBACK(on_viewer_closed), viewer);
	return viewer;
}

static Viewer *
viewer_open(UcvHarness *h, const gchar *url, guint *status)
{
	return viewer_open_from(h, url, NULL, status);
}

/* Waits for `n` bytes of the RFB stream and takes them off the front into `out`. */
static void
viewer_read(Viewer *viewer, guint8 *out, gsize n)
{
	gint64 deadline = g_get_monotonic_time() + RFB_TIMEOUT_S * G_USEC_PER_SEC;

	while (viewer->received->len < n && !viewer->closed && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	if (viewer->received->len < n)
		g_error("the display sent %u of %zu bytes (closed: %d)", viewer->received->len, n,
			viewer->closed);
	memcpy(out, viewer->received->data, n);
	g_byte_array_remove_range(viewer->received, 0, n);
}

static void
viewer_send(Viewer *viewer, const guint8 *data, gsize n)
{
	soup_websocket_connection_send_binary(viewer->ws, data, n);
}

static guint
read_u16(const guint8 *p)
{
	return (p[0] << 8) | p[1];
}

static guint32
read_u32(const guint8 *p)
{
	return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

/* RFB 3.8 up to the first framebuffer update: version, security "None", init; returns the
 * update's number of rectangles. */
static guint
rfb_handshake(Viewer *viewer, guint *width, guint *height)
{
	guint8 version[12];
	guint8 count;
	g_autofree guint8 *types = NULL;
	guint8 result[4];
	guint8 init[24];
	g_autofree guint8 *name = NULL;
	guint8 header[4];
	const guint8 none = SECURITY_NONE;
	const guint8 shared = 1;
	guint8 request[10] = {3, 0, 0, 0, 0, 0};

	viewer_read(viewer, version, sizeof(version));
	g_assert_cmpmem(version, sizeof(version), RFB_VERSION, strlen(RFB_VERSION));
	viewer_send(viewer, (const guint8 *)RFB_VERSION, strlen(RFB_VERSION));
	viewer_read(viewer, &count, 1);
	g_assert_cmpuint(count, >, 0);
	types = g_malloc(count);
	viewer_read(viewer, types, count);
	g_assert_nonnull(memchr(types, SECURITY_NONE, count));
	viewer_send(viewer, &none, 1);
	viewer_read(viewer, result, sizeof(result));
	g_assert_cmpuint(read_u32(result), ==, 0);
	viewer_send(viewer, &shared, 1);
	viewer_read(viewer, init, sizeof(init));
	*width = read_u16(init);
	*height = read_u16(init + 2);
	name = g_malloc(read_u32(init + 20) + 1);
	viewer_read(viewer, name, read_u32(init + 20));

	/* FramebufferUpdateRequest, not incremental, the whole screen */
	request[6] = *width >> 8;
	request[7] = *width & 0xff;
	request[8] = *height >> 8;
	request[9] = *height & 0xff;
	viewer_send(viewer, request, sizeof(request));
	viewer_read(viewer, header, sizeof(header));
	g_assert_cmpuint(header[0], ==, 0); /* FramebufferUpdate */
	return read_u16(header + 2);
}

/* interactiveSession VNC for the job's rank 0, as Core asks for it; returns the session URL. */
static gchar *
open_vnc_session(UcvHarness *h, const gchar *job_id)
{
	g_autoptr(JsonObject) session = ucv_harness_open_session(h, job_id, "VNC");

	g_assert_cmpstr(json_object_get_string_member(session, "type"), ==, "vnc");
	g_assert_cmpstr(json_object_get_string_member(session, "jobId"), ==, job_id);
	g_assert_cmpint(json_object_get_int_member(session, "rank"), ==, 0);
	g_assert_cmpstr(json_object_get_string_member(session, "domainOverride"), ==, "");
	g_assert_true(json_object_get_null_member(session, "password"));
	return g_strdup(json_object_get_string_member(session, "url"));
}

static void
start_running_job(UcvHarness *h, const gchar *job_id)
{
	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", RUNNING_TIMEOUT));
}

static void
on_result(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **result = user_data;

	*result = g_object_ref(res);
}

/* libvirt hands over a socket to QEMU's VNC server (no TCP port, no password); the server
 * speaks first, with its protocol version. */
static void
test_open_graphics(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	g_autoptr(UcvHypervisor) hypervisor = ucv_hypervisor_new(h->libvirt_uri);
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GSocketConnection) connection = NULL;
	g_autoptr(GError) error = NULL;
	gchar greeting[sizeof(RFB_VERSION)] = {0};
	gsize got = 0;

	g_assert_true(ucv_hypervisor_connect(hypervisor, &error));
	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", RUNNING_TIMEOUT));

	ucv_hypervisor_open_graphics_async(hypervisor, name, NULL, on_result, &res);
	while (res == NULL)
		g_main_context_iteration(NULL, TRUE);
	connection = ucv_hypervisor_open_graphics_finish(hypervisor, res, &error);
	g_assert_no_error(error);
	g_assert_true(g_input_stream_read_all(g_io_stream_get_input_stream(G_IO_STREAM(connection)),
					      greeting, strlen(RFB_VERSION), &got, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(greeting, ==, RFB_VERSION);

	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

/* The browser's path: interactiveSession gives a URL; its WebSocket carries RFB to the guest's
 * display; two viewers at once; terminate closes them. */
static void
test_vnc_session(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *url = NULL;
	g_autofree gchar *second_url = NULL;
	g_autoptr(Viewer) viewer = NULL;
	g_autoptr(Viewer) second = NULL;
	guint width = 0, height = 0, rects;
	guint status = 0;

	start_running_job(h, job_id);
	url = open_vnc_session(h, job_id);
	g_assert_true(g_str_has_prefix(url, h->base_url));
	viewer = viewer_open(h, url, &status);
	g_assert_nonnull(viewer);
	rects = rfb_handshake(viewer, &width, &height);
	g_test_message("display %ux%u, first update with %u rectangle(s)", width, height, rects);
	g_assert_cmpuint(width, >=, 320);
	g_assert_cmpuint(height, >=, 200);
	g_assert_cmpuint(rects, >, 0);

	/* a second browser watches at the same time */
	second_url = open_vnc_session(h, job_id);
	second = viewer_open(h, second_url, &status);
	g_assert_nonnull(second);
	rfb_handshake(second, &width, &height);

	/* the token was for one use only */
	g_assert_null(viewer_open(h, url, &status));
	g_assert_cmpuint(status, ==, 401);

	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	for (guint i = 0; i < 100 && !(viewer->closed && second->closed); i++)
		ucv_harness_spin(100);
	g_assert_true(viewer->closed);
	g_assert_true(second->closed);
}

/* Tokens that are wrong, expired, or for a job that is not running admit nobody. */
static void
test_vnc_refused(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new_with_config(NULL, SESSION_TIMEOUT);
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *url = NULL;
	g_autofree gchar *bad = NULL;
	g_autofree gchar *suspended_url = NULL;
	guint status = 0;

	start_running_job(h, job_id);
	bad = g_strdup_printf("%s/ucloud/test/vnc?token=not-a-token", h->base_url);
	g_assert_null(viewer_open(h, bad, &status));
	g_assert_cmpuint(status, ==, 401);

	url = open_vnc_session(h, job_id);
	ucv_harness_spin(6000);
	g_assert_null(viewer_open(h, url, &status));
	g_assert_cmpuint(status, ==, 401);

	/* issued while running, void once the job is suspended */
	suspended_url = open_vnc_session(h, job_id);
	ucv_harness_suspend_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUSPENDED", RUNNING_TIMEOUT));
	g_assert_null(viewer_open(h, suspended_url, &status));
	g_assert_cmpuint(status, ==, 401);
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

/* With allowed origins set, a page from elsewhere is refused even with a good token; the
 * provider's own UCloud page gets in. */
static void
test_vnc_origin(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new_with_config(
		NULL, "[console]\nallowed-origins = https://cloud.example.org\n");
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *foreign_url = NULL;
	g_autofree gchar *url = NULL;
	g_autoptr(Viewer) viewer = NULL;
	guint width = 0, height = 0;
	guint status = 0;

	start_running_job(h, job_id);
	foreign_url = open_vnc_session(h, job_id);
	g_assert_null(viewer_open_from(h, foreign_url, "https://evil.example.com", &status));
	g_assert_cmpuint(status, ==, 401);
	url = open_vnc_session(h, job_id);
	viewer = viewer_open_from(h, url, "https://cloud.example.org", &status);
	g_assert_nonnull(viewer);
	rfb_handshake(viewer, &width, &height);
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vm/display/open-graphics", test_open_graphics);
	g_test_add_func("/vm/display/vnc-session", test_vnc_session);
	g_test_add_func("/vm/display/vnc-refused", test_vnc_refused);
	g_test_add_func("/vm/display/vnc-origin", test_vnc_origin);
	return g_test_run();
}
