/* Self-test of the fake UCloud/Core: tokens, recorded updates, accounting, going down and coming
 * back. */
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
	SoupMessage *msg;
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

/* Starts one request; the answer lands in *reply while the main context is iterated. */
static void
send_async(SoupSession *session, const gchar *method, const gchar *url, const gchar *token,
	   const gchar *body, GCancellable *cancellable, Reply *reply)
{
	reply->msg = soup_message_new(method, url);
	g_assert_nonnull(reply->msg);
	if (token != NULL) {
		g_autofree gchar *auth = g_strdup_printf("Bearer %s", token);

		soup_message_headers_replace(soup_message_get_request_headers(reply->msg),
					     "Authorization", auth);
	}
	if (body != NULL) {
		g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));

		/* Core's clients send no Content-Type: the fake must not need one either */
		soup_message_set_request_body_from_bytes(reply->msg, NULL, bytes);
	}
	soup_session_send_and_read_async(session, reply->msg, G_PRIORITY_DEFAULT, cancellable,
					 send_cb, reply);
}

static void
wait_for_reply(Reply *reply)
{
	while (!reply->done)
		g_main_context_iteration(NULL, TRUE);
}

static void
reply_clear(Reply *reply)
{
	g_clear_object(&reply->msg);
	g_clear_pointer(&reply->body, g_bytes_unref);
	g_clear_error(&reply->error);
}

static gchar *
reply_text(Reply *reply)
{
	g_assert_nonnull(reply->body);
	return g_strndup(g_bytes_get_data(reply->body, NULL), g_bytes_get_size(reply->body));
}

/* Sends one request while the fake Core keeps serving from the same main context. Returns the
 * HTTP status, or 0 with *error set when no answer came (e.g. connection refused). */
static guint
request_full(SoupSession *session, const gchar *method, const gchar *url, const gchar *token,
	     const gchar *body, gchar **out_body, GError **error)
{
	Reply reply = {NULL};
	guint status;

	send_async(session, method, url, token, body, NULL, &reply);
	wait_for_reply(&reply);
	if (reply.error != NULL) {
		g_propagate_error(error, g_steal_pointer(&reply.error));
		reply_clear(&reply);
		return 0;
	}
	if (out_body != NULL)
		*out_body = reply_text(&reply);
	status = soup_message_get_status(reply.msg);
	reply_clear(&reply);
	return status;
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

/* ---- accounting ---- */

static const gchar *report_path = "/api/accounting/v2/reportUsage";
static const gchar *charge_path = "/api/jobs/control/chargeCredits";

/* One UsageReportItem for the scope "job-<job_id>", as the provider sends it. */
static gchar *
usage_item(const gchar *job_id, gint64 usage, gboolean delta)
{
	return g_strdup_printf(
		"{\"isDeltaCharge\":%s,\"owner\":{\"type\":\"user\",\"username\":\"u\","
		"\"projectId\":\"\"},\"categoryIdV2\":{\"name\":\"cpu\",\"provider\":"
		"\"example\"},\"usage\":%" G_GINT64_FORMAT ",\"description\":{\"scope\":"
		"\"job-%s\",\"description\":null}}",
		delta ? "true" : "false", usage, job_id);
}

static gchar *
usage_body(const gchar *job_id, gint64 usage)
{
	g_autofree gchar *item = usage_item(job_id, usage, FALSE);

	return g_strdup_printf("{\"items\":[%s]}", item);
}

static gchar *
charge_item(const gchar *job_id, const gchar *charge_id, gint units, gint periods)
{
	return g_strdup_printf("{\"id\":\"%s\",\"chargeId\":\"%s\",\"units\":%d,"
			       "\"periods\":%d}",
			       job_id, charge_id, units, periods);
}

static gchar *
charge_body(const gchar *job_id, const gchar *charge_id, gint units, gint periods)
{
	g_autofree gchar *item = charge_item(job_id, charge_id, units, periods);

	return g_strdup_printf("{\"items\":[%s]}", item);
}

/* POSTs to an accounting endpoint; returns the status, the answer in *answer if wanted. */
static guint
post(Fixture *f, const gchar *access, const gchar *path, const gchar *body, gchar **answer)
{
	return request(f, "POST", path, access, body, answer);
}

static guint
report(Fixture *f, const gchar *access, const gchar *job_id, gint64 usage, gchar **answer)
{
	g_autofree gchar *body = usage_body(job_id, usage);

	return post(f, access, report_path, body, answer);
}

static guint
charge(Fixture *f, const gchar *access, const gchar *job_id, const gchar *charge_id, gint units,
       gint periods, gchar **answer)
{
	g_autofree gchar *body = charge_body(job_id, charge_id, units, periods);

	return post(f, access, charge_path, body, answer);
}

/* A refused call answers a CommonErrorMessage with its own status in it. */
static void
assert_error_message(const gchar *answer, gint status)
{
	g_autoptr(JsonNode) root = parse(answer);
	JsonObject *obj = json_node_get_object(root);

	g_assert_cmpint(json_object_get_int_member(obj, "statusCode"), ==, status);
	g_assert_cmpstr(json_object_get_string_member(obj, "why"), !=, "");
}

static void
test_report_usage(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autofree gchar *answer = NULL;
	g_autofree gchar *delta = usage_item("7", 5, TRUE);
	g_autofree gchar *absolute = usage_item("8", 3, FALSE);
	g_autofree gchar *two = g_strdup_printf("{\"items\":[%s,%s]}", delta, absolute);
	const gchar *project =
		"{\"items\":[{\"isDeltaCharge\":false,\"owner\":{\"type\":\"project\","
		"\"username\":\"\",\"projectId\":\"p1\"},\"categoryIdV2\":{\"name\":\"cpu\","
		"\"provider\":\"example\"},\"usage\":4,\"description\":{\"scope\":\"job-9\","
		"\"description\":null}}]}";

	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->core, "7"), ==, -1);
	g_assert_cmpuint(report(f, access, "7", 10, &answer), ==, 200);
	g_assert_cmpstr(answer, ==, "{\"responses\":[true]}");
	g_assert_cmpuint(report(f, access, "7", 25, NULL), ==, 200);
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->core, "7"), ==, 25);
	g_assert_cmpuint(ucv_fake_core_get_usage_decreases(f->core, "7"), ==, 0);

	/* both are lower than the 25 reported before, even though 22 is higher than 20 */
	g_assert_cmpuint(report(f, access, "7", 20, NULL), ==, 200);
	g_assert_cmpuint(report(f, access, "7", 22, NULL), ==, 200);
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->core, "7"), ==, 22);
	g_assert_cmpuint(ucv_fake_core_get_usage_decreases(f->core, "7"), ==, 2);
	g_assert_cmpuint(report(f, access, "7", 30, NULL), ==, 200);
	g_assert_cmpuint(ucv_fake_core_get_usage_decreases(f->core, "7"), ==, 2);

	/* a delta counts as a report but leaves the absolute usage alone */
	g_clear_pointer(&answer, g_free);
	g_assert_cmpuint(post(f, access, report_path, two, &answer), ==, 200);
	g_assert_cmpstr(answer, ==, "{\"responses\":[true,true]}");
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->core, "7"), ==, 30);
	g_assert_cmpuint(ucv_fake_core_get_usage_reports(f->core, "7"), ==, 6);
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->core, "8"), ==, 3);
	g_assert_cmpuint(ucv_fake_core_get_usage_reports(f->core, "8"), ==, 1);

	g_assert_cmpuint(post(f, access, report_path, project, NULL), ==, 200);
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->core, "9"), ==, 4);
	g_assert_cmpuint(ucv_fake_core_get_usage_reports(f->core, "10"), ==, 0);
	g_assert_cmpuint(ucv_fake_core_get_usage_calls(f->core), ==, 7);
}

static void
test_report_usage_locked(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autofree gchar *first = usage_item("7", 10, FALSE);
	g_autofree gchar *second = usage_item("8", 20, FALSE);
	g_autofree gchar *body = g_strdup_printf("{\"items\":[%s,%s]}", first, second);
	g_autofree gchar *answer = NULL;

	ucv_fake_core_set_wallet_locked(f->core, TRUE);
	g_assert_cmpuint(post(f, access, report_path, body, &answer), ==, 200);
	g_assert_cmpstr(answer, ==, "{\"responses\":[false,false]}");
	/* Core takes the usage of a locked wallet all the same */
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->core, "7"), ==, 10);
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->core, "8"), ==, 20);

	ucv_fake_core_set_wallet_locked(f->core, FALSE);
	g_clear_pointer(&answer, g_free);
	g_assert_cmpuint(report(f, access, "7", 11, &answer), ==, 200);
	g_assert_cmpstr(answer, ==, "{\"responses\":[true]}");
}

/* A valid item for job 7 followed by `bad`: the whole call must be refused. */
static void
assert_report_refused(Fixture *f, const gchar *access, const gchar *bad, guint status)
{
	g_autofree gchar *good = usage_item("7", 10, FALSE);
	g_autofree gchar *body = g_strdup_printf("{\"items\":[%s,%s]}", good, bad);
	g_autofree gchar *answer = NULL;

	g_assert_cmpuint(post(f, access, report_path, body, &answer), ==, status);
	assert_error_message(answer, (gint)status);
}

static void
test_report_usage_malformed(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	const gchar *owner = "\"owner\":{\"type\":\"user\",\"username\":\"u\",\"projectId\":\"\"}";
	const gchar *category = "\"categoryIdV2\":{\"name\":\"cpu\",\"provider\":\"example\"}";
	const gchar *scope = "\"description\":{\"scope\":\"job-8\",\"description\":null}";
	g_autofree gchar *no_delta =
		g_strdup_printf("{%s,%s,\"usage\":1,%s}", owner, category, scope);
	g_autofree gchar *string_delta = g_strdup_printf(
		"{\"isDeltaCharge\":\"false\",%s,%s,\"usage\":1,%s}", owner, category, scope);
	g_autofree gchar *no_owner =
		g_strdup_printf("{\"isDeltaCharge\":false,%s,\"usage\":1,%s}", category, scope);
	g_autofree gchar *no_username = g_strdup_printf(
		"{\"isDeltaCharge\":false,\"owner\":{\"type\":\"user\",\"username\":\"\","
		"\"projectId\":\"p\"},%s,\"usage\":1,%s}",
		category, scope);
	g_autofree gchar *no_project = g_strdup_printf(
		"{\"isDeltaCharge\":false,\"owner\":{\"type\":\"project\",\"username\":\"u\","
		"\"projectId\":\"\"},%s,\"usage\":1,%s}",
		category, scope);
	g_autofree gchar *bad_type = g_strdup_printf(
		"{\"isDeltaCharge\":false,\"owner\":{\"type\":\"group\",\"username\":\"u\","
		"\"projectId\":\"p\"},%s,\"usage\":1,%s}",
		category, scope);
	g_autofree gchar *no_name = g_strdup_printf(
		"{\"isDeltaCharge\":false,%s,\"categoryIdV2\":{\"name\":\"\",\"provider\":"
		"\"example\"},\"usage\":1,%s}",
		owner, scope);
	g_autofree gchar *no_provider = g_strdup_printf(
		"{\"isDeltaCharge\":false,%s,\"categoryIdV2\":{\"name\":\"cpu\"},\"usage\":1,%s}",
		owner, scope);
	g_autofree gchar *fraction = g_strdup_printf(
		"{\"isDeltaCharge\":false,%s,%s,\"usage\":1.5,%s}", owner, category, scope);
	g_autofree gchar *text_usage = g_strdup_printf(
		"{\"isDeltaCharge\":false,%s,%s,\"usage\":\"1\",%s}", owner, category, scope);
	const gchar *bad[] = {"42",     no_delta, string_delta, no_owner, no_username, no_project,
			      bad_type, no_name,  no_provider,  fraction, text_usage};
	g_autofree gchar *answer = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		assert_report_refused(f, access, bad[i], 400);
	g_assert_cmpuint(post(f, access, report_path, "{\"items\":{}}", &answer), ==, 400);
	/* nothing of a refused call is recorded */
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->core, "7"), ==, -1);
	g_assert_cmpuint(ucv_fake_core_get_usage_reports(f->core, "8"), ==, 0);
	g_assert_cmpuint(ucv_fake_core_get_usage_calls(f->core), ==, G_N_ELEMENTS(bad) + 1);
}

static void
test_report_usage_forbidden(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autofree gchar *negative = usage_item("8", -1, FALSE);
	g_autofree gchar *negative_delta = usage_item("8", -5, TRUE);
	g_autofree gchar *body = g_strdup_printf("{\"items\":[%s]}", negative_delta);
	g_autofree gchar *answer = NULL;

	assert_report_refused(f, access, negative, 403);
	/* Core handles the readable items one by one, so the one before the refused item stays */
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->core, "7"), ==, 10);
	g_assert_cmpuint(ucv_fake_core_get_usage_reports(f->core, "8"), ==, 0);

	/* a delta may be negative: it gives back what was charged too much */
	g_assert_cmpuint(post(f, access, report_path, body, &answer), ==, 200);
	g_assert_cmpuint(ucv_fake_core_get_usage_reports(f->core, "8"), ==, 1);

	/* a provider may only report usage of its own products */
	ucv_fake_core_set_provider_id(f->core, "other");
	g_clear_pointer(&answer, g_free);
	g_assert_cmpuint(report(f, access, "7", 12, &answer), ==, 403);
	assert_error_message(answer, 403);
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->core, "7"), ==, 10);
}

static void
test_charge_credits(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autofree gchar *answer = NULL;
	g_autofree gchar *a = charge_item("7", "7-2", 1, 1);
	g_autofree gchar *b = charge_item("8", "8-1", 4, 1);
	g_autofree gchar *two = g_strdup_printf("{\"items\":[%s,%s,%s]}", a, a, b);

	g_assert_cmpuint(charge(f, access, "7", "7-1", 2, 3, &answer), ==, 200);
	g_assert_cmpstr(answer, ==, "{\"insufficientFunds\":[],\"duplicateCharges\":[]}");
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "7"), ==, 6);
	g_assert_cmpuint(ucv_fake_core_get_charges(f->core, "7"), ==, 1);

	/* sent again, as after a lost answer: a duplicate, not a second charge */
	g_clear_pointer(&answer, g_free);
	g_assert_cmpuint(charge(f, access, "7", "7-1", 2, 3, &answer), ==, 200);
	g_assert_cmpstr(answer, ==,
			"{\"insufficientFunds\":[],\"duplicateCharges\":[{\"id\":\"7\"}]}");
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "7"), ==, 6);
	g_assert_cmpuint(ucv_fake_core_get_charges(f->core, "7"), ==, 1);
	g_assert_cmpuint(ucv_fake_core_get_repeated_charges(f->core, "7"), ==, 1);

	/* the same chargeId twice in one call is charged once */
	g_clear_pointer(&answer, g_free);
	g_assert_cmpuint(post(f, access, charge_path, two, &answer), ==, 200);
	g_assert_cmpstr(answer, ==,
			"{\"insufficientFunds\":[],\"duplicateCharges\":[{\"id\":\"7\"}]}");
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "7"), ==, 7);
	g_assert_cmpuint(ucv_fake_core_get_charges(f->core, "7"), ==, 2);
	g_assert_cmpuint(ucv_fake_core_get_repeated_charges(f->core, "7"), ==, 2);
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "8"), ==, 4);
	g_assert_cmpuint(ucv_fake_core_get_repeated_charges(f->core, "8"), ==, 0);
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "9"), ==, 0);
	g_assert_cmpuint(ucv_fake_core_get_usage_calls(f->core), ==, 3);
}

static void
test_charge_credits_locked(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autofree gchar *answer = NULL;

	g_assert_cmpuint(charge(f, access, "7", "7-1", 1, 1, NULL), ==, 200);
	ucv_fake_core_set_wallet_locked(f->core, TRUE);
	g_assert_cmpuint(charge(f, access, "7", "7-2", 1, 1, &answer), ==, 200);
	g_assert_cmpstr(answer, ==,
			"{\"insufficientFunds\":[{\"id\":\"7\"}],\"duplicateCharges\":[]}");
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "7"), ==, 1);
	g_assert_cmpuint(ucv_fake_core_get_charges(f->core, "7"), ==, 1);

	/* what was charged before the lock stays charged */
	g_clear_pointer(&answer, g_free);
	g_assert_cmpuint(charge(f, access, "7", "7-1", 1, 1, &answer), ==, 200);
	g_assert_cmpstr(answer, ==,
			"{\"insufficientFunds\":[],\"duplicateCharges\":[{\"id\":\"7\"}]}");

	/* a chargeId refused for want of funds was never taken, so it charges once unlocked */
	ucv_fake_core_set_wallet_locked(f->core, FALSE);
	g_assert_cmpuint(charge(f, access, "7", "7-2", 1, 1, NULL), ==, 200);
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "7"), ==, 2);
	g_assert_cmpuint(ucv_fake_core_get_repeated_charges(f->core, "7"), ==, 1);
}

static void
test_charge_credits_402(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autofree gchar *answer = NULL;

	ucv_fake_core_set_charge_402(f->core, TRUE);
	g_assert_cmpuint(charge(f, access, "7", "7-1", 1, 1, NULL), ==, 200);
	ucv_fake_core_set_wallet_locked(f->core, TRUE);
	g_assert_cmpuint(charge(f, access, "7", "7-2", 1, 1, &answer), ==, 402);
	assert_error_message(answer, 402);
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "7"), ==, 1);
	g_assert_cmpuint(ucv_fake_core_get_charges(f->core, "7"), ==, 1);

	ucv_fake_core_set_wallet_locked(f->core, FALSE);
	g_assert_cmpuint(charge(f, access, "7", "7-2", 1, 1, NULL), ==, 200);
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "7"), ==, 2);
	g_assert_cmpuint(ucv_fake_core_get_repeated_charges(f->core, "7"), ==, 0);
}

static void
test_charge_credits_malformed(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autofree gchar *good = charge_item("7", "7-1", 1, 1);
	g_autofree gchar *no_units = charge_item("7", "7-2", 0, 1);
	g_autofree gchar *no_periods = charge_item("7", "7-3", 1, 0);
	g_autofree gchar *negative = charge_item("7", "7-4", -2, 1);
	const gchar *bad[] = {
		"\"7\"",
		"{\"chargeId\":\"7-5\",\"units\":1,\"periods\":1}",
		"{\"id\":\"7\",\"units\":1,\"periods\":1}",
		"{\"id\":\"7\",\"chargeId\":\"\",\"units\":1,\"periods\":1}",
		"{\"id\":\"7\",\"chargeId\":\"7-6\",\"units\":\"1\",\"periods\":1}",
		"{\"id\":\"7\",\"chargeId\":\"7-7\",\"units\":1}",
		no_units,
		no_periods,
		negative,
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *body = g_strdup_printf("{\"items\":[%s,%s]}", good, bad[i]);
		g_autofree gchar *answer = NULL;

		g_assert_cmpuint(post(f, access, charge_path, body, &answer), ==, 400);
		assert_error_message(answer, 400);
	}
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "7"), ==, 0);
	g_assert_cmpuint(ucv_fake_core_get_charges(f->core, "7"), ==, 0);
	/* nothing was taken, so the good chargeId is no duplicate now */
	g_assert_cmpuint(charge(f, access, "7", "7-1", 1, 1, NULL), ==, 200);
	g_assert_cmpuint(ucv_fake_core_get_charges(f->core, "7"), ==, 1);
	g_assert_cmpuint(ucv_fake_core_get_repeated_charges(f->core, "7"), ==, 0);
}

static gboolean
flag_cb(gpointer user_data)
{
	gboolean *flag = user_data;

	*flag = TRUE;
	return G_SOURCE_REMOVE;
}

/* Serves for `ms` milliseconds. */
static void
spin(guint ms)
{
	gboolean over = FALSE;

	g_timeout_add(ms, flag_cb, &over);
	while (!over)
		g_main_context_iteration(NULL, TRUE);
}

static void
wait_for_held(Fixture *f, guint count)
{
	gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

	while (ucv_fake_core_get_held_accounting_calls(f->core) != count) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		g_main_context_iteration(NULL, TRUE);
	}
}

static gchar *
url_for(Fixture *f, const gchar *path)
{
	return g_strconcat(ucv_fake_core_get_url(f->core), path, NULL);
}

static void
test_accounting_stalled(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autofree gchar *charge_url = url_for(f, charge_path);
	g_autofree gchar *report_url = url_for(f, report_path);
	g_autofree gchar *update_url = url_for(f, "/api/jobs/control/update");
	g_autoptr(SoupSession) other = soup_session_new_with_options("timeout", 5, NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *charge_json = charge_body("7", "7-1", 3, 2);
	g_autofree gchar *report_json = usage_body("7", 6);
	g_autofree gchar *charged = NULL;
	g_autofree gchar *reported = NULL;
	Reply charge_reply = {NULL};
	Reply report_reply = {NULL};

	ucv_fake_core_set_accounting_stalled(f->core, TRUE);
	send_async(f->session, "POST", charge_url, access, charge_json, NULL, &charge_reply);
	send_async(f->session, "POST", report_url, access, report_json, NULL, &report_reply);
	wait_for_held(f, 2);
	/* Core has done the work; only its answers are late */
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "7"), ==, 6);
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->core, "7"), ==, 6);
	spin(100);
	g_assert_false(charge_reply.done);
	g_assert_false(report_reply.done);
	g_assert_cmpuint(ucv_fake_core_get_held_accounting_calls(f->core), ==, 2);

	/* other calls are answered meanwhile; they need a session of their own, since the held
	 * calls take both connections libsoup opens per host */
	g_assert_cmpuint(request_full(other, "POST", update_url, access, running, NULL, &error), ==,
			 200);
	g_assert_no_error(error);

	ucv_fake_core_set_accounting_stalled(f->core, FALSE);
	g_assert_cmpuint(ucv_fake_core_get_held_accounting_calls(f->core), ==, 0);
	wait_for_reply(&charge_reply);
	wait_for_reply(&report_reply);
	g_assert_no_error(charge_reply.error);
	g_assert_no_error(report_reply.error);
	g_assert_cmpuint(soup_message_get_status(charge_reply.msg), ==, 200);
	charged = reply_text(&charge_reply);
	g_assert_cmpstr(charged, ==, "{\"insufficientFunds\":[],\"duplicateCharges\":[]}");
	reported = reply_text(&report_reply);
	g_assert_cmpstr(reported, ==, "{\"responses\":[true]}");
	reply_clear(&charge_reply);
	reply_clear(&report_reply);

	/* the retry after a lost answer finds the charge already taken */
	g_clear_pointer(&charged, g_free);
	g_assert_cmpuint(charge(f, access, "7", "7-1", 3, 2, &charged), ==, 200);
	g_assert_cmpstr(charged, ==,
			"{\"insufficientFunds\":[],\"duplicateCharges\":[{\"id\":\"7\"}]}");
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "7"), ==, 6);
}

/* A refused call is held as well: the provider sees Core's answers only as late as Core sends
 * them. */
static void
test_accounting_stalled_refusal(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autofree gchar *url = url_for(f, charge_path);
	g_autofree gchar *body = charge_body("7", "7-1", 0, 1);
	Reply reply = {NULL};

	ucv_fake_core_set_accounting_stalled(f->core, TRUE);
	send_async(f->session, "POST", url, access, body, NULL, &reply);
	wait_for_held(f, 1);
	ucv_fake_core_set_accounting_stalled(f->core, FALSE);
	wait_for_reply(&reply);
	g_assert_no_error(reply.error);
	g_assert_cmpuint(soup_message_get_status(reply.msg), ==, 400);
	reply_clear(&reply);
}

static void
test_accounting_stalled_client_leaves(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autofree gchar *url = url_for(f, charge_path);
	g_autofree gchar *body = charge_body("7", "7-1", 1, 1);
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	Reply reply = {NULL};

	ucv_fake_core_set_accounting_stalled(f->core, TRUE);
	send_async(f->session, "POST", url, access, body, cancellable, &reply);
	wait_for_held(f, 1);
	g_cancellable_cancel(cancellable);
	wait_for_reply(&reply);
	g_assert_error(reply.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	reply_clear(&reply);
	spin(50);

	ucv_fake_core_set_accounting_stalled(f->core, FALSE);
	spin(100);
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "7"), ==, 1);
	g_assert_cmpuint(charge(f, access, "7", "7-2", 1, 1, NULL), ==, 200);
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "7"), ==, 2);
}

static void
test_accounting_stalled_down(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autofree gchar *url = url_for(f, charge_path);
	g_autofree gchar *body = charge_body("7", "7-1", 1, 1);
	g_autoptr(GError) error = NULL;
	Reply reply = {NULL};

	ucv_fake_core_set_accounting_stalled(f->core, TRUE);
	send_async(f->session, "POST", url, access, body, NULL, &reply);
	wait_for_held(f, 1);
	g_assert_true(ucv_fake_core_set_down(f->core, TRUE, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ucv_fake_core_get_held_accounting_calls(f->core), ==, 0);
	wait_for_reply(&reply);
	g_assert_nonnull(reply.error);
	reply_clear(&reply);

	g_assert_true(ucv_fake_core_set_down(f->core, FALSE, &error));
	g_assert_no_error(error);
	ucv_fake_core_set_accounting_stalled(f->core, FALSE);
	g_assert_cmpuint(charge(f, access, "7", "7-1", 1, 1, NULL), ==, 200);
	g_assert_cmpuint(ucv_fake_core_get_repeated_charges(f->core, "7"), ==, 1);
	g_assert_cmpint(ucv_fake_core_get_charged(f->core, "7"), ==, 1);
}

static void
test_accounting_stalled_dispose(Fixture *f, gconstpointer data)
{
	g_autofree gchar *access = refresh(f);
	g_autofree gchar *url = url_for(f, report_path);
	g_autofree gchar *body = usage_body("7", 1);
	Reply reply = {NULL};

	ucv_fake_core_set_accounting_stalled(f->core, TRUE);
	send_async(f->session, "POST", url, access, body, NULL, &reply);
	wait_for_held(f, 1);
	g_clear_object(&f->core);
	wait_for_reply(&reply);
	g_assert_nonnull(reply.error);
	reply_clear(&reply);
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
	ADD("/fake-core/report-usage", test_report_usage);
	ADD("/fake-core/report-usage/locked", test_report_usage_locked);
	ADD("/fake-core/report-usage/malformed", test_report_usage_malformed);
	ADD("/fake-core/report-usage/forbidden", test_report_usage_forbidden);
	ADD("/fake-core/charge-credits", test_charge_credits);
	ADD("/fake-core/charge-credits/locked", test_charge_credits_locked);
	ADD("/fake-core/charge-credits/402", test_charge_credits_402);
	ADD("/fake-core/charge-credits/malformed", test_charge_credits_malformed);
	ADD("/fake-core/accounting-stalled", test_accounting_stalled);
	ADD("/fake-core/accounting-stalled/refusal", test_accounting_stalled_refusal);
	ADD("/fake-core/accounting-stalled/client-leaves", test_accounting_stalled_client_leaves);
	ADD("/fake-core/accounting-stalled/down", test_accounting_stalled_down);
	ADD("/fake-core/accounting-stalled/dispose", test_accounting_stalled_dispose);
#undef ADD
	return g_test_run();
}
