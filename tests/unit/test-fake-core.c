/* Self-test of the fake UCloud/Core: tokens, recorded updates, going down and coming back. */
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "ucv-fake-core.h"
#include "ucv-test-files.h"

typedef struct {
	gchar *dir;
	UcvFakeCore *core;
	SoupSession *session;
} Fixture;

typedef struct {
	GBytes *body;
	GError *error;
	gboolean done;
} Reply;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	f->dir = g_dir_make_tmp("ucv-fake-core-XXXXXX", &error);
	g_assert_no_error(error);
	f->core = ucv_fake_core_new(f->dir, &error);
	g_assert_no_error(error);
	g_assert_true(ucv_fake_core_listen(f->core, 0, &error));
	g_assert_no_error(error);
	f->session = soup_session_new_with_options("timeout", 5, NULL);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	soup_session_abort(f->session);
	g_clear_object(&f->session);
	g_clear_object(&f->core);
	while (g_main_context_iteration(NULL, FALSE))
		;
	ucv_test_remove_tree(f->dir);
	g_free(f->dir);
}

static void
send_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Reply *reply = user_data;

	reply->body = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &reply->error);
	reply->done = TRUE;
}

/* Sends one request while the fake Core keeps serving from the same main context. Returns the
 * HTTP status, or 0 with *error set when no answer came (e.g. connection refused). */
static guint
request_full(SoupSession *session, const gchar *method, const gchar *url, const gchar *token,
	     const gchar *body, gchar **out_body, GError **error)
{
	g_autoptr(SoupMessage) msg = soup_message_new(method, url);
	Reply reply = {NULL};

	g_assert_nonnull(msg);
	if (token != NULL) {
		g_autofree gchar *auth = g_strdup_printf("Bearer %s", token);

		soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization",
					     auth);
	}
	if (body != NULL) {
		g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));

		/* Core's clients send no Content-Type: the fake must not need one either */
		soup_message_set_request_body_from_bytes(msg, NULL, bytes);
	}
	soup_session_send_and_read_async(session, msg, G_PRIORITY_DEFAULT, NULL, send_cb, &reply);
	while (!reply.done)
		g_main_context_iteration(NULL, TRUE);
	if (reply.error != NULL) {
		g_propagate_error(error, reply.error);
		return 0;
	}
	if (out_body != NULL)
		*out_body =
			g_strndup(g_bytes_get_data(reply.body, NULL), g_bytes_get_size(reply.body));
	g_bytes_unref(reply.body);
	return soup_message_get_status(msg);
}

static guint
request(Fixture *f, const gchar *method, const gchar *path, const gchar *token, const gchar *body,
	gchar **out_body)
{
	g_autofree gchar *url = g_strconcat(ucv_fake_core_get_url(f->core), path, NULL);
	g_autoptr(GError) error = NULL;
	guint status = request_full(f->session, method, url, token, body, out_body, &error);

	g_assert_no_error(error);
	return status;
}

static guint
count_updates(UcvFakeCore *core)
{
	g_autoptr(GPtrArray) updates = ucv_fake_core_get_updates(core, NULL);

	return updates->len;
}

static JsonNode *
parse(const gchar *json)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	json_parser_load_from_data(parser, json, -1, &error);
	g_assert_no_error(error);
	return json_node_copy(json_parser_get_root(parser));
}

/* The claims of a JWT, decoded without checking the signature. */
static JsonNode *
jwt_claims(const gchar *jwt)
{
	g_auto(GStrv) parts = g_strsplit(jwt, ".", -1);
	g_autoptr(GString) b64 = NULL;
	g_autofree guchar *raw = NULL;
	g_autofree gchar *text = NULL;
	gsize len = 0;

	g_assert_cmpuint(g_strv_length(parts), ==, 3);
	b64 = g_string_new(parts[1]);
	g_strdelimit(b64->str, "-", '+');
	g_strdelimit(b64->str, "_", '/');
	while (b64->len % 4 != 0)
		g_string_append_c(b64, '=');
	raw = g_base64_decode(b64->str, &len);
	text = g_strndup((const gchar *)raw, len);
	return parse(text);
}

static gchar *
refresh(Fixture *f)
{
	g_autofree gchar *body = g_strdup_printf("{\"items\":[{\"refreshToken\":\"%s\"}]}",
						 ucv_fake_core_get_refresh_token(f->core));
	g_autofree gchar *answer = NULL;
	g_autoptr(JsonNode) root = NULL;
	JsonObject *response;

	g_assert_cmpuint(request(f, "POST", "/auth/providers/refresh", NULL, body, &answer), ==,
			 200);
	root = parse(answer);
	response = json_array_get_object_element(
		json_object_get_array_member(json_node_get_object(root), "responses"), 0);
	g_assert_cmpstr(json_object_get_string_member(response, "csrfToken"), ==, "");
	return g_strdup(json_object_get_string_member(response, "accessToken"));
}

static void
test_state_files(Fixture *f, gconstpointer data)
{
	g_autofree gchar *token_file = ucv_fake_core_get_refresh_token_file(f->core);
	g_autofree gchar *key_file = ucv_fake_core_get_public_key_file(f->core);
	g_autofree gchar *token = NULL;
	g_autofree gchar *key = NULL;
	g_autofree gchar *key_again = NULL;
	g_autoptr(UcvFakeCore) again = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(g_file_get_contents(token_file, &token, NULL, NULL));
	g_assert_cmpstr(token, ==, ucv_fake_core_get_refresh_token(f->core));
	g_assert_cmpuint(strlen(token), >=, 32);
	g_assert_true(g_file_get_contents(key_file, &key, NULL, NULL));
	g_assert_true(g_str_has_prefix(key, "MIIB"));

	/* a second fake Core on the same directory keeps key and refresh token */
	again = ucv_fake_core_new(f->dir, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(ucv_fake_core_get_refresh_token(again), ==, token);
	g_assert_true(g_file_get_contents(key_file, &key_again, NULL, NULL));
	g_assert_cmpstr(key_again, ==, key);
}

static void
test_refresh(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = NULL;
	g_autoptr(JsonNode) claims = NULL;
	JsonObject *obj;

	ucv_fake_core_set_provider_id(f->core, "k8");
	access = refresh(f);
	claims = jwt_claims(access);
	obj = json_node_get_object(claims);
	g_assert_cmpstr(json_object_get_string_member(obj, "sub"), ==, "#P_k8");
	g_assert_cmpstr(json_object_get_string_member(obj, "role"), ==, "PROVIDER");
	g_assert_cmpint(json_object_get_int_member(obj, "exp") - g_get_real_time() / G_USEC_PER_SEC,
			>, 590);

	g_assert_cmpuint(request(f, "POST", "/auth/providers/refresh", NULL,
				 "{\"items\":[{\"refreshToken\":\"wrong\"}]}", NULL),
			 ==, 401);
	g_assert_cmpuint(
		request(f, "POST", "/auth/providers/refresh", NULL, "{\"items\":[]}", NULL), ==,
		400);
	g_assert_cmpuint(ucv_fake_core_get_refresh_count(f->core), ==, 3);
}

static void
test_core_token(Fixture *f, gconstpointer data)
{
	g_autofree gchar *token = ucv_fake_core_mint_core_token(f->core);
	g_autoptr(JsonNode) claims = jwt_claims(token);
	JsonObject *obj = json_node_get_object(claims);

	g_assert_cmpstr(json_object_get_string_member(obj, "sub"), ==, "_UCloud");
	g_assert_cmpstr(json_object_get_string_member(obj, "role"), ==, "SERVICE");
}

static const gchar *running = "{\"items\":[{\"id\":\"7\",\"update\":{\"state\":\"RUNNING\","
			      "\"status\":\"The job is now running\",\"timestamp\":0}}]}";

static void
test_update_needs_token(Fixture *f, gconstpointer data)
{
	g_autofree gchar *core_token = ucv_fake_core_mint_core_token(f->core);
	g_autofree gchar *access = NULL;
	g_autofree gchar *answer = NULL;

	g_assert_cmpuint(request(f, "POST", "/api/jobs/control/update", NULL, running, NULL), ==,
			 401);
	g_assert_cmpuint(request(f, "POST", "/api/jobs/control/update", "x.y.z", running, NULL), ==,
			 401);
	/* signed by the right key, but not a token this Core handed out to the provider */
	g_assert_cmpuint(request(f, "POST", "/api/jobs/control/update", core_token, running, NULL),
			 ==, 401);
	g_assert_cmpuint(count_updates(f->core), ==, 0);

	access = refresh(f);
	g_assert_cmpuint(request(f, "POST", "/api/jobs/control/update", access, running, &answer),
			 ==, 200);
	g_assert_cmpstr(answer, ==, "{}");

	ucv_fake_core_revoke_access_tokens(f->core);
	g_assert_cmpuint(request(f, "POST", "/api/jobs/control/update", access, running, NULL), ==,
			 401);
	g_assert_cmpuint(ucv_fake_core_get_update_calls(f->core), ==, 5);
}

static void
test_token_expiry(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = NULL;

	ucv_fake_core_set_token_lifetime(f->core, 0);
	access = refresh(f);
	g_assert_cmpuint(request(f, "POST", "/api/jobs/control/update", access, running, NULL), ==,
			 401);
}

static void
count_cb(UcvFakeCore *core, UcvFakeCoreUpdate *update, gpointer user_data)
{
	GPtrArray *seen = user_data;

	g_ptr_array_add(seen, g_strdup(update->job_id));
}

static void
test_recorded_order(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) all = NULL;
	g_autoptr(GPtrArray) job8 = NULL;
	g_autofree gchar *last = NULL;
	UcvFakeCoreUpdate *u;
	const gchar *second =
		"{\"items\":[{\"id\":\"8\",\"update\":{\"state\":\"IN_QUEUE\",\"status\":null,"
		"\"timestamp\":0}},{\"id\":\"7\",\"update\":{\"state\":null,\"status\":"
		"\"Extended\","
		"\"newTimeAllocation\":7200000,\"timestamp\":0}},{\"id\":\"8\",\"update\":{"
		"\"state\":"
		"\"FAILURE\",\"status\":\"No capacity\",\"timestamp\":0}}]}";

	g_signal_connect(f->core, "update-received", G_CALLBACK(count_cb), seen);
	g_assert_cmpuint(request(f, "POST", "/api/jobs/control/update", access, running, NULL), ==,
			 200);
	g_assert_cmpuint(request(f, "POST", "/api/jobs/control/update", access, second, NULL), ==,
			 200);

	all = ucv_fake_core_get_updates(f->core, NULL);
	g_assert_cmpuint(all->len, ==, 4);
	u = g_ptr_array_index(all, 0);
	g_assert_cmpstr(u->job_id, ==, "7");
	g_assert_cmpstr(u->state, ==, "RUNNING");
	g_assert_cmpstr(u->status, ==, "The job is now running");
	g_assert_cmpint(u->new_time_allocation_ms, ==, -1);
	g_assert_nonnull(strstr(u->json, "\"timestamp\":0"));
	u = g_ptr_array_index(all, 1);
	g_assert_cmpstr(u->job_id, ==, "8");
	g_assert_null(u->status);
	u = g_ptr_array_index(all, 2);
	g_assert_null(u->state);
	g_assert_cmpint(u->new_time_allocation_ms, ==, 7200000);
	for (guint i = 0; i < all->len; i++) {
		u = g_ptr_array_index(all, i);
		g_assert_cmpuint(u->sequence, ==, i);
		g_assert_cmpint(u->received_us, >, 0);
		g_assert_cmpstr(g_ptr_array_index(seen, i), ==, u->job_id);
	}
	g_assert_cmpuint(seen->len, ==, 4);

	job8 = ucv_fake_core_get_updates(f->core, "8");
	g_assert_cmpuint(job8->len, ==, 2);
	last = ucv_fake_core_get_last_state(f->core, "7");
	g_assert_cmpstr(last, ==, "RUNNING");
	g_assert_true(ucv_fake_core_wait_for_state(f->core, "8", "FAILURE", 10));
	g_assert_false(ucv_fake_core_wait_for_state(f->core, "8", "SUCCESS", 50));

	ucv_fake_core_clear_updates(f->core);
	g_assert_cmpuint(count_updates(f->core), ==, 0);
}

static void
test_update_refusals(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	const gchar *null_timestamp = "{\"items\":[{\"id\":\"7\",\"update\":{\"state\":\"RUNNING\","
				      "\"timestamp\":null}}]}";
	const gchar *bad_state =
		"{\"items\":[{\"id\":\"7\",\"update\":{\"state\":\"RUNNNING\",\"timestamp\":0}}]}";

	g_assert_cmpuint(
		request(f, "POST", "/api/jobs/control/update", access, null_timestamp, NULL), ==,
		400);
	g_assert_cmpuint(request(f, "POST", "/api/jobs/control/update", access, bad_state, NULL),
			 ==, 400);
	g_assert_cmpuint(request(f, "POST", "/api/jobs/control/update", access, "{nope", NULL), ==,
			 400);

	ucv_fake_core_forget_job(f->core, "7");
	g_assert_cmpuint(request(f, "POST", "/api/jobs/control/update", access, running, NULL), ==,
			 404);

	ucv_fake_core_fail_updates(f->core, 503, 1);
	g_assert_cmpuint(request(f, "POST", "/api/jobs/control/update", access,
				 "{\"items\":[{\"id\":\"9\",\"update\":{\"timestamp\":0}}]}", NULL),
			 ==, 503);
	g_assert_cmpuint(request(f, "POST", "/api/jobs/control/update", access,
				 "{\"items\":[{\"id\":\"9\",\"update\":{\"timestamp\":0}}]}", NULL),
			 ==, 200);
	g_assert_cmpuint(count_updates(f->core), ==, 1);
}

static void
test_other_calls(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autofree gchar *page = NULL;
	g_autofree gchar *job = NULL;
	g_autofree gchar *usage = NULL;
	const gchar *report =
		"{\"items\":[{\"isDeltaCharge\":false,\"owner\":{\"type\":\"user\",\"username\":"
		"\"u\",\"projectId\":\"\"},\"categoryIdV2\":{\"name\":\"c\",\"provider\":"
		"\"example\"},"
		"\"usage\":42,\"description\":{\"scope\":\"job-7\",\"description\":null}}]}";

	g_assert_cmpuint(request(f, "POST", "/api/jobs/control/browseSshKeys", access,
				 "{\"jobId\":\"7\",\"owner\":true}", &page),
			 ==, 200);
	g_assert_cmpstr(page, ==, "{\"itemsPerPage\":250,\"items\":[],\"next\":null}");
	g_assert_cmpuint(request(f, "GET", "/api/jobs/control/retrieve?id=7", access, NULL, NULL),
			 ==, 404);
	ucv_fake_core_set_job(f->core, "7", "{\"id\":\"7\"}");
	g_assert_cmpuint(request(f, "GET", "/api/jobs/control/retrieve?id=7&includeProduct=true",
				 access, NULL, &job),
			 ==, 200);
	g_assert_cmpstr(job, ==, "{\"id\":\"7\"}");

	g_assert_cmpuint(
		request(f, "POST", "/api/accounting/v2/reportUsage", access, report, &usage), ==,
		200);
	g_assert_cmpstr(usage, ==, "{\"responses\":[true]}");
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->core, "7"), ==, 42);
	g_assert_cmpuint(request(f, "GET", "/api/nothing", access, NULL, NULL), ==, 404);
}

static void
test_down_and_up(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autofree gchar *url =
		g_strconcat(ucv_fake_core_get_url(f->core), "/api/jobs/control/update", NULL);
	g_autoptr(SoupSession) fresh = soup_session_new_with_options("timeout", 5, NULL);
	g_autoptr(GError) error = NULL;
	guint port = ucv_fake_core_get_port(f->core);

	g_assert_cmpuint(port, >, 0);
	/* f->session now holds a keep-alive connection; going down must cut it as well */
	g_assert_true(ucv_fake_core_set_down(f->core, TRUE, &error));
	g_assert_no_error(error);
	g_assert_true(ucv_fake_core_get_down(f->core));

	g_assert_cmpuint(request_full(f->session, "POST", url, access, running, NULL, &error), ==,
			 0);
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_assert_cmpuint(request_full(fresh, "POST", url, access, running, NULL, &error), ==, 0);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
	g_clear_error(&error);
	g_assert_cmpuint(count_updates(f->core), ==, 0);

	g_assert_true(ucv_fake_core_set_down(f->core, FALSE, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ucv_fake_core_get_port(f->core), ==, port);
	g_assert_cmpuint(request_full(fresh, "POST", url, access, running, NULL, &error), ==, 200);
	g_assert_no_error(error);
	g_assert_cmpuint(request_full(f->session, "POST", url, access, running, NULL, &error), ==,
			 200);
	g_assert_no_error(error);
	g_assert_cmpuint(count_updates(f->core), ==, 2);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)
	ADD("/fake-core/state-files", test_state_files);
	ADD("/fake-core/refresh", test_refresh);
	ADD("/fake-core/core-token", test_core_token);
	ADD("/fake-core/update-needs-token", test_update_needs_token);
	ADD("/fake-core/token-expiry", test_token_expiry);
	ADD("/fake-core/recorded-order", test_recorded_order);
	ADD("/fake-core/update-refusals", test_update_refusals);
	ADD("/fake-core/other-calls", test_other_calls);
	ADD("/fake-core/down-and-up", test_down_and_up);
#undef ADD
	return g_test_run();
}
