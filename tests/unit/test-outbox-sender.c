/* Tests for UcvOutboxSender against an in-process fake Core: order, outages, unknown jobs. */
#include "config.h"

#include <libsoup/soup.h>

#include "engine/ucv-outbox-sender.h"
#include "model/ucv-error.h"
#include "model/ucv-jwt.h"

#define CONTROL_PATH "/api/jobs/control/update"

/* Core as the sender sees it: token refresh and jobs/control/update. */
typedef struct {
	SoupServer *server;
	guint port;
	gchar *url;
	guint serial;
	guint refresh_status; /* answer refreshes with this when non-zero */
	guint update_status;  /* answer updates with this when non-zero */
	GHashTable *unknown_jobs;
	GPtrArray *attempts;  /* "<job id>:<state>" of every update received */
	GPtrArray *delivered; /* "<job id>:<state>" of every update accepted */
	GArray *attempt_times_us;
} FakeCore;

/* Warnings of the sender, caught so the test can check them instead of aborting. */
static GPtrArray *outbox_warnings;

static gchar *
fake_core_mint(FakeCore *core)
{
	const gchar *header = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autofree gchar *claims = g_strdup_printf(
		"{\"sub\":\"#P_test\",\"role\":\"PROVIDER\",\"iat\":%" G_GINT64_FORMAT
		",\"exp\":%" G_GINT64_FORMAT ",\"serial\":%u}",
		now, now + 600, ++core->serial);
	g_autofree gchar *h = ucv_base64url_encode((const guint8 *)header, strlen(header));
	g_autofree gchar *c = ucv_base64url_encode((const guint8 *)claims, strlen(claims));

	return g_strdup_printf("%s.%s.c2lnbmF0dXJl", h, c);
}

static void
fake_core_answer(SoupServerMessage *msg, guint status, const gchar *json)
{
	soup_server_message_set_status(msg, status, NULL);
	soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_COPY, json,
					 strlen(json));
}

static void
fake_core_fail(SoupServerMessage *msg, guint status)
{
	g_autofree gchar *body =
		g_strdup_printf("{\"statusCode\":%u,\"why\":\"fake core says no\"}", status);

	fake_core_answer(msg, status, body);
}

static void
fake_core_refresh(FakeCore *core, SoupServerMessage *msg)
{
	g_autofree gchar *token = NULL;
	g_autofree gchar *reply = NULL;

	if (core->refresh_status != 0) {
		fake_core_fail(msg, core->refresh_status);
		return;
	}
	token = fake_core_mint(core);
	reply = g_strdup_printf("{\"responses\":[{\"accessToken\":\"%s\",\"csrfToken\":\"\"}]}",
				token);
	fake_core_answer(msg, SOUP_STATUS_OK, reply);
}

/* "<id>:<state>" of the one item in an update request. */
static gchar *
fake_core_describe(SoupServerMessage *msg)
{
	g_autoptr(GBytes) bytes =
		soup_message_body_flatten(soup_server_message_get_request_body(msg));
	g_autofree gchar *text = g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
	g_autoptr(JsonNode) root = json_from_string(text, NULL);
	JsonArray *items;
	JsonObject *item;

	g_assert_nonnull(root);
	items = json_object_get_array_member(json_node_get_object(root), "items");
	g_assert_cmpuint(json_array_get_length(items), ==, 1);
	item = json_array_get_object_element(items, 0);
	return g_strdup_printf("%s:%s", json_object_get_string_member(item, "id"),
			       json_object_get_string_member(
				       json_object_get_object_member(item, "update"), "state"));
}

static void
fake_core_update(FakeCore *core, SoupServerMessage *msg)
{
	const gchar *auth = soup_message_headers_get_one(
		soup_server_message_get_request_headers(msg), "Authorization");
	gchar *what = fake_core_describe(msg);
	g_auto(GStrv) parts = g_strsplit(what, ":", 2);
	gint64 now = g_get_monotonic_time();

	g_ptr_array_add(core->attempts, what);
	g_array_append_val(core->attempt_times_us, now);
	if (auth == NULL || !g_str_has_prefix(auth, "Bearer ")) {
		fake_core_fail(msg, SOUP_STATUS_UNAUTHORIZED);
		return;
	}
	if (core->update_status != 0) {
		fake_core_fail(msg, core->update_status);
		return;
	}
	if (g_hash_table_contains(core->unknown_jobs, parts[0])) {
		fake_core_fail(msg, SOUP_STATUS_NOT_FOUND);
		return;
	}
	g_ptr_array_add(core->delivered, g_strdup(what));
	fake_core_answer(msg, SOUP_STATUS_OK, "{}");
}

static void
fake_core_handler(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
		  gpointer user_data)
{
	FakeCore *core = user_data;

	if (g_strcmp0(path, "/auth/providers/refresh") == 0)
		fake_core_refresh(core, msg);
	else if (g_strcmp0(path, CONTROL_PATH) == 0)
		fake_core_update(core, msg);
	else
		fake_core_fail(msg, SOUP_STATUS_NOT_FOUND);
}

static void
fake_core_listen(FakeCore *core)
{
	g_autoptr(GError) error = NULL;
	GSList *uris;

	g_assert_true(soup_server_listen_local(core->server, core->port, 0, &error));
	g_assert_no_error(error);
	uris = soup_server_get_uris(core->server);
	g_assert_nonnull(uris);
	core->port = g_uri_get_port(uris->data);
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
}

static FakeCore *
fake_core_new(void)
{
	FakeCore *core = g_new0(FakeCore, 1);

	core->unknown_jobs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	core->attempts = g_ptr_array_new_with_free_func(g_free);
	core->delivered = g_ptr_array_new_with_free_func(g_free);
	core->attempt_times_us = g_array_new(FALSE, FALSE, sizeof(gint64));
	core->server = soup_server_new(NULL, NULL);
	soup_server_add_handler(core->server, NULL, fake_core_handler, core, NULL);
	fake_core_listen(core);
	core->url = g_strdup_printf("http://127.0.0.1:%u", core->port);
	return core;
}

static void
fake_core_free(FakeCore *core)
{
	soup_server_disconnect(core->server);
	g_object_unref(core->server);
	/* let the server's connections finish closing */
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_hash_table_unref(core->unknown_jobs);
	g_ptr_array_unref(core->attempts);
	g_ptr_array_unref(core->delivered);
	g_array_unref(core->attempt_times_us);
	g_free(core->url);
	g_free(core);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeCore, fake_core_free)

/* Everything one test needs: a fake Core, a store, a client and the sender between them. */
typedef struct {
	FakeCore *core;
	UcvStore *store;
	UcvCoreClient *client;
	UcvOutboxSender *sender;
	guint idle_count;
} Fixture;

static gboolean
flag_set_cb(gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
	return G_SOURCE_REMOVE;
}

typedef gboolean (*Condition)(Fixture *fx, gconstpointer data);

/* Runs the default main context until `cond` holds; FALSE when timeout_ms passed first. */
static gboolean
wait_until(Fixture *fx, Condition cond, gconstpointer data, guint timeout_ms)
{
	gboolean timed_out = FALSE;
	guint timeout_id = g_timeout_add(timeout_ms, flag_set_cb, &timed_out);

	while (!cond(fx, data) && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	if (!timed_out)
		g_source_remove(timeout_id);
	return cond(fx, data);
}

static gboolean
never(Fixture *fx, gconstpointer data)
{
	return FALSE;
}

static void
run_loop_for(Fixture *fx, guint ms)
{
	wait_until(fx, never, NULL, ms);
}

static gboolean
outbox_drained(Fixture *fx, gconstpointer data)
{
	g_autoptr(GPtrArray) entries = ucv_store_outbox_peek(fx->store, 1, NULL);

	return fx->idle_count > 0 && entries != NULL && entries->len == 0;
}

static gboolean
attempts_reached(Fixture *fx, gconstpointer data)
{
	return fx->core->attempts->len >= GPOINTER_TO_UINT(data);
}

static void
on_idle(UcvOutboxSender *sender, gpointer user_data)
{
	Fixture *fx = user_data;

	fx->idle_count++;
}

static gchar *
make_job_json(const gchar *id)
{
	return g_strdup_printf(
		"{\"id\":\"%s\",\"createdAt\":1633329776235,"
		"\"owner\":{\"createdBy\":\"user\",\"project\":null},"
		"\"specification\":{\"product\":{\"id\":\"example-compute-1\","
		"\"category\":\"example-compute\",\"provider\":\"example\"},"
		"\"application\":{\"name\":\"acme-batch\",\"version\":\"1.0.0\"},\"replicas\":1},"
		"\"status\":{\"state\":\"IN_QUEUE\"}}",
		id);
}

static void
fixture_add_job(Fixture *fx, const gchar *id)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = make_job_json(id);
	g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func((GDestroyNotify)ucv_job_unref);
	UcvJob *job = ucv_job_new_from_string(json, &error);

	g_assert_no_error(error);
	g_ptr_array_add(jobs, job);
	g_assert_true(ucv_store_insert_jobs(fx->store, jobs, &error));
	g_assert_no_error(error);
}

static void
fixture_record(Fixture *fx, const gchar *id, UcvJobState state)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvJobUpdate) update = ucv_job_update_new_state(state, NULL);

	g_assert_true(ucv_store_record_update(fx->store, id, update, &error));
	g_assert_no_error(error);
}

static void
fixture_set_up(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	fx->core = fake_core_new();
	fx->store = ucv_store_open(":memory:", &error);
	g_assert_no_error(error);
	fx->client = ucv_core_client_new(fx->core->url, "refresh-token");
	fx->sender = ucv_outbox_sender_new(fx->store, fx->client);
	ucv_outbox_sender_set_backoff(fx->sender, 20, 200);
	g_signal_connect(fx->sender, "idle", G_CALLBACK(on_idle), fx);
	g_ptr_array_set_size(outbox_warnings, 0);
}

static void
fixture_tear_down(Fixture *fx, gconstpointer data)
{
	g_clear_object(&fx->sender);
	g_clear_object(&fx->client);
	g_clear_object(&fx->store);
	g_clear_pointer(&fx->core, fake_core_free);
}

/* Three jobs with interleaved updates: what Core must see, in this order. */
static const gchar *const interleaved[] = {
	"a:RUNNING", "b:RUNNING", "a:SUSPENDED", "c:RUNNING", "b:SUCCESS", "a:RUNNING", "c:FAILURE",
};

static void
record_interleaved(Fixture *fx)
{
	fixture_add_job(fx, "a");
	fixture_add_job(fx, "b");
	fixture_add_job(fx, "c");
	for (guint i = 0; i < G_N_ELEMENTS(interleaved); i++) {
		g_auto(GStrv) parts = g_strsplit(interleaved[i], ":", 2);
		UcvJobState state;
		g_assert_true(ucv_job_state_from_string(parts[1], &state));
		fixture_record(fx, parts[0], state);
	}
}

static void
assert_delivered_interleaved(Fixture *fx)
{
	g_assert_cmpuint(fx->core->delivered->len, ==, G_N_ELEMENTS(interleaved));
	for (guint i = 0; i < G_N_ELEMENTS(interleaved); i++)
		g_assert_cmpstr(g_ptr_array_index(fx->core->delivered, i), ==, interleaved[i]);
}

static void
test_delivers_in_order(Fixture *fx, gconstpointer data)
{
	record_interleaved(fx);
	ucv_outbox_sender_kick(fx->sender);
	g_assert_true(wait_until(fx, outbox_drained, NULL, 10000));
	assert_delivered_interleaved(fx);
	g_assert_cmpuint(fx->core->attempts->len, ==, G_N_ELEMENTS(interleaved));
}

static void
test_picks_up_rows_written_while_sending(Fixture *fx, gconstpointer data)
{
	fixture_add_job(fx, "a");
	fixture_add_job(fx, "b");
	fixture_record(fx, "a", UCV_JOB_STATE_RUNNING);
	ucv_outbox_sender_kick(fx->sender);
	/* written mid-delivery; the kicks must neither send twice nor skip */
	fixture_record(fx, "b", UCV_JOB_STATE_RUNNING);
	ucv_outbox_sender_kick(fx->sender);
	fixture_record(fx, "a", UCV_JOB_STATE_SUCCESS);
	ucv_outbox_sender_kick(fx->sender);
	g_assert_true(wait_until(fx, outbox_drained, NULL, 10000));
	g_assert_cmpuint(fx->core->delivered->len, ==, 3);
	g_assert_cmpstr(g_ptr_array_index(fx->core->delivered, 0), ==, "a:RUNNING");
	g_assert_cmpstr(g_ptr_array_index(fx->core->delivered, 1), ==, "b:RUNNING");
	g_assert_cmpstr(g_ptr_array_index(fx->core->delivered, 2), ==, "a:SUCCESS");
	g_assert_cmpuint(fx->core->attempts->len, ==, 3);
}

static void
test_backs_off_while_core_fails(Fixture *fx, gconstpointer data)
{
	record_interleaved(fx);
	fx->core->update_status = SOUP_STATUS_SERVICE_UNAVAILABLE;
	ucv_outbox_sender_kick(fx->sender);
	g_assert_true(wait_until(fx, attempts_reached, GUINT_TO_POINTER(5), 10000));

	/* the same head entry every time, and nothing lost or skipped */
	for (guint i = 0; i < fx->core->attempts->len; i++)
		g_assert_cmpstr(g_ptr_array_index(fx->core->attempts, i), ==, interleaved[0]);
	g_assert_cmpuint(fx->core->delivered->len, ==, 0);
	g_assert_cmpuint(fx->idle_count, ==, 0);

	/* waits double from 20 ms up to the 200 ms cap */
	for (guint i = 1; i < 5; i++) {
		gint64 gap = g_array_index(fx->core->attempt_times_us, gint64, i) -
			     g_array_index(fx->core->attempt_times_us, gint64, i - 1);
		gint64 expected = MIN(20 << (i - 1), 200) * 1000;
		g_assert_cmpint(gap, >=, expected - 10000);
	}

	fx->core->update_status = 0;
	g_assert_true(wait_until(fx, outbox_drained, NULL, 10000));
	assert_delivered_interleaved(fx);
}

static void
test_survives_core_going_away(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	fixture_add_job(fx, "warmup");
	fixture_record(fx, "warmup", UCV_JOB_STATE_RUNNING);
	ucv_outbox_sender_kick(fx->sender);
	g_assert_true(wait_until(fx, outbox_drained, NULL, 10000));
	g_ptr_array_set_size(fx->core->delivered, 0);

	soup_server_disconnect(fx->core->server);
	record_interleaved(fx);
	ucv_outbox_sender_kick(fx->sender);
	run_loop_for(fx, 300);
	g_assert_cmpuint(fx->core->delivered->len, ==, 0);
	g_assert_cmpuint(fx->core->attempts->len, ==, 1);

	fake_core_listen(fx->core);
	fx->idle_count = 0;
	g_assert_true(wait_until(fx, outbox_drained, NULL, 10000));
	assert_delivered_interleaved(fx);
}

static void
test_refresh_failure_keeps_rows(Fixture *fx, gconstpointer data)
{
	record_interleaved(fx);
	fx->core->refresh_status = SOUP_STATUS_BAD_GATEWAY;
	ucv_outbox_sender_kick(fx->sender);
	run_loop_for(fx, 200);
	g_assert_cmpuint(fx->core->attempts->len, ==, 0);
	g_assert_cmpuint(ucv_core_client_get_refresh_count(fx->client), >=, 2);

	fx->core->refresh_status = 0;
	g_assert_true(wait_until(fx, outbox_drained, NULL, 10000));
	assert_delivered_interleaved(fx);
}

static void
test_unknown_job_dropped(Fixture *fx, gconstpointer data)
{
	fixture_add_job(fx, "a");
	fixture_add_job(fx, "ghost");
	fixture_add_job(fx, "b");
	fixture_record(fx, "a", UCV_JOB_STATE_RUNNING);
	fixture_record(fx, "ghost", UCV_JOB_STATE_RUNNING);
	fixture_record(fx, "b", UCV_JOB_STATE_RUNNING);
	fixture_record(fx, "ghost", UCV_JOB_STATE_SUCCESS);
	fixture_record(fx, "a", UCV_JOB_STATE_SUCCESS);
	g_hash_table_add(fx->core->unknown_jobs, g_strdup("ghost"));

	ucv_outbox_sender_kick(fx->sender);
	g_assert_true(wait_until(fx, outbox_drained, NULL, 10000));
	g_assert_cmpuint(fx->core->delivered->len, ==, 3);
	g_assert_cmpstr(g_ptr_array_index(fx->core->delivered, 0), ==, "a:RUNNING");
	g_assert_cmpstr(g_ptr_array_index(fx->core->delivered, 1), ==, "b:RUNNING");
	g_assert_cmpstr(g_ptr_array_index(fx->core->delivered, 2), ==, "a:SUCCESS");
	g_assert_cmpuint(fx->core->attempts->len, ==, 5);
	g_assert_cmpuint(outbox_warnings->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(outbox_warnings, 0), ==, "ghost");
}

static void
test_kick_on_empty_outbox(Fixture *fx, gconstpointer data)
{
	ucv_outbox_sender_kick(fx->sender);
	g_assert_cmpuint(fx->idle_count, ==, 1);
	g_assert_cmpuint(fx->core->attempts->len, ==, 0);
}

static void
test_dispose_while_sending(Fixture *fx, gconstpointer data)
{
	record_interleaved(fx);
	ucv_outbox_sender_kick(fx->sender);
	g_clear_object(&fx->sender);
	run_loop_for(fx, 100);
	g_assert_cmpuint(fx->core->delivered->len, <=, 1);
}

/* Keeps the sender's warnings (with their job id) for the test; passes everything else on. */
static GLogWriterOutput
log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	const gchar *domain = NULL;
	const gchar *job_id = NULL;

	for (gsize i = 0; i < n_fields; i++) {
		if (g_strcmp0(fields[i].key, "GLIB_DOMAIN") == 0)
			domain = fields[i].value;
		else if (g_strcmp0(fields[i].key, "UCV_JOB_ID") == 0)
			job_id = fields[i].value;
	}
	if ((level & G_LOG_LEVEL_WARNING) && g_strcmp0(domain, "ucv-outbox") == 0) {
		g_ptr_array_add(outbox_warnings, g_strdup(job_id != NULL ? job_id : ""));
		return G_LOG_WRITER_HANDLED;
	}
	return g_log_writer_default(level, fields, n_fields, user_data);
}

#define ADD_TEST(path, func)                                                                       \
	g_test_add(path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	outbox_warnings = g_ptr_array_new_with_free_func(g_free);
	g_log_set_writer_func(log_writer, NULL, NULL);

	ADD_TEST("/outbox-sender/in-order", test_delivers_in_order);
	ADD_TEST("/outbox-sender/rows-while-sending", test_picks_up_rows_written_while_sending);
	ADD_TEST("/outbox-sender/backoff", test_backs_off_while_core_fails);
	ADD_TEST("/outbox-sender/core-away", test_survives_core_going_away);
	ADD_TEST("/outbox-sender/refresh-failing", test_refresh_failure_keeps_rows);
	ADD_TEST("/outbox-sender/unknown-job", test_unknown_job_dropped);
	ADD_TEST("/outbox-sender/empty", test_kick_on_empty_outbox);
	ADD_TEST("/outbox-sender/dispose-while-sending", test_dispose_while_sending);

	return g_test_run();
}
