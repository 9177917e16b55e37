/* Integration harness: a fake Core in this process, ucloud-virt as a child, the private libvirtd.
 */
#include "config.h"

#include "ucv-harness.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/prctl.h>

/* 60000 a minute: usage counts milliseconds of running time per machine, which accounting tests
 * compare with the clock */
static const gchar *products_json =
	"[{\"type\":\"compute\",\"name\":\"test-vm\",\"category\":{\"name\":\"test-vm\","
	"\"provider\":\"test\",\"productType\":\"COMPUTE\",\"accountingFrequency\":"
	"\"PERIODIC_MINUTE\"},\"description\":\"1 vCPU, 1 GiB\",\"price\":60000,\"cpu\":1,"
	"\"memoryInGigs\":1,\"gpu\":0}]";

static guint
free_port(void)
{
	g_autoptr(GSocket) socket = NULL;
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) address = g_inet_socket_address_new(loopback, 0);
	g_autoptr(GSocketAddress) bound = NULL;
	g_autoptr(GError) error = NULL;

	socket = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
			      &error);
	g_assert_no_error(error);
	g_socket_bind(socket, address, TRUE, &error);
	g_assert_no_error(error);
	bound = g_socket_get_local_address(socket, &error);
	g_assert_no_error(error);
	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

static void
write_file(const gchar *path, const gchar *contents)
{
	g_autoptr(GError) error = NULL;

	g_file_set_contents(path, contents, -1, &error);
	g_assert_no_error(error);
}

static void
join_namespace(const gchar *pid, const gchar *kind, gint nstype)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%s/ns/%s", pid, kind);
	gint fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, nstype) != 0)
		g_error("cannot join %s: %s", path, g_strerror(errno));
	close(fd);
}

void
ucv_harness_enter_libvirt_namespaces(void)
{
	const gchar *libvirt_dir = g_getenv("UCV_TEST_LIBVIRT_DIR");
	g_autofree gchar *pid_file = NULL;
	g_autofree gchar *pid = NULL;

	if (libvirt_dir == NULL)
		g_error("UCV_TEST_LIBVIRT_DIR must name the private libvirtd's directory");
	pid_file = g_build_filename(libvirt_dir, "tini.pid", NULL);
	if (!g_file_get_contents(pid_file, &pid, NULL, NULL))
		g_error("the private libvirtd is not running (no %s)", pid_file);
	g_strstrip(pid);
	join_namespace(pid, "net", CLONE_NEWNET);
	/* a mount namespace admits only a single-threaded process: before anything else runs */
	join_namespace(pid, "mnt", CLONE_NEWNS);
}

gchar *
ucv_harness_save_dir(void)
{
	const gchar *libvirt_dir = g_getenv("UCV_TEST_LIBVIRT_DIR");

	/* the private libvirtd's lib/ is its /var/lib/libvirt */
	if (libvirt_dir == NULL)
		return g_strdup("/var/lib/libvirt/qemu/save");
	return g_build_filename(libvirt_dir, "lib", "qemu", "save", NULL);
}

static void
write_config(UcvHarness *self)
{
	g_autofree gchar *products = g_build_filename(self->dir, "products.json", NULL);
	g_autofree gchar *core_dir = g_build_filename(self->dir, "core", NULL);
	g_autofree gchar *save_dir = ucv_harness_save_dir();
	g_autofree gchar *config = NULL;

	write_file(products, products_json);
	config = g_strdup_printf("[provider]\nid = test\npublic-url = %s\n"
				 "[ucloud]\nurl = %s\n"
				 "refresh-token-file = %s/refresh-token\n"
				 "public-key-file = %s/ucloud-public-key\n"
				 "accounting = none\n"
				 "[http]\nlisten = 127.0.0.1:%u\nmax-body-size = 65536\n"
				 "[libvirt]\nuri = %s\ndomain-type = qemu\nsave-dir = %s\n"
				 "[storage]\nstate-dir = %s\nimage-dir = %s\n"
				 "[products]\nfile = %s\n",
				 self->base_url, ucv_fake_core_get_url(self->core), core_dir,
				 core_dir, self->port, self->libvirt_uri, save_dir, self->state_dir,
				 self->image_dir, products);
	if (self->extra_config != NULL) {
		g_autofree gchar *base = g_steal_pointer(&config);
		config = g_strconcat(base, self->extra_config, NULL);
	}
	write_file(self->config_path, config);
}

static void
link_guest_image(UcvHarness *self)
{
	const gchar *guest = g_getenv("UCV_TEST_GUEST_IMAGE");
	g_autofree gchar *link = g_build_filename(self->image_dir, "ucv-test-guest.qcow2", NULL);

	if (guest == NULL || !g_file_test(guest, G_FILE_TEST_EXISTS))
		g_error("UCV_TEST_GUEST_IMAGE must name the test guest (tools/run-tests.sh sets "
			"it)");
	g_assert_cmpint(g_mkdir_with_parents(self->image_dir, 0755), ==, 0);
	g_assert_cmpint(symlink(guest, link), ==, 0);
}

static void
ignore_libvirt_error(void *user_data, virErrorPtr error)
{
}

UcvHarness *
ucv_harness_new(void)
{
	return ucv_harness_new_with_config(NULL, NULL);
}

UcvHarness *
ucv_harness_new_for(const gchar *libvirt_uri)
{
	return ucv_harness_new_with_config(libvirt_uri, NULL);
}

UcvHarness *
ucv_harness_new_with_config(const gchar *libvirt_uri, const gchar *extra_ini)
{
	UcvHarness *self = g_new0(UcvHarness, 1);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *core_dir = NULL;

	if (libvirt_uri == NULL)
		libvirt_uri = g_getenv("UCV_TEST_LIBVIRT_URI");
	if (libvirt_uri == NULL)
		g_error("UCV_TEST_LIBVIRT_URI must name the private libvirtd "
			"(tools/run-tests.sh sets it)");
	self->extra_config = g_strdup(extra_ini);
	virSetErrorFunc(NULL, ignore_libvirt_error);
	self->libvirt_uri = g_strdup(libvirt_uri);
	self->dir = g_dir_make_tmp("ucv-it-XXXXXX", &error);
	g_assert_no_error(error);
	self->config_path = g_build_filename(self->dir, "ucloud-virt.conf", NULL);
	self->state_dir = g_build_filename(self->dir, "state", NULL);
	self->image_dir = g_build_filename(self->dir, "images", NULL);
	core_dir = g_build_filename(self->dir, "core", NULL);
	g_assert_cmpint(g_mkdir_with_parents(core_dir, 0700), ==, 0);
	link_guest_image(self);

	self->core = ucv_fake_core_new(core_dir, &error);
	g_assert_no_error(error);
	ucv_fake_core_set_provider_id(self->core, "test");
	ucv_fake_core_listen(self->core, 0, &error);
	g_assert_no_error(error);
	self->port = free_port();
	self->base_url = g_strdup_printf("http://127.0.0.1:%u", self->port);
	self->session = soup_session_new();
	self->conn = virConnectOpen(self->libvirt_uri);
	g_assert_nonnull(self->conn);
	write_config(self);
	ucv_harness_start_daemon(self);
	return self;
}

static const gchar *big_node_xml = "<node><cpu><mhz>2000</mhz><model>x86_64</model>"
				   "<active>64</active><max>64</max><nodes>1</nodes>"
				   "<sockets>4</sockets><cores>8</cores><threads>2</threads></cpu>"
				   "<memory>2147483648</memory></node>";

UcvHarness *
ucv_harness_new_big_test_host(const gchar *extra_ini)
{
	g_autofree gchar *node_dir = g_dir_make_tmp("ucv-node-XXXXXX", NULL);
	g_autofree gchar *node_file = g_build_filename(node_dir, "node.xml", NULL);
	g_autofree gchar *uri = g_strdup_printf("test://%s", node_file);
	UcvHarness *self;

	g_assert_nonnull(node_dir);
	write_file(node_file, big_node_xml);
	self = ucv_harness_new_with_config(uri, extra_ini);
	self->node_file = g_steal_pointer(&node_file);
	return self;
}

void
ucv_harness_reconnect_libvirt(UcvHarness *self)
{
	/* closing a connection whose libvirtd went away only frees it */
	g_clear_pointer(&self->conn, virConnectClose);
	self->conn = virConnectOpen(self->libvirt_uri);
	g_assert_nonnull(self->conn);
}

static gboolean
daemon_answers(UcvHarness *self)
{
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autofree gchar *url =
		g_strdup_printf("%s/ucloud/test/integration/retrieveManifest", self->base_url);

	msg = soup_message_new("GET", url);
	body = soup_session_send_and_read(self->session, msg, NULL, NULL);
	return body != NULL && soup_message_get_status(msg) != 0;
}

/* A failed assertion aborts the test without ucv_harness_free; the daemon must not outlive it and
 * go on driving the private libvirtd's machines. */
static void
die_with_test(gpointer user_data)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

void
ucv_harness_start_daemon(UcvHarness *self)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *binary =
		g_build_filename(g_getenv("UCV_BUILD_ROOT"), "ucloud-virt", NULL);
	g_autofree gchar *log = g_build_filename(self->dir, "daemon.log", NULL);
	g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
		G_SUBPROCESS_FLAGS_STDIN_INHERIT | G_SUBPROCESS_FLAGS_STDERR_MERGE);
	/* one descriptor opened for appending: the log keeps every restart, and stdout and
	 * stderr never overwrite each other */
	int fd = g_open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	g_assert_cmpint(fd, >=, 0);
	g_subprocess_launcher_take_stdout_fd(launcher, fd);
	g_subprocess_launcher_set_child_setup(launcher, die_with_test, NULL, NULL);
	self->daemon = g_subprocess_launcher_spawn(launcher, &error, binary, "--config",
						   self->config_path, "-vv", NULL);
	g_assert_no_error(error);
	for (guint i = 0; i < 200; i++) {
		if (daemon_answers(self))
			return;
		g_assert_nonnull(g_subprocess_get_identifier(self->daemon)); /* still running */
		ucv_harness_spin(50);
	}
	g_error("ucloud-virt did not answer within 10 s; see %s", log);
}

void
ucv_harness_kill_daemon(UcvHarness *self, gboolean hard)
{
	g_autoptr(GError) error = NULL;

	if (self->daemon == NULL)
		return;
	g_subprocess_send_signal(self->daemon, hard ? SIGKILL : SIGTERM);
	g_subprocess_wait(self->daemon, NULL, &error);
	g_assert_no_error(error);
	if (!hard)
		g_assert_cmpint(g_subprocess_get_exit_status(self->daemon), ==, 0);
	g_clear_object(&self->daemon);
}

static gint64
outbox_rows(UcvHarness *self)
{
	g_autofree gchar *path = g_build_filename(self->state_dir, "ucloud-virt.db", NULL);
	sqlite3 *db = NULL;
	sqlite3_stmt *count = NULL;
	gint64 rows = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox", -1, &count, NULL) == SQLITE_OK &&
	    sqlite3_step(count) == SQLITE_ROW)
		rows = sqlite3_column_int64(count, 0);
	sqlite3_finalize(count);
	sqlite3_close(db);
	return rows;
}

void
ucv_harness_wait_outbox_drained(UcvHarness *self, guint timeout_s)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;

	while (outbox_rows(self) != 0) {
		if (g_get_monotonic_time() > deadline)
			g_error("the daemon's outbox still holds updates after %u s; see %s",
				timeout_s, self->dir);
		ucv_harness_spin(50);
	}
}

static void
destroy_leftover_domains(UcvHarness *self)
{
	virDomainPtr *domains = NULL;
	int n = virConnectListAllDomains(self->conn, &domains, 0);

	for (int i = 0; i < n; i++) {
		if (g_str_has_prefix(virDomainGetName(domains[i]), "ucloud-")) {
			virDomainDestroy(domains[i]);
			virDomainUndefineFlags(domains[i], VIR_DOMAIN_UNDEFINE_MANAGED_SAVE);
		}
		virDomainFree(domains[i]);
	}
	free(domains);
}

void
ucv_harness_free(UcvHarness *self)
{
	ucv_harness_kill_daemon(self, TRUE);
	if (self->conn != NULL) {
		destroy_leftover_domains(self);
		virConnectClose(self->conn);
	}
	g_clear_object(&self->session);
	g_clear_object(&self->core);
	if (g_getenv("UCV_TEST_KEEP") == NULL && self->dir != NULL) {
		g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", self->dir);
		g_assert_true(g_spawn_command_line_sync(cmd, NULL, NULL, NULL, NULL));
	}
	g_free(self->dir);
	g_free(self->config_path);
	g_free(self->state_dir);
	g_free(self->image_dir);
	g_free(self->libvirt_uri);
	g_free(self->base_url);
	g_free(self->core_token);
	g_free(self->extra_config);
	if (self->node_file != NULL) {
		g_autofree gchar *node_dir = g_path_get_dirname(self->node_file);
		g_unlink(self->node_file);
		g_rmdir(node_dir);
		g_free(self->node_file);
	}
	g_free(self);
}

static void
on_sent(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GBytes **body = user_data;
	g_autoptr(GError) error = NULL;

	*body = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &error);
	g_assert_no_error(error);
}

JsonNode *
ucv_harness_call(UcvHarness *self, const gchar *method, const gchar *path, const gchar *body,
		 guint *status)
{
	g_autofree gchar *url = g_strconcat(self->base_url, path, NULL);
	g_autoptr(SoupMessage) msg = soup_message_new(method, url);
	g_autofree gchar *bearer = NULL;
	g_autoptr(GBytes) reply = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	gsize len = 0;
	const gchar *data;

	/* minted once: an RSA signature per call would dominate the latencies measured */
	if (self->core_token == NULL)
		self->core_token = ucv_fake_core_mint_core_token(self->core);
	bearer = g_strdup_printf("Bearer %s", self->core_token);
	soup_message_headers_append(soup_message_get_request_headers(msg), "Authorization", bearer);
	if (body != NULL) {
		g_autoptr(GBytes) bytes = g_bytes_new(body, strlen(body));
		soup_message_set_request_body_from_bytes(msg, NULL, bytes);
	}
	/* async, so the fake Core in this process keeps answering meanwhile */
	soup_session_send_and_read_async(self->session, msg, G_PRIORITY_DEFAULT, NULL, on_sent,
					 &reply);
	while (reply == NULL)
		g_main_context_iteration(NULL, TRUE);
	*status = soup_message_get_status(msg);
	data = g_bytes_get_data(reply, &len);
	if (len == 0 || !json_parser_load_from_data(parser, data, len, NULL))
		return NULL;
	return json_node_copy(json_parser_get_root(parser));
}

gchar *
ucv_harness_new_job_id(void)
{
	static guint counter = 0;

	return g_strdup_printf("%u%03u", (guint)g_random_int_range(10000, 99999), ++counter);
}

gchar *
ucv_harness_vm_job_json(const gchar *job_id, guint replicas)
{
	return g_strdup_printf(
		"{\"id\":\"%s\",\"createdAt\":1700000000000,"
		"\"owner\":{\"createdBy\":\"tester#1234\",\"project\":null},"
		"\"permissions\":null,\"providerGeneratedId\":null,\"updates\":[],"
		"\"specification\":{\"product\":{\"id\":\"test-vm\",\"category\":\"test-vm\","
		"\"provider\":\"test\"},\"application\":{\"name\":\"test-guest\",\"version\":\"1\"}"
		","
		"\"name\":\"integration test\",\"hostname\":null,\"replicas\":%u,"
		"\"allowDuplicateJob\":true,\"parameters\":{\"ucMetricSampleRate\":{\"type\":"
		"\"text\","
		"\"value\":\"1\"}},\"resources\":null,\"timeAllocation\":null,\"openedFile\":null,"
		"\"restartOnExit\":null,\"sshEnabled\":false,\"labels\":{}},"
		"\"status\":{\"state\":\"IN_QUEUE\",\"jobParametersJson\":null,\"startedAt\":null,"
		"\"expiresAt\":null,\"resolvedApplication\":{\"metadata\":{\"name\":\"test-guest\","
		"\"version\":\"1\",\"title\":\"Test guest\"},\"invocation\":{\"tool\":{\"name\":"
		"\"test-guest\",\"version\":\"1\",\"tool\":{\"description\":{\"backend\":"
		"\"VIRTUAL_MACHINE\",\"image\":\"ucv-test-guest\"}}},\"invocation\":[],"
		"\"parameters\":[],\"applicationType\":\"BATCH\"}},\"resolvedProduct\":{\"name\":"
		"\"test-vm\",\"category\":{\"name\":\"test-vm\",\"provider\":\"test\"},\"cpu\":1,"
		"\"memoryInGigs\":1,\"gpu\":0},\"resolvedSupport\":null,\"allowRestart\":false},"
		"\"output\":null}",
		job_id, replicas);
}

static void
on_ws_connected(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **result = user_data;

	*result = g_object_ref(res);
}

SoupWebsocketConnection *
ucv_harness_ws_connect(UcvHarness *self, const gchar *path, gboolean as_core, guint *status)
{
	g_autofree gchar *url = g_strdup_printf("ws://127.0.0.1:%u%s", self->port, path);
	g_autoptr(SoupMessage) msg = soup_message_new("GET", url);
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	SoupWebsocketConnection *ws;

	if (as_core) {
		g_autofree gchar *bearer = NULL;
		if (self->core_token == NULL)
			self->core_token = ucv_fake_core_mint_core_token(self->core);
		bearer = g_strdup_printf("Bearer %s", self->core_token);
		soup_message_headers_append(soup_message_get_request_headers(msg), "Authorization",
					    bearer);
	}
	soup_session_websocket_connect_async(self->session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
					     NULL, on_ws_connected, &res);
	while (res == NULL)
		g_main_context_iteration(NULL, TRUE);
	ws = soup_session_websocket_connect_finish(self->session, res, &error);
	*status = soup_message_get_status(msg);
	/* a big log or `cat` arrives as many frames: no limit on what the client takes */
	if (ws != NULL)
		soup_websocket_connection_set_max_incoming_payload_size(ws, 0);
	return ws;
}

JsonObject *
ucv_harness_open_session(UcvHarness *self, const gchar *job_id, const gchar *session_type)
{
	g_autofree gchar *job = ucv_harness_vm_job_json(job_id, 1);
	g_autofree gchar *body = g_strdup_printf(
		"{\"items\":[{\"job\":%s,\"rank\":0,\"sessionType\":\"%s\",\"target\":null}]}", job,
		session_type);
	g_autoptr(JsonNode) reply = NULL;
	JsonArray *responses;
	guint status = 0;

	reply = ucv_harness_call(self, "POST", "/ucloud/test/jobs/interactiveSession", body,
				 &status);
	g_assert_cmpuint(status, ==, 200);
	g_assert_nonnull(reply);
	responses = json_object_get_array_member(json_node_get_object(reply), "responses");
	g_assert_cmpuint(json_array_get_length(responses), ==, 1);
	return json_object_ref(json_array_get_object_element(responses, 0));
}

static void
call_bulk(UcvHarness *self, const gchar *path, const gchar *item)
{
	g_autofree gchar *body = g_strdup_printf("{\"items\":[%s]}", item);
	g_autoptr(JsonNode) reply = NULL;
	guint status = 0;

	reply = ucv_harness_call(self, "POST", path, body, &status);
	g_assert_cmpuint(status, ==, 200);
	g_assert_nonnull(reply);
}

void
ucv_harness_post_jobs(UcvHarness *self, const gchar *path, const gchar *job_json)
{
	call_bulk(self, path, job_json);
}

void
ucv_harness_create_job(UcvHarness *self, const gchar *job_id, guint replicas)
{
	g_autofree gchar *job = ucv_harness_vm_job_json(job_id, replicas);

	call_bulk(self, "/ucloud/test/jobs", job);
}

void
ucv_harness_start_ready_job(UcvHarness *self, const gchar *job_id)
{
	const guint boot_timeout_s = 120;

	ucv_harness_create_job(self, job_id, 1);
	g_free(ucv_harness_wait_state(self, job_id, "RUNNING", boot_timeout_s));
	ucv_harness_wait_console(self, job_id, 0, "ucloud-virt-guest: ready", boot_timeout_s);
}

void
ucv_harness_terminate_job(UcvHarness *self, const gchar *job_id)
{
	g_autofree gchar *job = ucv_harness_vm_job_json(job_id, 1);

	call_bulk(self, "/ucloud/test/jobs/terminate", job);
}

/* Each job is about 1.5 KB of JSON; 32 of them stay well under the harness's 64 KiB limit. */
#define BULK_ITEMS 32

static void
call_bulk_many(UcvHarness *self, const gchar *path, GPtrArray *job_ids)
{
	for (guint start = 0; start < job_ids->len; start += BULK_ITEMS) {
		g_autoptr(GString) items = g_string_new(NULL);

		for (guint i = start; i < job_ids->len && i < start + BULK_ITEMS; i++) {
			g_autofree gchar *job =
				ucv_harness_vm_job_json(g_ptr_array_index(job_ids, i), 1);
			g_string_append_printf(items, "%s%s", i > start ? "," : "", job);
		}
		call_bulk(self, path, items->str);
	}
}

void
ucv_harness_create_jobs(UcvHarness *self, GPtrArray *job_ids)
{
	call_bulk_many(self, "/ucloud/test/jobs", job_ids);
}

void
ucv_harness_terminate_jobs(UcvHarness *self, GPtrArray *job_ids)
{
	call_bulk_many(self, "/ucloud/test/jobs/terminate", job_ids);
}

/* Core matches responses to items by position, so exactly one per item. */
static void
assert_one_response(JsonNode *reply)
{
	JsonObject *root;
	JsonArray *responses;

	g_assert_nonnull(reply);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(reply));
	root = json_node_get_object(reply);
	g_assert_true(json_object_has_member(root, "responses"));
	responses = json_object_get_array_member(root, "responses");
	g_assert_nonnull(responses);
	g_assert_cmpuint(json_array_get_length(responses), ==, 1);
}

static void
call_job_item(UcvHarness *self, const gchar *path, const gchar *job_id, gboolean documented)
{
	g_autofree gchar *job = ucv_harness_vm_job_json(job_id, 1);
	g_autofree gchar *body = documented ? g_strdup_printf("{\"items\":[%s]}", job)
					    : g_strdup_printf("{\"items\":[{\"job\":%s}]}", job);
	g_autoptr(JsonNode) reply = NULL;
	guint status = 0;

	reply = ucv_harness_call(self, "POST", path, body, &status);
	g_assert_cmpuint(status, ==, 200);
	assert_one_response(reply);
}

void
ucv_harness_suspend_job(UcvHarness *self, const gchar *job_id)
{
	call_job_item(self, "/ucloud/test/jobs/suspend", job_id, FALSE);
}

void
ucv_harness_unsuspend_job(UcvHarness *self, const gchar *job_id)
{
	call_job_item(self, "/ucloud/test/jobs/unsuspend", job_id, FALSE);
}

void
ucv_harness_suspend_job_documented(UcvHarness *self, const gchar *job_id)
{
	call_job_item(self, "/ucloud/test/jobs/suspend", job_id, TRUE);
}

void
ucv_harness_unsuspend_job_documented(UcvHarness *self, const gchar *job_id)
{
	call_job_item(self, "/ucloud/test/jobs/unsuspend", job_id, TRUE);
}

static gboolean
on_timeout(gpointer user_data)
{
	gboolean *expired = user_data;

	*expired = TRUE;
	return G_SOURCE_REMOVE;
}

void
ucv_harness_spin(guint ms)
{
	gboolean expired = FALSE;

	g_timeout_add(ms, on_timeout, &expired);
	while (!expired)
		g_main_context_iteration(NULL, TRUE);
}

static UcvFakeCoreUpdate *
find_nth_update(UcvHarness *self, const gchar *job_id, const gchar *state, guint n)
{
	g_autoptr(GPtrArray) updates = ucv_fake_core_get_updates(self->core, job_id);
	guint seen = 0;

	for (guint i = 0; i < updates->len; i++) {
		UcvFakeCoreUpdate *update = g_ptr_array_index(updates, i);
		if (g_strcmp0(update->state, state) == 0 && ++seen == n)
			return ucv_fake_core_update_copy(update);
	}
	return NULL;
}

gchar *
ucv_harness_wait_state(UcvHarness *self, const gchar *job_id, const gchar *state, guint timeout_s)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;

	while (g_get_monotonic_time() < deadline) {
		g_autoptr(UcvFakeCoreUpdate) update = find_nth_update(self, job_id, state, 1);
		if (update != NULL)
			return g_strdup(update->status);
		ucv_harness_spin(50);
	}
	g_error("job %s did not reach %s within %u s (Core saw: %s); see %s/daemon.log", job_id,
		state, timeout_s, ucv_harness_states_of(self, job_id), self->dir);
	return NULL;
}

gchar *
ucv_harness_wait_nth_state(UcvHarness *self, const gchar *job_id, const gchar *state, guint n,
			   guint timeout_s)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;

	g_assert_cmpuint(n, >, 0);
	while (g_get_monotonic_time() < deadline) {
		g_autoptr(UcvFakeCoreUpdate) update = find_nth_update(self, job_id, state, n);
		if (update != NULL)
			return g_strdup(update->status);
		ucv_harness_spin(50);
	}
	g_error("job %s did not reach %s (occurrence %u) within %u s (Core saw: %s); see "
		"%s/daemon.log",
		job_id, state, n, timeout_s, ucv_harness_states_of(self, job_id), self->dir);
	return NULL;
}

static gchar *
find_log_line(UcvHarness *self, goffset *offset, GRegex *regex)
{
	g_autofree gchar *path = g_build_filename(self->dir, "daemon.log", NULL);
	g_autofree gchar *contents = NULL;
	gsize len = 0;
	const gchar *line;

	if (!g_file_get_contents(path, &contents, &len, NULL) || (gsize)*offset > len)
		return NULL;
	for (line = contents + *offset; *line != '\0';) {
		const gchar *end = strchr(line, '\n');
		g_autofree gchar *text = NULL;

		if (end == NULL)
			return NULL; /* a line still being written */
		text = g_strndup(line, end - line);
		line = end + 1;
		if (g_regex_match(regex, text, 0, NULL)) {
			*offset = line - contents;
			return g_steal_pointer(&text);
		}
	}
	return NULL;
}

gchar *
ucv_harness_wait_log(UcvHarness *self, goffset *offset, const gchar *regex, guint timeout_s)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
	g_autoptr(GRegex) compiled = g_regex_new(regex, 0, 0, NULL);

	g_assert_nonnull(compiled);
	while (g_get_monotonic_time() < deadline) {
		gchar *line = find_log_line(self, offset, compiled);
		if (line != NULL)
			return line;
		ucv_harness_spin(100);
	}
	g_error("no line matching '%s' in %s/daemon.log within %u s", regex, self->dir, timeout_s);
	return NULL;
}

goffset
ucv_harness_log_end(UcvHarness *self)
{
	g_autofree gchar *path = g_build_filename(self->dir, "daemon.log", NULL);
	GStatBuf info;

	g_assert_cmpint(g_stat(path, &info), ==, 0);
	return info.st_size;
}

guint64
ucv_harness_daemon_rss(UcvHarness *self)
{
	g_autofree gchar *path =
		g_strdup_printf("/proc/%s/status", g_subprocess_get_identifier(self->daemon));
	g_autofree gchar *status = NULL;
	const gchar *field;

	g_assert_true(g_file_get_contents(path, &status, NULL, NULL));
	field = strstr(status, "VmRSS:");
	g_assert_nonnull(field);
	return g_ascii_strtoull(field + strlen("VmRSS:"), NULL, 10) * 1024;
}

gchar *
ucv_harness_disk_path(UcvHarness *self, const gchar *job_id, guint rank)
{
	g_autofree gchar *base = g_strdup_printf("disk-%u.qcow2", rank);

	return g_build_filename(self->state_dir, "jobs", job_id, base, NULL);
}

void
ucv_harness_wait_console(UcvHarness *self, const gchar *job_id, guint rank, const gchar *text,
			 guint timeout_s)
{
	g_autofree gchar *base = g_strdup_printf("console-%u.log", rank);
	g_autofree gchar *path = g_build_filename(self->state_dir, "jobs", job_id, base, NULL);
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;

	while (g_get_monotonic_time() < deadline) {
		g_autofree gchar *contents = NULL;
		if (g_file_get_contents(path, &contents, NULL, NULL) &&
		    strstr(contents, text) != NULL)
			return;
		ucv_harness_spin(100);
	}
	g_error("'%s' did not appear in %s within %u s", text, path, timeout_s);
}

static virDomainPtr
lookup_domain(UcvHarness *self, const gchar *job_id, guint rank)
{
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-%u", job_id, rank);

	return virDomainLookupByName(self->conn, name);
}

void
ucv_harness_type(UcvHarness *self, const gchar *job_id, guint rank, const gchar *text)
{
	g_autofree gchar *base = g_strdup_printf("console-%u.log", rank);
	g_autofree gchar *log = g_build_filename(self->state_dir, "jobs", job_id, base, NULL);
	g_autofree gchar *before = NULL;
	g_autofree gchar *echo = g_strndup(text, strcspn(text, "\r\n"));
	virDomainPtr domain = lookup_domain(self, job_id, rank);
	virStreamPtr stream = virStreamNew(self->conn, 0);
	gsize offset = 0;
	gsize sent = 0;
	gboolean echoed = FALSE;

	g_assert_nonnull(domain);
	g_assert_nonnull(stream);
	if (!g_file_get_contents(log, &before, &offset, NULL))
		offset = 0;
	g_assert_cmpint(virDomainOpenConsole(domain, NULL, stream, VIR_DOMAIN_CONSOLE_FORCE), ==,
			0);
	while (sent < strlen(text)) {
		int n = virStreamSend(stream, text + sent, strlen(text) - sent);
		g_assert_cmpint(n, >, 0);
		sent += n;
	}
	/* QEMU reads a pty only after noticing (it polls once a second) that a client opened it;
	 * closing sooner leaves the bytes unread. Stay until the guest echoes the first line. */
	for (guint waited = 0; waited < 10000 && !echoed; waited += 100) {
		g_autofree gchar *contents = NULL;
		gsize len = 0;
		ucv_harness_spin(100);
		echoed = g_file_get_contents(log, &contents, &len, NULL) && len >= offset &&
			 strstr(contents + offset, echo) != NULL;
	}
	/* the guest may be gone already (it was told to power off), so errors here are fine */
	if (virStreamFinish(stream) < 0)
		virStreamAbort(stream);
	virStreamFree(stream);
	virDomainFree(domain);
	if (!echoed)
		g_error("the guest did not echo '%s' on its console within 10 s; see %s", echo,
			log);
}

gboolean
ucv_harness_domain_exists(UcvHarness *self, const gchar *job_id, guint rank)
{
	virDomainPtr domain = lookup_domain(self, job_id, rank);

	if (domain == NULL)
		return FALSE;
	virDomainFree(domain);
	return TRUE;
}

gboolean
ucv_harness_domain_is_active(UcvHarness *self, const gchar *job_id, guint rank)
{
	virDomainPtr domain = lookup_domain(self, job_id, rank);
	gboolean active;

	if (domain == NULL)
		return FALSE;
	active = virDomainIsActive(domain) == 1;
	virDomainFree(domain);
	return active;
}

gint64
ucv_harness_received_us(UcvHarness *self, const gchar *job_id, const gchar *state, guint n)
{
	g_autoptr(GPtrArray) updates = ucv_fake_core_get_updates(self->core, job_id);
	g_autofree gchar *states = NULL;

	for (guint i = 0, seen = 0; i < updates->len; i++) {
		const UcvFakeCoreUpdate *update = g_ptr_array_index(updates, i);
		if (g_strcmp0(update->state, state) == 0 && ++seen == n)
			return update->received_us;
	}
	states = ucv_harness_states_of(self, job_id);
	g_error("job %s: the fake Core has no update %u carrying %s (it saw: %s)", job_id, n, state,
		states);
	return 0;
}

gchar *
ucv_harness_states_of(UcvHarness *self, const gchar *job_id)
{
	g_autoptr(GPtrArray) updates = ucv_fake_core_get_updates(self->core, job_id);
	g_autoptr(GString) states = g_string_new(NULL);

	for (guint i = 0; i < updates->len; i++) {
		const UcvFakeCoreUpdate *update = g_ptr_array_index(updates, i);
		if (update->state == NULL)
			continue;
		if (states->len > 0)
			g_string_append_c(states, ',');
		g_string_append(states, update->state);
	}
	return g_string_free(g_steal_pointer(&states), FALSE);
}
