/* In-process tests of the HTTP server: a real SoupSession against the server on a loopback port. */
#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "api/ucv-server.h"
#include "engine/ucv-engine.h"
#include "engine/ucv-job-files.h"
#include "engine/ucv-store.h"
#include "model/ucv-error.h"
#include "ucloud/ucv-core-client.h"
#include "ucv-test-http.h"
#include "ucv-test-server.h"
#include "ucv-test-signer.h"
#include "virt/ucv-hypervisor.h"

#define MAX_BODY (64 * 1024)

static const gchar *products_json =
	"[{\"type\":\"compute\",\"name\":\"vm-1\",\"category\":{\"name\":\"vm\","
	"\"provider\":\"example\",\"accountingFrequency\":\"PERIODIC_MINUTE\"},"
	"\"description\":\"1 vCPU\",\"price\":1,\"cpu\":1,\"memoryInGigs\":1,\"gpu\":0},"
	"{\"type\":\"compute\",\"name\":\"vm-2\",\"category\":{\"name\":\"vm\","
	"\"provider\":\"example\"},\"price\":2,\"cpu\":2,\"memoryInGigs\":2}]";

/* RSA keys are slow to make, so the signers live for the whole run. */
static UcvTestSigner *core_signer;
static UcvTestSigner *other_signer;

typedef UcvTestServer Fixture;

typedef struct {
	guint status;
	gchar *body;
	JsonNode *json;
} Reply;

static void
reply_free(Reply *reply)
{
	g_free(reply->body);
	g_clear_pointer(&reply->json, json_node_unref);
	g_free(reply);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Reply, reply_free)

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) products = NULL;

	ucv_test_server_prepare(f, "ucv-test-server-XXXXXX");
	f->config->max_body_bytes = MAX_BODY;
	products = ucv_product_list_parse(products_json, strlen(products_json), &error);
	g_assert_no_error(error);
	ucv_test_server_start(f, products, core_signer);
	g_assert_cmpuint(ucv_server_get_port(f->server), >, 0);
}

static gboolean
set_flag_cb(gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
	return G_SOURCE_REMOVE;
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	ucv_test_server_stop(f);
}

/* Sends a request the way Core does (no Content-Type); `chunked` hides the length. */
static Reply *
request_full(Fixture *f, const gchar *method, const gchar *path, const gchar *authorization,
	     const gchar *body, gsize body_len, gboolean chunked)
{
	g_autofree gchar *uri = g_strconcat(f->base, path, NULL);
	g_autoptr(SoupMessage) msg = soup_message_new(method, uri);
	Reply *reply = g_new0(Reply, 1);
	g_autoptr(JsonParser) parser = json_parser_new();

	g_assert_nonnull(msg);
	if (authorization != NULL)
		soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization",
					     authorization);
	if (body != NULL && chunked) {
		g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_data(
			g_memdup2(body, body_len), (gssize)body_len, g_free);
		soup_message_set_request_body(msg, NULL, stream, -1);
	} else if (body != NULL) {
		g_autoptr(GBytes) bytes = g_bytes_new(body, body_len);
		soup_message_set_request_body_from_bytes(msg, NULL, bytes);
	}
	reply->body = ucv_test_http_send(f->session, msg);
	reply->status = soup_message_get_status(msg);
	if (reply->body[0] != '\0' && json_parser_load_from_data(parser, reply->body, -1, NULL))
		reply->json = json_node_copy(json_parser_get_root(parser));
	return reply;
}

static Reply *
request(Fixture *f, const gchar *method, const gchar *path, const gchar *body)
{
	g_autofree gchar *authorization = g_strdup_printf("Bearer %s", f->token);

	return request_full(f, method, path, authorization, body, body ? strlen(body) : 0, FALSE);
}

static Reply *
request_with_token(Fixture *f, const gchar *path, const gchar *token, const gchar *body)
{
	g_autofree gchar *authorization = g_strdup_printf("Bearer %s", token);

	return request_full(f, "POST", path, authorization, body, body ? strlen(body) : 0, FALSE);
}

/* Asserts a CommonErrorMessage with `status`, whose why mentions `why_part`. */
static void
assert_error_reply(const Reply *reply, guint status, const gchar *why_part, const gchar *code)
{
	JsonObject *obj;
	const gchar *why;

	if (reply->status != status)
		g_error("expected %u, got %u: %s", status, reply->status, reply->body);
	g_assert_nonnull(reply->json);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(reply->json));
	obj = json_node_get_object(reply->json);
	g_assert_cmpint(json_object_get_int_member(obj, "statusCode"), ==, status);
	why = json_object_get_string_member(obj, "why");
	g_assert_nonnull(why);
	g_assert_cmpstr(why, !=, "");
	if (why_part != NULL && strstr(why, why_part) == NULL)
		g_error("why \"%s\" does not mention \"%s\"", why, why_part);
	g_assert_cmpstr(json_object_get_string_member_with_default(obj, "errorCode", NULL), ==,
			code);
}

static guint
count_stored_jobs(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) jobs = ucv_store_list_jobs(f->store, UCV_STORE_JOBS_ALL, &error);

	g_assert_no_error(error);
	return jobs->len;
}

/* A create body for one job; the product and backend are what the tests vary. */
static gchar *
make_job(const gchar *id, const gchar *product, const gchar *backend)
{
	return g_strdup_printf(
		"{\"id\":\"%s\",\"createdAt\":1732540000123,\"owner\":{\"createdBy\":\"alice\","
		"\"project\":null},\"updates\":[],\"specification\":{\"product\":{\"id\":\"%s\","
		"\"category\":\"vm\",\"provider\":\"example\"},\"application\":{\"name\":\"app\","
		"\"version\":\"1\"},\"replicas\":1,\"parameters\":{\"ucMetricSampleRate\":"
		"{\"type\":\"text\",\"value\":\"60\"}},\"timeAllocation\":null},"
		"\"status\":{\"state\":\"IN_QUEUE\",\"resolvedApplication\":{\"invocation\":{"
		"\"tool\":"
		"{\"name\":\"app\",\"version\":\"1\",\"tool\":{\"description\":{\"backend\":\"%s\","
		"\"image\":\"https://images.invalid/app.qcow2\"}}}}}}}",
		id, product, backend);
}

static gchar *
make_create_body(const gchar *job1, const gchar *job2)
{
	if (job2 == NULL)
		return g_strdup_printf("{\"items\":[%s]}", job1);
	return g_strdup_printf("{\"items\":[%s,%s]}", job1, job2);
}

static void
test_auth_missing(Fixture *f, gconstpointer data)
{
	g_autoptr(Reply) reply = request_full(f, "GET", "/ucloud/example/jobs/retrieveProducts",
					      NULL, NULL, 0, FALSE);

	assert_error_reply(reply, 401, NULL, NULL);
}

static void
test_auth_not_bearer(Fixture *f, gconstpointer data)
{
	g_autofree gchar *basic = g_strdup_printf("Basic %s", f->token);
	g_autoptr(Reply) reply = request_full(f, "GET", "/ucloud/example/jobs/retrieveProducts",
					      basic, NULL, 0, FALSE);

	assert_error_reply(reply, 401, "bearer", NULL);
	g_assert_null(strstr(reply->body, f->token));
}

static void
test_auth_forged(Fixture *f, gconstpointer data)
{
	g_autofree gchar *forged = ucv_test_signer_mint_core_token(other_signer, 600);
	g_autofree gchar *job = make_job("1", "vm-1", "VIRTUAL_MACHINE");
	g_autofree gchar *body = make_create_body(job, NULL);
	g_autoptr(Reply) reply = request_with_token(f, "/ucloud/example/jobs", forged, body);

	assert_error_reply(reply, 401, "signature", NULL);
	g_assert_null(strstr(reply->body, forged));
	g_assert_cmpuint(count_stored_jobs(f), ==, 0);
}

static void
test_auth_expired(Fixture *f, gconstpointer data)
{
	g_autofree gchar *expired = ucv_test_signer_mint_core_token(core_signer, -3600);
	g_autoptr(Reply) reply = request_with_token(f, "/ucloud/example/jobs", expired, "{}");

	assert_error_reply(reply, 401, "expired", NULL);
}

static void
test_auth_wrong_sub(Fixture *f, gconstpointer data)
{
	g_autofree gchar *provider =
		ucv_test_signer_mint_provider_token(core_signer, "example", 600);
	g_autoptr(Reply) reply = request_with_token(f, "/ucloud/example/jobs", provider, "{}");

	assert_error_reply(reply, 401, NULL, NULL);
}

static void
test_auth_garbage(Fixture *f, gconstpointer data)
{
	g_autoptr(Reply) reply =
		request_with_token(f, "/ucloud/example/integration/init", "not.a.token", "{}");

	assert_error_reply(reply, 401, NULL, NULL);
}

static void
test_auth_before_body(Fixture *f, gconstpointer data)
{
	g_autoptr(Reply) reply =
		request_full(f, "POST", "/ucloud/example/jobs", NULL, "{not json", 9, FALSE);

	/* an unauthenticated caller learns nothing about its body */
	assert_error_reply(reply, 401, NULL, NULL);
}

static void
test_create_malformed(Fixture *f, gconstpointer data)
{
	g_autoptr(Reply) reply = request(f, "POST", "/ucloud/example/jobs", "{\"items\":[{]}");

	assert_error_reply(reply, 400, "malformed JSON", NULL);
}

static void
test_create_no_items(Fixture *f, gconstpointer data)
{
	const gchar *bodies[] = {"{}", "{\"items\":null}", NULL, "[]"};

	for (guint i = 0; i < G_N_ELEMENTS(bodies); i++) {
		g_autoptr(Reply) reply = request(f, "POST", "/ucloud/example/jobs", bodies[i]);
		assert_error_reply(reply, 400, NULL, NULL);
	}
	{
		g_autoptr(Reply) reply = request(f, "POST", "/ucloud/example/jobs", "{}");
		assert_error_reply(reply, 400, "the request has no items", NULL);
	}
	g_assert_cmpuint(count_stored_jobs(f), ==, 0);
}

static void
test_create_bad_item(Fixture *f, gconstpointer data)
{
	g_autofree gchar *good = make_job("100", "vm-1", "VIRTUAL_MACHINE");
	g_autofree gchar *hostile = make_job("../etc", "vm-1", "VIRTUAL_MACHINE");
	g_autofree gchar *body = make_create_body(good, hostile);
	g_autoptr(Reply) reply = request(f, "POST", "/ucloud/example/jobs", body);

	assert_error_reply(reply, 400, "item 2: job id", NULL);
	g_assert_cmpuint(count_stored_jobs(f), ==, 0);
}

static void
test_create_unknown_product(Fixture *f, gconstpointer data)
{
	g_autofree gchar *good = make_job("100", "vm-1", "VIRTUAL_MACHINE");
	g_autofree gchar *unknown = make_job("101", "gpu-9000", "VIRTUAL_MACHINE");
	g_autofree gchar *body = make_create_body(good, unknown);
	g_autoptr(Reply) reply = request(f, "POST", "/ucloud/example/jobs", body);

	assert_error_reply(reply, 400, "gpu-9000", NULL);
	g_assert_cmpuint(count_stored_jobs(f), ==, 0);
}

static void
test_create_docker(Fixture *f, gconstpointer data)
{
	g_autofree gchar *job = make_job("102", "vm-1", "DOCKER");
	g_autofree gchar *body = make_create_body(job, NULL);
	g_autoptr(Reply) reply = request(f, "POST", "/ucloud/example/jobs", body);

	assert_error_reply(reply, 400, "DOCKER", NULL);
	g_assert_cmpuint(count_stored_jobs(f), ==, 0);
}

static void
test_create_ok(Fixture *f, gconstpointer data)
{
	g_autofree gchar *job1 = make_job("200", "vm-1", "VIRTUAL_MACHINE");
	g_autofree gchar *job2 = make_job("201", "vm-2", "VIRTUAL_MACHINE");
	g_autofree gchar *body = make_create_body(job1, job2);
	g_autoptr(Reply) reply = request(f, "POST", "/ucloud/example/jobs", body);
	JsonArray *responses;

	g_assert_cmpuint(reply->status, ==, 200);
	responses = json_object_get_array_member(json_node_get_object(reply->json), "responses");
	g_assert_cmpuint(json_array_get_length(responses), ==, 2);
	g_assert_cmpstr(
		json_object_get_string_member(json_array_get_object_element(responses, 0), "id"),
		==, "200");
	g_assert_cmpstr(
		json_object_get_string_member(json_array_get_object_element(responses, 1), "id"),
		==, "201");
	g_assert_cmpuint(count_stored_jobs(f), ==, 2);
}

static gchar *
make_big_body(gsize size)
{
	/* valid JSON of the wanted size, so only the size can be the reason for refusing it */
	gchar *body = g_malloc(size + 1);

	memset(body, ' ', size);
	memcpy(body, "{\"items\":[]}", 12);
	body[size] = '\0';
	return body;
}

static void
test_body_too_large(Fixture *f, gconstpointer data)
{
	g_autofree gchar *body = make_big_body(MAX_BODY * 4);
	g_autofree gchar *authorization = g_strdup_printf("Bearer %s", f->token);
	g_autoptr(Reply) reply = request_full(f, "POST", "/ucloud/example/jobs", authorization,
					      body, MAX_BODY * 4, FALSE);

	assert_error_reply(reply, 413, "larger than", NULL);
	g_assert_cmpuint(count_stored_jobs(f), ==, 0);
}

static void
test_body_too_large_chunked(Fixture *f, gconstpointer data)
{
	g_autofree gchar *body = make_big_body(MAX_BODY * 4);
	g_autofree gchar *authorization = g_strdup_printf("Bearer %s", f->token);
	g_autoptr(Reply) reply = request_full(f, "POST", "/ucloud/example/jobs", authorization,
					      body, MAX_BODY * 4, TRUE);

	assert_error_reply(reply, 413, "larger than", NULL);
	g_assert_cmpuint(count_stored_jobs(f), ==, 0);
}

static void
test_body_chunked_ok(Fixture *f, gconstpointer data)
{
	g_autofree gchar *job = make_job("300", "gpu-9000", "VIRTUAL_MACHINE");
	g_autofree gchar *body = make_create_body(job, NULL);
	g_autofree gchar *authorization = g_strdup_printf("Bearer %s", f->token);
	g_autoptr(Reply) reply = request_full(f, "POST", "/ucloud/example/jobs", authorization,
					      body, strlen(body), TRUE);

	/* the body arrived whole: the engine saw the job and refused its product */
	assert_error_reply(reply, 400, "gpu-9000", NULL);
}

static void
test_body_at_limit(Fixture *f, gconstpointer data)
{
	g_autofree gchar *body = make_big_body(MAX_BODY);
	g_autofree gchar *authorization = g_strdup_printf("Bearer %s", f->token);
	g_autoptr(Reply) reply = request_full(f, "POST", "/ucloud/example/jobs/updateAcl",
					      authorization, body, MAX_BODY, TRUE);

	g_assert_cmpuint(reply->status, ==, 200);
}

typedef struct {
	guint16 port;
	gchar *request;
	gchar *answer;
	gboolean done;
} RawData;

/* A raw client that sends `request` and reads the answer without sending anything more. */
static gpointer
raw_client_thread(gpointer user_data)
{
	RawData *data = user_data;
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) conn = NULL;
	g_autoptr(GError) error = NULL;
	GString *answer = g_string_new(NULL);
	gchar buf[4096];
	gssize n;

	g_socket_client_set_timeout(client, 10);
	conn = g_socket_client_connect_to_host(client, "127.0.0.1", data->port, NULL, &error);
	g_assert_no_error(error);
	g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)), data->request,
				  strlen(data->request), NULL, NULL, &error);
	g_assert_no_error(error);
	while ((n = g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(conn)), buf,
					sizeof(buf), NULL, NULL)) > 0)
		g_string_append_len(answer, buf, n);
	data->answer = g_string_free(answer, FALSE);
	g_atomic_int_set(&data->done, TRUE);
	g_main_context_wakeup(NULL);
	return NULL;
}

static gchar *
raw_exchange(Fixture *f, const gchar *request)
{
	RawData raw = {ucv_server_get_port(f->server), (gchar *)request, NULL, FALSE};
	GThread *thread = g_thread_new("raw-client", raw_client_thread, &raw);

	while (!g_atomic_int_get(&raw.done))
		g_main_context_iteration(NULL, TRUE);
	g_thread_join(thread);
	return raw.answer;
}

static void
test_body_refused_before_reading(Fixture *f, gconstpointer data)
{
	g_autofree gchar *request = g_strdup_printf("POST /ucloud/example/jobs HTTP/1.1\r\n"
						    "Host: 127.0.0.1\r\n"
						    "Authorization: Bearer %s\r\n"
						    "Content-Length: 100000000000\r\n\r\n",
						    f->token);
	g_autofree gchar *answer = raw_exchange(f, request);

	/* the body is announced but never sent: the answer must not wait for it */
	g_assert_true(g_str_has_prefix(answer, "HTTP/1.1 413"));
	g_assert_nonnull(strstr(answer, "\"statusCode\":413"));
}

static void
test_body_refused_mid_chunk(Fixture *f, gconstpointer data)
{
	g_autofree gchar *filler = g_strnfill(MAX_BODY + 100, ' ');
	g_autofree gchar *request = g_strdup_printf("POST /ucloud/example/jobs HTTP/1.1\r\n"
						    "Host: 127.0.0.1\r\n"
						    "Authorization: Bearer %s\r\n"
						    "Transfer-Encoding: chunked\r\n\r\n"
						    "%x\r\n%s\r\n",
						    f->token, MAX_BODY + 100, filler);
	g_autofree gchar *answer = raw_exchange(f, request);

	/* the chunked body never ends: the answer comes once the cap is passed */
	g_assert_true(g_str_has_prefix(answer, "HTTP/1.1 413"));
	g_assert_nonnull(strstr(answer, "Connection: close"));
}

static void
test_routes_unknown(Fixture *f, gconstpointer data)
{
	const gchar *paths[] = {
		"/",
		"/ucloud/example/nothing",
		"/ucloud/other-provider/jobs/retrieveProducts",
		"/ucloud/example/files/retrieveProducts",
		"/ucloud/example/ingresses/retrieveProducts",
		"/ucloud/example/networkips/retrieveProducts",
		"/ucloud/example/licenses/retrieveProducts",
		"/ucloud/example/privatenetworks/retrieveProducts",
		"/ucloud/example/shares/retrieveProducts",
		"/api/ucloud/example/jobs/retrieveProducts",
	};

	for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
		g_autoptr(Reply) reply = request(f, "GET", paths[i], NULL);
		assert_error_reply(reply, 404, NULL, NULL);
	}
}

static void
test_routes_wrong_method(Fixture *f, gconstpointer data)
{
	g_autoptr(Reply) get_create = request(f, "GET", "/ucloud/example/jobs", NULL);
	g_autoptr(Reply) post_products =
		request(f, "POST", "/ucloud/example/jobs/retrieveProducts", "{}");
	g_autoptr(Reply) delete_init =
		request(f, "DELETE", "/ucloud/example/integration/init", NULL);

	assert_error_reply(get_create, 405, NULL, NULL);
	assert_error_reply(post_products, 405, NULL, NULL);
	assert_error_reply(delete_init, 405, NULL, NULL);
}

static void
assert_flags(JsonObject *obj, const gchar *const *names)
{
	for (guint i = 0; names[i] != NULL; i++) {
		JsonNode *node = json_object_get_member(obj, names[i]);
		if (node == NULL || json_node_get_value_type(node) != G_TYPE_BOOLEAN)
			g_error("flag %s is missing or not a boolean", names[i]);
	}
}

static void
test_retrieve_products(Fixture *f, gconstpointer data)
{
	const gchar *docker_flags[] = {"enabled",       "web",         "vnc",
				       "logs",          "terminal",    "peers",
				       "timeExtension", "utilization", NULL};
	const gchar *vm_flags[] = {"enabled",       "logs",       "vnc",         "terminal",
				   "timeExtension", "suspension", "utilization", NULL};
	g_autoptr(Reply) reply = request(f, "GET", "/ucloud/example/jobs/retrieveProducts", NULL);
	JsonArray *responses;
	JsonObject *support;
	JsonObject *product;
	JsonObject *queue;

	g_assert_cmpuint(reply->status, ==, 200);
	responses = json_object_get_array_member(json_node_get_object(reply->json), "responses");
	g_assert_cmpuint(json_array_get_length(responses), ==, 2);
	support = json_array_get_object_element(responses, 0);
	product = json_object_get_object_member(support, "product");
	g_assert_cmpstr(json_object_get_string_member(product, "id"), ==, "vm-1");
	g_assert_cmpstr(json_object_get_string_member(product, "category"), ==, "vm");
	g_assert_cmpstr(json_object_get_string_member(product, "provider"), ==, "example");
	assert_flags(json_object_get_object_member(support, "docker"), docker_flags);
	assert_flags(json_object_get_object_member(support, "virtualMachine"), vm_flags);
	g_assert_true(json_object_get_boolean_member(
		json_object_get_object_member(support, "virtualMachine"), "enabled"));
	g_assert_true(json_object_get_boolean_member(
		json_object_get_object_member(support, "virtualMachine"), "suspension"));
	g_assert_true(json_object_get_boolean_member(
		json_object_get_object_member(support, "virtualMachine"), "vnc"));
	g_assert_true(json_object_get_boolean_member(
		json_object_get_object_member(support, "virtualMachine"), "terminal"));
	g_assert_true(json_object_get_boolean_member(
		json_object_get_object_member(support, "virtualMachine"), "logs"));
	g_assert_false(json_object_get_boolean_member(
		json_object_get_object_member(support, "native"), "enabled"));
	queue = json_object_get_object_member(support, "queueStatus");
	g_assert_nonnull(queue);
	g_assert_cmpint(json_object_get_int_member(queue, "running"), ==, 0);
	g_assert_cmpint(json_object_get_int_member(queue, "pending"), ==, 0);
	product = json_object_get_object_member(json_array_get_object_element(responses, 1),
						"product");
	g_assert_cmpstr(json_object_get_string_member(product, "id"), ==, "vm-2");
}

/* retrieveUtilization (documented): capacity, used capacity and queue counts, memory in bytes. */
static void
test_retrieve_utilization(Fixture *f, gconstpointer data)
{
	g_autoptr(Reply) reply =
		request(f, "GET", "/ucloud/example/jobs/retrieveUtilization", NULL);
	JsonObject *root;
	const gchar *members[] = {"capacity", "usedCapacity"};

	g_assert_cmpuint(reply->status, ==, 200);
	root = json_node_get_object(reply->json);
	for (guint i = 0; i < G_N_ELEMENTS(members); i++) {
		JsonObject *obj = json_object_get_object_member(root, members[i]);
		g_assert_nonnull(obj);
		g_assert_cmpuint(json_node_get_value_type(json_object_get_member(obj, "cpu")), ==,
				 G_TYPE_DOUBLE);
		g_assert_cmpuint(json_node_get_value_type(json_object_get_member(obj, "memory")),
				 ==, G_TYPE_INT64);
	}
	g_assert_cmpint(json_object_get_int_member(
				json_object_get_object_member(root, "queueStatus"), "pending"),
			==, 0);
}

static void
test_integration(Fixture *f, gconstpointer data)
{
	g_autoptr(Reply) manifest =
		request(f, "GET", "/ucloud/example/integration/retrieveManifest", NULL);
	g_autoptr(Reply) init =
		request(f, "POST", "/ucloud/example/integration/init", "{\"username\":\"alice\"}");

	g_assert_cmpuint(manifest->status, ==, 200);
	g_assert_cmpstr(manifest->body, ==, "{\"enabled\":false,\"expireAfterMs\":null}");
	g_assert_cmpuint(init->status, ==, 200);
	g_assert_cmpstr(init->body, ==, "{}");
}

/* Core's follow socket takes Core's token on the upgrade, and only an upgrade. */
static void
test_follow_refused(Fixture *f, gconstpointer data)
{
	const gchar *path = "/ucloud/jobs.provider.example/websocket";
	g_autoptr(Reply) no_token = request_full(f, "GET", path, NULL, NULL, 0, FALSE);
	g_autoptr(Reply) forged = request_full(f, "GET", path, "Bearer x.y.z", NULL, 0, FALSE);
	g_autoptr(Reply) plain = request(f, "GET", path, NULL);

	assert_error_reply(no_token, 401, "bearer", NULL);
	assert_error_reply(forged, 401, NULL, NULL);
	assert_error_reply(plain, 400, "WebSocket", NULL);
	g_assert_cmpuint(count_stored_jobs(f), ==, 0);
}

/* requestDynamicParameters: VM applications get an integer diskSize within the site's range. */
static void
test_dynamic_parameters(Fixture *f, gconstpointer data)
{
	const gchar *vm =
		"{\"owner\":{\"createdBy\":\"u\"},\"application\":{\"invocation\":{\"tool\":"
		"{\"tool\":{\"description\":{\"backend\":\"VIRTUAL_MACHINE\"}}}}}}";
	const gchar *docker = "{\"application\":{\"invocation\":{\"tool\":{\"tool\":{"
			      "\"description\":{\"backend\":\"DOCKER\"}}}}}}";
	g_autoptr(Reply) vm_reply =
		request(f, "POST", "/ucloud/example/jobs/requestDynamicParameters", vm);
	g_autoptr(Reply) docker_reply =
		request(f, "POST", "/ucloud/example/jobs/requestDynamicParameters", docker);
	g_autoptr(Reply) bad_reply =
		request(f, "POST", "/ucloud/example/jobs/requestDynamicParameters", "[1]");
	JsonArray *parameters;
	JsonObject *disk;

	g_assert_cmpuint(vm_reply->status, ==, 200);
	parameters =
		json_object_get_array_member(json_node_get_object(vm_reply->json), "parameters");
	g_assert_cmpuint(json_array_get_length(parameters), ==, 1);
	disk = json_array_get_object_element(parameters, 0);
	g_assert_cmpstr(json_object_get_string_member(disk, "name"), ==, "diskSize");
	g_assert_cmpstr(json_object_get_string_member(disk, "type"), ==, "integer");
	g_assert_cmpint(json_object_get_int_member(disk, "min"), ==, f->config->disk_min_gib);
	g_assert_cmpint(json_object_get_int_member(disk, "max"), ==, f->config->disk_max_gib);

	g_assert_cmpuint(docker_reply->status, ==, 200);
	g_assert_cmpstr(docker_reply->body, ==, "{\"parameters\":[]}");
	assert_error_reply(bad_reply, 400, "application", NULL);
}

/* extend: unknown jobs are 404 and a malformed duration is 400; neither stores anything. */
static void
test_extend_errors(Fixture *f, gconstpointer data)
{
	g_autofree gchar *job = make_job("401", "vm-1", "VIRTUAL_MACHINE");
	g_autofree gchar *unknown =
		g_strdup_printf("{\"items\":[{\"job\":%s,\"requestedTime\":{\"hours\":1}}]}", job);
	g_autofree gchar *negative =
		g_strdup_printf("{\"items\":[{\"job\":%s,\"requestedTime\":{\"hours\":-1}}]}", job);
	g_autoptr(Reply) unknown_reply = request(f, "POST", "/ucloud/example/jobs/extend", unknown);
	g_autoptr(Reply) negative_reply =
		request(f, "POST", "/ucloud/example/jobs/extend", negative);
	g_autoptr(Reply) no_job_reply = request(f, "POST", "/ucloud/example/jobs/extend",
						"{\"items\":[{\"requestedTime\":{}}]}");

	assert_error_reply(unknown_reply, 404, "not known", NULL);
	assert_error_reply(negative_reply, 400, "requestedTime", NULL);
	assert_error_reply(no_job_reply, 400, "item 1", NULL);
	g_assert_cmpuint(count_stored_jobs(f), ==, 0);
}

/* A call's token is checked before anything else about it. */
static void
test_needs_auth(Fixture *f, gconstpointer data)
{
	g_autoptr(Reply) reply = request_full(f, "POST", "/ucloud/example/jobs/interactiveSession",
					      NULL, "{\"items\":[]}", 12, FALSE);

	assert_error_reply(reply, 401, NULL, NULL);
}

static void
test_update_acl(Fixture *f, gconstpointer data)
{
	g_autoptr(Reply) reply = request(f, "POST", "/ucloud/example/jobs/updateAcl",
					 "{\"items\":[{\"resource\":{\"id\":\"1\"},\"added\":[],"
					 "\"deleted\":[]},{\"resource\":{\"id\":\"2\"},"
					 "\"added\":[],\"deleted\":[]}]}");
	g_autoptr(Reply) none = request(f, "POST", "/ucloud/example/jobs/updateAcl", "{}");

	g_assert_cmpuint(reply->status, ==, 200);
	g_assert_cmpstr(reply->body, ==, "{\"responses\":[{},{}]}");
	assert_error_reply(none, 400, "no items", NULL);
}

static void
test_terminate(Fixture *f, gconstpointer data)
{
	g_autofree gchar *job = make_job("500", "vm-1", "VIRTUAL_MACHINE");
	g_autofree gchar *body =
		g_strdup_printf("{\"items\":[%s,{\"job\":%s},{\"id\":\"501\"}]}", job, job);
	g_autoptr(Reply) reply = request(f, "POST", "/ucloud/example/jobs/terminate", body);
	g_autoptr(Reply) hostile = request(f, "POST", "/ucloud/example/jobs/terminate",
					   "{\"items\":[{\"id\":\"../../x\"}]}");

	/* unknown jobs are fine: terminate is idempotent */
	g_assert_cmpuint(reply->status, ==, 200);
	g_assert_cmpstr(reply->body, ==, "{\"responses\":[{},{},{}]}");
	assert_error_reply(hostile, 400, "item 1: job id", NULL);
}

/* suspend and unsuspend take {"job":Job} items (current) or Jobs (documented); a job the
 * provider does not know fails the request, before anything happens to the others. */
/* interactiveSession: both paths, both item forms; a job that is not running, an unknown one
 * and a session type not offered yet are refused with a reason. */
static void
test_interactive_session(Fixture *f, gconstpointer data)
{
	g_autofree gchar *job = make_job("620", "vm-1", "VIRTUAL_MACHINE");
	g_autofree gchar *create = g_strdup_printf("{\"items\":[%s]}", job);
	g_autofree gchar *vnc = g_strdup_printf(
		"{\"items\":[{\"job\":%s,\"rank\":0,\"sessionType\":\"VNC\",\"target\":null}]}",
		job);
	g_autofree gchar *shell = g_strdup_printf(
		"{\"items\":[{\"job\":%s,\"rank\":0,\"sessionType\":\"SHELL\"}]}", job);
	g_autoptr(Reply) created = request(f, "POST", "/ucloud/example/jobs", create);
	g_autoptr(Reply) queued =
		request(f, "POST", "/ucloud/example/jobs/interactiveSession", vnc);
	g_autoptr(Reply) unknown =
		request(f, "POST", "/ucloud/example/jobs/openInteractiveSession",
			"{\"items\":[{\"id\":\"621\",\"rank\":0,\"sessionType\":\"VNC\"}]}");
	g_autoptr(Reply) no_type = request(f, "POST", "/ucloud/example/jobs/interactiveSession",
					   "{\"items\":[{\"id\":\"620\",\"rank\":0}]}");
	g_autoptr(Reply) hostile =
		request(f, "POST", "/ucloud/example/jobs/interactiveSession",
			"{\"items\":[{\"id\":\"../x\",\"sessionType\":\"VNC\"}]}");
	g_autoptr(Reply) shell_reply =
		request(f, "POST", "/ucloud/example/jobs/interactiveSession", shell);
	g_autoptr(Reply) web_reply =
		request(f, "POST", "/ucloud/example/jobs/interactiveSession",
			"{\"items\":[{\"id\":\"620\",\"rank\":0,\"sessionType\":\"WEB\"}]}");

	g_assert_cmpuint(created->status, ==, 200);
	/* this site has no image for it, so it never runs */
	assert_error_reply(queued, 400, "not running", NULL);
	assert_error_reply(unknown, 404, "621", NULL);
	assert_error_reply(no_type, 400, "sessionType", NULL);
	assert_error_reply(hostile, 400, "item 1", NULL);
	assert_error_reply(shell_reply, 400, "not running", NULL);
	assert_error_reply(web_reply, 400, "WEB", "NOT_SUPPORTED");
}

static void
test_suspend_forms(Fixture *f, gconstpointer data)
{
	g_autofree gchar *job = make_job("610", "vm-1", "VIRTUAL_MACHINE");
	g_autofree gchar *create = g_strdup_printf("{\"items\":[%s]}", job);
	g_autofree gchar *current = g_strdup_printf("{\"items\":[{\"job\":%s}]}", job);
	g_autofree gchar *unknown = g_strdup_printf("{\"items\":[%s,{\"id\":\"611\"}]}", job);
	g_autoptr(Reply) created = request(f, "POST", "/ucloud/example/jobs", create);
	g_autoptr(Reply) suspended = request(f, "POST", "/ucloud/example/jobs/suspend", current);
	g_autoptr(Reply) resumed = request(f, "POST", "/ucloud/example/jobs/unsuspend", create);
	g_autoptr(Reply) refused = request(f, "POST", "/ucloud/example/jobs/suspend", unknown);
	g_autoptr(Reply) empty = request(f, "POST", "/ucloud/example/jobs/unsuspend", "{}");

	g_assert_cmpuint(created->status, ==, 200);
	g_assert_cmpuint(suspended->status, ==, 200);
	g_assert_cmpstr(suspended->body, ==, "{\"responses\":[{}]}");
	g_assert_cmpuint(resumed->status, ==, 200);
	g_assert_cmpstr(resumed->body, ==, "{\"responses\":[{}]}");
	assert_error_reply(refused, 404, "611", NULL);
	assert_error_reply(empty, 400, "no items", NULL);
}

#define SSH_KEY                                                                                    \
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPCDHjcy1iVA4gnRGyUDzPOW/+hLY6IH+yv4fquhkJBx "        \
	"alice@example.org"
#define KEY_UPLOADED "/ucloud/example/ssh/keyUploaded"

/* A job of alice with SSH, stored as create leaves it, with the seed of an earlier boot. */
static gchar *
store_ssh_job(Fixture *f, const gchar *id)
{
	g_autofree gchar *json = make_job(id, "vm-1", "VIRTUAL_MACHINE");
	g_auto(GStrv) parts = g_strsplit(json, "\"replicas\":1,", 2);
	g_autofree gchar *ssh_json = g_strjoinv("\"replicas\":1,\"sshEnabled\":true,", parts);
	g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func((GDestroyNotify)ucv_job_unref);
	g_autofree gchar *dir = ucv_job_files_dir(f->config->state_dir, id);
	gchar *seed = ucv_job_files_seed(f->config->state_dir, id, 0);
	g_autoptr(GError) error = NULL;

	g_ptr_array_add(jobs, ucv_job_new_from_string(ssh_json, &error));
	g_assert_no_error(error);
	g_assert_true(ucv_store_insert_jobs(f->store, jobs, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(seed, "an earlier seed", -1, &error));
	g_assert_no_error(error);
	return seed;
}

/* Runs the loop until the file no longer holds `old` (at most 10 s); returns its user-data. */
static gchar *
wait_seed_rewritten(const gchar *seed, const gchar *old)
{
	const gchar *argv[] = {"isoinfo", "-R", "-i", seed, "-x", "/user-data", NULL};
	g_autoptr(GError) error = NULL;
	gboolean timed_out = FALSE;
	guint timeout_id = g_timeout_add_seconds(10, set_flag_cb, &timed_out);
	gchar *out = NULL;
	gint status = 0;

	for (;;) {
		g_autofree gchar *contents = NULL;
		if (g_file_get_contents(seed, &contents, NULL, NULL) &&
		    g_strcmp0(contents, old) != 0)
			break;
		g_assert_false(timed_out);
		g_main_context_iteration(NULL, TRUE);
	}
	g_source_remove(timeout_id);
	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
		     NULL, NULL, &out, NULL, &status, &error);
	g_assert_no_error(error);
	g_spawn_check_wait_status(status, &error);
	g_assert_no_error(error);
	return out;
}

/* ssh/keyUploaded as current Core sends it: {} at once, then the seed holds the new keys. */
static void
test_ssh_key_uploaded(Fixture *f, gconstpointer data)
{
	g_autofree gchar *seed = store_ssh_job(f, "600");
	const gchar *body =
		"{\"username\":\"alice\",\"allKeys\":[{\"id\":\"17\",\"owner\":\"alice\","
		"\"createdAt\":1732540000123,\"fingerprint\":\"256 SHA256:x alice (ED25519)\","
		"\"specification\":{\"title\":\"laptop\",\"key\":\"" SSH_KEY "\"}},"
		"{\"id\":\"18\",\"owner\":\"alice\",\"createdAt\":1732540000124,\"fingerprint\":"
		"\"\","
		"\"specification\":{\"title\":\"evil\",\"key\":\"" SSH_KEY
		"\\nruncmd:\\n  - [touch, /pwned]\"}}]}";
	g_autoptr(Reply) reply = NULL;
	g_autoptr(Reply) deleted_all = NULL;
	g_autofree gchar *user_data = NULL;

	g_test_expect_message("ucv-engine", G_LOG_LEVEL_WARNING,
			      "keyUploaded for alice: key 1 is not*");
	reply = request(f, "POST", KEY_UPLOADED, body);
	g_test_assert_expected_messages();
	g_assert_cmpuint(reply->status, ==, 200);
	g_assert_cmpstr(reply->body, ==, "{}");
	user_data = wait_seed_rewritten(seed, "an earlier seed");
	g_assert_nonnull(strstr(user_data, "\n      - \"" SSH_KEY "\"\n"));
	g_assert_null(strstr(user_data, "pwned"));

	/* current Core's body once the last key is deleted; documented Core sends [] */
	deleted_all = request(f, "POST", KEY_UPLOADED, "{\"username\":\"bob\",\"allKeys\":null}");
	g_assert_cmpuint(deleted_all->status, ==, 200);
	g_assert_cmpstr(deleted_all->body, ==, "{}");
}

static void
test_ssh_key_uploaded_errors(Fixture *f, gconstpointer data)
{
	const struct {
		const gchar *body;
		const gchar *why;
	} bad[] = {
		{"{\"username\":", "malformed JSON"},
		{"[]", "username"},
		{"{\"allKeys\":[]}", "username"},
		{"{\"username\":\"\",\"allKeys\":[]}", "username"},
		{"{\"username\":7,\"allKeys\":[]}", "username"},
		{"{\"username\":\"alice\\nFAKE LOG LINE\",\"allKeys\":[]}", "username"},
		{"{\"username\":\"alice\",\"allKeys\":{}}", "allKeys must be an array"},
		{"{\"username\":\"alice\",\"allKeys\":[\"" SSH_KEY "\"]}", "allKeys item 1"},
		{"{\"username\":\"alice\",\"allKeys\":[{\"specification\":{\"key\":1}}]}",
		 "allKeys item 1"},
	};
	g_autoptr(Reply) no_token =
		request_full(f, "POST", KEY_UPLOADED, NULL, "{\"username\":\"alice\"}", 20, FALSE);
	g_autofree gchar *provider =
		ucv_test_signer_mint_provider_token(core_signer, "example", 600);
	g_autoptr(Reply) provider_token =
		request_with_token(f, KEY_UPLOADED, provider, "{\"username\":\"alice\"}");
	g_autoptr(Reply) get = request(f, "GET", KEY_UPLOADED, NULL);

	/* like every call: Core's token and nothing else */
	assert_error_reply(no_token, 401, NULL, NULL);
	assert_error_reply(provider_token, 401, NULL, NULL);
	assert_error_reply(get, 405, NULL, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(Reply) reply = request(f, "POST", KEY_UPLOADED, bad[i].body);
		assert_error_reply(reply, 400, bad[i].why, NULL);
	}
}

static void
test_listen_in_use(Fixture *f, gconstpointer data)
{
	g_autofree gchar *entry = g_strdup_printf("127.0.0.1:%u", ucv_server_get_port(f->server));
	g_autofree gchar *expected =
		g_strdup_printf("cannot listen on %s: Address already in use", entry);
	g_autoptr(UcvConfig) config = ucv_config_new();
	g_autoptr(UcvServer) second = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *listen[] = {entry, NULL};

	g_strfreev(config->listen);
	config->listen = g_strdupv((gchar **)listen);
	second = ucv_server_new(config, f->engine, f->verifier);
	g_assert_false(ucv_server_listen(second, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_CONFIG);
	g_assert_cmpstr(error->message, ==, expected);
	g_assert_null(strchr(error->message, '\n'));
}

static void
test_listen_addresses(Fixture *f, gconstpointer data)
{
	const gchar *good[] = {"[::1]:0", "localhost:0", " 127.0.0.1:0 "};
	const gchar *bad[] = {"127.0.0.1", "example.invalid:8889", "127.0.0.1:99999", "[::1"};

	for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
		g_autoptr(UcvConfig) config = ucv_config_new();
		g_autoptr(UcvServer) server = NULL;
		g_autoptr(GError) error = NULL;
		const gchar *listen[] = {good[i], NULL};

		g_strfreev(config->listen);
		config->listen = g_strdupv((gchar **)listen);
		server = ucv_server_new(config, f->engine, f->verifier);
		if (!ucv_server_listen(server, &error) && g_str_has_prefix(good[i], "[::1]")) {
			g_test_message("no IPv6 loopback here: %s", error->message);
			continue;
		}
		g_assert_no_error(error);
		g_assert_cmpuint(ucv_server_get_port(server), >, 0);
		ucv_server_disconnect(server);
	}
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(UcvConfig) config = ucv_config_new();
		g_autoptr(UcvServer) server = NULL;
		g_autoptr(GError) error = NULL;
		const gchar *listen[] = {bad[i], NULL};

		g_strfreev(config->listen);
		config->listen = g_strdupv((gchar **)listen);
		server = ucv_server_new(config, f->engine, f->verifier);
		g_assert_false(ucv_server_listen(server, &error));
		g_assert_error(error, UCV_ERROR, UCV_ERROR_CONFIG);
		g_assert_true(g_str_has_prefix(error->message, "cannot listen on "));
	}
}

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	core_signer = ucv_test_signer_new(&error);
	g_assert_no_error(error);
	other_signer = ucv_test_signer_new(&error);
	g_assert_no_error(error);

	ADD("/server/auth/missing", test_auth_missing);
	ADD("/server/auth/not-bearer", test_auth_not_bearer);
	ADD("/server/auth/forged", test_auth_forged);
	ADD("/server/auth/expired", test_auth_expired);
	ADD("/server/auth/wrong-sub", test_auth_wrong_sub);
	ADD("/server/auth/garbage", test_auth_garbage);
	ADD("/server/auth/before-body", test_auth_before_body);
	ADD("/server/create/malformed-json", test_create_malformed);
	ADD("/server/create/no-items", test_create_no_items);
	ADD("/server/create/bad-item", test_create_bad_item);
	ADD("/server/create/unknown-product", test_create_unknown_product);
	ADD("/server/create/unsupported-backend", test_create_docker);
	ADD("/server/create/ok", test_create_ok);
	ADD("/server/body/too-large", test_body_too_large);
	ADD("/server/body/too-large-chunked", test_body_too_large_chunked);
	ADD("/server/body/chunked", test_body_chunked_ok);
	ADD("/server/body/at-limit", test_body_at_limit);
	ADD("/server/body/refused-before-reading", test_body_refused_before_reading);
	ADD("/server/body/refused-mid-chunk", test_body_refused_mid_chunk);
	ADD("/server/routes/unknown", test_routes_unknown);
	ADD("/server/routes/wrong-method", test_routes_wrong_method);
	ADD("/server/retrieve-products", test_retrieve_products);
	ADD("/server/retrieve-utilization", test_retrieve_utilization);
	ADD("/server/integration", test_integration);
	ADD("/server/follow-refused", test_follow_refused);
	ADD("/server/needs-auth", test_needs_auth);
	ADD("/server/extend/errors", test_extend_errors);
	ADD("/server/dynamic-parameters", test_dynamic_parameters);
	ADD("/server/update-acl", test_update_acl);
	ADD("/server/terminate", test_terminate);
	ADD("/server/suspend/forms", test_suspend_forms);
	ADD("/server/interactive-session", test_interactive_session);
	ADD("/server/ssh/key-uploaded", test_ssh_key_uploaded);
	ADD("/server/ssh/key-uploaded/errors", test_ssh_key_uploaded_errors);
	ADD("/server/listen/in-use", test_listen_in_use);
	ADD("/server/listen/addresses", test_listen_addresses);
	rc = g_test_run();
	g_clear_object(&other_signer);
	g_clear_object(&core_signer);
	return rc;
}
