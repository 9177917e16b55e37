/* The engine's job state machine against libvirt's in-memory test driver and a real store. */
#include "config.h"

#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <string.h>

#include "engine/ucv-engine.h"
#include "engine/ucv-job-files.h"
#include "engine/ucv-store.h"
#include "model/ucv-error.h"
#include "ucloud/ucv-core-client.h"
#include "virt/ucv-domain-xml.h"
#include "ucv-fake-core.h"
#include "ucv-test-engine-config.h"
#include "ucv-test-files.h"
#include "ucv-test-loop.h"
#include "virt/ucv-hypervisor.h"

#define TEST_URI       "test:///default"
#define PRODUCT        "eng-small"
#define IMAGE          "eng-base"
#define GPU_PRODUCT    "eng-gpu"
#define WAIT_SECONDS   15
#define SETTLE_MS      300
#define OUTBOX_LIMIT   1000
#define OUTSIDE_STATUS "outside UCloud"

static const gchar *products_json =
	"[{\"type\":\"compute\",\"name\":\"" PRODUCT "\",\"category\":{\"name\":\"eng\","
	"\"provider\":\"eng-test\",\"productType\":\"COMPUTE\",\"accountingFrequency\":"
	"\"PERIODIC_MINUTE\"},\"description\":\"1 vCPU, 1 GiB\",\"price\":1,\"cpu\":1,"
	"\"memoryInGigs\":1,\"gpu\":0},"
	"{\"type\":\"compute\",\"name\":\"" GPU_PRODUCT "\",\"category\":{\"name\":\"eng\","
	"\"provider\":\"eng-test\",\"productType\":\"COMPUTE\",\"accountingFrequency\":"
	"\"PERIODIC_MINUTE\"},\"description\":\"1 vCPU, 1 GiB, 1 GPU\",\"price\":1,\"cpu\":1,"
	"\"memoryInGigs\":1,\"gpu\":1}]";

typedef struct {
	gchar *tmp_dir;
	gchar *db_path;
	UcvConfig *config;
	GPtrArray *products;
	UcvCoreClient *core;
	UcvFakeCore *fake_core; /* only for tests that need Core to answer */
	/* a connection of our own: it keeps test:///default's domains alive across engine
	 * restarts and plays the administrator who acts outside UCloud */
	virConnectPtr admin;
	UcvHypervisor *hypervisor;
	UcvStore *store;
	UcvEngine *engine;
	GHashTable *idle_counts; /* job id -> "job-idle" emissions */
	gchar *idle_too_early;   /* the first "job-idle" heard while an ended job was not clean */
} Fixture;

typedef gboolean (*Condition)(Fixture *f, gconstpointer data);

/* --- the job as Core sends it ------------------------------------------------------------ */

static gchar *
resolved_application(const gchar *backend, const gchar *image)
{
	g_autofree gchar *image_json =
		image != NULL ? g_strdup_printf("\"%s\"", image) : g_strdup("null");

	return g_strdup_printf(
		"{\"metadata\":{\"name\":\"eng-app\",\"version\":\"2\",\"title\":\"Engine test\"},"
		"\"invocation\":{\"tool\":{\"name\":\"eng-app\",\"version\":\"2\",\"tool\":{"
		"\"description\":{\"backend\":\"%s\",\"image\":%s}}},\"invocation\":[],"
		"\"parameters\":[],\"applicationType\":\"BATCH\"}}",
		backend, image_json);
}

/* Core's current wire form; `resolved` is the whole resolvedApplication value. */
static gchar *
job_json_full(const gchar *id, guint replicas, const gchar *product, const gchar *resolved)
{
	return g_strdup_printf(
		"{\"id\":\"%s\",\"createdAt\":1700000000000,"
		"\"owner\":{\"createdBy\":\"tester#1234\",\"project\":null},"
		"\"permissions\":null,\"providerGeneratedId\":null,\"updates\":[],"
		"\"specification\":{\"product\":{\"id\":\"%s\",\"category\":\"eng\","
		"\"provider\":\"eng-test\"},\"application\":{\"name\":\"eng-app\",\"version\":"
		"\"2\"},"
		"\"name\":\"engine test\",\"hostname\":null,\"replicas\":%u,"
		"\"allowDuplicateJob\":true,\"parameters\":{\"ucMetricSampleRate\":{\"type\":"
		"\"text\","
		"\"value\":\"1\"}},\"resources\":null,\"timeAllocation\":null,\"openedFile\":null,"
		"\"restartOnExit\":null,\"sshEnabled\":false,\"labels\":{}},"
		"\"status\":{\"state\":\"IN_QUEUE\",\"jobParametersJson\":null,\"startedAt\":null,"
		"\"expiresAt\":null,\"resolvedApplication\":%s,\"resolvedProduct\":{\"name\":"
		"\"%s\",\"category\":{\"name\":\"eng\",\"provider\":\"eng-test\"},\"cpu\":1,"
		"\"memoryInGigs\":1,\"gpu\":0},\"resolvedSupport\":null,\"allowRestart\":false},"
		"\"output\":null}",
		id, product, replicas, resolved, product);
}

static UcvJob *
make_job_full(const gchar *id, guint replicas, const gchar *product, const gchar *backend,
	      const gchar *image)
{
	g_autofree gchar *resolved =
		backend != NULL ? resolved_application(backend, image) : g_strdup("null");
	g_autofree gchar *json = job_json_full(id, replicas, product, resolved);
	g_autoptr(GError) error = NULL;
	UcvJob *job = ucv_job_new_from_string(json, &error);

	g_assert_no_error(error);
	g_assert_nonnull(job);
	return job;
}

static UcvJob *
make_job(const gchar *id, guint replicas)
{
	return make_job_full(id, replicas, PRODUCT, "VIRTUAL_MACHINE", IMAGE);
}

static GPtrArray *
job_list(UcvJob *first, ...)
{
	GPtrArray *jobs = g_ptr_array_new_with_free_func((GDestroyNotify)ucv_job_unref);
	va_list args;

	va_start(args, first);
	for (UcvJob *job = first; job != NULL; job = va_arg(args, UcvJob *))
		g_ptr_array_add(jobs, job);
	va_end(args);
	return jobs;
}

/* --- the main loop ----------------------------------------------------------------------- */

/* Runs the loop until `cond` holds; fails the test after WAIT_SECONDS. */
static void
wait_until(Fixture *f, Condition cond, gconstpointer data, const gchar *what)
{
	ucv_test_loop_wait_until((UcvTestCondition)cond, f, data, WAIT_SECONDS * 1000, what);
}

/* --- what the tests look at ---------------------------------------------------------------- */

static gboolean
domain_exists(Fixture *f, const gchar *name)
{
	virDomainPtr dom = virDomainLookupByName(f->admin, name);

	if (dom == NULL)
		return FALSE;
	virDomainFree(dom);
	return TRUE;
}

static gboolean
domain_is_active(Fixture *f, const gchar *name)
{
	virDomainPtr dom = virDomainLookupByName(f->admin, name);
	gboolean active;

	if (dom == NULL)
		return FALSE;
	active = virDomainIsActive(dom) == 1;
	virDomainFree(dom);
	return active;
}

static gchar *
domain_xml(Fixture *f, const gchar *name)
{
	virDomainPtr dom = virDomainLookupByName(f->admin, name);
	gchar *xml;

	g_assert_nonnull(dom);
	xml = virDomainGetXMLDesc(dom, 0);
	virDomainFree(dom);
	g_assert_nonnull(xml);
	return xml;
}

static gchar *
job_dir(Fixture *f, const gchar *job_id)
{
	return g_build_filename(f->config->state_dir, "jobs", job_id, NULL);
}

static gchar *
overlay_path(Fixture *f, const gchar *job_id, guint rank)
{
	g_autofree gchar *dir = job_dir(f, job_id);
	g_autofree gchar *base = g_strdup_printf("disk-%u.qcow2", rank);

	return g_build_filename(dir, base, NULL);
}

static UcvStoredJob *
lookup_job(Fixture *f, const gchar *job_id)
{
	g_autoptr(GError) error = NULL;
	UcvStoredJob *stored = ucv_store_lookup_job(f->store, job_id, &error);

	g_assert_no_error(error);
	return stored;
}

static guint
count_jobs(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) jobs = ucv_store_list_jobs(f->store, UCV_STORE_JOBS_ALL, &error);

	g_assert_no_error(error);
	return jobs->len;
}

/* The job's outbox entries, oldest first, as "STATE" strings (and their status lines). */
static gchar *
outbox_states(Fixture *f, const gchar *job_id, GPtrArray *statuses)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) entries = ucv_store_outbox_peek(f->store, OUTBOX_LIMIT, &error);
	g_autoptr(GString) states = g_string_new(NULL);

	g_assert_no_error(error);
	for (guint i = 0; i < entries->len; i++) {
		UcvOutboxEntry *entry = g_ptr_array_index(entries, i);
		g_autoptr(JsonNode) node = NULL;
		JsonObject *update;

		if (g_strcmp0(entry->job_id, job_id) != 0)
			continue;
		node = json_from_string(entry->update_json, &error);
		g_assert_no_error(error);
		update = json_node_get_object(node);
		if (states->len > 0)
			g_string_append_c(states, ',');
		g_string_append(states,
				json_object_get_string_member_with_default(update, "state", "-"));
		if (statuses != NULL)
			g_ptr_array_add(statuses,
					g_strdup(json_object_get_string_member_with_default(
						update, "status", "")));
	}
	return g_string_free(g_steal_pointer(&states), FALSE);
}

static guint
outbox_length(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) entries = ucv_store_outbox_peek(f->store, OUTBOX_LIMIT, &error);

	g_assert_no_error(error);
	return entries->len;
}

static guint
stored_domain_count(Fixture *f, const gchar *job_id)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) names = ucv_store_list_domains(f->store, job_id, &error);

	g_assert_no_error(error);
	return names->len;
}

static guint
idle_count(Fixture *f, const gchar *job_id)
{
	return GPOINTER_TO_UINT(g_hash_table_lookup(f->idle_counts, job_id));
}

static void
assert_state(Fixture *f, const gchar *job_id, UcvJobState state)
{
	g_autoptr(UcvStoredJob) stored = lookup_job(f, job_id);

	g_assert_nonnull(stored);
	g_assert_cmpstr(ucv_job_state_to_string(stored->state), ==, ucv_job_state_to_string(state));
}

/* Asserts that nothing of the job is left on the host. */
static void
assert_cleaned_up(Fixture *f, const gchar *job_id, guint replicas)
{
	g_autofree gchar *dir = job_dir(f, job_id);

	for (guint rank = 0; rank < replicas; rank++) {
		g_autofree gchar *name = ucv_domain_name_for(job_id, rank);
		g_assert_false(domain_exists(f, name));
	}
	g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
	g_assert_cmpuint(stored_domain_count(f, job_id), ==, 0);
}

/* --- conditions ---------------------------------------------------------------------------- */

typedef struct {
	const gchar *job_id;
	UcvJobState state;
} StateWanted;

static gboolean
cond_state(Fixture *f, gconstpointer data)
{
	const StateWanted *wanted = data;
	g_autoptr(UcvStoredJob) stored = lookup_job(f, wanted->job_id);

	return stored != NULL && stored->state == wanted->state;
}

static void
wait_state(Fixture *f, const gchar *job_id, UcvJobState state)
{
	const StateWanted wanted = {job_id, state};
	g_autofree gchar *what =
		g_strdup_printf("job %s to be %s", job_id, ucv_job_state_to_string(state));

	wait_until(f, cond_state, &wanted, what);
}

static gboolean
cond_cleaned_up(Fixture *f, gconstpointer data)
{
	const gchar *job_id = data;
	g_autofree gchar *dir = job_dir(f, job_id);
	g_autofree gchar *name = ucv_domain_name_for(job_id, 0);

	return !domain_exists(f, name) && !g_file_test(dir, G_FILE_TEST_EXISTS) &&
	       stored_domain_count(f, job_id) == 0;
}

static gboolean
cond_domain_active(Fixture *f, gconstpointer data)
{
	return domain_is_active(f, data);
}

static void
wait_cleaned_up(Fixture *f, const gchar *job_id)
{
	g_autofree gchar *what = g_strdup_printf("the machines and files of job %s to go", job_id);

	wait_until(f, cond_cleaned_up, job_id, what);
}

typedef struct {
	const gchar *job_id;
	guint count;
} IdleWanted;

static gboolean
cond_idle(Fixture *f, gconstpointer data)
{
	const IdleWanted *wanted = data;

	return idle_count(f, wanted->job_id) >= wanted->count;
}

static void
wait_idle_count(Fixture *f, const gchar *job_id, guint count)
{
	const IdleWanted wanted = {job_id, count};
	g_autofree gchar *what = g_strdup_printf("job %s to go idle %u time(s)", job_id, count);

	wait_until(f, cond_idle, &wanted, what);
}

/* --- the fixture --------------------------------------------------------------------------- */

static void
on_job_idle(UcvEngine *engine, const gchar *job_id, Fixture *f)
{
	g_autoptr(UcvStoredJob) stored = lookup_job(f, job_id);
	g_autofree gchar *dir = job_dir(f, job_id);

	g_hash_table_insert(f->idle_counts, g_strdup(job_id),
			    GUINT_TO_POINTER(idle_count(f, job_id) + 1));
	/* "no operation left" for a job that ended means its cleanup is over */
	if (f->idle_too_early == NULL && stored != NULL && ucv_job_state_is_final(stored->state) &&
	    (g_file_test(dir, G_FILE_TEST_EXISTS) || stored_domain_count(f, job_id) > 0))
		f->idle_too_early = g_strdup_printf(
			"job-idle for %s (%s) while its files or domains were still being removed",
			job_id, ucv_job_state_to_string(stored->state));
}

static void
make_base_image(const gchar *image_dir)
{
	g_autofree gchar *path = g_build_filename(image_dir, IMAGE ".qcow2", NULL);
	const gchar *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", path, "16M", NULL};
	g_autoptr(GError) error = NULL;
	gint status = 0;

	g_assert_cmpint(g_mkdir_with_parents(image_dir, 0755), ==, 0);
	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
		     &status, &error);
	g_assert_no_error(error);
	g_spawn_check_wait_status(status, &error);
	g_assert_no_error(error);
}

static void
store_open(Fixture *f)
{
	g_autoptr(GError) error = NULL;

	if (f->store != NULL)
		return;
	f->store = ucv_store_open(f->db_path, &error);
	g_assert_no_error(error);
}

/* A daemon start: a fresh hypervisor (whose "connected" triggers reconciliation) and engine. */
static void
engine_start(Fixture *f)
{
	g_autoptr(GError) error = NULL;

	f->hypervisor = ucv_hypervisor_new(TEST_URI);
	g_assert_true(ucv_hypervisor_connect(f->hypervisor, &error));
	g_assert_no_error(error);
	/* opened after the hypervisor, whose class puts libvirt's events on the GLib loop */
	if (f->admin == NULL)
		f->admin = virConnectOpen(TEST_URI);
	g_assert_nonnull(f->admin);
	store_open(f);
	f->engine = ucv_engine_new(f->config, f->products, f->store, f->hypervisor, f->core);
	g_signal_connect(f->engine, "job-idle", G_CALLBACK(on_job_idle), f);
	g_assert_true(ucv_engine_start(f->engine, &error));
	g_assert_no_error(error);
}

/* A daemon stop: the engine is gone once its background work let go of it. */
static void
engine_stop(Fixture *f)
{
	g_signal_handlers_disconnect_by_data(f->engine, f);
	ucv_test_loop_release(&f->engine, 30 * 1000);
	g_clear_object(&f->hypervisor);
	g_clear_object(&f->store);
	g_hash_table_remove_all(f->idle_counts);
	while (g_main_context_iteration(NULL, FALSE))
		;
}

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	f->tmp_dir = g_dir_make_tmp("ucv-test-engine-XXXXXX", &error);
	g_assert_no_error(error);
	f->db_path = g_build_filename(f->tmp_dir, "ucloud-virt.db", NULL);
	f->config = ucv_test_engine_config_new(f->tmp_dir);
	make_base_image(f->config->image_dir);

	f->products = ucv_product_list_parse(products_json, strlen(products_json), &error);
	g_assert_no_error(error);
	/* nothing listens there: every update stays in the outbox for the tests to read */
	f->core = ucv_core_client_new("http://127.0.0.1:1", "refresh-token");
	f->idle_counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	engine_start(f);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	if (f->engine != NULL)
		engine_stop(f);
	/* the last connection to test:///default takes its domains with it */
	g_clear_pointer(&f->admin, virConnectClose);
	g_clear_object(&f->core);
	g_clear_object(&f->fake_core);
	g_clear_pointer(&f->products, g_ptr_array_unref);
	g_clear_pointer(&f->config, ucv_config_free);
	g_clear_pointer(&f->idle_counts, g_hash_table_unref);
	g_free(f->idle_too_early);
	ucv_test_remove_tree(f->tmp_dir);
	g_free(f->db_path);
	g_free(f->tmp_dir);
}

static void
create_ok(Fixture *f, GPtrArray *jobs)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ucv_engine_create_jobs(f->engine, jobs, &error));
	g_assert_no_error(error);
}

static void
terminate_ok(Fixture *f, const gchar *job_id)
{
	g_autoptr(GPtrArray) ids = g_ptr_array_new();
	g_autoptr(GError) error = NULL;

	g_ptr_array_add(ids, (gpointer)job_id);
	g_assert_true(ucv_engine_terminate_jobs(f->engine, ids, &error));
	g_assert_no_error(error);
}

/* Creates a one-machine job and waits until it runs and provisioning is over. */
static void
create_running(Fixture *f, const gchar *job_id)
{
	g_autoptr(GPtrArray) jobs = job_list(make_job(job_id, 1), NULL);

	create_ok(f, jobs);
	wait_state(f, job_id, UCV_JOB_STATE_RUNNING);
	wait_idle_count(f, job_id, 1);
}

/* --- the tests ----------------------------------------------------------------------------- */

static void
assert_overlay(const gchar *overlay, const gchar *base)
{
	const gchar *argv[] = {"qemu-img", "info", "-U", "--output=json", overlay, NULL};
	g_autofree gchar *out = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) info = NULL;
	JsonObject *obj;
	gint status = 0;

	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
		     NULL, NULL, &out, NULL, &status, &error);
	g_assert_no_error(error);
	g_spawn_check_wait_status(status, &error);
	g_assert_no_error(error);
	info = json_from_string(out, &error);
	g_assert_no_error(error);
	obj = json_node_get_object(info);
	g_assert_cmpstr(json_object_get_string_member(obj, "format"), ==, "qcow2");
	g_assert_cmpstr(json_object_get_string_member_with_default(obj, "backing-filename", NULL),
			==, base);
}

static void
test_create_runs(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) jobs = job_list(make_job("eng-1", 1), NULL);
	g_autoptr(UcvDomainInfo) info = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) statuses = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *overlay = overlay_path(f, "eng-1", 0);
	g_autofree gchar *base = g_build_filename(f->config->image_dir, IMAGE ".qcow2", NULL);
	g_autofree gchar *states = NULL;
	g_autofree gchar *xml = NULL;

	create_ok(f, jobs);
	/* accepted durably before any work is done */
	assert_state(f, "eng-1", UCV_JOB_STATE_IN_QUEUE);
	g_assert_cmpuint(outbox_length(f), ==, 0);

	wait_state(f, "eng-1", UCV_JOB_STATE_RUNNING);
	g_assert_true(domain_is_active(f, "ucloud-eng-1-0"));
	states = outbox_states(f, "eng-1", statuses);
	g_assert_cmpstr(states, ==, "RUNNING");

	info = ucv_hypervisor_lookup_domain(f->hypervisor, "ucloud-eng-1-0", &error);
	g_assert_no_error(error);
	g_assert_nonnull(info);
	g_assert_cmpstr(info->job_id, ==, "eng-1");
	g_assert_cmpuint(info->rank, ==, 0);
	g_assert_true(info->active);
	xml = domain_xml(f, "ucloud-eng-1-0");
	g_assert_nonnull(strstr(xml, "tester#1234"));
	g_assert_nonnull(strstr(xml, PRODUCT));
	g_assert_nonnull(strstr(xml, "eng-app@2"));
	g_assert_nonnull(strstr(xml, overlay));

	g_assert_true(g_file_test(overlay, G_FILE_TEST_IS_REGULAR));
	assert_overlay(overlay, base);
	g_assert_cmpuint(stored_domain_count(f, "eng-1"), ==, 1);
}

typedef struct {
	gboolean both_ran_at_running;
} ReplicaSeen;

static gboolean
cond_running_checked(Fixture *f, gconstpointer data)
{
	ReplicaSeen *seen = (ReplicaSeen *)data;
	g_autoptr(UcvStoredJob) stored = lookup_job(f, "eng-2");

	if (stored == NULL || stored->state != UCV_JOB_STATE_RUNNING)
		return FALSE;
	/* looked at in the very iteration that recorded RUNNING */
	seen->both_ran_at_running =
		domain_is_active(f, "ucloud-eng-2-0") && domain_is_active(f, "ucloud-eng-2-1");
	return TRUE;
}

static void
test_replicas(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) jobs = job_list(make_job("eng-2", 2), NULL);
	g_autofree gchar *states = NULL;
	ReplicaSeen seen = {FALSE};

	create_ok(f, jobs);
	wait_until(f, cond_running_checked, &seen, "job eng-2 to be RUNNING");
	/* RUNNING means every machine runs, not the first one */
	g_assert_true(seen.both_ran_at_running);
	wait_idle_count(f, "eng-2", 1);
	ucv_test_loop_spin(SETTLE_MS);

	g_assert_true(domain_is_active(f, "ucloud-eng-2-0"));
	g_assert_true(domain_is_active(f, "ucloud-eng-2-1"));
	g_assert_false(domain_exists(f, "ucloud-eng-2-2"));
	for (guint rank = 0; rank < 2; rank++) {
		g_autofree gchar *overlay = overlay_path(f, "eng-2", rank);
		g_assert_true(g_file_test(overlay, G_FILE_TEST_IS_REGULAR));
	}
	g_assert_cmpuint(stored_domain_count(f, "eng-2"), ==, 2);
	states = outbox_states(f, "eng-2", NULL);
	g_assert_cmpstr(states, ==, "RUNNING");
}

/* Creating `jobs` fails as invalid, with `needle` in the message, and leaves no trace. */
static void
assert_create_refused(Fixture *f, GPtrArray *jobs, const gchar *needle)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(ucv_engine_create_jobs(f->engine, jobs, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	if (needle != NULL && strstr(error->message, needle) == NULL)
		g_error("error \"%s\" does not mention \"%s\"", error->message, needle);
	g_assert_cmpuint(count_jobs(f), ==, 0);
	g_assert_cmpuint(outbox_length(f), ==, 0);
}

static void
test_validation(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) unknown_product = job_list(
		make_job_full("bad-1", 1, "no-such-product", "VIRTUAL_MACHINE", IMAGE), NULL);
	g_autoptr(GPtrArray) docker =
		job_list(make_job_full("bad-2", 1, PRODUCT, "DOCKER", IMAGE), NULL);
	g_autoptr(GPtrArray) no_machines = job_list(make_job("bad-3", 0), NULL);
	g_autoptr(GPtrArray) no_image =
		job_list(make_job_full("bad-4", 1, PRODUCT, "VIRTUAL_MACHINE", NULL), NULL);
	g_autoptr(GPtrArray) empty_image =
		job_list(make_job_full("bad-5", 1, PRODUCT, "VIRTUAL_MACHINE", ""), NULL);
	g_autoptr(GPtrArray) good_then_bad = job_list(
		make_job("good-1", 1), make_job_full("bad-7", 1, PRODUCT, "DOCKER", IMAGE), NULL);
	g_autoptr(GPtrArray) bad_then_good =
		job_list(make_job_full("bad-8", 1, "no-such-product", "VIRTUAL_MACHINE", IMAGE),
			 make_job("good-2", 1), NULL);
	g_autofree gchar *jobs_dir = g_build_filename(f->config->state_dir, "jobs", NULL);
	g_autoptr(GDir) dir = NULL;

	assert_create_refused(f, unknown_product, "no-such-product");
	assert_create_refused(f, docker, "DOCKER");
	assert_create_refused(f, no_machines, "bad-3");
	assert_create_refused(f, no_image, "bad-4");
	assert_create_refused(f, empty_image, "bad-5");
	assert_create_refused(f, good_then_bad, "DOCKER");
	assert_create_refused(f, bad_then_good, "no-such-product");

	/* and nothing was started in the background either */
	ucv_test_loop_spin(SETTLE_MS);
	g_assert_false(domain_exists(f, "ucloud-good-1-0"));
	g_assert_false(domain_exists(f, "ucloud-good-2-0"));
	g_assert_cmpuint(count_jobs(f), ==, 0);
	g_assert_cmpuint(g_hash_table_size(f->idle_counts), ==, 0);
	dir = g_dir_open(jobs_dir, 0, NULL);
	g_assert_nonnull(dir);
	g_assert_null(g_dir_read_name(dir));
}

/* The documented API may leave resolvedApplication out: the job is accepted and its application
 * fetched from Core before provisioning; while Core cannot be reached it waits in the queue. */
static void
test_unresolved_waits(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) jobs = job_list(make_job_full("eng-15", 1, PRODUCT, NULL, NULL), NULL);
	g_autofree gchar *states = NULL;
	g_autofree gchar *states_after = NULL;

	create_ok(f, jobs);
	assert_state(f, "eng-15", UCV_JOB_STATE_IN_QUEUE);
	/* the attempt to ask Core is over */
	wait_idle_count(f, "eng-15", 1);
	ucv_test_loop_spin(SETTLE_MS);
	assert_state(f, "eng-15", UCV_JOB_STATE_IN_QUEUE);
	g_assert_false(domain_exists(f, "ucloud-eng-15-0"));
	states = outbox_states(f, "eng-15", NULL);
	g_assert_cmpstr(states, ==, "");

	terminate_ok(f, "eng-15");
	wait_state(f, "eng-15", UCV_JOB_STATE_SUCCESS);
	assert_cleaned_up(f, "eng-15", 1);
	states_after = outbox_states(f, "eng-15", NULL);
	g_assert_cmpstr(states_after, ==, "SUCCESS");
}

static void
test_repeated_create(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) first = job_list(make_job("eng-3", 1), NULL);
	g_autoptr(GPtrArray) again = job_list(make_job("eng-3", 1), NULL);
	g_autoptr(GPtrArray) later = job_list(make_job("eng-3", 1), make_job("eng-4", 1), NULL);
	g_autofree gchar *states = NULL;
	g_autofree gchar *states_4 = NULL;

	/* Core repeats a create whose answer it did not see, even before any work was done */
	create_ok(f, first);
	create_ok(f, again);
	wait_state(f, "eng-3", UCV_JOB_STATE_RUNNING);
	wait_idle_count(f, "eng-3", 1);
	ucv_test_loop_spin(SETTLE_MS);
	g_assert_cmpuint(idle_count(f, "eng-3"), ==, 1);

	/* and after the job runs, in a batch with a new job */
	create_ok(f, later);
	wait_state(f, "eng-4", UCV_JOB_STATE_RUNNING);
	wait_idle_count(f, "eng-4", 1);
	ucv_test_loop_spin(SETTLE_MS);

	g_assert_cmpuint(count_jobs(f), ==, 2);
	g_assert_cmpuint(idle_count(f, "eng-3"), ==, 1);
	g_assert_cmpuint(stored_domain_count(f, "eng-3"), ==, 1);
	g_assert_false(domain_exists(f, "ucloud-eng-3-1"));
	g_assert_true(domain_is_active(f, "ucloud-eng-3-0"));
	g_assert_true(domain_is_active(f, "ucloud-eng-4-0"));
	states = outbox_states(f, "eng-3", NULL);
	g_assert_cmpstr(states, ==, "RUNNING");
	states_4 = outbox_states(f, "eng-4", NULL);
	g_assert_cmpstr(states_4, ==, "RUNNING");
	g_assert_cmpuint(outbox_length(f), ==, 2);
}

static void
test_terminate(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) statuses = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *states = NULL;
	g_autofree gchar *states_after = NULL;
	guint idles;

	create_running(f, "eng-5");
	g_assert_true(g_file_test(f->config->state_dir, G_FILE_TEST_IS_DIR));
	terminate_ok(f, "eng-5");
	wait_state(f, "eng-5", UCV_JOB_STATE_SUCCESS);
	/* SUCCESS is reported only once everything is gone */
	assert_cleaned_up(f, "eng-5", 1);
	states = outbox_states(f, "eng-5", statuses);
	g_assert_cmpstr(states, ==, "RUNNING,SUCCESS");
	/* our own destroy is not mistaken for an administrator's */
	g_assert_null(strstr(g_ptr_array_index(statuses, 1), OUTSIDE_STATUS));

	/* again, and an id nobody knows: both fine, with nothing more to do or to tell Core */
	idles = idle_count(f, "eng-5");
	terminate_ok(f, "eng-5");
	terminate_ok(f, "never-created");
	ucv_test_loop_spin(SETTLE_MS);
	g_assert_cmpuint(idle_count(f, "eng-5"), ==, idles);
	states_after = outbox_states(f, "eng-5", NULL);
	g_assert_cmpstr(states_after, ==, "RUNNING,SUCCESS");
	g_assert_cmpuint(outbox_length(f), ==, 2);
	g_assert_null(lookup_job(f, "never-created"));
	assert_state(f, "eng-5", UCV_JOB_STATE_SUCCESS);
}

static void
test_terminate_replicas(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) jobs = job_list(make_job("eng-6", 3), NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *states = NULL;

	create_ok(f, jobs);
	wait_state(f, "eng-6", UCV_JOB_STATE_RUNNING);
	/* every rank's machine goes, even one the store has no record of */
	g_assert_true(ucv_store_remove_domains(f->store, "eng-6", &error));
	g_assert_no_error(error);
	terminate_ok(f, "eng-6");
	wait_state(f, "eng-6", UCV_JOB_STATE_SUCCESS);
	assert_cleaned_up(f, "eng-6", 3);
	ucv_test_loop_spin(SETTLE_MS);
	states = outbox_states(f, "eng-6", NULL);
	g_assert_cmpstr(states, ==, "RUNNING,SUCCESS");
}

static void
test_terminate_while_provisioning(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) jobs = job_list(make_job("eng-7", 2), NULL);
	g_autofree gchar *states = NULL;

	create_ok(f, jobs);
	/* before the loop ran once: image lookup, overlay and start are all still ahead */
	terminate_ok(f, "eng-7");
	wait_state(f, "eng-7", UCV_JOB_STATE_SUCCESS);
	ucv_test_loop_spin(SETTLE_MS);
	assert_cleaned_up(f, "eng-7", 2);
	states = outbox_states(f, "eng-7", NULL);
	g_assert_cmpstr(states, ==, "SUCCESS");
}

static void
test_terminate_mid_provisioning(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) jobs = job_list(make_job("eng-8", 2), NULL);
	g_autofree gchar *states = NULL;

	create_ok(f, jobs);
	/* the first machine exists, the second one is on its way */
	wait_until(f, cond_domain_active, "ucloud-eng-8-0", "ucloud-eng-8-0 to run");
	terminate_ok(f, "eng-8");
	wait_state(f, "eng-8", UCV_JOB_STATE_SUCCESS);
	ucv_test_loop_spin(SETTLE_MS);
	assert_cleaned_up(f, "eng-8", 2);
	states = outbox_states(f, "eng-8", NULL);
	g_assert_true(g_strcmp0(states, "SUCCESS") == 0 ||
		      g_strcmp0(states, "RUNNING,SUCCESS") == 0);
}

static void
test_destroyed_outside(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) statuses = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *states = NULL;
	g_autoptr(UcvStoredJob) stored = NULL;
	virDomainPtr dom;

	create_running(f, "eng-9");
	/* an administrator's `virsh destroy`, on a connection of their own */
	dom = virDomainLookupByName(f->admin, "ucloud-eng-9-0");
	g_assert_nonnull(dom);
	g_assert_cmpint(virDomainDestroy(dom), ==, 0);
	virDomainFree(dom);

	wait_state(f, "eng-9", UCV_JOB_STATE_SUCCESS);
	stored = lookup_job(f, "eng-9");
	g_assert_nonnull(strstr(stored->status, OUTSIDE_STATUS));
	wait_cleaned_up(f, "eng-9");
	ucv_test_loop_spin(SETTLE_MS);
	states = outbox_states(f, "eng-9", statuses);
	g_assert_cmpstr(states, ==, "RUNNING,SUCCESS");
	g_assert_nonnull(strstr(g_ptr_array_index(statuses, 1), OUTSIDE_STATUS));
}

static void
test_guest_poweroff(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) statuses = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *states = NULL;
	virDomainPtr dom;

	create_running(f, "eng-16");
	/* the guest shuts itself down (the test driver's shutdown is immediate) */
	dom = virDomainLookupByName(f->admin, "ucloud-eng-16-0");
	g_assert_nonnull(dom);
	g_assert_cmpint(virDomainShutdown(dom), ==, 0);
	virDomainFree(dom);

	wait_state(f, "eng-16", UCV_JOB_STATE_SUCCESS);
	wait_cleaned_up(f, "eng-16");
	ucv_test_loop_spin(SETTLE_MS);
	states = outbox_states(f, "eng-16", statuses);
	g_assert_cmpstr(states, ==, "RUNNING,SUCCESS");
	g_assert_nonnull(strstr(g_ptr_array_index(statuses, 1), "powered off"));
}

/* "job-idle" promises that the job has no operation left: for a job that failed, that its
 * cleanup is over too. */
static void
test_job_idle_contract(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) jobs = job_list(
		make_job_full("eng-17", 1, PRODUCT, "VIRTUAL_MACHINE", "no-such-image"), NULL);

	create_ok(f, jobs);
	wait_state(f, "eng-17", UCV_JOB_STATE_FAILURE);
	wait_cleaned_up(f, "eng-17");
	ucv_test_loop_spin(SETTLE_MS);
	g_assert_null(f->idle_too_early);
	g_assert_cmpuint(idle_count(f, "eng-17"), >=, 1);
}

static void
test_missing_image(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) jobs = job_list(
		make_job_full("eng-10", 1, PRODUCT, "VIRTUAL_MACHINE", "no-such-image"), NULL);
	g_autoptr(GPtrArray) statuses = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(UcvStoredJob) stored = NULL;
	g_autofree gchar *states = NULL;

	create_ok(f, jobs);
	wait_state(f, "eng-10", UCV_JOB_STATE_FAILURE);
	stored = lookup_job(f, "eng-10");
	g_assert_nonnull(strstr(stored->status, "no-such-image"));
	wait_cleaned_up(f, "eng-10");
	ucv_test_loop_spin(SETTLE_MS);
	g_assert_false(domain_exists(f, "ucloud-eng-10-0"));
	states = outbox_states(f, "eng-10", statuses);
	g_assert_cmpstr(states, ==, "FAILURE");
	g_assert_nonnull(strstr(g_ptr_array_index(statuses, 0), "no-such-image"));
}

/* A running domain with the provider's metadata, defined by someone else. */
static void
define_domain_outside(Fixture *f, const gchar *job_id)
{
	g_autofree gchar *name = ucv_domain_name_for(job_id, 0);
	const UcvDomainSpec spec = {
		.name = name,
		.title = "defined outside the engine",
		.domain_type = "test",
		.vcpus = 1,
		.memory_mib = 128,
		.disk_path = "/nonexistent/stray.qcow2",
		.disk_format = "qcow2",
		.console_log = "/nonexistent/stray.log",
		.vnc_socket = "/nonexistent/stray.sock",
		.job_id = job_id,
		.rank = 0,
		.owner = "admin",
		.product = PRODUCT,
		.application = "stray@1",
	};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xml = ucv_domain_xml_render(&spec, &error);
	virDomainPtr dom;

	g_assert_no_error(error);
	dom = virDomainDefineXML(f->admin, xml);
	g_assert_nonnull(dom);
	g_assert_cmpint(virDomainCreate(dom), ==, 0);
	virDomainFree(dom);
}

static void
remove_domain_outside(Fixture *f, const gchar *name)
{
	virDomainPtr dom = virDomainLookupByName(f->admin, name);

	g_assert_nonnull(dom);
	g_assert_cmpint(virDomainDestroy(dom), ==, 0);
	g_assert_cmpint(virDomainUndefine(dom), ==, 0);
	virDomainFree(dom);
}

static void
test_reconcile(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) queued = job_list(make_job("eng-13", 1), NULL);
	g_autoptr(GPtrArray) statuses = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(UcvStoredJob) gone = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *states_gone = NULL;
	g_autofree gchar *states_kept = NULL;
	g_autofree gchar *states_queued = NULL;

	create_running(f, "eng-11");
	create_running(f, "eng-12");
	engine_stop(f);

	/* while the provider is away: one machine vanishes, a stranger appears, and a job that
	 * was accepted just before the stop never got its machine */
	remove_domain_outside(f, "ucloud-eng-11-0");
	define_domain_outside(f, "stray");
	store_open(f);
	g_assert_true(ucv_store_insert_jobs(f->store, queued, &error));
	g_assert_no_error(error);

	engine_start(f);
	wait_state(f, "eng-11", UCV_JOB_STATE_FAILURE);
	gone = lookup_job(f, "eng-11");
	g_assert_nonnull(strstr(gone->status, "disappeared"));
	wait_cleaned_up(f, "eng-11");
	wait_state(f, "eng-13", UCV_JOB_STATE_RUNNING);
	wait_idle_count(f, "eng-13", 1);
	ucv_test_loop_spin(SETTLE_MS);

	states_gone = outbox_states(f, "eng-11", statuses);
	g_assert_cmpstr(states_gone, ==, "RUNNING,FAILURE");
	g_assert_nonnull(strstr(g_ptr_array_index(statuses, 1), "disappeared"));
	/* the machine that kept running is left as it was */
	assert_state(f, "eng-12", UCV_JOB_STATE_RUNNING);
	g_assert_true(domain_is_active(f, "ucloud-eng-12-0"));
	states_kept = outbox_states(f, "eng-12", NULL);
	g_assert_cmpstr(states_kept, ==, "RUNNING");
	g_assert_cmpuint(idle_count(f, "eng-12"), ==, 0);
	/* the queued job was provisioned */
	g_assert_true(domain_is_active(f, "ucloud-eng-13-0"));
	states_queued = outbox_states(f, "eng-13", NULL);
	g_assert_cmpstr(states_queued, ==, "RUNNING");
	/* never ours to destroy */
	g_assert_true(domain_is_active(f, "ucloud-stray-0"));
	g_assert_null(lookup_job(f, "stray"));
}

static void
test_reconcile_stopped_and_started(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) queued = job_list(make_job("eng-19", 1), NULL);
	g_autoptr(GPtrArray) statuses = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *states_stopped = NULL;
	g_autofree gchar *states_started = NULL;
	g_autofree gchar *overlay = overlay_path(f, "eng-19", 0);
	virDomainPtr dom;

	create_running(f, "eng-18");
	engine_stop(f);

	/* while the provider is away: one machine stops (but stays defined), and a job whose
	 * machine was started just before the crash never had RUNNING recorded */
	dom = virDomainLookupByName(f->admin, "ucloud-eng-18-0");
	g_assert_nonnull(dom);
	g_assert_cmpint(virDomainDestroy(dom), ==, 0);
	virDomainFree(dom);
	store_open(f);
	g_assert_true(ucv_store_insert_jobs(f->store, queued, &error));
	g_assert_no_error(error);
	define_domain_outside(f, "eng-19");

	engine_start(f);
	wait_state(f, "eng-18", UCV_JOB_STATE_SUCCESS);
	wait_cleaned_up(f, "eng-18");
	wait_state(f, "eng-19", UCV_JOB_STATE_RUNNING);
	ucv_test_loop_spin(SETTLE_MS);

	states_stopped = outbox_states(f, "eng-18", statuses);
	g_assert_cmpstr(states_stopped, ==, "RUNNING,SUCCESS");
	g_assert_nonnull(strstr(g_ptr_array_index(statuses, 1), "away"));
	/* the running machine was adopted, not provisioned again */
	states_started = outbox_states(f, "eng-19", NULL);
	g_assert_cmpstr(states_started, ==, "RUNNING");
	g_assert_true(domain_is_active(f, "ucloud-eng-19-0"));
	g_assert_false(g_file_test(overlay, G_FILE_TEST_EXISTS));
}

static void
test_reconcile_running_idle(Fixture *f, gconstpointer data)
{
	g_autofree gchar *states = NULL;

	create_running(f, "eng-14");
	engine_stop(f);
	engine_start(f);
	ucv_test_loop_spin(SETTLE_MS);
	/* found running after a restart: nothing to do, nothing to report */
	assert_state(f, "eng-14", UCV_JOB_STATE_RUNNING);
	g_assert_true(domain_is_active(f, "ucloud-eng-14-0"));
	states = outbox_states(f, "eng-14", NULL);
	g_assert_cmpstr(states, ==, "RUNNING");

	/* and the new engine still owns it */
	terminate_ok(f, "eng-14");
	wait_state(f, "eng-14", UCV_JOB_STATE_SUCCESS);
	assert_cleaned_up(f, "eng-14", 1);
}

/* A terminate cut short by a crash (the mark is stored, cleanup never ran): the next start
 * finishes it instead of reporting a vanished or a stopped machine. */
static void
test_reconcile_interrupted_terminate(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) statuses = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *states = NULL;

	create_running(f, "eng-20");
	engine_stop(f);
	store_open(f);
	g_assert_true(ucv_store_mark_terminating(f->store, "eng-20", &error));
	g_assert_no_error(error);

	engine_start(f);
	wait_state(f, "eng-20", UCV_JOB_STATE_SUCCESS);
	wait_cleaned_up(f, "eng-20");
	states = outbox_states(f, "eng-20", statuses);
	g_assert_cmpstr(states, ==, "RUNNING,SUCCESS");
	g_assert_nonnull(strstr(g_ptr_array_index(statuses, 1), "cancelled"));
}

/* --- time --------------------------------------------------------------------------------- */

/* The standard one-machine VM job with the first `from` in its JSON replaced by `to`. */
static UcvJob *
make_job_replacing(const gchar *id, const gchar *from, const gchar *to)
{
	g_autofree gchar *resolved = resolved_application("VIRTUAL_MACHINE", IMAGE);
	g_autofree gchar *json = job_json_full(id, 1, PRODUCT, resolved);
	g_auto(GStrv) parts = g_strsplit(json, from, 2);
	g_autofree gchar *changed = g_strjoinv(to, parts);
	g_autoptr(GError) error = NULL;
	UcvJob *job = ucv_job_new_from_string(changed, &error);

	g_assert_no_error(error);
	return job;
}

/* A job whose specification carries a timeAllocation of `seconds`. */
static UcvJob *
make_timed_job(const gchar *id, guint seconds)
{
	g_autofree gchar *allocation = g_strdup_printf(
		"\"timeAllocation\":{\"hours\":0,\"minutes\":0,\"seconds\":%u}", seconds);

	return make_job_replacing(id, "\"timeAllocation\":null", allocation);
}

/* The newTimeAllocation of the job's newest outbox entry that carries one, or 0. */
static gint64
outbox_new_time(Fixture *f, const gchar *job_id)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) entries = ucv_store_outbox_peek(f->store, OUTBOX_LIMIT, &error);
	gint64 found = 0;

	g_assert_no_error(error);
	for (guint i = 0; i < entries->len; i++) {
		UcvOutboxEntry *entry = g_ptr_array_index(entries, i);
		g_autoptr(JsonNode) node = NULL;
		JsonObject *update;

		if (g_strcmp0(entry->job_id, job_id) != 0)
			continue;
		node = json_from_string(entry->update_json, &error);
		update = json_node_get_object(node);
		if (!json_object_get_null_member(update, "newTimeAllocation"))
			found = json_object_get_int_member(update, "newTimeAllocation");
	}
	return found;
}

static void
extend_ok(Fixture *f, const gchar *job_id, gint64 added_ms)
{
	g_autoptr(GPtrArray) ids = g_ptr_array_new();
	g_autoptr(GArray) added = g_array_new(FALSE, FALSE, sizeof(gint64));
	g_autoptr(GError) error = NULL;

	g_ptr_array_add(ids, (gpointer)job_id);
	g_array_append_val(added, added_ms);
	g_assert_true(ucv_engine_extend_jobs(f->engine, ids, added, &error));
	g_assert_no_error(error);
}

/* The allocation counts from RUNNING; at the deadline the machine goes and EXPIRED is told. */
static void
test_time_expiry(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) jobs = job_list(make_timed_job("eng-t1", 2), NULL);
	g_autoptr(UcvStoredJob) stored = NULL;
	g_autofree gchar *states = NULL;

	create_ok(f, jobs);
	wait_state(f, "eng-t1", UCV_JOB_STATE_RUNNING);
	stored = lookup_job(f, "eng-t1");
	g_assert_cmpint(stored->time_allocation_ms, ==, 2000);
	g_assert_cmpint(stored->deadline_ms, >, g_get_real_time() / 1000);
	wait_state(f, "eng-t1", UCV_JOB_STATE_EXPIRED);
	wait_cleaned_up(f, "eng-t1");
	states = outbox_states(f, "eng-t1", NULL);
	g_assert_cmpstr(states, ==, "RUNNING,EXPIRED");
}

/* extend moves the deadline and tells Core the whole new allocation. */
static void
test_time_extend(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) jobs = job_list(make_timed_job("eng-t2", 2), NULL);
	g_autoptr(UcvStoredJob) before = NULL;
	g_autoptr(UcvStoredJob) after = NULL;

	create_ok(f, jobs);
	wait_state(f, "eng-t2", UCV_JOB_STATE_RUNNING);
	before = lookup_job(f, "eng-t2");
	extend_ok(f, "eng-t2", 60000);
	after = lookup_job(f, "eng-t2");
	g_assert_cmpint(after->time_allocation_ms, ==, 62000);
	g_assert_cmpint(after->deadline_ms, ==, before->deadline_ms + 60000);
	g_assert_cmpint(outbox_new_time(f, "eng-t2"), ==, 62000);
	ucv_test_loop_spin(3000);
	assert_state(f, "eng-t2", UCV_JOB_STATE_RUNNING);
}

/* A job without an allocation is not given one by extend; unknown jobs fail the whole call. */
static void
test_time_extend_unlimited_and_unknown(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) ids = g_ptr_array_new();
	g_autoptr(GArray) added = g_array_new(FALSE, FALSE, sizeof(gint64));
	g_autoptr(UcvStoredJob) stored = NULL;
	g_autoptr(GError) error = NULL;
	gint64 hour = 3600000;

	create_running(f, "eng-t3");
	extend_ok(f, "eng-t3", hour);
	stored = lookup_job(f, "eng-t3");
	g_assert_cmpint(stored->time_allocation_ms, ==, 0);
	g_assert_cmpint(outbox_new_time(f, "eng-t3"), ==, 0);

	g_ptr_array_add(ids, (gpointer) "eng-t3");
	g_ptr_array_add(ids, (gpointer) "no-such-job");
	g_array_append_val(added, hour);
	g_array_append_val(added, hour);
	g_assert_false(ucv_engine_extend_jobs(f->engine, ids, added, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND);
}

/* The site's default limit applies to jobs that come without an allocation. */
static void
test_time_default_limit(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) jobs = job_list(make_job("eng-t4", 1), NULL);

	f->config->default_time_limit_s = 2;
	create_ok(f, jobs);
	wait_state(f, "eng-t4", UCV_JOB_STATE_RUNNING);
	wait_state(f, "eng-t4", UCV_JOB_STATE_EXPIRED);
}

/* The deadline is in the store: it passes while the provider is away, and the next start
 * expires the job. */
static void
test_time_deadline_survives_restart(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) jobs = job_list(make_timed_job("eng-t5", 2), NULL);

	create_ok(f, jobs);
	wait_state(f, "eng-t5", UCV_JOB_STATE_RUNNING);
	engine_stop(f);
	ucv_test_loop_spin(2500);
	engine_start(f);
	wait_state(f, "eng-t5", UCV_JOB_STATE_EXPIRED);
	wait_cleaned_up(f, "eng-t5");
}

/* --- disks ------------------------------------------------------------------------------- */

static gint64
virtual_size(const gchar *image)
{
	const gchar *argv[] = {"qemu-img", "info", "-U", "--output=json", image, NULL};
	g_autofree gchar *out = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) info = NULL;

	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
		     NULL, NULL, &out, NULL, NULL, &error);
	g_assert_no_error(error);
	info = json_from_string(out, &error);
	g_assert_no_error(error);
	return json_object_get_int_member(json_node_get_object(info), "virtual-size");
}

/* A job with the diskSize parameter `gib`. */
static UcvJob *
make_sized_job(const gchar *id, guint gib)
{
	g_autofree gchar *sized_parameter = g_strdup_printf(
		"\"parameters\":{\"diskSize\":{\"type\":\"integer\",\"value\":%u},", gib);
	UcvJob *job = make_job_replacing(id, "\"parameters\":{", sized_parameter);

	g_assert_cmpint(job->disk_size_gib, ==, gib);
	return job;
}

/* diskSize sizes the overlay; without it the site's default does. */
static void
test_disk_size(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) sized = job_list(make_sized_job("eng-d1", 3), NULL);
	g_autoptr(GPtrArray) plain = job_list(make_job("eng-d2", 1), NULL);
	g_autofree gchar *sized_disk = overlay_path(f, "eng-d1", 0);
	g_autofree gchar *plain_disk = overlay_path(f, "eng-d2", 0);
	gint64 gib = 1024 * 1024 * 1024;

	create_ok(f, sized);
	create_ok(f, plain);
	wait_state(f, "eng-d1", UCV_JOB_STATE_RUNNING);
	wait_state(f, "eng-d2", UCV_JOB_STATE_RUNNING);
	g_assert_cmpint(virtual_size(sized_disk), ==, 3 * gib);
	g_assert_cmpint(virtual_size(plain_disk), ==, (gint64)f->config->disk_default_gib * gib);
}

/* A size outside the site's range is refused at create, naming the range. */
static void
test_disk_size_out_of_range(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) huge = job_list(make_sized_job("eng-d3", 5000), NULL);
	g_autoptr(GError) error = NULL;

	g_assert_false(ucv_engine_create_jobs(f->engine, huge, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "1 to 1024 GiB"));
	g_assert_cmpuint(count_jobs(f), ==, 0);
}

/* --- SSH keys ---------------------------------------------------------------------------- */

/* A public key in OpenSSH form whose blob is a well-formed ssh-ed25519 key made of `fill`. */
static gchar *
make_key(guchar fill, const gchar *comment)
{
	guchar blob[4 + 11 + 4 + 32] = {0,   0,   0,   11,  's', 's', 'h', '-', 'e', 'd',
					'2', '5', '5', '1', '9', 0,   0,   0,   32};
	g_autofree gchar *encoded = NULL;

	memset(blob + 19, fill, 32);
	encoded = g_base64_encode(blob, sizeof(blob));
	return g_strdup_printf("ssh-ed25519 %s %s", encoded, comment);
}

/* A job of `owner` with `replicas` machines and sshEnabled set as asked. */
static UcvJob *
make_ssh_job(const gchar *id, const gchar *owner, guint replicas, gboolean ssh)
{
	g_autofree gchar *resolved = resolved_application("VIRTUAL_MACHINE", IMAGE);
	g_autofree gchar *json = job_json_full(id, replicas, PRODUCT, resolved);
	g_auto(GStrv) by_owner = g_strsplit(json, "tester#1234", 2);
	g_autofree gchar *owned = g_strjoinv(owner, by_owner);
	g_auto(GStrv) by_ssh = g_strsplit(owned, "\"sshEnabled\":false", 2);
	g_autofree gchar *changed =
		g_strjoinv(ssh ? "\"sshEnabled\":true" : "\"sshEnabled\":false", by_ssh);
	g_autoptr(GError) error = NULL;
	UcvJob *job = ucv_job_new_from_string(changed, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(job->created_by, ==, owner);
	g_assert_true(job->ssh_enabled == ssh);
	return job;
}

/* A daemon start with a Core that answers: browseSshKeys returns the keys added to it. */
static void
engine_restart_with_fake_core(Fixture *f)
{
	g_autofree gchar *dir = g_build_filename(f->tmp_dir, "core", NULL);
	g_autoptr(GError) error = NULL;

	engine_stop(f);
	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	f->fake_core = ucv_fake_core_new(dir, &error);
	g_assert_no_error(error);
	g_assert_true(ucv_fake_core_listen(f->fake_core, 0, &error));
	g_assert_no_error(error);
	g_clear_object(&f->core);
	f->core = ucv_core_client_new(ucv_fake_core_get_url(f->fake_core),
				      ucv_fake_core_get_refresh_token(f->fake_core));
	engine_start(f);
}

/* The user-data of the rank's cloud-init seed, as the guest will read it. */
static gchar *
seed_user_data(Fixture *f, const gchar *job_id, guint rank)
{
	g_autofree gchar *iso = ucv_job_files_seed(f->config->state_dir, job_id, rank);
	const gchar *argv[] = {"isoinfo", "-R", "-i", iso, "-x", "/user-data", NULL};
	g_autoptr(GError) error = NULL;
	gchar *out = NULL;
	gint status = 0;

	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
		     NULL, NULL, &out, NULL, &status, &error);
	g_assert_no_error(error);
	g_spawn_check_wait_status(status, &error);
	g_assert_no_error(error);
	return out;
}

/* The seed file's inode: a rewrite renames a new file over it. */
static guint64
seed_inode(Fixture *f, const gchar *job_id, guint rank)
{
	g_autofree gchar *iso = ucv_job_files_seed(f->config->state_dir, job_id, rank);
	GStatBuf st;

	g_assert_cmpint(g_stat(iso, &st), ==, 0);
	return (guint64)st.st_ino;
}

static gint
domain_id(Fixture *f, const gchar *name)
{
	virDomainPtr dom = virDomainLookupByName(f->admin, name);
	gint id;

	g_assert_nonnull(dom);
	id = (gint)virDomainGetID(dom);
	virDomainFree(dom);
	return id;
}

static void
assert_seed_has_key(Fixture *f, const gchar *job_id, guint rank, const gchar *key, gboolean has)
{
	g_autofree gchar *user_data = seed_user_data(f, job_id, rank);
	g_autofree gchar *quoted = g_strdup_printf("\n      - \"%s\"\n", key);

	if ((strstr(user_data, quoted) != NULL) != has)
		g_error("the seed of %s rank %u %s key %s:\n%s", job_id, rank,
			has ? "lacks" : "still has", key, user_data);
}

/* No line of the user-data starts a key of its own except those the provider writes. */
static void
assert_no_injection(const gchar *user_data)
{
	g_auto(GStrv) lines = g_strsplit(user_data, "\n", -1);

	for (guint i = 0; lines[i] != NULL; i++) {
		g_assert_false(g_str_has_prefix(lines[i], "runcmd:"));
		g_assert_false(g_str_has_prefix(lines[i], "ssh_pwauth: true"));
		g_assert_null(strstr(lines[i], "pwned"));
	}
}

/* keyUploaded with the keys in the body: the seeds of every machine of the user's running jobs
 * with SSH get exactly those keys, the machines keep running, and nobody else's seed changes. */
static void
test_ssh_keys_uploaded(Fixture *f, gconstpointer data)
{
	g_autofree gchar *old_key = make_key(1, "old@laptop");
	g_autofree gchar *new_key = make_key(2, "new@laptop");
	/* a printable comment stays inside its YAML scalar */
	g_autofree gchar *odd_key = make_key(3, "evil\" ssh_pwauth: true");
	/* a line break could start new cloud-config: such a key is left out */
	g_autofree gchar *valid_start = make_key(4, "x");
	g_autofree gchar *hostile_key =
		g_strconcat(valid_start, "\nruncmd:\n  - [\"touch\", \"/pwned\"]", NULL);
	const gchar *keys[] = {new_key, odd_key, hostile_key, NULL};
	g_autoptr(GPtrArray) jobs = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *user_data = NULL;
	guint64 plain_inode, other_inode;
	gint id0, id1;
	guint n_jobs = 99;

	engine_restart_with_fake_core(f);
	ucv_fake_core_add_ssh_key(f->fake_core, "old", old_key);
	jobs = job_list(make_ssh_job("eng-s1", "tester#1234", 2, TRUE),
			make_ssh_job("eng-s2", "tester#1234", 1, FALSE),
			make_ssh_job("eng-s3", "other#5678", 1, TRUE), NULL);
	create_ok(f, jobs);
	for (guint i = 0; i < jobs->len; i++) {
		UcvJob *job = g_ptr_array_index(jobs, i);
		wait_state(f, job->id, UCV_JOB_STATE_RUNNING);
		wait_idle_count(f, job->id, 1);
	}
	assert_seed_has_key(f, "eng-s1", 0, old_key, TRUE);
	assert_seed_has_key(f, "eng-s1", 1, old_key, TRUE);
	assert_seed_has_key(f, "eng-s3", 0, old_key, TRUE);
	user_data = seed_user_data(f, "eng-s2", 0);
	g_assert_nonnull(strstr(user_data, "ssh_authorized_keys: []\n"));
	plain_inode = seed_inode(f, "eng-s2", 0);
	other_inode = seed_inode(f, "eng-s3", 0);
	id0 = domain_id(f, "ucloud-eng-s1-0");
	id1 = domain_id(f, "ucloud-eng-s1-1");

	g_test_expect_message("ucv-engine", G_LOG_LEVEL_WARNING,
			      "keyUploaded for tester#1234: key 2 is not*");
	g_assert_true(ucv_engine_refresh_ssh_keys(f->engine, "tester#1234", keys, &n_jobs, &error));
	g_assert_no_error(error);
	g_test_assert_expected_messages();
	g_assert_cmpuint(n_jobs, ==, 1);
	wait_idle_count(f, "eng-s1", 2);

	for (guint rank = 0; rank < 2; rank++) {
		g_autofree gchar *seed = seed_user_data(f, "eng-s1", rank);
		assert_seed_has_key(f, "eng-s1", rank, new_key, TRUE);
		assert_seed_has_key(f, "eng-s1", rank, old_key, FALSE);
		g_assert_nonnull(strstr(seed, "\"ssh-ed25519 "));
		g_assert_nonnull(strstr(seed, " evil\\\" ssh_pwauth: true\"\n"));
		assert_no_injection(seed);
	}
	/* the machines were not touched: same domains, still running, nothing told to Core */
	g_assert_true(domain_is_active(f, "ucloud-eng-s1-0"));
	g_assert_true(domain_is_active(f, "ucloud-eng-s1-1"));
	g_assert_cmpint(domain_id(f, "ucloud-eng-s1-0"), ==, id0);
	g_assert_cmpint(domain_id(f, "ucloud-eng-s1-1"), ==, id1);
	assert_state(f, "eng-s1", UCV_JOB_STATE_RUNNING);
	/* other users' jobs and jobs without SSH keep their seeds */
	g_assert_cmpuint(seed_inode(f, "eng-s2", 0), ==, plain_inode);
	g_assert_cmpuint(seed_inode(f, "eng-s3", 0), ==, other_inode);
	assert_seed_has_key(f, "eng-s3", 0, old_key, TRUE);
	assert_seed_has_key(f, "eng-s3", 0, new_key, FALSE);
	g_assert_cmpuint(idle_count(f, "eng-s2"), ==, 1);
	g_assert_cmpuint(idle_count(f, "eng-s3"), ==, 1);

	/* a user without jobs here: nothing to do */
	keys[2] = NULL;
	g_assert_true(ucv_engine_refresh_ssh_keys(f->engine, "nobody#1", keys, &n_jobs, &error));
	g_assert_cmpuint(n_jobs, ==, 0);
}

/* keyUploaded without keys in the body: each job asks Core, as provisioning does. */
static void
test_ssh_keys_fetched(Fixture *f, gconstpointer data)
{
	g_autofree gchar *old_key = make_key(5, "old@desk");
	g_autofree gchar *new_key = make_key(6, "new@desk");
	g_autoptr(GPtrArray) jobs = NULL;
	g_autoptr(GError) error = NULL;
	guint n_jobs = 0;

	engine_restart_with_fake_core(f);
	ucv_fake_core_add_ssh_key(f->fake_core, "old", old_key);
	jobs = job_list(make_ssh_job("eng-s4", "tester#1234", 1, TRUE), NULL);
	create_ok(f, jobs);
	wait_state(f, "eng-s4", UCV_JOB_STATE_RUNNING);
	wait_idle_count(f, "eng-s4", 1);
	assert_seed_has_key(f, "eng-s4", 0, new_key, FALSE);

	ucv_fake_core_add_ssh_key(f->fake_core, "new", new_key);
	g_assert_true(ucv_engine_refresh_ssh_keys(f->engine, "tester#1234", NULL, &n_jobs, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(n_jobs, ==, 1);
	wait_idle_count(f, "eng-s4", 2);
	assert_seed_has_key(f, "eng-s4", 0, old_key, TRUE);
	assert_seed_has_key(f, "eng-s4", 0, new_key, TRUE);
	g_assert_true(domain_is_active(f, "ucloud-eng-s4-0"));
}

/* A job that is being terminated is left alone; its cleanup still removes everything. */
static void
test_ssh_keys_terminating(Fixture *f, gconstpointer data)
{
	g_autofree gchar *key = make_key(7, "k");
	const gchar *keys[] = {key, NULL};
	g_autoptr(GPtrArray) jobs = NULL;
	g_autoptr(GError) error = NULL;
	guint n_jobs = 99;

	engine_restart_with_fake_core(f);
	jobs = job_list(make_ssh_job("eng-s5", "tester#1234", 1, TRUE), NULL);
	create_ok(f, jobs);
	wait_state(f, "eng-s5", UCV_JOB_STATE_RUNNING);
	wait_idle_count(f, "eng-s5", 1);
	terminate_ok(f, "eng-s5");
	g_assert_true(ucv_engine_refresh_ssh_keys(f->engine, "tester#1234", keys, &n_jobs, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(n_jobs, ==, 0);
	wait_state(f, "eng-s5", UCV_JOB_STATE_SUCCESS);
	wait_cleaned_up(f, "eng-s5");
}

/* --- admins and sweeps ----------------------------------------------------------------------- */

static void
admin_managed_save(Fixture *f, const gchar *name)
{
	virDomainPtr dom = virDomainLookupByName(f->admin, name);

	g_assert_nonnull(dom);
	g_assert_cmpint(virDomainManagedSave(dom, 0), ==, 0);
	virDomainFree(dom);
}

/* An admin's managed save suspends the job; starting the domain again resumes it. */
static void
test_admin_managed_save(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) statuses = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *states = NULL;
	virDomainPtr dom;

	create_running(f, "eng-s1");
	g_assert_true(ucv_scheduler_is_admitted(ucv_engine_get_scheduler(f->engine), "eng-s1"));
	admin_managed_save(f, "ucloud-eng-s1-0");
	wait_state(f, "eng-s1", UCV_JOB_STATE_SUSPENDED);
	g_assert_false(domain_is_active(f, "ucloud-eng-s1-0"));
	/* its memory is on disk: the host's share is free again */
	g_assert_false(ucv_scheduler_is_admitted(ucv_engine_get_scheduler(f->engine), "eng-s1"));

	dom = virDomainLookupByName(f->admin, "ucloud-eng-s1-0");
	g_assert_cmpint(virDomainCreate(dom), ==, 0);
	virDomainFree(dom);
	wait_state(f, "eng-s1", UCV_JOB_STATE_RUNNING);
	g_assert_true(ucv_scheduler_is_admitted(ucv_engine_get_scheduler(f->engine), "eng-s1"));
	states = outbox_states(f, "eng-s1", statuses);
	g_assert_cmpstr(states, ==, "RUNNING,SUSPENDED,RUNNING");
	g_assert_nonnull(strstr(g_ptr_array_index(statuses, 1), "outside UCloud"));
}

/* Saved while the provider was away: found SUSPENDED, not stopped or lost. */
static void
test_reconcile_saved_while_away(Fixture *f, gconstpointer data)
{
	create_running(f, "eng-s2");
	engine_stop(f);
	admin_managed_save(f, "ucloud-eng-s2-0");
	engine_start(f);
	wait_state(f, "eng-s2", UCV_JOB_STATE_SUSPENDED);
	ucv_test_loop_spin(SETTLE_MS);
	assert_state(f, "eng-s2", UCV_JOB_STATE_SUSPENDED);
}

/* The periodic sweep finds a machine that vanished without an event. */
static void
test_sweep_finds_lost_machine(Fixture *f, gconstpointer data)
{
	virDomainPtr dom;

	engine_stop(f);
	f->config->reconcile_interval_s = 1;
	engine_start(f);
	create_running(f, "eng-s3");
	dom = virDomainLookupByName(f->admin, "ucloud-eng-s3-0");
	g_signal_handlers_block_matched(f->hypervisor, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL,
					f->engine);
	g_assert_cmpint(virDomainUndefine(dom), ==, 0);
	g_assert_cmpint(virDomainDestroy(dom), ==, 0);
	virDomainFree(dom);
	ucv_test_loop_spin(SETTLE_MS);
	g_signal_handlers_unblock_matched(f->hypervisor, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL,
					  f->engine);
	wait_state(f, "eng-s3", UCV_JOB_STATE_FAILURE);
}

/* --- verify ------------------------------------------------------------------------------- */

static void
verify_ok(Fixture *f, GPtrArray *jobs)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ucv_engine_verify_jobs(f->engine, jobs, &error));
	g_assert_no_error(error);
}

/* A job never seen fails; a running one is left alone; an ended one has its end told again. */
static void
test_verify(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) unknown = job_list(make_job("eng-v1", 1), NULL);
	g_autoptr(GPtrArray) running = job_list(make_job("eng-v2", 1), NULL);
	g_autoptr(GPtrArray) ended = job_list(make_job("eng-v3", 1), NULL);
	g_autoptr(GPtrArray) statuses = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *unknown_states = NULL;
	g_autofree gchar *running_states = NULL;
	g_autofree gchar *ended_states = NULL;

	create_running(f, "eng-v2");
	create_running(f, "eng-v3");
	terminate_ok(f, "eng-v3");
	wait_state(f, "eng-v3", UCV_JOB_STATE_SUCCESS);

	verify_ok(f, unknown);
	verify_ok(f, running);
	verify_ok(f, ended);
	ucv_test_loop_spin(SETTLE_MS);

	unknown_states = outbox_states(f, "eng-v1", statuses);
	g_assert_cmpstr(unknown_states, ==, "FAILURE");
	g_assert_nonnull(strstr(g_ptr_array_index(statuses, 0), "does not know"));
	running_states = outbox_states(f, "eng-v2", NULL);
	g_assert_cmpstr(running_states, ==, "RUNNING");
	g_assert_true(domain_is_active(f, "ucloud-eng-v2-0"));
	ended_states = outbox_states(f, "eng-v3", NULL);
	g_assert_cmpstr(ended_states, ==, "RUNNING,SUCCESS,SUCCESS");
}

/* A running job whose machine vanished behind the provider's back fails on verify. */
static void
test_verify_lost_machine(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) jobs = job_list(make_job("eng-v4", 1), NULL);
	g_autoptr(GPtrArray) statuses = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *states = NULL;
	virDomainPtr dom;

	create_running(f, "eng-v4");
	/* undefine while running: the domain lingers as transient, then vanishes silently */
	dom = virDomainLookupByName(f->admin, "ucloud-eng-v4-0");
	g_assert_nonnull(dom);
	g_signal_handlers_block_matched(f->hypervisor, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL,
					f->engine);
	g_assert_cmpint(virDomainUndefine(dom), ==, 0);
	g_assert_cmpint(virDomainDestroy(dom), ==, 0);
	virDomainFree(dom);
	ucv_test_loop_spin(SETTLE_MS);
	g_signal_handlers_unblock_matched(f->hypervisor, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL,
					  f->engine);
	assert_state(f, "eng-v4", UCV_JOB_STATE_RUNNING);

	verify_ok(f, jobs);
	wait_state(f, "eng-v4", UCV_JOB_STATE_FAILURE);
	states = outbox_states(f, "eng-v4", statuses);
	g_assert_cmpstr(states, ==, "RUNNING,FAILURE");
	g_assert_nonnull(strstr(g_ptr_array_index(statuses, 1), "disappeared"));
}

/* --- capacity ------------------------------------------------------------------------------ */

static gboolean
cond_host_known(Fixture *f, gconstpointer data)
{
	return ucv_scheduler_has_host(ucv_engine_get_scheduler(f->engine));
}

/* The engine restarted with the test driver's real size: 16 CPUs, 3 GiB, 1 GiB of it reserved,
 * so two one-GiB jobs fit. */
static void
engine_start_small_host(Fixture *f)
{
	engine_stop(f);
	f->config->reserved_memory_mib = 1024;
	f->config->memory_overcommit = 1.0;
	engine_start(f);
	wait_until(f, cond_host_known, NULL, "the host's size");
}

static void
assert_last_status(Fixture *f, const gchar *job_id, const gchar *expected)
{
	g_autoptr(GPtrArray) statuses = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *states = outbox_states(f, job_id, statuses);

	g_assert_cmpuint(statuses->len, >, 0);
	g_assert_cmpstr(g_ptr_array_index(statuses, statuses->len - 1), ==, expected);
}

static void
test_capacity_queue(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) too_big = job_list(make_job("cap-big", 3), NULL);
	g_autoptr(GPtrArray) waiting = job_list(make_job("cap-3", 1), make_job("cap-4", 1), NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *states = NULL;
	UcvScheduler *scheduler;
	gdouble cpus = 0;
	guint64 memory = 0;

	engine_start_small_host(f);
	scheduler = ucv_engine_get_scheduler(f->engine);
	ucv_scheduler_get_capacity(scheduler, &cpus, &memory, NULL);
	g_assert_cmpfloat(cpus, ==, 16);
	g_assert_cmpuint(memory, ==, 2048);

	/* three machines of 1 GiB never fit in 2 GiB: refused at create */
	g_assert_false(ucv_engine_create_jobs(f->engine, too_big, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "2048 MiB"));
	g_assert_null(lookup_job(f, "cap-big"));

	create_running(f, "cap-1");
	create_running(f, "cap-2");
	create_ok(f, waiting);
	ucv_test_loop_spin(SETTLE_MS);
	assert_state(f, "cap-3", UCV_JOB_STATE_IN_QUEUE);
	g_assert_false(domain_exists(f, "ucloud-cap-3-0"));
	assert_last_status(f, "cap-3", "Waiting for capacity (0 jobs ahead)");
	assert_last_status(f, "cap-4", "Waiting for capacity (1 job ahead)");
	ucv_scheduler_get_used(scheduler, &cpus, &memory, NULL);
	g_assert_cmpfloat(cpus, ==, 2);
	g_assert_cmpuint(memory, ==, 2048);
	g_assert_cmpuint(ucv_scheduler_get_n_running(scheduler), ==, 2);
	g_assert_cmpuint(ucv_scheduler_get_n_pending(scheduler), ==, 2);

	/* the first to end makes room for the head of the queue; the next moves up */
	terminate_ok(f, "cap-1");
	wait_state(f, "cap-3", UCV_JOB_STATE_RUNNING);
	assert_state(f, "cap-4", UCV_JOB_STATE_IN_QUEUE);
	assert_last_status(f, "cap-4", "Waiting for capacity (0 jobs ahead)");
	states = outbox_states(f, "cap-3", NULL);
	g_assert_cmpstr(states, ==, "IN_QUEUE,RUNNING");

	/* a restart: running jobs re-claim their share before the waiting one is considered */
	engine_stop(f);
	engine_start(f);
	wait_until(f, cond_host_known, NULL, "the host's size");
	ucv_test_loop_spin(SETTLE_MS);
	assert_state(f, "cap-4", UCV_JOB_STATE_IN_QUEUE);
	g_assert_false(domain_exists(f, "ucloud-cap-4-0"));
	scheduler = ucv_engine_get_scheduler(f->engine);
	g_assert_true(ucv_scheduler_is_admitted(scheduler, "cap-2"));
	g_assert_true(ucv_scheduler_is_admitted(scheduler, "cap-3"));

	terminate_ok(f, "cap-2");
	wait_state(f, "cap-4", UCV_JOB_STATE_RUNNING);
	terminate_ok(f, "cap-3");
	terminate_ok(f, "cap-4");
	wait_cleaned_up(f, "cap-3");
	wait_cleaned_up(f, "cap-4");
	g_assert_cmpuint(ucv_scheduler_get_n_running(scheduler), ==, 0);
}

/* --- suspend ------------------------------------------------------------------------------- */

static void
call_on_job(Fixture *f, gboolean (*call)(UcvEngine *, GPtrArray *, GError **), const gchar *job_id)
{
	g_autoptr(GPtrArray) ids = g_ptr_array_new();
	g_autoptr(GError) error = NULL;

	g_ptr_array_add(ids, (gpointer)job_id);
	g_assert_true(call(f->engine, ids, &error));
	g_assert_no_error(error);
}

static gboolean
has_managed_save(Fixture *f, const gchar *name)
{
	virDomainPtr dom = virDomainLookupByName(f->admin, name);
	gboolean saved;

	g_assert_nonnull(dom);
	saved = virDomainIsActive(dom) == 0 && virDomainHasManagedSaveImage(dom, 0) == 1;
	virDomainFree(dom);
	return saved;
}

/* Suspend saves the machine and frees its share; unsuspend restores it. The SAVED event of our
 * own save is not mistaken for an administrator's. */
static void
test_suspend_round_trip(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) statuses = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *states = NULL;
	UcvScheduler *scheduler = ucv_engine_get_scheduler(f->engine);

	create_running(f, "sus-1");
	call_on_job(f, ucv_engine_suspend_jobs, "sus-1");
	wait_state(f, "sus-1", UCV_JOB_STATE_SUSPENDED);
	wait_idle_count(f, "sus-1", 2);
	g_assert_true(has_managed_save(f, "ucloud-sus-1-0"));
	g_assert_false(ucv_scheduler_is_admitted(scheduler, "sus-1"));

	call_on_job(f, ucv_engine_unsuspend_jobs, "sus-1");
	wait_state(f, "sus-1", UCV_JOB_STATE_RUNNING);
	g_assert_true(ucv_scheduler_is_admitted(scheduler, "sus-1"));
	states = outbox_states(f, "sus-1", statuses);
	g_assert_cmpstr(states, ==, "RUNNING,SUSPENDED,RUNNING");
	g_assert_null(strstr(g_ptr_array_index(statuses, 1), OUTSIDE_STATUS));

	/* suspending twice, or resuming a running job, changes nothing */
	wait_idle_count(f, "sus-1", 3);
	call_on_job(f, ucv_engine_unsuspend_jobs, "sus-1");
	ucv_test_loop_spin(SETTLE_MS);
	g_free(g_steal_pointer(&states));
	states = outbox_states(f, "sus-1", NULL);
	g_assert_cmpstr(states, ==, "RUNNING,SUSPENDED,RUNNING");
	terminate_ok(f, "sus-1");
	wait_cleaned_up(f, "sus-1");
}

/* UCloud's restart: suspend immediately followed by unsuspend, run one after the other. */
static void
test_suspend_restart(Fixture *f, gconstpointer data)
{
	g_autofree gchar *states = NULL;

	create_running(f, "sus-2");
	call_on_job(f, ucv_engine_suspend_jobs, "sus-2");
	call_on_job(f, ucv_engine_unsuspend_jobs, "sus-2");
	wait_idle_count(f, "sus-2", 2);
	wait_state(f, "sus-2", UCV_JOB_STATE_RUNNING);
	states = outbox_states(f, "sus-2", NULL);
	g_assert_cmpstr(states, ==, "RUNNING,SUSPENDED,RUNNING");
	terminate_ok(f, "sus-2");
	wait_cleaned_up(f, "sus-2");
}

/* A suspended job's room goes to the queue; resuming without room waits in line. */
static void
test_suspend_capacity(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) waiting = job_list(make_job("sus-c", 1), NULL);

	engine_start_small_host(f);
	create_running(f, "sus-a");
	create_running(f, "sus-b");
	create_ok(f, waiting);
	ucv_test_loop_spin(SETTLE_MS);
	assert_state(f, "sus-c", UCV_JOB_STATE_IN_QUEUE);

	call_on_job(f, ucv_engine_suspend_jobs, "sus-a");
	wait_state(f, "sus-c", UCV_JOB_STATE_RUNNING);
	call_on_job(f, ucv_engine_unsuspend_jobs, "sus-a");
	wait_state(f, "sus-a", UCV_JOB_STATE_IN_QUEUE);
	assert_last_status(f, "sus-a", "Waiting for capacity (0 jobs ahead)");
	g_assert_true(has_managed_save(f, "ucloud-sus-a-0"));

	terminate_ok(f, "sus-b");
	wait_state(f, "sus-a", UCV_JOB_STATE_RUNNING);
	for (guint i = 0; i < 3; i++) {
		const gchar *id = (const gchar *[]){"sus-a", "sus-b", "sus-c"}[i];
		terminate_ok(f, id);
		wait_cleaned_up(f, id);
	}
}

/* Unknown or ended jobs fail the request as a whole; a suspended job that is terminated loses
 * its saved memory with its machine. */
static void
test_suspend_refused_and_terminated(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) ids = g_ptr_array_new();
	g_autoptr(GError) error = NULL;

	create_running(f, "sus-t");
	g_ptr_array_add(ids, (gpointer) "sus-t");
	g_ptr_array_add(ids, (gpointer) "sus-unknown");
	g_assert_false(ucv_engine_suspend_jobs(f->engine, ids, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND);
	ucv_test_loop_spin(SETTLE_MS);
	assert_state(f, "sus-t", UCV_JOB_STATE_RUNNING);

	call_on_job(f, ucv_engine_suspend_jobs, "sus-t");
	wait_state(f, "sus-t", UCV_JOB_STATE_SUSPENDED);
	terminate_ok(f, "sus-t");
	wait_state(f, "sus-t", UCV_JOB_STATE_SUCCESS);
	wait_cleaned_up(f, "sus-t");
	g_assert_false(domain_exists(f, "ucloud-sus-t-0"));
}

/* A suspended job's deadline runs on in wall time, across a restart too: at the deadline its
 * saved machine goes, image and all, and Core hears EXPIRED. */
static void
test_suspend_expires(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) jobs = job_list(make_timed_job("sus-e", 3), NULL);
	g_autofree gchar *states = NULL;

	create_ok(f, jobs);
	wait_state(f, "sus-e", UCV_JOB_STATE_RUNNING);
	call_on_job(f, ucv_engine_suspend_jobs, "sus-e");
	wait_state(f, "sus-e", UCV_JOB_STATE_SUSPENDED);
	engine_stop(f);
	engine_start(f);
	wait_state(f, "sus-e", UCV_JOB_STATE_EXPIRED);
	wait_cleaned_up(f, "sus-e");
	g_assert_false(domain_exists(f, "ucloud-sus-e-0"));
	states = outbox_states(f, "sus-e", NULL);
	g_assert_cmpstr(states, ==, "RUNNING,SUSPENDED,EXPIRED");
}

/* A console opens only for a known, running job and a rank it has. */
static void
test_console_check(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) unknown = NULL;
	g_autoptr(GError) rank = NULL;
	g_autoptr(GError) suspended = NULL;
	g_autoptr(GError) error = NULL;

	create_running(f, "con-1");
	g_assert_true(ucv_engine_check_console(f->engine, "con-1", 0, &error));
	g_assert_no_error(error);
	g_assert_false(ucv_engine_check_console(f->engine, "con-none", 0, &unknown));
	g_assert_error(unknown, UCV_ERROR, UCV_ERROR_NOT_FOUND);
	g_assert_false(ucv_engine_check_console(f->engine, "con-1", 1, &rank));
	g_assert_error(rank, UCV_ERROR, UCV_ERROR_INVALID);
	call_on_job(f, ucv_engine_suspend_jobs, "con-1");
	wait_state(f, "con-1", UCV_JOB_STATE_SUSPENDED);
	g_assert_false(ucv_engine_check_console(f->engine, "con-1", 0, &suspended));
	g_assert_error(suspended, UCV_ERROR, UCV_ERROR_INVALID);
	terminate_ok(f, "con-1");
	wait_cleaned_up(f, "con-1");
}

static void
engine_start_with_gpus(Fixture *f, const gchar *const *pool)
{
	engine_stop(f);
	g_strfreev(f->config->gpu_devices);
	f->config->gpu_devices = g_strdupv((gchar **)pool);
	engine_start(f);
	wait_until(f, cond_host_known, NULL, "the host's size");
}

/* A restart gives a running GPU job the device its machine has, even when the pool now lists
 * another one first. */
static void
test_capacity_gpus_after_restart(Fixture *f, gconstpointer data)
{
	const gchar *pool[] = {"0000:3b:00.0", "0000:5e:00.0", NULL};
	const gchar *reordered[] = {"0000:5e:00.0", "0000:3b:00.0", NULL};
	g_autoptr(GPtrArray) jobs =
		job_list(make_job_full("gpu-1", 1, GPU_PRODUCT, "VIRTUAL_MACHINE", IMAGE), NULL);
	const gchar *const *held;

	engine_start_with_gpus(f, pool);
	create_ok(f, jobs);
	wait_state(f, "gpu-1", UCV_JOB_STATE_RUNNING);
	held = ucv_scheduler_get_gpus(ucv_engine_get_scheduler(f->engine), "gpu-1");
	g_assert_cmpstr(held[0], ==, "0000:3b:00.0");

	engine_start_with_gpus(f, reordered);
	ucv_test_loop_spin(SETTLE_MS);
	held = ucv_scheduler_get_gpus(ucv_engine_get_scheduler(f->engine), "gpu-1");
	g_assert_nonnull(held);
	g_assert_cmpstr(held[0], ==, "0000:3b:00.0");
	g_assert_null(held[1]);

	terminate_ok(f, "gpu-1");
	wait_cleaned_up(f, "gpu-1");
}

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	ADD("/engine/create/runs", test_create_runs);
	ADD("/engine/capacity/gpus-after-restart", test_capacity_gpus_after_restart);
	ADD("/engine/suspend/round-trip", test_suspend_round_trip);
	ADD("/engine/suspend/restart", test_suspend_restart);
	ADD("/engine/suspend/capacity", test_suspend_capacity);
	ADD("/engine/suspend/refused-and-terminated", test_suspend_refused_and_terminated);
	ADD("/engine/suspend/expires", test_suspend_expires);
	ADD("/engine/console/check", test_console_check);
	ADD("/engine/create/replicas", test_replicas);
	ADD("/engine/create/validation", test_validation);
	ADD("/engine/create/unresolved-waits", test_unresolved_waits);
	ADD("/engine/create/repeated", test_repeated_create);
	ADD("/engine/create/missing-image", test_missing_image);
	ADD("/engine/terminate/running", test_terminate);
	ADD("/engine/terminate/replicas", test_terminate_replicas);
	ADD("/engine/terminate/while-provisioning", test_terminate_while_provisioning);
	ADD("/engine/terminate/mid-provisioning", test_terminate_mid_provisioning);
	ADD("/engine/event/destroyed-outside", test_destroyed_outside);
	ADD("/engine/event/guest-poweroff", test_guest_poweroff);
	ADD("/engine/signal/job-idle", test_job_idle_contract);
	ADD("/engine/reconcile/after-restart", test_reconcile);
	ADD("/engine/reconcile/stopped-and-started", test_reconcile_stopped_and_started);
	ADD("/engine/reconcile/running-untouched", test_reconcile_running_idle);
	ADD("/engine/reconcile/interrupted-terminate", test_reconcile_interrupted_terminate);
	ADD("/engine/capacity/queue", test_capacity_queue);
	ADD("/engine/time/expiry", test_time_expiry);
	ADD("/engine/verify", test_verify);
	ADD("/engine/disk/size", test_disk_size);
	ADD("/engine/disk/size-out-of-range", test_disk_size_out_of_range);
	ADD("/engine/admin/managed-save", test_admin_managed_save);
	ADD("/engine/reconcile/saved-while-away", test_reconcile_saved_while_away);
	ADD("/engine/sweep/lost-machine", test_sweep_finds_lost_machine);
	ADD("/engine/verify/lost-machine", test_verify_lost_machine);
	ADD("/engine/time/extend", test_time_extend);
	ADD("/engine/time/extend-unlimited-and-unknown", test_time_extend_unlimited_and_unknown);
	ADD("/engine/time/default-limit", test_time_default_limit);
	ADD("/engine/time/deadline-survives-restart", test_time_deadline_survives_restart);
	ADD("/engine/ssh/keys-uploaded", test_ssh_keys_uploaded);
	ADD("/engine/ssh/keys-fetched", test_ssh_keys_fetched);
	ADD("/engine/ssh/keys-terminating", test_ssh_keys_terminating);
	return g_test_run();
}
