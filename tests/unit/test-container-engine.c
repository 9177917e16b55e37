/* The engine's DOCKER jobs on libvirt's test driver, the test playing the container host's agent
 * on the rank's socket: the greeting's version and timing, the output log and the exit code. */
#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <string.h>

#include "agent/ucv-agent-frame.h"
#include "agent/ucv-agent-version.h"
#include "container/ucv-job-folders.h"
#include "engine/ucv-engine.h"
#include "engine/ucv-job-files.h"
#include "engine/ucv-store.h"
#include "ucloud/ucv-core-client.h"
#include "virt/ucv-domain-xml.h"
#include "virt/ucv-hypervisor.h"
#include "ucv-fake-core.h"
#include "ucv-fake-registry.h"
#include "ucv-test-engine-config.h"
#include "ucv-test-files.h"
#include "ucv-test-layer.h"
#include "ucv-test-loop.h"

#define TEST_URI      "test:///default"
#define PRODUCT       "ce-small"
#define REPOSITORY    "acme/batch"
#define WAIT_MS       20000
#define SETTLE_MS     300
#define SILENT_S      5
#define CONSOLE_WORDS "ucv-agent: cannot open the agent port"

static const gchar *products_json =
	"[{\"type\":\"compute\",\"name\":\"" PRODUCT "\",\"category\":{\"name\":\"ce\","
	"\"provider\":\"ce-test\",\"productType\":\"COMPUTE\",\"accountingFrequency\":"
	"\"PERIODIC_MINUTE\"},\"description\":\"1 vCPU, 1 GiB\",\"price\":1,\"cpu\":1,"
	"\"memoryInGigs\":1,\"gpu\":0}]";

typedef struct {
	gchar *tmp_dir;
	UcvConfig *config;
	GPtrArray *products;
	UcvFakeRegistry *registry;
	UcvFakeCore *fake_core;
	UcvCoreClient *core;
	/* ours: it sees the engine's test:///default and plays the guest that powers off */
	virConnectPtr admin;
	UcvHypervisor *hypervisor;
	UcvStore *store;
	UcvEngine *engine;
	const gchar *job_id;
	/* the agent's end of the rank's socket, where QEMU would listen */
	GSocketListener *listener;
	GCancellable *accept_cancellable;
	gboolean accepting;
	GSocketConnection *connection;
	UcvAgentDecoder *decoder; /* the host's frames; too big for the stack */
	gboolean exit_acked;
} Fixture;

typedef gboolean (*Condition)(Fixture *f, gconstpointer data);

/* The engine's warnings about jobs, "<job id>: <message>": the test's to check, not fatal. */
static GPtrArray *job_warnings;

/* --- the main loop ----------------------------------------------------------------------- */

/* Runs the loop until `cond` holds; fails the test after WAIT_MS. */
static void
wait_until(Fixture *f, Condition cond, gconstpointer data, const gchar *what)
{
	ucv_test_loop_wait_until((UcvTestCondition)cond, f, data, WAIT_MS, what);
}

/* --- the job as Core sends it ------------------------------------------------------------ */

static gchar *
docker_job_json(Fixture *f, const gchar *id)
{
	return g_strdup_printf(
		"{\"id\":\"%s\",\"createdAt\":1732540000123,"
		"\"owner\":{\"createdBy\":\"tester#1234\",\"project\":null},\"updates\":[],"
		"\"specification\":{\"product\":{\"id\":\"" PRODUCT "\",\"category\":\"ce\","
		"\"provider\":\"ce-test\"},\"application\":{\"name\":\"acme-batch\","
		"\"version\":\"1.0\"},\"name\":\"container engine test\",\"replicas\":1,"
		"\"parameters\":null,\"resources\":null,\"timeAllocation\":null,"
		"\"sshEnabled\":false,\"labels\":{}},"
		"\"status\":{\"state\":\"IN_QUEUE\",\"resolvedApplication\":{\"metadata\":{"
		"\"name\":\"acme-batch\",\"version\":\"1.0\",\"title\":\"Acme\"},"
		"\"invocation\":{\"tool\":{\"name\":\"acme-batch\",\"version\":\"1.0\","
		"\"tool\":{\"description\":{\"backend\":\"DOCKER\",\"image\":\"%s/" REPOSITORY
		":1.0\"}}},"
		"\"invocation\":[{\"type\":\"word\",\"word\":\"echo\"},"
		"{\"type\":\"word\",\"word\":\"hi\"}],\"parameters\":[],\"environment\":null,"
		"\"applicationType\":\"BATCH\",\"vnc\":null,\"web\":null,"
		"\"container\":{\"changeWorkingDirectory\":true,\"runAsRoot\":false,"
		"\"runAsRealUser\":false}}},"
		"\"resolvedProduct\":{\"name\":\"" PRODUCT "\",\"category\":{\"name\":\"ce\","
		"\"provider\":\"ce-test\"},\"cpu\":1,\"memoryInGigs\":1,\"gpu\":0}}}",
		id, ucv_fake_registry_get_host(f->registry));
}

/* --- what the tests look at ---------------------------------------------------------------- */

static gchar *
job_dir(Fixture *f, const gchar *job_id)
{
	return ucv_job_files_dir(f->config->state_dir, job_id);
}

static gboolean
domain_exists(Fixture *f, const gchar *job_id)
{
	g_autofree gchar *name = ucv_domain_name_for(job_id, 0);
	virDomainPtr dom = virDomainLookupByName(f->admin, name);

	if (dom == NULL)
		return FALSE;
	virDomainFree(dom);
	return TRUE;
}

/* The status of the first update Core received for the job with `state`, or NULL. */
static gchar *
core_status(Fixture *f, const gchar *job_id, const gchar *state)
{
	g_autoptr(GPtrArray) updates = ucv_fake_core_get_updates(f->fake_core, job_id);

	for (guint i = 0; i < updates->len; i++) {
		UcvFakeCoreUpdate *update = g_ptr_array_index(updates, i);

		if (g_strcmp0(update->state, state) == 0)
			return g_strdup(update->status != NULL ? update->status : "");
	}
	return NULL;
}

/* Waits until Core heard `state` for the job, and returns that update's status. */
static gchar *
wait_core_state(Fixture *f, const gchar *job_id, const gchar *state)
{
	if (!ucv_fake_core_wait_for_state(f->fake_core, job_id, state, WAIT_MS))
		g_error("Core did not hear %s for job %s within %d ms", state, job_id, WAIT_MS);
	return core_status(f, job_id, state);
}

static void
assert_contains(const gchar *haystack, const gchar *needle)
{
	if (strstr(haystack, needle) == NULL)
		g_error("\"%s\" does not mention \"%s\"", haystack, needle);
}

static gboolean
cond_cleaned_up(Fixture *f, gconstpointer data)
{
	const gchar *job_id = data;
	g_autofree gchar *dir = job_dir(f, job_id);
	g_autofree gchar *share = ucv_job_files_share_dir(f->config->state_dir, job_id);

	return !domain_exists(f, job_id) && !g_file_test(dir, G_FILE_TEST_EXISTS) &&
	       !g_file_test(share, G_FILE_TEST_EXISTS);
}

static void
assert_warned_once(const gchar *job_id, const gchar *needle)
{
	g_autofree gchar *prefix = g_strdup_printf("%s: ", job_id);

	g_assert_cmpuint(job_warnings->len, ==, 1);
	g_assert_true(g_str_has_prefix(g_ptr_array_index(job_warnings, 0), prefix));
	assert_contains(g_ptr_array_index(job_warnings, 0), needle);
}

/* --- the agent ------------------------------------------------------------------------------ */

static void
on_accepted(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Fixture *f = user_data;
	g_autoptr(GError) error = NULL;

	f->accepting = FALSE;
	f->connection =
		g_socket_listener_accept_finish(G_SOCKET_LISTENER(source), res, NULL, &error);
	if (f->connection == NULL && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		g_error("the agent's socket accepted no connection: %s", error->message);
}

static gboolean
cond_dir_exists(Fixture *f, gconstpointer data)
{
	g_autofree gchar *dir = job_dir(f, data);

	return g_file_test(dir, G_FILE_TEST_IS_DIR);
}

static gboolean
cond_connected(Fixture *f, gconstpointer data)
{
	return f->connection != NULL;
}

/* Listens where QEMU would, as soon as the job's directory is there. */
static void
agent_listen(Fixture *f, const gchar *job_id)
{
	g_autofree gchar *path = ucv_job_files_agent_socket(f->config->state_dir, job_id, 0);
	g_autoptr(GSocketAddress) address = NULL;
	g_autoptr(GError) error = NULL;

	wait_until(f, cond_dir_exists, job_id, "the job's directory");
	address = g_unix_socket_address_new(path);
	f->listener = g_socket_listener_new();
	g_socket_listener_add_address(f->listener, address, G_SOCKET_TYPE_STREAM,
				      G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, &error);
	g_assert_no_error(error);
	f->accept_cancellable = g_cancellable_new();
	f->accepting = TRUE;
	g_socket_listener_accept_async(f->listener, f->accept_cancellable, on_accepted, f);
}

static void
agent_send(Fixture *f, const guint8 *frame, gsize len)
{
	GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(f->connection));
	g_autoptr(GError) error = NULL;

	g_assert_cmpuint(len, >, 0);
	g_output_stream_write_all(out, frame, len, NULL, NULL, &error);
	g_assert_no_error(error);
}

static void
agent_hello(Fixture *f, const gchar *version)
{
	g_autofree guint8 *buf = g_malloc(UCV_AGENT_FRAME_MAX);

	agent_send(f, buf, ucv_agent_frame_encode_hello(buf, UCV_AGENT_FRAME_MAX, version));
}

static void
agent_stdout(Fixture *f, const gchar *text)
{
	g_autofree guint8 *buf = g_malloc(UCV_AGENT_FRAME_MAX);

	agent_send(f, buf,
		   ucv_agent_frame_encode(buf, UCV_AGENT_FRAME_MAX, UCV_AGENT_PEER_GUEST,
					  UCV_AGENT_FRAME_STDOUT, 0, text, strlen(text)));
}

static void
agent_exit(Fixture *f, gint32 code)
{
	g_autofree guint8 *buf = g_malloc(UCV_AGENT_FRAME_MAX);

	agent_send(f, buf, ucv_agent_frame_encode_exit(buf, UCV_AGENT_FRAME_MAX, code));
}

/* Reads what the host wrote so far, without blocking the loop the engine runs in. */
static gboolean
cond_exit_acked(Fixture *f, gconstpointer data)
{
	GSocket *socket = g_socket_connection_get_socket(f->connection);
	guint8 buf[4096];
	g_autoptr(GError) error = NULL;
	gssize n = g_socket_receive_with_blocking(socket, (gchar *)buf, sizeof(buf), FALSE, NULL,
						  &error);
	gsize done = 0;

	if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
		return f->exit_acked;
	g_assert_no_error(error);
	if (n == 0)
		g_error("the host hung up before it acknowledged EXIT");
	while (done < (gsize)n) {
		UcvAgentFrame frame;
		gsize used = 0;
		UcvAgentFeedResult result =
			ucv_agent_decoder_feed(f->decoder, buf + done, n - done, &used, &frame);

		g_assert_cmpint(result, !=, UCV_AGENT_FEED_ERROR);
		done += used;
		if (result == UCV_AGENT_FEED_FRAME && frame.type == UCV_AGENT_FRAME_EXIT_ACK)
			f->exit_acked = TRUE;
	}
	return f->exit_acked;
}

/* --- the fixture --------------------------------------------------------------------------- */

static void
write_file(const gchar *path, const gchar *contents)
{
	g_autoptr(GError) error = NULL;

	g_file_set_contents(path, contents, -1, &error);
	g_assert_no_error(error);
}

/* A container host to offer DOCKER with: the test driver never boots it. */
static void
config_container(Fixture *f)
{
	g_free(f->config->container_kernel);
	f->config->container_kernel = g_build_filename(f->tmp_dir, "vmlinuz", NULL);
	write_file(f->config->container_kernel, "not a kernel");
	g_free(f->config->container_initrd);
	f->config->container_initrd = g_build_filename(f->tmp_dir, "initrd.img", NULL);
	write_file(f->config->container_initrd, "not an initrd");
	g_strfreev(f->config->insecure_registries);
	f->config->insecure_registries = g_new0(gchar *, 2);
	f->config->insecure_registries[0] = g_strdup(ucv_fake_registry_get_host(f->registry));
	g_free(f->config->drive_root);
	f->config->drive_root = g_build_filename(f->tmp_dir, "drives", NULL);
	g_assert_cmpint(g_mkdir_with_parents(f->config->drive_root, 0755), ==, 0);
}

static void
config_new(Fixture *f, guint agent_timeout_s)
{
	f->config = ucv_test_engine_config_new(f->tmp_dir);
	if (agent_timeout_s != 0)
		f->config->agent_timeout_s = agent_timeout_s;
	config_container(f);
}

static void
core_start(Fixture *f)
{
	g_autofree gchar *dir = g_build_filename(f->tmp_dir, "core", NULL);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	f->fake_core = ucv_fake_core_new(dir, &error);
	g_assert_no_error(error);
	g_assert_true(ucv_fake_core_listen(f->fake_core, 0, &error));
	g_assert_no_error(error);
	f->core = ucv_core_client_new(ucv_fake_core_get_url(f->fake_core),
				      ucv_fake_core_get_refresh_token(f->fake_core));
}

static void
engine_start(Fixture *f)
{
	g_autofree gchar *db = g_build_filename(f->tmp_dir, "ucloud-virt.db", NULL);
	g_autoptr(GError) error = NULL;

	f->hypervisor = ucv_hypervisor_new(TEST_URI);
	g_assert_true(ucv_hypervisor_connect(f->hypervisor, &error));
	g_assert_no_error(error);
	/* opened after the hypervisor, whose class puts libvirt's events on the GLib loop */
	f->admin = virConnectOpen(TEST_URI);
	g_assert_nonnull(f->admin);
	f->store = ucv_store_open(db, &error);
	g_assert_no_error(error);
	f->engine = ucv_engine_new(f->config, f->products, f->store, f->hypervisor, f->core);
	g_assert_true(ucv_engine_start(f->engine, &error));
	g_assert_no_error(error);
}

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) layers = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	g_autoptr(GError) error = NULL;

	g_ptr_array_set_size(job_warnings, 0);
	f->tmp_dir = g_dir_make_tmp("ucv-test-container-engine-XXXXXX", &error);
	g_assert_no_error(error);
	f->registry = ucv_fake_registry_new();
	g_ptr_array_add(layers, ucv_test_layer_with_file("hello.txt", "hello from the image\n"));
	g_free(ucv_fake_registry_publish(f->registry, REPOSITORY, "1.0", layers));
	config_new(f, GPOINTER_TO_UINT(data));
	f->products = ucv_product_list_parse(products_json, strlen(products_json), &error);
	g_assert_no_error(error);
	f->decoder = g_new0(UcvAgentDecoder, 1);
	ucv_agent_decoder_init(f->decoder, UCV_AGENT_PEER_HOST);
	core_start(f);
	engine_start(f);
}

/* The engine is gone once its background work let go of it. */
static void
engine_stop(Fixture *f)
{
	ucv_test_loop_release(&f->engine, 30 * 1000);
	g_clear_object(&f->hypervisor);
	g_clear_object(&f->store);
}

static void
agent_stop(Fixture *f)
{
	g_cancellable_cancel(f->accept_cancellable);
	while (f->accepting)
		g_main_context_iteration(NULL, TRUE);
	g_clear_object(&f->accept_cancellable);
	if (f->connection != NULL)
		g_io_stream_close(G_IO_STREAM(f->connection), NULL, NULL);
	g_clear_object(&f->connection);
	if (f->listener != NULL)
		g_socket_listener_close(f->listener);
	g_clear_object(&f->listener);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	agent_stop(f);
	engine_stop(f);
	/* a test that failed half-way may have left the job's folders staged */
	if (f->job_id != NULL) {
		g_autofree gchar *share = ucv_job_files_share_dir(f->config->state_dir, f->job_id);
		ucv_job_folders_unstage(share, NULL);
	}
	/* the last connection to test:///default takes its domains with it */
	g_clear_pointer(&f->admin, virConnectClose);
	g_clear_object(&f->core);
	g_clear_object(&f->fake_core);
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_clear_pointer(&f->registry, ucv_fake_registry_free);
	g_clear_pointer(&f->products, g_ptr_array_unref);
	g_clear_pointer(&f->config, ucv_config_free);
	g_free(f->decoder);
	ucv_test_remove_tree(f->tmp_dir);
	g_free(f->tmp_dir);
}

/* Core creates the job; the agent listens on its rank's socket and the engine connects. */
static void
start_job(Fixture *f, const gchar *job_id)
{
	g_autofree gchar *json = docker_job_json(f, job_id);
	g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func((GDestroyNotify)ucv_job_unref);
	g_autoptr(GError) error = NULL;
	UcvJob *job = ucv_job_new_from_string(json, &error);

	g_assert_no_error(error);
	f->job_id = job_id;
	g_ptr_array_add(jobs, job);
	g_assert_true(ucv_engine_create_jobs(f->engine, jobs, &error));
	g_assert_no_error(error);
	agent_listen(f, job_id);
	wait_until(f, cond_connected, NULL, "the engine to connect to the agent's socket");
}

/* --- the tests ----------------------------------------------------------------------------- */

/* An agent of another build is refused: the job fails naming both versions, its machine goes. */
static void
test_wrong_agent_version(Fixture *f, gconstpointer data)
{
	const gchar *id = "ce-version";
	g_autofree gchar *status = NULL;

	start_job(f, id);
	g_assert_true(domain_exists(f, id));
	agent_hello(f, "0.0.0+other");
	status = wait_core_state(f, id, "FAILURE");
	assert_contains(status, "0.0.0+other");
	assert_contains(status, UCV_AGENT_VERSION);
	wait_until(f, cond_cleaned_up, id, "the job's machine and files to go");
	g_assert_null(core_status(f, id, "SUCCESS"));
	assert_warned_once(id, "agent is version 0.0.0+other");
}

/* The container's output lands in the rank's log, its EXIT is acknowledged, and the machine's
 * power-off ends the job with the program's exit code. */
static void
test_exit_code(Fixture *f, gconstpointer data)
{
	const gchar *id = "ce-exit";
	g_autofree gchar *log = ucv_job_files_stdout_log(f->config->state_dir, id, 0);
	g_autofree gchar *work = ucv_job_files_work_dir(f->config->state_dir, id);
	g_autofree gchar *work_log = g_build_filename(work, "stdout-0.log", NULL);
	g_autofree gchar *text = NULL;
	g_autofree gchar *work_text = NULL;
	g_autofree gchar *running = NULL;
	g_autofree gchar *status = NULL;
	g_autoptr(GError) error = NULL;
	virDomainPtr dom;

	start_job(f, id);
	agent_hello(f, UCV_AGENT_VERSION);
	agent_stdout(f, "hello\n");
	agent_exit(f, 3);
	wait_until(f, cond_exit_acked, NULL, "the host's EXIT_ACK");
	g_file_get_contents(log, &text, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(text, ==, "hello\n");
	g_file_get_contents(work_log, &work_text, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(work_text, ==, "hello\n");

	/* the exit alone ends nothing: the machine powering off does */
	ucv_test_loop_spin(SETTLE_MS);
	running = wait_core_state(f, id, "RUNNING");
	g_assert_cmpstr(running, ==, "The job is running");
	g_assert_null(core_status(f, id, "SUCCESS"));
	dom = virDomainLookupByName(f->admin, "ucloud-ce-exit-0");
	g_assert_nonnull(dom);
	g_assert_cmpint(virDomainShutdown(dom), ==, 0);
	virDomainFree(dom);

	status = wait_core_state(f, id, "SUCCESS");
	g_assert_cmpstr(status, ==, "The job's program exited with code 3");
	wait_until(f, cond_cleaned_up, id, "the job's machine and files to go");
	g_assert_null(core_status(f, id, "FAILURE"));
	g_assert_cmpuint(job_warnings->len, ==, 0);
}

/* An agent that never greets fails its job after [container] agent-timeout, quoting the end of
 * the console log. */
static void
test_silent_agent(Fixture *f, gconstpointer data)
{
	const gchar *id = "ce-silent";
	g_autofree gchar *console = ucv_job_files_console_log(f->config->state_dir, id, 0);
	g_autofree gchar *status = NULL;
	g_autofree gchar *expected = g_strdup_printf("did not start within %u s", SILENT_S);
	gint64 started = g_get_monotonic_time();

	start_job(f, id);
	write_file(console, "booting\n" CONSOLE_WORDS "\n");
	status = wait_core_state(f, id, "FAILURE");
	/* g_timeout_add_seconds() rounds to whole seconds, so it may fire a little early */
	g_assert_cmpint(g_get_monotonic_time() - started, >=, (SILENT_S - 1) * G_USEC_PER_SEC);
	assert_contains(status, expected);
	assert_contains(status, CONSOLE_WORDS);
	wait_until(f, cond_cleaned_up, id, "the job's machine and files to go");
	assert_warned_once(id, expected);
}

/* Keeps the engine's warnings about jobs for the test; passes everything else on. */
static GLogWriterOutput
log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	const gchar *domain = NULL;
	const gchar *job_id = NULL;
	const gchar *message = NULL;

	for (gsize i = 0; i < n_fields; i++) {
		if (g_strcmp0(fields[i].key, "GLIB_DOMAIN") == 0)
			domain = fields[i].value;
		else if (g_strcmp0(fields[i].key, "UCV_JOB_ID") == 0)
			job_id = fields[i].value;
		else if (g_strcmp0(fields[i].key, "MESSAGE") == 0)
			message = fields[i].value;
	}
	if ((level & G_LOG_LEVEL_WARNING) && g_strcmp0(domain, "ucv-engine") == 0 &&
	    job_id != NULL) {
		g_ptr_array_add(job_warnings, g_strdup_printf("%s: %s", job_id, message));
		return G_LOG_WRITER_HANDLED;
	}
	return g_log_writer_default(level, fields, n_fields, user_data);
}

#define ADD(path, timeout, func)                                                                   \
	g_test_add(path, Fixture, GUINT_TO_POINTER(timeout), fixture_set_up, func,                 \
		   fixture_tear_down)

int
main(int argc, char **argv)
{
	/* the engine bind-mounts the jobs' folders: none may outlive a failed assertion */
	ucv_test_enter_mount_namespace();
	g_test_init(&argc, &argv, NULL);
	job_warnings = g_ptr_array_new_with_free_func(g_free);
	g_log_set_writer_func(log_writer, NULL, NULL);

	ADD("/container-engine/wrong-agent-version", 0, test_wrong_agent_version);
	ADD("/container-engine/exit-code", 0, test_exit_code);
	ADD("/container-engine/silent-agent", SILENT_S, test_silent_agent);
	return g_test_run();
}
