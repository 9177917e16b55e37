/* What DOCKER-job tests share: the registry, the drives, the daemon's config and the jobs. */
#include "config.h"

#include "ucv-docker-fixture.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define RUN_TIMEOUT_S   240
#define GONE_TIMEOUT_MS 30000

static struct {
	gchar *dir;        /* the registry's and the drives' home */
	gchar *drive_root; /* [files] drive-root */
	gchar *digest;     /* the test image's manifest digest */
} fixture;

static gchar *
run_script(const gchar *const *argv)
{
	g_autofree gchar *out = NULL;
	g_autoptr(GError) error = NULL;
	gint status = 0;

	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_CHILD_INHERITS_STDIN,
		     NULL, NULL, &out, NULL, &status, &error);
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, &error))
		g_error("local-registry.sh %s: %s", argv[2], error->message);
	return g_strstrip(g_steal_pointer(&out));
}

static gchar *
registry_script(void)
{
	return g_build_filename(g_getenv("UCV_SOURCE_ROOT"), "tests", "integration",
				"local-registry.sh", NULL);
}

static void
start_registry(void)
{
	g_autofree gchar *script = registry_script();
	g_autofree gchar *port = g_strdup_printf("%u", UCV_DOCKER_REGISTRY_PORT);
	/* the registry goes when this process does, even after a failed assertion */
	g_autofree gchar *owner = g_strdup_printf("%d", (gint)getpid());
	const gchar *argv[] = {"bash", script, "start", fixture.dir, port, owner, NULL};

	g_free(run_script(argv));
}

static gchar *
push_test_image(const gchar *image)
{
	g_autofree gchar *script = registry_script();
	g_autofree gchar *port = g_strdup_printf("%u", UCV_DOCKER_REGISTRY_PORT);
	const gchar *argv[] = {"bash", script, "push-test-image", fixture.dir, image, port, NULL};

	return run_script(argv);
}

static void
stop_registry(void)
{
	g_autofree gchar *script = registry_script();
	const gchar *argv[] = {"bash", script, "stop", fixture.dir, NULL};

	g_free(run_script(argv));
}

static void
fixture_setup(void)
{
	g_autoptr(GError) error = NULL;

	fixture.dir = g_dir_make_tmp("ucv-docker-XXXXXX", &error);
	g_assert_no_error(error);
	fixture.drive_root = g_build_filename(fixture.dir, "drives", NULL);
	g_assert_cmpint(g_mkdir_with_parents(fixture.drive_root, 0755), ==, 0);
	start_registry();
	fixture.digest = push_test_image("acme/batch:1.0.0");
}

static void
fixture_teardown(void)
{
	/* the daemons are gone and their folders unstaged: a plain tree is left */
	const gchar *rm[] = {"rm", "-rf", "--one-file-system", fixture.dir, NULL};

	stop_registry();
	if (g_getenv("UCV_TEST_KEEP") == NULL)
		g_spawn_sync(NULL, (gchar **)rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
			     NULL, NULL);
	g_clear_pointer(&fixture.dir, g_free);
	g_clear_pointer(&fixture.drive_root, g_free);
	g_clear_pointer(&fixture.digest, g_free);
}

void
ucv_docker_test_init(int *argc, char ***argv)
{
	ucv_harness_enter_libvirt_namespaces();
	g_test_init(argc, argv, NULL);
	fixture_setup();
}

int
ucv_docker_test_run(void)
{
	int rc = g_test_run();

	fixture_teardown();
	return rc;
}

const gchar *
ucv_docker_fixture_digest(void)
{
	return fixture.digest;
}

gchar *
ucv_docker_drive_path(const gchar *relative)
{
	return g_build_filename(fixture.drive_root, UCV_DOCKER_DRIVE, relative, NULL);
}

void
ucv_docker_write_drive_file(const gchar *relative, const gchar *contents)
{
	g_autofree gchar *path = ucv_docker_drive_path(relative);
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
	g_file_set_contents(path, contents, -1, &error);
	g_assert_no_error(error);
}

static UcvHarness *
docker_harness(const gchar *initrd, guint agent_timeout_s, const gchar *extra)
{
	const gchar *build = g_getenv("UCV_BUILD_ROOT");
	g_autofree gchar *kernel =
		g_build_filename(build, "data", "container-host", "vmlinuz", NULL);
	g_autofree gchar *own_initrd =
		g_build_filename(build, "data", "container-host", "initrd.img", NULL);
	g_autofree gchar *ini = g_strdup_printf(
		"[container]\nkernel = %s\ninitrd = %s\ninsecure-registries = 127.0.0.1:%u\n"
		"agent-timeout = %u\n[files]\ndrive-root = %s\n%s",
		kernel, initrd != NULL ? initrd : own_initrd, UCV_DOCKER_REGISTRY_PORT,
		agent_timeout_s, fixture.drive_root, extra != NULL ? extra : "");

	return ucv_harness_new_with_config(NULL, ini);
}

UcvHarness *
ucv_docker_harness_new_with(const gchar *extra_ini)
{
	return docker_harness(NULL, 120, extra_ini);
}

UcvHarness *
ucv_docker_harness_new_full(const gchar *initrd, guint agent_timeout_s)
{
	return docker_harness(initrd, agent_timeout_s, NULL);
}

#define WEB_NETWORK "ucv-docker-net"
#define WEB_NETWORK_XML                                                                            \
	"<network><name>" WEB_NETWORK "</name><bridge name='ucvdock0'/>"                           \
	"<ip address='192.168.123.1' netmask='255.255.255.0'><dhcp>"                               \
	"<range start='192.168.123.10' end='192.168.123.250'/></dhcp></ip></network>"

/* An isolated network with DHCP inside the private libvirtd's namespace, made once. */
static void
ensure_web_network(void)
{
	virConnectPtr conn = virConnectOpen(g_getenv("UCV_TEST_LIBVIRT_URI"));
	virNetworkPtr net;

	g_assert_nonnull(conn);
	net = virNetworkLookupByName(conn, WEB_NETWORK);
	if (net == NULL)
		net = virNetworkCreateXML(conn, WEB_NETWORK_XML);
	if (net == NULL)
		g_error("cannot create the test network: %s", virGetLastError()->message);
	virNetworkFree(net);
	virConnectClose(conn);
}

UcvHarness *
ucv_docker_harness_new_web(void)
{
	g_autofree gchar *extra = g_strdup_printf("[libvirt]\nnetwork = %s\n[web]\ndomain = %s\n",
						  WEB_NETWORK, UCV_DOCKER_WEB_DOMAIN);

	ensure_web_network();
	return docker_harness(NULL, 120, extra);
}

static gchar *
header_value(const gchar *head, const gchar *name)
{
	g_auto(GStrv) lines = g_strsplit(head, "\r\n", -1);

	for (guint i = 1; lines[i] != NULL; i++) {
		const gchar *colon = strchr(lines[i], ':');
		if (colon != NULL && (gsize)(colon - lines[i]) == strlen(name) &&
		    g_ascii_strncasecmp(lines[i], name, strlen(name)) == 0)
			return g_strstrip(g_strdup(colon + 1));
	}
	return NULL;
}

gchar *
ucv_docker_http_get(guint port, const gchar *host, const gchar *path, const gchar *cookie,
		    guint *status, gchar **set_cookie)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) conn = NULL;
	g_autofree gchar *request =
		g_strdup_printf("GET %s HTTP/1.1\r\nHost: %s\r\n%s%s%sConnection: close\r\n\r\n",
				path, host, cookie != NULL ? "Cookie: " : "",
				cookie != NULL ? cookie : "", cookie != NULL ? "\r\n" : "");
	g_autoptr(GByteArray) answer = g_byte_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *cookie_header = NULL;
	guint8 buf[16384];
	gssize n;
	gchar *body;

	conn = g_socket_client_connect_to_host(client, "127.0.0.1", port, NULL, &error);
	g_assert_no_error(error);
	g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)), request,
				  strlen(request), NULL, NULL, &error);
	g_assert_no_error(error);
	while ((n = g_input_stream_read(g_io_stream_get_input_stream(G_IO_STREAM(conn)), buf,
					sizeof(buf), NULL, &error)) > 0)
		g_byte_array_append(answer, buf, n);
	g_assert_no_error(error);
	text = g_strndup((const gchar *)answer->data, answer->len);
	body = strstr(text, "\r\n\r\n");
	g_assert_nonnull(body);
	*body = '\0';
	*status = (guint)g_ascii_strtoull(text + strlen("HTTP/1.1 "), NULL, 10);
	cookie_header = header_value(text, "Set-Cookie");
	if (set_cookie != NULL)
		*set_cookie = cookie_header != NULL
				      ? g_strndup(cookie_header, strcspn(cookie_header, ";"))
				      : NULL;
	/* a chunked body is good enough for the tests' substring checks */
	return g_strdup(body + 4);
}

UcvHarness *
ucv_docker_harness_new(void)
{
	return ucv_docker_harness_new_full(NULL, 120);
}

guint
ucv_docker_registry_count(const gchar *needle)
{
	g_autofree gchar *path = g_build_filename(fixture.dir, "registry.log", NULL);
	g_autofree gchar *log = NULL;
	g_auto(GStrv) lines = NULL;
	guint count = 0;

	if (!g_file_get_contents(path, &log, NULL, NULL))
		return 0;
	lines = g_strsplit(log, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++)
		count += strstr(lines[i], needle) != NULL;
	return count;
}

/* Single quotes stand for double quotes, so the tests' JSON stays readable; NULL is null. */
static gchar *
relaxed(const gchar *text)
{
	gchar *json = g_strdup(text != NULL ? text : "null");

	g_strdelimit(json, "'", '"');
	return json;
}

gchar *
ucv_docker_job_json(const gchar *job_id, const UcvDockerJob *spec)
{
	g_autofree gchar *inv = relaxed(spec->invocation);
	g_autofree gchar *params = relaxed(spec->parameters != NULL ? spec->parameters : "[]");
	g_autofree gchar *vals = relaxed(spec->values);
	g_autofree gchar *res = relaxed(spec->resources);
	g_autofree gchar *env = relaxed(spec->environment);
	g_autofree gchar *vnc =
		spec->vnc_port != 0
			? g_strdup_printf("{\"port\":%u,\"password\":\"%s\"}", spec->vnc_port,
					  spec->vnc_password != NULL ? spec->vnc_password : "")
			: g_strdup("null");
	g_autofree gchar *web = spec->web_port != 0
					? g_strdup_printf("{\"port\":%u}", spec->web_port)
					: g_strdup("null");

	return g_strdup_printf(
		"{\"id\":\"%s\",\"createdAt\":1732540000123,"
		"\"owner\":{\"createdBy\":\"tester#1234\",\"project\":null},\"updates\":[],"
		"\"specification\":{\"product\":{\"id\":\"test-vm\",\"category\":\"test-vm\","
		"\"provider\":\"test\"},\"application\":{\"name\":\"acme-batch\","
		"\"version\":\"1.0.0\"},\"name\":\"docker test\",\"replicas\":1,"
		"\"parameters\":%s,\"resources\":%s,\"timeAllocation\":null,\"sshEnabled\":false,"
		"\"labels\":{}},"
		"\"status\":{\"state\":\"IN_QUEUE\",\"resolvedApplication\":{\"metadata\":{"
		"\"name\":\"acme-batch\",\"version\":\"1.0.0\",\"title\":\"Acme\"},"
		"\"invocation\":{\"tool\":{\"name\":\"acme-batch\",\"version\":\"1.0.0\","
		"\"tool\":{\"description\":{\"backend\":\"DOCKER\",\"image\":\"%s\"}}},"
		"\"invocation\":%s,\"parameters\":%s,\"environment\":%s,"
		"\"applicationType\":\"%s\",\"vnc\":%s,\"web\":%s,"
		"\"container\":{\"changeWorkingDirectory\":true,\"runAsRoot\":%s,"
		"\"runAsRealUser\":false}}},"
		"\"resolvedProduct\":{\"name\":\"test-vm\",\"category\":{\"name\":\"test-vm\","
		"\"provider\":\"test\"},\"cpu\":1,\"memoryInGigs\":1,\"gpu\":0}}}",
		job_id, vals, res, spec->image != NULL ? spec->image : UCV_DOCKER_IMAGE, inv,
		params, env, spec->application_type != NULL ? spec->application_type : "BATCH", vnc,
		web, spec->run_as_root ? "true" : "false");
}

void
ucv_docker_start_job(UcvHarness *h, const gchar *job_id, const UcvDockerJob *spec)
{
	g_autofree gchar *job = ucv_docker_job_json(job_id, spec);

	ucv_harness_post_jobs(h, "/ucloud/test/jobs", job);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", RUN_TIMEOUT_S));
}

JsonObject *
ucv_docker_open_session(UcvHarness *h, const gchar *job_id, const UcvDockerJob *spec,
			const gchar *session_type)
{
	g_autofree gchar *job = ucv_docker_job_json(job_id, spec);
	g_autofree gchar *body = g_strdup_printf(
		"{\"items\":[{\"job\":%s,\"rank\":0,\"sessionType\":\"%s\",\"target\":null}]}", job,
		session_type);
	g_autoptr(JsonNode) reply = NULL;
	JsonArray *responses;
	guint status = 0;

	reply = ucv_harness_call(h, "POST", "/ucloud/test/jobs/interactiveSession", body, &status);
	g_assert_cmpuint(status, ==, 200);
	g_assert_nonnull(reply);
	responses = json_object_get_array_member(json_node_get_object(reply), "responses");
	g_assert_cmpuint(json_array_get_length(responses), ==, 1);
	return json_object_ref(json_array_get_object_element(responses, 0));
}

void
ucv_docker_wait_domain_gone(UcvHarness *h, const gchar *job_id)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)GONE_TIMEOUT_MS * 1000;

	while (ucv_harness_domain_exists(h, job_id, 0)) {
		if (g_get_monotonic_time() > deadline)
			g_error("the container host of job %s is still there", job_id);
		ucv_harness_spin(100);
	}
}
