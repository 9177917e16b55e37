/* What the console proxy costs a viewer: framebuffer throughput and per-message round trip of
 * RFB through the daemon's VNC WebSocket, next to the same read straight from the guest's VNC
 * socket in the same run. Both viewers are connected at once (shared) and take turns, so a busy
 * machine slows both paths alike. */
#include "config.h"

#include <string.h>

#include "ucv-bench.h"
#include "ucv-harness.h"
#include "virt/ucv-hypervisor.h"

#define RFB_VERSION        "RFB 003.008\n"
#define RUNNING_TIMEOUT    120
#define RFB_TIMEOUT_S      60
#define SECURITY_NONE      1
#define THROUGHPUT_ROUNDS  6 /* per path, alternating */
#define THROUGHPUT_ROUND_S 1.7
#define LATENCY_BLOCKS     10 /* per path, alternating */
#define LATENCY_PER_BLOCK  20
#define TICK_BLOCKS        2
#define TICK_PER_BLOCK     10
#define ENCODING_RAW       0
#define ENCODING_EXT_KEY   (-258) /* QEMU extended key events; QEMU acknowledges it at once */

/* One viewer of the guest's display: either the browser's path (WebSocket to the daemon) or a
 * socket straight to QEMU. Reads consume from the front of `buffer` at `head`, so large updates
 * are not shifted byte by byte. */
typedef struct {
	const gchar *label;
	SoupWebsocketConnection *ws;
	GSocketConnection *direct;
	GByteArray *buffer;
	gsize head;
	gboolean closed;
	guint width, height, bytes_per_pixel;
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
	if (viewer->direct != NULL) {
		g_io_stream_close(G_IO_STREAM(viewer->direct), NULL, NULL);
		g_object_unref(viewer->direct);
	}
	g_byte_array_unref(viewer->buffer);
	g_free(viewer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Viewer, viewer_free)

static void
on_viewer_message(SoupWebsocketConnection *ws, gint type, GBytes *message, Viewer *viewer)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(message, &len);

	g_assert_cmpint(type, ==, SOUP_WEBSOCKET_DATA_BINARY);
	g_byte_array_append(viewer->buffer, data, len);
}

static void
on_viewer_closed(SoupWebsocketConnection *ws, Viewer *viewer)
{
	viewer->closed = TRUE;
}

static void
on_result(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **result = user_data;

	*result = g_object_ref(res);
}

static Viewer *
viewer_new(const gchar *label)
{
	Viewer *viewer = g_new0(Viewer, 1);

	viewer->label = label;
	viewer->buffer = g_byte_array_sized_new(1 << 20);
	return viewer;
}

/* The session URL opened as noVNC opens it (subprotocol "binary"). */
static Viewer *
viewer_open_proxy(UcvHarness *h, const gchar *job_id)
{
	g_autoptr(JsonObject) session = ucv_harness_open_session(h, job_id, "VNC");
	const gchar *url = json_object_get_string_member(session, "url");
	g_autofree gchar *ws_url = g_strconcat("ws", url + strlen("http"), NULL);
	g_autoptr(SoupMessage) msg = soup_message_new("GET", ws_url);
	const gchar *protocols[] = {"binary", NULL};
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	Viewer *viewer;

	soup_session_websocket_connect_async(h->session, msg, NULL, (char **)protocols,
					     G_PRIORITY_DEFAULT, NULL, on_result, &res);
	while (res == NULL)
		g_main_context_iteration(NULL, TRUE);
	viewer = viewer_new("proxy");
	viewer->ws = soup_session_websocket_connect_finish(h->session, res, &error);
	g_assert_no_error(error);
	/* a browser takes frames of any size; the bench must not be the one to refuse them */
	soup_websocket_connection_set_max_incoming_payload_size(viewer->ws, 0);
	g_signal_connect(viewer->ws, "message", G_CALLBACK(on_viewer_message), viewer);
	g_signal_connect(viewer->ws, "closed", G_CALLBACK(on_viewer_closed), viewer);
	return viewer;
}

/* The guest's VNC server as the daemon itself reaches it, without the daemon in between. */
static Viewer *
viewer_open_direct(UcvHypervisor *hypervisor, const gchar *name)
{
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	Viewer *viewer;

	ucv_hypervisor_open_graphics_async(hypervisor, name, NULL, on_result, &res);
	while (res == NULL)
		g_main_context_iteration(NULL, TRUE);
	viewer = viewer_new("direct");
	viewer->direct = ucv_hypervisor_open_graphics_finish(hypervisor, res, &error);
	g_assert_no_error(error);
	return viewer;
}

/* Makes at least `n` unread bytes available at buffer->data + head. */
static void
viewer_fill(Viewer *viewer, gsize n)
{
	if (viewer->buffer->len - viewer->head >= n)
		return;
	/* drop what was read, so the buffer does not grow with the stream */
	if (viewer->head > 0) {
		g_byte_array_remove_range(viewer->buffer, 0, viewer->head);
		viewer->head = 0;
	}
	if (viewer->ws != NULL) {
		gint64 deadline = g_get_monotonic_time() + RFB_TIMEOUT_S * G_USEC_PER_SEC;

		while (viewer->buffer->len < n && !viewer->closed &&
		       g_get_monotonic_time() < deadline)
			g_main_context_iteration(NULL, TRUE);
	} else {
		GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(viewer->direct));
		g_autoptr(GError) error = NULL;

		while (viewer->buffer->len < n) {
			gsize old = viewer->buffer->len;
			/* read whatever is there, up to a generous chunk, like a socket reader */
			gsize want = MAX(n - old, 256 * 1024);
			gssize got;

			g_byte_array_set_size(viewer->buffer, old + want);
			got = g_input_stream_read(in, viewer->buffer->data + old, want, NULL,
						  &error);
			g_byte_array_set_size(viewer->buffer, old + MAX(got, 0));
			if (got <= 0)
				break;
		}
		g_assert_no_error(error);
	}
	if (viewer->buffer->len < n)
		g_error("%s: the display sent %u of %zu bytes", viewer->label, viewer->buffer->len,
			n);
}

static void
viewer_read(Viewer *viewer, guint8 *out, gsize n)
{
	viewer_fill(viewer, n);
	memcpy(out, viewer->buffer->data + viewer->head, n);
	viewer->head += n;
}

/* Pixel data is only counted, not looked at; taken in slices so the buffer stays small. */
static void
viewer_skip(Viewer *viewer, gsize n)
{
	while (n > 0) {
		gsize available;

		viewer_fill(viewer, 1);
		available = MIN(n, viewer->buffer->len - viewer->head);
		viewer->head += available;
		n -= available;
	}
}

static void
viewer_send(Viewer *viewer, const guint8 *data, gsize n)
{
	g_autoptr(GError) error = NULL;

	if (viewer->ws != NULL) {
		soup_websocket_connection_send_binary(viewer->ws, data, n);
		return;
	}
	g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(viewer->direct)), data,
				  n, NULL, NULL, &error);
	g_assert_no_error(error);
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

/* RFB 3.8: version, security "None", shared ClientInit, ServerInit; then only Raw encoding, so
 * every update is uncompressed and the bytes moved are the screen's size. */
static void
rfb_handshake(Viewer *viewer)
{
	guint8 version[12];
	guint8 count;
	g_autofree guint8 *types = NULL;
	guint8 result[4];
	guint8 init[24];
	g_autofree guint8 *name = NULL;
	const guint8 none = SECURITY_NONE;
	const guint8 shared = 1;
	const guint8 set_encodings[8] = {2, 0, 0, 1, 0, 0, 0, 0}; /* [Raw] */

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
	viewer->width = read_u16(init);
	viewer->height = read_u16(init + 2);
	viewer->bytes_per_pixel = init[4] / 8;
	name = g_malloc(read_u32(init + 20) + 1);
	viewer_read(viewer, name, read_u32(init + 20));
	viewer_send(viewer, set_encodings, sizeof(set_encodings));
}

static void
request_update(Viewer *viewer, gboolean incremental, guint w, guint h)
{
	const guint8 request[10] = {3, incremental, 0, 0, 0, 0, w >> 8, w & 0xff, h >> 8, h & 0xff};

	viewer_send(viewer, request, sizeof(request));
}

/* Reads one FramebufferUpdate of Raw rectangles; returns its size on the wire. */
static gsize
read_update(Viewer *viewer)
{
	guint8 header[4];
	gsize total = sizeof(header);
	guint rects;

	viewer_read(viewer, header, sizeof(header));
	g_assert_cmpuint(header[0], ==, 0); /* FramebufferUpdate */
	rects = read_u16(header + 2);
	for (guint i = 0; i < rects; i++) {
		guint8 rect[12];
		gsize pixels;

		viewer_read(viewer, rect, sizeof(rect));
		g_assert_cmpint((gint32)read_u32(rect + 8), ==, 0); /* Raw */
		pixels = (gsize)read_u16(rect + 4) * read_u16(rect + 6) * viewer->bytes_per_pixel;
		viewer_skip(viewer, pixels);
		total += sizeof(rect) + pixels;
	}
	return total;
}

typedef struct {
	gsize bytes;
	guint updates;
	gdouble seconds;
} Throughput;

/* Whole-screen, non-incremental requests, one outstanding: each asks for the full screen again
 * as soon as the previous answer is in. QEMU answers on its display refresh tick, so this is
 * the rate QEMU delivers; a proxy that keeps up shows a ratio near 1. */
static void
throughput_round(Viewer *viewer, Throughput *sum)
{
	gint64 start = g_get_monotonic_time();

	do {
		request_update(viewer, FALSE, viewer->width, viewer->height);
		sum->bytes += read_update(viewer);
		sum->updates++;
	} while (ucv_bench_seconds_since(start) < THROUGHPUT_ROUND_S);
	sum->seconds += ucv_bench_seconds_since(start);
}

/* SetEncodings [Raw, QEMU extended key event]: QEMU answers it at once with a 16-byte
 * acknowledgement, so the round trip is the path's own. Update requests would not do: QEMU answers
 * them only on its display refresh tick, which hides whatever the path adds. */
static void
round_trip_ack(Viewer *viewer)
{
	const guint8 set_encodings[12] = {2,    0,    0,    2,   0, 0, 0, ENCODING_RAW,
					  0xff, 0xff, 0xfe, 0xfe};
	guint8 ack[16];

	viewer_send(viewer, set_encodings, sizeof(set_encodings));
	viewer_read(viewer, ack, sizeof(ack));
	g_assert_cmpuint(ack[0], ==, 0); /* FramebufferUpdate */
	g_assert_cmpuint(read_u16(ack + 2), ==, 1);
	g_assert_cmpint((gint32)read_u32(ack + 12), ==, ENCODING_EXT_KEY);
}

/* A non-incremental request for one pixel, answered on QEMU's next refresh tick. */
static void
round_trip_update(Viewer *viewer)
{
	request_update(viewer, FALSE, 1, 1);
	read_update(viewer);
}

static void
latency_block(Viewer *viewer, void (*round_trip)(Viewer *), guint n, GArray *latencies_ms)
{
	for (guint i = 0; i < n; i++) {
		gint64 start = g_get_monotonic_time();
		gdouble ms;

		round_trip(viewer);
		ms = (g_get_monotonic_time() - start) / 1000.0;
		g_array_append_val(latencies_ms, ms);
	}
}

/* Alternating blocks on both paths; prints p50/p99 of each and their difference. */
static void
report_latency(Viewer *proxy, Viewer *direct, const gchar *what, void (*round_trip)(Viewer *),
	       guint blocks, guint per_block)
{
	g_autoptr(GArray) proxy_ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GArray) direct_ms = g_array_new(FALSE, FALSE, sizeof(gdouble));
	gdouble p50p, p99p, p50d, p99d;

	for (guint i = 0; i < blocks; i++) {
		latency_block(i % 2 ? direct : proxy, round_trip, per_block,
			      i % 2 ? direct_ms : proxy_ms);
		latency_block(i % 2 ? proxy : direct, round_trip, per_block,
			      i % 2 ? proxy_ms : direct_ms);
	}
	p50p = ucv_bench_percentile(proxy_ms, 0.5);
	p99p = ucv_bench_percentile(proxy_ms, 0.99);
	p50d = ucv_bench_percentile(direct_ms, 0.5);
	p99d = ucv_bench_percentile(direct_ms, 0.99);
	g_print("%s, %u each: proxy p50 %.3f ms p99 %.3f ms; direct p50 %.3f ms p99 %.3f ms; "
		"added by the proxy: p50 %+.3f ms, p99 %+.3f ms\n",
		what, proxy_ms->len, p50p, p99p, p50d, p99d, p50p - p50d, p99p - p99d);
}

static gdouble
mb_per_s(const Throughput *t)
{
	return t->bytes / t->seconds / 1e6;
}

static void
bench_vnc(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	g_autoptr(UcvHypervisor) hypervisor = ucv_hypervisor_new(h->libvirt_uri);
	g_autoptr(GError) error = NULL;
	g_autoptr(Viewer) proxy = NULL;
	g_autoptr(Viewer) direct = NULL;
	Throughput tp = {0}, td = {0};

	g_assert_true(ucv_hypervisor_connect(hypervisor, &error));
	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", RUNNING_TIMEOUT));

	proxy = viewer_open_proxy(h, job_id);
	direct = viewer_open_direct(hypervisor, name);
	rfb_handshake(proxy);
	rfb_handshake(direct);
	g_assert_cmpuint(proxy->width, ==, direct->width);
	g_assert_cmpuint(proxy->height, ==, direct->height);
	g_print("display %ux%u, %u bytes per pixel, Raw: %.2f MB per full update\n", proxy->width,
		proxy->height, proxy->bytes_per_pixel,
		(gdouble)proxy->width * proxy->height * proxy->bytes_per_pixel / 1e6);

	/* one update each first, so neither path pays for a cold start in the figures */
	request_update(proxy, FALSE, proxy->width, proxy->height);
	read_update(proxy);
	request_update(direct, FALSE, direct->width, direct->height);
	read_update(direct);

	for (guint i = 0; i < THROUGHPUT_ROUNDS; i++) {
		throughput_round(i % 2 ? direct : proxy, i % 2 ? &td : &tp);
		throughput_round(i % 2 ? proxy : direct, i % 2 ? &tp : &td);
	}
	g_print("throughput proxy:  %.1f MB/s (%u updates in %.1f s, %.1f/s)\n", mb_per_s(&tp),
		tp.updates, tp.seconds, tp.updates / tp.seconds);
	g_print("throughput direct: %.1f MB/s (%u updates in %.1f s, %.1f/s)\n", mb_per_s(&td),
		td.updates, td.seconds, td.updates / td.seconds);
	g_print("throughput ratio proxy/direct: %.2f (target >= 0.9)\n",
		mb_per_s(&tp) / mb_per_s(&td));

	report_latency(proxy, direct, "message round trip (SetEncodings -> its ack)",
		       round_trip_ack, LATENCY_BLOCKS, LATENCY_PER_BLOCK);
	report_latency(proxy, direct, "1x1 update round trip (paced by QEMU's refresh tick)",
		       round_trip_update, TICK_BLOCKS, TICK_PER_BLOCK);

	g_clear_pointer(&proxy, viewer_free);
	g_clear_pointer(&direct, viewer_free);
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/bench/vnc", bench_vnc);
	return g_test_run();
}
