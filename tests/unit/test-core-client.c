/* Tests for UcvCoreClient against an in-process fake Core: refresh, renewal, 401 retry, errors. */
#include "config.h"

#include <libsoup/soup.h>

#include "model/ucv-error.h"
#include "model/ucv-jwt.h"
#include "ucloud/ucv-core-client.h"

#define REFRESH_TOKEN "the-refresh-token"
#define CONTROL_PATH  "/api/jobs/control/update"

/* Core as far as this client sees it: refresh plus one control endpoint. */
typedef struct {
	SoupServer *server;
	gchar *url;
	gint64 token_lifetime_s;
	guint serial;
	GPtrArray *issued;        /* every access token minted, in order */
	GPtrArray *auth_headers;  /* Authorization of each control call ("" when absent) */
	GPtrArray *content_types; /* Content-Type of each control call */
	GPtrArray *refresh_bodies;
	gboolean refresh_had_auth;
	guint refresh_status; /* answer refreshes with this when non-zero */
	guint control_status; /* answer control calls with this when non-zero */
	gboolean reject_all_tokens;
	gchar *revoked; /* a token that gets 401 */
	gboolean hold_refresh;
	SoupServerMessage *held;
} FakeCore;

static gchar *
fake_core_mint(FakeCore *core)
{
	const gchar *header = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autofree gchar *claims = g_strdup_printf(
		"{\"sub\":\"#P_test\",\"role\":\"PROVIDER\",\"iat\":%" G_GINT64_FORMAT
		",\"exp\":%" G_GINT64_FORMAT ",\"serial\":%u}",
		now, now + core->token_lifetime_s, ++core->serial);
	g_autofree gchar *h = ucv_base64url_encode((const guint8 *)header, strlen(header));
	g_autofree gchar *c = ucv_base64url_encode((const guint8 *)claims, strlen(claims));
	g_autofree gchar *sig = ucv_base64url_encode((const guint8 *)"not-a-signature", 15);

	return g_strdup_printf("%s.%s.%s", h, c, sig);
}

static void
fake_core_answer(SoupServerMessage *msg, guint status, const gchar *json)
{
	soup_server_message_set_status(msg, status, NULL);
	if (json != NULL)
		soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_COPY, json,
						 strlen(json));
}

static void
fake_core_answer_error(SoupServerMessage *msg, guint status)
{
	g_autofree gchar *body = g_strdup_printf(
		"{\"statusCode\":%u,\"why\":\"fake core says %u\"}", status, status);

	fake_core_answer(msg, status, body);
}

static gchar *
fake_core_body(SoupServerMessage *msg)
{
	g_autoptr(GBytes) bytes =
		soup_message_body_flatten(soup_server_message_get_request_body(msg));

	return g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
}

static void
fake_core_refresh(FakeCore *core, SoupServerMessage *msg)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	g_autofree gchar *token = NULL;
	g_autofree gchar *reply = NULL;

	if (soup_message_headers_get_one(headers, "Authorization") != NULL)
		core->refresh_had_auth = TRUE;
	g_ptr_array_add(core->refresh_bodies, fake_core_body(msg));
	if (core->refresh_status != 0) {
		fake_core_answer_error(msg, core->refresh_status);
		return;
	}
	token = fake_core_mint(core);
	g_ptr_array_add(core->issued, g_strdup(token));
	reply = g_strdup_printf("{\"responses\":[{\"accessToken\":\"%s\",\"csrfToken\":\"\"}]}",
				token);
	fake_core_answer(msg, SOUP_STATUS_OK, reply);
}

static gboolean
fake_core_token_ok(FakeCore *core, const gchar *auth)
{
	if (auth == NULL || !g_str_has_prefix(auth, "Bearer ") || core->reject_all_tokens)
		return FALSE;
	if (g_strcmp0(auth + 7, core->revoked) == 0)
		return FALSE;
	for (guint i = 0; i < core->issued->len; i++) {
		if (g_strcmp0(auth + 7, g_ptr_array_index(core->issued, i)) == 0)
			return TRUE;
	}
	return FALSE;
}

static void
fake_core_control(FakeCore *core, SoupServerMessage *msg, const gchar *path)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers(msg);
	const gchar *auth = soup_message_headers_get_one(headers, "Authorization");
	const gchar *type = soup_message_headers_get_one(headers, "Content-Type");

	g_ptr_array_add(core->auth_headers, g_strdup(auth != NULL ? auth : ""));
	g_ptr_array_add(core->content_types, g_strdup(type != NULL ? type : ""));
	if (!fake_core_token_ok(core, auth)) {
		fake_core_answer_error(msg, SOUP_STATUS_UNAUTHORIZED);
		return;
	}
	if (core->control_status != 0) {
		fake_core_answer_error(msg, core->control_status);
		return;
	}
	if (g_strcmp0(path, "/api/empty") == 0) {
		soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
		return;
	}
	fake_core_answer(msg, SOUP_STATUS_OK, "{\"echo\":true}");
}

static void
fake_core_handler(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
		  gpointer user_data)
{
	FakeCore *core = user_data;

	if (g_strcmp0(path, "/auth/providers/refresh") == 0) {
		if (core->hold_refresh) {
			core->held = g_object_ref(msg);
			soup_server_message_pause(msg);
			return;
		}
		fake_core_refresh(core, msg);
		return;
	}
	fake_core_control(core, msg, path);
}

static void
fake_core_release(FakeCore *core)
{
	core->hold_refresh = FALSE;
	if (core->held == NULL)
		return;
	fake_core_refresh(core, core->held);
	soup_server_message_unpause(core->held);
	g_clear_object(&core->held);
}

static FakeCore *
fake_core_new(void)
{
	FakeCore *core = g_new0(FakeCore, 1);
	g_autoptr(GError) error = NULL;
	GSList *uris;

	core->token_lifetime_s = 600;
	core->issued = g_ptr_array_new_with_free_func(g_free);
	core->auth_headers = g_ptr_array_new_with_free_func(g_free);
	core->content_types = g_ptr_array_new_with_free_func(g_free);
	core->refresh_bodies = g_ptr_array_new_with_free_func(g_free);
	core->server = soup_server_new(NULL, NULL);
	soup_server_add_handler(core->server, NULL, fake_core_handler, core, NULL);
	g_assert_true(soup_server_listen_local(core->server, 0, 0, &error));
	g_assert_no_error(error);
	uris = soup_server_get_uris(core->server);
	g_assert_nonnull(uris);
	core->url = g_strdup_printf("http://127.0.0.1:%d/", g_uri_get_port(uris->data));
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
	return core;
}

static void
fake_core_free(FakeCore *core)
{
	g_clear_object(&core->held);
	soup_server_disconnect(core->server);
	g_object_unref(core->server);
	/* let the server's connections finish closing */
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_ptr_array_unref(core->issued);
	g_ptr_array_unref(core->auth_headers);
	g_ptr_array_unref(core->content_types);
	g_ptr_array_unref(core->refresh_bodies);
	g_free(core->revoked);
	g_free(core->url);
	g_free(core);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeCore, fake_core_free)

static gboolean
flag_set_cb(gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
	return G_SOURCE_REMOVE;
}

/* Runs the default main context until *flag is set; FALSE when timeout_ms passed first. */
static gboolean
wait_for_flag(const gboolean *flag, guint timeout_ms)
{
	gboolean timed_out = FALSE;
	guint timeout_id = g_timeout_add(timeout_ms, flag_set_cb, &timed_out);

	while (!*flag && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	if (!timed_out)
		g_source_remove(timeout_id);
	return *flag;
}

static void
sleep_in_loop(guint ms)
{
	gboolean never = FALSE;

	wait_for_flag(&never, ms);
}

typedef struct {
	gboolean done;
	JsonNode *reply;
	GError *error;
} CallResult;

static void
call_result_clear(CallResult *result)
{
	g_clear_pointer(&result->reply, json_node_unref);
	g_clear_error(&result->error);
	result->done = FALSE;
}

static void
post_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CallResult *result = user_data;

	result->reply = ucv_core_client_post_finish(UCV_CORE_CLIENT(source), res, &result->error);
	result->done = TRUE;
}

static void
post(UcvCoreClient *client, const gchar *path, GCancellable *cancellable, CallResult *result)
{
	call_result_clear(result);
	ucv_core_client_post_async(client, path, "{\"items\":[]}", cancellable, post_cb, result);
}

static void
post_and_wait(UcvCoreClient *client, const gchar *path, CallResult *result)
{
	post(client, path, NULL, result);
	g_assert_true(wait_for_flag(&result->done, 10000));
}

static void
assert_bearer(FakeCore *core, guint call, guint token)
{
	g_autofree gchar *expected =
		g_strdup_printf("Bearer %s", (const gchar *)g_ptr_array_index(core->issued, token));

	g_assert_cmpstr(g_ptr_array_index(core->auth_headers, call), ==, expected);
}

static void
test_refresh_before_first_call(void)
{
	g_autoptr(FakeCore) core = fake_core_new();
	g_autoptr(UcvCoreClient) client = ucv_core_client_new(core->url, REFRESH_TOKEN);
	g_autoptr(JsonNode) sent = NULL;
	CallResult result = {0};

	post_and_wait(client, CONTROL_PATH, &result);
	g_assert_no_error(result.error);
	g_assert_nonnull(result.reply);
	g_assert_true(json_object_get_boolean_member(json_node_get_object(result.reply), "echo"));

	g_assert_cmpuint(core->refresh_bodies->len, ==, 1);
	g_assert_false(core->refresh_had_auth);
	sent = json_from_string(g_ptr_array_index(core->refresh_bodies, 0), NULL);
	g_assert_cmpstr(
		json_object_get_string_member(
			json_array_get_object_element(
				json_object_get_array_member(json_node_get_object(sent), "items"),
				0),
			"refreshToken"),
		==, REFRESH_TOKEN);
	g_assert_cmpuint(core->auth_headers->len, ==, 1);
	assert_bearer(core, 0, 0);
	g_assert_cmpstr(g_ptr_array_index(core->content_types, 0), ==, "application/json");

	post_and_wait(client, CONTROL_PATH, &result);
	g_assert_no_error(result.error);
	g_assert_cmpuint(core->refresh_bodies->len, ==, 1);
	g_assert_cmpuint(ucv_core_client_get_refresh_count(client), ==, 1);
	assert_bearer(core, 1, 0);
	call_result_clear(&result);
}

static void
test_one_refresh_for_many_callers(void)
{
	g_autoptr(FakeCore) core = fake_core_new();
	g_autoptr(UcvCoreClient) client = ucv_core_client_new(core->url, REFRESH_TOKEN);
	CallResult results[4] = {0};

	for (guint i = 0; i < G_N_ELEMENTS(results); i++)
		post(client, CONTROL_PATH, NULL, &results[i]);
	for (guint i = 0; i < G_N_ELEMENTS(results); i++) {
		g_assert_true(wait_for_flag(&results[i].done, 10000));
		g_assert_no_error(results[i].error);
		call_result_clear(&results[i]);
	}
	g_assert_cmpuint(core->refresh_bodies->len, ==, 1);
	g_assert_cmpuint(core->auth_headers->len, ==, G_N_ELEMENTS(results));
}

static void
test_renew_near_expiry(void)
{
	g_autoptr(FakeCore) core = fake_core_new();
	g_autoptr(UcvCoreClient) client = ucv_core_client_new(core->url, REFRESH_TOKEN);
	CallResult result = {0};

	/* a 2 s token is renewed once less than a fifth of its life is left */
	core->token_lifetime_s = 2;
	post_and_wait(client, CONTROL_PATH, &result);
	g_assert_no_error(result.error);
	post_and_wait(client, CONTROL_PATH, &result);
	g_assert_no_error(result.error);
	g_assert_cmpuint(core->refresh_bodies->len, ==, 1);

	core->token_lifetime_s = 600;
	sleep_in_loop(2100);
	post_and_wait(client, CONTROL_PATH, &result);
	g_assert_no_error(result.error);
	g_assert_cmpuint(core->refresh_bodies->len, ==, 2);
	assert_bearer(core, 2, 1);
	call_result_clear(&result);
}

static void
test_401_renews_and_retries_once(void)
{
	g_autoptr(FakeCore) core = fake_core_new();
	g_autoptr(UcvCoreClient) client = ucv_core_client_new(core->url, REFRESH_TOKEN);
	CallResult result = {0};

	post_and_wait(client, CONTROL_PATH, &result);
	g_assert_no_error(result.error);

	/* Core forgot the token before it expired */
	core->revoked = g_strdup(g_ptr_array_index(core->issued, 0));
	post_and_wait(client, CONTROL_PATH, &result);
	g_assert_no_error(result.error);
	g_assert_cmpuint(core->refresh_bodies->len, ==, 2);
	g_assert_cmpuint(core->auth_headers->len, ==, 3);
	assert_bearer(core, 1, 0);
	assert_bearer(core, 2, 1);
	call_result_clear(&result);
}

static void
test_401_twice_is_unauthorized(void)
{
	g_autoptr(FakeCore) core = fake_core_new();
	g_autoptr(UcvCoreClient) client = ucv_core_client_new(core->url, REFRESH_TOKEN);
	CallResult result = {0};

	core->reject_all_tokens = TRUE;
	post_and_wait(client, CONTROL_PATH, &result);
	g_assert_error(result.error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED);
	g_assert_cmpuint(core->refresh_bodies->len, ==, 2);
	g_assert_cmpuint(core->auth_headers->len, ==, 2);
	call_result_clear(&result);
}

static void
test_refresh_refused(void)
{
	g_autoptr(FakeCore) core = fake_core_new();
	g_autoptr(UcvCoreClient) client = ucv_core_client_new(core->url, REFRESH_TOKEN);
	CallResult result = {0};

	core->refresh_status = SOUP_STATUS_UNAUTHORIZED;
	post_and_wait(client, CONTROL_PATH, &result);
	g_assert_error(result.error, UCV_ERROR, UCV_ERROR_UNAUTHORIZED);
	g_assert_cmpuint(core->auth_headers->len, ==, 0);

	core->refresh_status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
	post_and_wait(client, CONTROL_PATH, &result);
	g_assert_error(result.error, UCV_ERROR, UCV_ERROR_UNAVAILABLE);
	g_assert_cmpuint(core->auth_headers->len, ==, 0);

	/* the next call tries again and succeeds */
	core->refresh_status = 0;
	post_and_wait(client, CONTROL_PATH, &result);
	g_assert_no_error(result.error);
	g_assert_cmpuint(core->refresh_bodies->len, ==, 3);
	call_result_clear(&result);
}

static void
test_status_mapping(void)
{
	g_autoptr(FakeCore) core = fake_core_new();
	g_autoptr(UcvCoreClient) client = ucv_core_client_new(core->url, REFRESH_TOKEN);
	struct {
		guint status;
		gint code;
	} cases[] = {
		{SOUP_STATUS_NOT_FOUND, UCV_ERROR_NOT_FOUND},
		{SOUP_STATUS_PAYMENT_REQUIRED, UCV_ERROR_PAYMENT_REQUIRED},
		{SOUP_STATUS_BAD_REQUEST, UCV_ERROR_INVALID},
		{SOUP_STATUS_FORBIDDEN, UCV_ERROR_INVALID},
		{SOUP_STATUS_INTERNAL_SERVER_ERROR, UCV_ERROR_UNAVAILABLE},
		{SOUP_STATUS_SERVICE_UNAVAILABLE, UCV_ERROR_UNAVAILABLE},
	};
	CallResult result = {0};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *why = g_strdup_printf("fake core says %u", cases[i].status);
		core->control_status = cases[i].status;
		post_and_wait(client, CONTROL_PATH, &result);
		g_assert_error(result.error, UCV_ERROR, cases[i].code);
		g_assert_nonnull(strstr(result.error->message, why));
	}
	g_assert_cmpuint(core->refresh_bodies->len, ==, 1);

	core->control_status = 0;
	post_and_wait(client, "/api/empty", &result);
	g_assert_no_error(result.error);
	g_assert_null(result.reply);
	call_result_clear(&result);
}

static void
test_core_unreachable(void)
{
	g_autoptr(FakeCore) core = fake_core_new();
	g_autoptr(UcvCoreClient) client = ucv_core_client_new(core->url, REFRESH_TOKEN);
	CallResult result = {0};

	soup_server_disconnect(core->server);
	post_and_wait(client, CONTROL_PATH, &result);
	g_assert_error(result.error, UCV_ERROR, UCV_ERROR_UNAVAILABLE);
	call_result_clear(&result);
}

static void
test_cancelled(void)
{
	g_autoptr(FakeCore) core = fake_core_new();
	g_autoptr(UcvCoreClient) client = ucv_core_client_new(core->url, REFRESH_TOKEN);
	g_autoptr(GCancellable) early = g_cancellable_new();
	g_autoptr(GCancellable) waiting = g_cancellable_new();
	CallResult result = {0};
	CallResult other = {0};

	g_cancellable_cancel(early);
	post(client, CONTROL_PATH, early, &result);
	g_assert_true(wait_for_flag(&result.done, 10000));
	g_assert_error(result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

	/* a caller cancelled while the shared refresh hangs is released at once; others go on */
	core->hold_refresh = TRUE;
	post(client, CONTROL_PATH, waiting, &result);
	post(client, CONTROL_PATH, NULL, &other);
	while (core->held == NULL)
		g_main_context_iteration(NULL, TRUE);
	g_cancellable_cancel(waiting);
	g_assert_true(wait_for_flag(&result.done, 1000));
	g_assert_error(result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_false(other.done);

	fake_core_release(core);
	g_assert_true(wait_for_flag(&other.done, 10000));
	g_assert_no_error(other.error);
	g_assert_cmpuint(core->auth_headers->len, ==, 1);
	call_result_clear(&result);
	call_result_clear(&other);
}

static void
test_trailing_slash(void)
{
	g_autoptr(FakeCore) core = fake_core_new();
	g_autofree gchar *url = g_strconcat(core->url, "//", NULL);
	g_autoptr(UcvCoreClient) client = ucv_core_client_new(url, REFRESH_TOKEN);
	CallResult result = {0};

	post_and_wait(client, CONTROL_PATH, &result);
	g_assert_no_error(result.error);
	call_result_clear(&result);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/core-client/refresh-first", test_refresh_before_first_call);
	g_test_add_func("/core-client/one-refresh", test_one_refresh_for_many_callers);
	g_test_add_func("/core-client/renew-near-expiry", test_renew_near_expiry);
	g_test_add_func("/core-client/401-retry", test_401_renews_and_retries_once);
	g_test_add_func("/core-client/401-twice", test_401_twice_is_unauthorized);
	g_test_add_func("/core-client/refresh-refused", test_refresh_refused);
	g_test_add_func("/core-client/status-mapping", test_status_mapping);
	g_test_add_func("/core-client/unreachable", test_core_unreachable);
	g_test_add_func("/core-client/cancelled", test_cancelled);
	g_test_add_func("/core-client/trailing-slash", test_trailing_slash);

	return g_test_run();
}
