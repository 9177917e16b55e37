/* DOCKER jobs end to end: a real docker-registry serves an image built with umoci, the daemon
 * pulls it, stages the job's folders and runs the job in a container-host VM of the private
 * libvirtd; the fake Core sees the states, follow streams the output. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ucv-docker-fixture.h"
#include "ucv-fake-registry.h"
#include "ucv-test-layer.h"
#include "ucv-follow-client.h"

#define RUN_TIMEOUT_S 240

/* spec §7/§8: the boolean under prefixGlobal "--debug " renders as two words, then the text,
 * then the input file's path inside the job. */
static const gchar acme_invocation[] =
	"[{'type':'word','word':'acme-batch'},"
	"{'type':'var','variableNames':['debug'],'prefixGlobal':'--debug ','suffixGlobal':'',"
	"'prefixVariable':'','suffixVariable':'','isPrefixVariablePartOfArg':false,"
	"'isSuffixVariablePartOfArg':false},"
	"{'type':'var','variableNames':['value'],'prefixGlobal':'','suffixGlobal':'',"
	"'prefixVariable':'','suffixVariable':'','isPrefixVariablePartOfArg':false,"
	"'isSuffixVariablePartOfArg':false},"
	"{'type':'var','variableNames':['input'],'prefixGlobal':'','suffixGlobal':'',"
	"'prefixVariable':'','suffixVariable':'','isPrefixVariablePartOfArg':false,"
	"'isSuffixVariablePartOfArg':false}]";
static const gchar acme_parameters[] =
	"[{'type':'boolean','name':'debug','optional':true,'defaultValue':null,'title':'Debug',"
	"'description':'','trueValue':'true','falseValue':'false'},"
	"{'type':'text','name':'value','optional':false,'defaultValue':null,'title':'Value',"
	"'description':''},"
	"{'type':'input_file','name':'input','optional':false,'defaultValue':null,"
	"'title':'Input','description':''}]";
/* current Core writes every key of a value */
static const gchar acme_values[] =
	"{'debug':{'type':'boolean','path':'','mountPath':'','readOnly':false,'value':true,"
	"'hostname':'','jobId':'','id':'','port':0,'tls':false},"
	"'value':{'type':'text','path':'','mountPath':'','readOnly':false,"
	"'value':'Hello, World!','hostname':'','jobId':'','id':'','port':0,'tls':false},"
	"'input':{'type':'file','path':'/" UCV_DOCKER_DRIVE "/inputs/input.txt','mountPath':'',"
	"'readOnly':true,'value':null,'hostname':'','jobId':'','id':'','port':0,'tls':false}}";
static const gchar acme_environment[] =
	"{'ACME_GREETING':{'type':'word','word':'hello from the environment'}}";

static const UcvDockerJob acme_job = {
	.invocation = acme_invocation,
	.parameters = acme_parameters,
	.environment = acme_environment,
	.values = acme_values,
};

static const gchar *const acme_output[] = {
	"argv[1]=--debug",
	"argv[2]=true",
	"argv[3]=Hello, World!",
	"argv[4]=/work/input.txt",
	"env=hello from the environment",
	"uid=11042",
	"file /work/input.txt: first line of the input",
};

static gchar *
work_file(UcvHarness *h, const gchar *job_id, const gchar *name)
{
	return g_build_filename(h->state_dir, "work", job_id, name, NULL);
}

static void
assert_lines(const gchar *text, const gchar *const *lines, guint n_lines)
{
	for (guint i = 0; i < n_lines; i++) {
		if (strstr(text, lines[i]) == NULL)
			g_error("\"%s\" is not in the output:\n%s", lines[i], text);
	}
}

/* The acceptance job: argv exactly as spec §7 builds it, the env variable, UCloud's user, the
 * input file through a read-only mounted folder; follow streams it; SUCCESS; the VM is gone. */
static void
test_batch(void)
{
	g_autoptr(UcvHarness) h = ucv_docker_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autoptr(UcvFollowClient) follow = NULL;
	g_autofree gchar *status = NULL;
	g_autofree gchar *log_path = NULL;
	g_autofree gchar *log = NULL;
	g_autoptr(GError) error = NULL;

	ucv_docker_write_drive_file("inputs/input.txt", "first line of the input\nsecond line\n");
	ucv_docker_start_job(h, job_id, &acme_job);
	follow = ucv_follow_client_open(h, job_id);
	ucv_follow_client_wait(follow, 0, 0, acme_output[G_N_ELEMENTS(acme_output) - 1],
			       RUN_TIMEOUT_S);
	assert_lines(follow->logs[0]->str, acme_output, G_N_ELEMENTS(acme_output));

	status = ucv_harness_wait_state(h, job_id, "SUCCESS", RUN_TIMEOUT_S);
	g_assert_cmpstr(status, ==, "The job's program exited with code 0");
	ucv_docker_wait_domain_gone(h, job_id);
	/* the job's own copy in /work stays after the job */
	log_path = work_file(h, job_id, "stdout-0.log");
	g_file_get_contents(log_path, &log, NULL, &error);
	g_assert_no_error(error);
	assert_lines(log, acme_output, G_N_ELEMENTS(acme_output));
}

static const UcvDockerJob sleeping_job = {
	.invocation = "[{'type':'word','word':'sleep'},{'type':'word','word':'600'}]",
	.values = "{}",
};

/* The wallet paying for a DOCKER job is locked: the job ends (there is no memory to keep) as
 * SUCCESS with "Insufficient funds", and its container host is removed. */
static void
test_insufficient_funds(void)
{
	g_autoptr(UcvHarness) h = ucv_docker_harness_new_with(
		"[ucloud]\naccounting = report-usage\naccounting-interval = 1\n");
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *status = NULL;

	ucv_docker_start_job(h, job_id, &sleeping_job);
	ucv_fake_core_set_wallet_locked(h->core, TRUE);
	status = ucv_harness_wait_state(h, job_id, "SUCCESS", RUN_TIMEOUT_S);
	g_assert_cmpstr(status, ==, "Insufficient funds");
	ucv_docker_wait_domain_gone(h, job_id);
	g_assert_cmpint(ucv_fake_core_get_reported_usage(h->core, job_id), >, 0);
}

static void
test_unknown_image(void)
{
	g_autoptr(UcvHarness) h = ucv_docker_harness_new();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	UcvDockerJob missing = acme_job;
	g_autofree gchar *job = NULL;
	g_autofree gchar *status = NULL;

	/* the same job, asking for a tag the registry does not have */
	missing.image = "127.0.0.1:5000/acme/batch:9.9.9";
	job = ucv_docker_job_json(job_id, &missing);
	ucv_harness_post_jobs(h, "/ucloud/test/jobs", job);
	status = ucv_harness_wait_state(h, job_id, "FAILURE", RUN_TIMEOUT_S);
	if (strstr(status, "acme/batch:9.9.9") == NULL)
		g_error("the status does not name the image: %s", status);
	g_assert_false(ucv_harness_domain_exists(h, job_id, 0));
}

/* Two jobs of one image at once: the registry serves its blobs (config and layer) once. */
static void
test_one_pull(void)
{
	g_autoptr(UcvHarness) h = ucv_docker_harness_new();
	g_autofree gchar *first = ucv_harness_new_job_id();
	g_autofree gchar *second = ucv_harness_new_job_id();
	g_autofree gchar *first_json = ucv_docker_job_json(first, &acme_job);
	g_autofree gchar *second_json = ucv_docker_job_json(second, &acme_job);
	g_autofree gchar *both = g_strdup_printf("%s,%s", first_json, second_json);
	const gchar *blobs = "GET /v2/acme/batch/blobs/";
	guint before = ucv_docker_registry_count(blobs);

	ucv_docker_write_drive_file("inputs/input.txt", "first line of the input\n");
	ucv_harness_post_jobs(h, "/ucloud/test/jobs", both);
	g_free(ucv_harness_wait_state(h, first, "SUCCESS", RUN_TIMEOUT_S));
	g_free(ucv_harness_wait_state(h, second, "SUCCESS", RUN_TIMEOUT_S));
	/* this daemon's cache started empty: one config and one layer, each fetched once */
	g_assert_cmpuint(ucv_docker_registry_count(blobs) - before, ==, 2);
}

/* An initrd whose init says something and then never greets: the job fails in time, quoting
 * the console. */
static gchar *
silent_initrd(const gchar *dir)
{
	g_autofree gchar *root = g_build_filename(dir, "silent-root", NULL);
	g_autofree gchar *bin = g_build_filename(root, "bin", NULL);
	g_autofree gchar *init = g_build_filename(root, "init", NULL);
	gchar *initrd = g_build_filename(dir, "silent.img", NULL);
	g_autofree gchar *pack = g_strdup_printf("cp /bin/busybox '%s/' && cd '%s' && find . | "
						 "cpio -o -H newc --quiet | gzip > '%s'",
						 bin, root, initrd);
	const gchar *argv[] = {"sh", "-c", pack, NULL};
	g_autoptr(GError) error = NULL;
	gint status = 0;

	g_assert_cmpint(g_mkdir_with_parents(bin, 0755), ==, 0);
	g_file_set_contents(init,
			    "#!/bin/busybox sh\n/bin/busybox echo no agent in this initrd\n"
			    "exec /bin/busybox sleep 1000\n",
			    -1, &error);
	g_assert_no_error(error);
	g_assert_cmpint(g_chmod(init, 0755), ==, 0);
	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
		     &status, &error);
	g_assert_no_error(error);
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	return initrd;
}

static void
test_agent_silent(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("ucv-silent-XXXXXX", NULL);
	g_autofree gchar *initrd = silent_initrd(dir);
	g_autoptr(UcvHarness) h = ucv_docker_harness_new_full(initrd, 10);
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *job = ucv_docker_job_json(job_id, &acme_job);
	g_autofree gchar *status = NULL;
	const gchar *rm[] = {"rm", "-rf", dir, NULL};

	ucv_docker_write_drive_file("inputs/input.txt", "first line of the input\n");
	ucv_harness_post_jobs(h, "/ucloud/test/jobs", job);
	status = ucv_harness_wait_state(h, job_id, "FAILURE", RUN_TIMEOUT_S);
	if (strstr(status, "did not start within 10 s") == NULL ||
	    strstr(status, "no agent in this initrd") == NULL)
		g_error("the status does not explain: %s", status);
	ucv_docker_wait_domain_gone(h, job_id);
	g_spawn_sync(NULL, (gchar **)rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
		     NULL);
}

/* A layer that tries to write outside its tree: a "../" path, and a file through a symbolic
 * link to an absolute directory. */
static GBytes *
hostile_layer(const gchar *outside)
{
	g_autofree gchar *dotdot = g_strdup_printf("../../../../../../../../..%s/dotdot", outside);
	UcvTestLayer *layer = ucv_test_layer_new();

	ucv_test_layer_add_symlink(layer, "link", outside);
	ucv_test_layer_add_file(layer, "link/via-symlink", "pwned\n");
	ucv_test_layer_add_file(layer, dotdot, "pwned\n");
	return ucv_test_layer_finish(layer);
}

/* A hostile image is refused: the job fails saying so, and nothing lands outside the cache. */
static void
test_hostile_image(void)
{
	g_autoptr(UcvFakeRegistry) registry = ucv_fake_registry_new();
	g_autoptr(GPtrArray) layers = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	g_autofree gchar *outside = g_dir_make_tmp("ucv-outside-XXXXXX", NULL);
	g_autofree gchar *extra =
		g_strdup_printf("[container]\ninsecure-registries = 127.0.0.1:%u;%s\n",
				UCV_DOCKER_REGISTRY_PORT, ucv_fake_registry_get_host(registry));
	g_autoptr(UcvHarness) h = ucv_docker_harness_new_with(extra);
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *image =
		g_strdup_printf("%s/acme/hostile:1.0", ucv_fake_registry_get_host(registry));
	UcvDockerJob hostile = acme_job;
	g_autofree gchar *job = NULL;
	g_autofree gchar *status = NULL;
	g_autofree gchar *via_link = g_build_filename(outside, "via-symlink", NULL);
	g_autofree gchar *via_dotdot = g_build_filename(outside, "dotdot", NULL);

	g_ptr_array_add(layers, hostile_layer(outside));
	g_free(ucv_fake_registry_publish(registry, "acme/hostile", "1.0", layers));
	hostile.image = image;
	job = ucv_docker_job_json(job_id, &hostile);
	ucv_harness_post_jobs(h, "/ucloud/test/jobs", job);
	status = ucv_harness_wait_state(h, job_id, "FAILURE", RUN_TIMEOUT_S);
	if (strstr(status, "acme/hostile:1.0 is not available") == NULL)
		g_error("the status does not explain: %s", status);
	g_assert_false(g_file_test(via_link, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(via_dotdot, G_FILE_TEST_EXISTS));
	g_assert_false(ucv_harness_domain_exists(h, job_id, 0));
	g_assert_cmpint(g_rmdir(outside), ==, 0);
}

static const UcvDockerJob web_job = {
	.application_type = "WEB",
	.web_port = 8080,
	.invocation = "[{'type':'word','word':'acme-web'},{'type':'word','word':'8080'}]",
};

/* GET / of the application through the daemon, until its server answers (it starts after the
 * job is RUNNING). */
static gchar *
get_app_page(UcvHarness *h, const gchar *host, const gchar *cookie, guint *status)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)RUN_TIMEOUT_S * G_USEC_PER_SEC;

	for (;;) {
		gchar *body = ucv_docker_http_get(h->port, host, "/", cookie, status, NULL);
		if ((*status != 502 && *status != 503) || g_get_monotonic_time() > deadline)
			return body;
		g_free(body);
		ucv_harness_spin(500);
	}
}

/* A WEB application: redirectClientTo authorizes the browser once (a cookie for the app's own
 * host name), then the daemon proxies to the port inside the job; no cookie, no page. */
static void
test_web_app(void)
{
	g_autoptr(UcvHarness) h = ucv_docker_harness_new_web();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autoptr(JsonObject) session = NULL;
	g_autoptr(GUri) redirect = NULL;
	g_autofree gchar *host = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *cookie = NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *refused = NULL;
	g_autofree gchar *job = NULL;
	guint status = 0;

	ucv_docker_start_job(h, job_id, &web_job);
	session = ucv_docker_open_session(h, job_id, &web_job, "WEB");
	g_assert_cmpstr(json_object_get_string_member(session, "type"), ==, "web");
	redirect = g_uri_parse(json_object_get_string_member(session, "redirectClientTo"),
			       G_URI_FLAGS_ENCODED, NULL);
	g_assert_nonnull(redirect);
	host = g_strdup_printf("app-%s-0.%s", job_id, UCV_DOCKER_WEB_DOMAIN);
	g_assert_cmpstr(g_uri_get_host(redirect), ==, host);
	path = g_strdup_printf("%s?%s", g_uri_get_path(redirect), g_uri_get_query(redirect));

	g_free(ucv_docker_http_get(h->port, host, path, NULL, &status, &cookie));
	g_assert_cmpuint(status, ==, 302);
	g_assert_nonnull(cookie);
	body = get_app_page(h, host, cookie, &status);
	g_assert_cmpuint(status, ==, 200);
	g_assert_nonnull(strstr(body, "acme web app ok"));
	refused = ucv_docker_http_get(h->port, host, "/", NULL, &status, NULL);
	g_assert_cmpuint(status, ==, 403);

	job = ucv_docker_job_json(job_id, &web_job);
	ucv_harness_post_jobs(h, "/ucloud/test/jobs/terminate", job);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", RUN_TIMEOUT_S));
	ucv_docker_wait_domain_gone(h, job_id);
}

/* A stand-in VNC server: it greets every client with the RFB version, as a real one does. */
static const UcvDockerJob vnc_job = {
	.application_type = "VNC",
	.vnc_port = 5900,
	.vnc_password = "s3cret",
	.invocation =
		"[{'type':'word','word':'sh'},{'type':'word','word':'-c'},"
		"{'type':'word','word':'while :; do echo RFB 003.008 | nc -l -p 5900; done'}]",
};

static void
on_ws_connected(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **result = user_data;

	*result = g_object_ref(res);
}

static void
on_ws_message(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer user_data)
{
	GByteArray *received = user_data;

	g_byte_array_append(received, g_bytes_get_data(message, NULL), g_bytes_get_size(message));
}

/* Opens the session's URL as noVNC does (subprotocol "binary") and returns what the application
 * sent first. */
static gchar *
vnc_greeting(UcvHarness *h, const gchar *url)
{
	g_autofree gchar *ws_url = g_strconcat("ws", url + strlen("http"), NULL);
	g_autoptr(SoupMessage) msg = soup_message_new("GET", ws_url);
	const gchar *protocols[] = {"binary", NULL};
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(SoupWebsocketConnection) ws = NULL;
	g_autoptr(GByteArray) received = g_byte_array_new();
	gint64 deadline = g_get_monotonic_time() + (gint64)RUN_TIMEOUT_S * G_USEC_PER_SEC;

	soup_session_websocket_connect_async(h->session, msg, NULL, (char **)protocols,
					     G_PRIORITY_DEFAULT, NULL, on_ws_connected, &res);
	while (res == NULL)
		g_main_context_iteration(NULL, TRUE);
	ws = soup_session_websocket_connect_finish(h->session, res, &error);
	g_assert_no_error(error);
	g_signal_connect(ws, "message", G_CALLBACK(on_ws_message), received);
	while (received->len < strlen("RFB 003.008\n") && g_get_monotonic_time() < deadline &&
	       soup_websocket_connection_get_state(ws) == SOUP_WEBSOCKET_STATE_OPEN)
		g_main_context_iteration(NULL, TRUE);
	if (soup_websocket_connection_get_state(ws) == SOUP_WEBSOCKET_STATE_OPEN)
		soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
	return g_strndup((const gchar *)received->data, received->len);
}

/* A VNC application: the session's URL reaches the application's port inside the job through
 * the daemon's VNC proxy, and its password is the application's. */
static void
test_vnc_app(void)
{
	g_autoptr(UcvHarness) h = ucv_docker_harness_new_web();
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autoptr(JsonObject) session = NULL;
	gint64 deadline = g_get_monotonic_time() + (gint64)RUN_TIMEOUT_S * G_USEC_PER_SEC;
	g_autofree gchar *greeting = NULL;

	ucv_docker_start_job(h, job_id, &vnc_job);
	/* the server starts after the job runs: a connection before it is closed at once */
	while (greeting == NULL || !g_str_has_prefix(greeting, "RFB ")) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		g_clear_pointer(&session, json_object_unref);
		g_free(greeting);
		ucv_harness_spin(500);
		session = ucv_docker_open_session(h, job_id, &vnc_job, "VNC");
		greeting = vnc_greeting(h, json_object_get_string_member(session, "url"));
	}
	g_assert_cmpstr(greeting, ==, "RFB 003.008\n");
	g_assert_cmpstr(json_object_get_string_member(session, "type"), ==, "vnc");
	g_assert_cmpstr(json_object_get_string_member(session, "password"), ==, "s3cret");
}

/* With the container host installed, a web domain and a network, products say what DOCKER
 * jobs get here. */
static void
test_products(void)
{
	const gchar *const offered[] = {"enabled", "logs", "terminal",
					"web",     "vnc",  "timeExtension"};
	g_autoptr(UcvHarness) h = ucv_docker_harness_new_web();
	g_autoptr(JsonNode) reply = NULL;
	JsonObject *support;
	JsonObject *docker;
	guint status = 0;

	reply = ucv_harness_call(h, "GET", "/ucloud/test/jobs/retrieveProducts", NULL, &status);
	g_assert_cmpuint(status, ==, 200);
	support = json_array_get_object_element(
		json_object_get_array_member(json_node_get_object(reply), "responses"), 0);
	docker = json_object_get_object_member(support, "docker");
	for (guint i = 0; i < G_N_ELEMENTS(offered); i++) {
		if (!json_object_get_boolean_member(docker, offered[i]))
			g_error("docker.%s is not offered", offered[i]);
	}
}

/* A registry nobody answers at fails the job, naming the image. */
static void
test_registry_unreachable(void)
{
	g_autoptr(UcvHarness) h =
		ucv_docker_harness_new_with("[container]\ninsecure-registries = 127.0.0.1:9\n");
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	UcvDockerJob unreachable = acme_job;
	g_autofree gchar *job = NULL;
	g_autofree gchar *status = NULL;

	unreachable.image = "127.0.0.1:9/acme/batch:1.0.0";
	job = ucv_docker_job_json(job_id, &unreachable);
	ucv_harness_post_jobs(h, "/ucloud/test/jobs", job);
	status = ucv_harness_wait_state(h, job_id, "FAILURE", RUN_TIMEOUT_S);
	if (strstr(status, "127.0.0.1:9/acme/batch:1.0.0 is not available") == NULL)
		g_error("the status does not explain: %s", status);
}

int
main(int argc, char **argv)
{
	ucv_docker_test_init(&argc, &argv);
	g_test_add_func("/docker/batch", test_batch);
	g_test_add_func("/docker/products", test_products);
	g_test_add_func("/docker/unknown-image", test_unknown_image);
	g_test_add_func("/docker/registry-unreachable", test_registry_unreachable);
	g_test_add_func("/docker/one-pull", test_one_pull);
	g_test_add_func("/docker/agent-silent", test_agent_silent);
	g_test_add_func("/docker/hostile-image", test_hostile_image);
	g_test_add_func("/docker/web-app", test_web_app);
	g_test_add_func("/docker/vnc-app", test_vnc_app);
	g_test_add_func("/docker/insufficient-funds", test_insufficient_funds);
	return ucv_docker_test_run();
}
