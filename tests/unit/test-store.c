/* Tests for UcvStore: migrations, jobs, atomic updates with their outbox rows, domains. */
#include "config.h"

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "engine/ucv-store.h"
#include "model/ucv-error.h"

#define HOSTILE_TEXT                                                                               \
	"Robert'); DROP TABLE jobs;-- \"quoted\" \\ back\\slash %s %n \xc3\xa6\xc3\xb8\xc3\xa5"

static gchar *
make_job_json(const gchar *id, const gchar *text_value)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "id");
	json_builder_add_string_value(builder, id);
	json_builder_set_member_name(builder, "createdAt");
	json_builder_add_int_value(builder, 1633329776235);
	json_builder_set_member_name(builder, "owner");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "createdBy");
	json_builder_add_string_value(builder, "user");
	json_builder_set_member_name(builder, "project");
	json_builder_add_null_value(builder);
	json_builder_end_object(builder);
	json_builder_set_member_name(builder, "specification");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "product");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "id");
	json_builder_add_string_value(builder, "example-compute-1");
	json_builder_set_member_name(builder, "category");
	json_builder_add_string_value(builder, "example-compute");
	json_builder_set_member_name(builder, "provider");
	json_builder_add_string_value(builder, "example");
	json_builder_end_object(builder);
	json_builder_set_member_name(builder, "application");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "name");
	json_builder_add_string_value(builder, "acme-batch");
	json_builder_set_member_name(builder, "version");
	json_builder_add_string_value(builder, "1.0.0");
	json_builder_end_object(builder);
	json_builder_set_member_name(builder, "replicas");
	json_builder_add_int_value(builder, 1);
	json_builder_set_member_name(builder, "parameters");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "value");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "type");
	json_builder_add_string_value(builder, "text");
	json_builder_set_member_name(builder, "value");
	json_builder_add_string_value(builder, text_value);
	json_builder_end_object(builder);
	json_builder_end_object(builder);
	json_builder_end_object(builder);
	json_builder_set_member_name(builder, "status");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "state");
	json_builder_add_string_value(builder, "IN_QUEUE");
	json_builder_end_object(builder);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return json_to_string(root, FALSE);
}

static UcvJob *
make_job(const gchar *id, const gchar *text_value)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = make_job_json(id, text_value);
	UcvJob *job = ucv_job_new_from_string(json, &error);

	g_assert_no_error(error);
	g_assert_nonnull(job);
	return job;
}

static UcvStore *
open_memory_store(void)
{
	g_autoptr(GError) error = NULL;
	UcvStore *store = ucv_store_open(":memory:", &error);

	g_assert_no_error(error);
	g_assert_nonnull(store);
	return store;
}

static void
insert_one(UcvStore *store, const gchar *id)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func((GDestroyNotify)ucv_job_unref);

	g_ptr_array_add(jobs, make_job(id, "hello"));
	g_assert_true(ucv_store_insert_jobs(store, jobs, &error));
	g_assert_no_error(error);
}

static void
record_state(UcvStore *store, const gchar *id, UcvJobState state, const gchar *status)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvJobUpdate) update = ucv_job_update_new_state(state, status);

	g_assert_true(ucv_store_record_update(store, id, update, &error));
	g_assert_no_error(error);
}

static GPtrArray *
peek_all(UcvStore *store)
{
	g_autoptr(GError) error = NULL;
	GPtrArray *entries = ucv_store_outbox_peek(store, 1000, &error);

	g_assert_no_error(error);
	g_assert_nonnull(entries);
	return entries;
}

static JsonObject *
parse_object(const gchar *json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = json_from_string(json, &error);

	g_assert_no_error(error);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
	return json_object_ref(json_node_get_object(node));
}

static gchar *
make_tmp_dir(void)
{
	g_autoptr(GError) error = NULL;
	gchar *dir = g_dir_make_tmp("ucv-store-XXXXXX", &error);

	g_assert_no_error(error);
	return dir;
}

static void
remove_tmp_dir(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = g_build_filename(dir, name, NULL);
		g_unlink(path);
	}
	g_rmdir(dir);
}

static void
test_store_fresh_schema(void)
{
	g_autoptr(UcvStore) store = open_memory_store();

	g_assert_cmpuint(ucv_store_get_schema_version(store), ==, 5);
}

static void
test_store_reopen_keeps_data(void)
{
	g_autofree gchar *dir = make_tmp_dir();
	g_autofree gchar *path = g_build_filename(dir, "state.db", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvStoredJob) stored = NULL;
	g_autoptr(GPtrArray) entries = NULL;

	{
		g_autoptr(UcvStore) store = ucv_store_open(path, &error);
		g_assert_no_error(error);
		insert_one(store, "job-1");
		record_state(store, "job-1", UCV_JOB_STATE_RUNNING, "up");
	}
	{
		g_autoptr(UcvStore) store = ucv_store_open(path, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(ucv_store_get_schema_version(store), ==, 5);
		stored = ucv_store_lookup_job(store, "job-1", &error);
		g_assert_no_error(error);
		g_assert_nonnull(stored);
		g_assert_cmpint(stored->state, ==, UCV_JOB_STATE_RUNNING);
		g_assert_cmpstr(stored->status, ==, "up");
		entries = peek_all(store);
		g_assert_cmpuint(entries->len, ==, 1);
	}
	remove_tmp_dir(dir);
}

/* A database written by the first release: later migrations keep its job and add columns. */
static void
test_store_migrates_v1(void)
{
	g_autofree gchar *dir = make_tmp_dir();
	g_autofree gchar *path = g_build_filename(dir, "v1.db", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvStore) store = NULL;
	g_autoptr(UcvStoredJob) stored = NULL;
	g_autoptr(GPtrArray) usages = NULL;
	UcvJobUsage *usage;
	sqlite3 *db = NULL;
	const gchar *v1 =
		"CREATE TABLE jobs (id TEXT PRIMARY KEY, json TEXT NOT NULL, state TEXT NOT NULL,"
		" status TEXT, created_at INTEGER, updated_at INTEGER);"
		"CREATE TABLE domains (job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
		" rank INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (job_id, rank));"
		"CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL,"
		" update_json TEXT NOT NULL, created_at INTEGER);"
		"INSERT INTO jobs VALUES ('7', '{\"id\":\"7\"}', 'RUNNING', 'up', 1, 1);"
		"PRAGMA user_version = 1;";

	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db, v1, NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);

	store = ucv_store_open(path, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(ucv_store_get_schema_version(store), ==, 5);
	stored = ucv_store_lookup_job(store, "7", &error);
	g_assert_no_error(error);
	g_assert_cmpint(stored->state, ==, UCV_JOB_STATE_RUNNING);
	g_assert_false(stored->terminating);
	/* a job running at the upgrade is charged from then on */
	usages = ucv_store_list_unsettled_usage(store, g_get_real_time() / 1000 + 1000, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(usages->len, ==, 1);
	usage = g_ptr_array_index(usages, 0);
	g_assert_false(usage->complete);
	g_assert_cmpint(usage->running_ms, >=, 1000);
	g_clear_object(&store);
	remove_tmp_dir(dir);
}

static void
test_store_mark_terminating(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvStoredJob) stored = NULL;

	insert_one(store, "t");
	g_assert_true(ucv_store_mark_terminating(store, "t", &error));
	g_assert_no_error(error);
	stored = ucv_store_lookup_job(store, "t", &error);
	g_assert_true(stored->terminating);
}

/* Allocation, deadline and Core's update change together, or not at all. */
static void
test_store_record_time(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(UcvJobUpdate) update = ucv_job_update_new();
	g_autoptr(UcvStoredJob) stored = NULL;
	g_autoptr(GPtrArray) entries = NULL;
	g_autoptr(GError) error = NULL;

	insert_one(store, "timed");
	update->new_time_allocation_ms = 7200000;
	g_assert_true(ucv_store_record_time(store, "timed", 7200000, 1234, update, &error));
	g_assert_no_error(error);
	stored = ucv_store_lookup_job(store, "timed", &error);
	g_assert_cmpint(stored->time_allocation_ms, ==, 7200000);
	g_assert_cmpint(stored->deadline_ms, ==, 1234);
	entries = peek_all(store);
	g_assert_cmpuint(entries->len, ==, 1);
	g_assert_nonnull(strstr(((UcvOutboxEntry *)g_ptr_array_index(entries, 0))->update_json,
				"\"newTimeAllocation\":7200000"));
}

static void
test_store_refuses_newer_schema(void)
{
	g_autofree gchar *dir = make_tmp_dir();
	g_autofree gchar *path = g_build_filename(dir, "future.db", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvStore) store = NULL;
	sqlite3 *db = NULL;

	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), ==,
			SQLITE_OK);
	sqlite3_close(db);

	store = ucv_store_open(path, &error);
	g_assert_null(store);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(error->message, "99"));
	remove_tmp_dir(dir);
}

static void
test_store_insert_lookup_list(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvStoredJob) stored = NULL;
	g_autoptr(UcvStoredJob) missing = NULL;
	g_autoptr(GPtrArray) active = NULL;
	g_autoptr(GPtrArray) all = NULL;

	insert_one(store, "a");
	insert_one(store, "b");
	insert_one(store, "c");
	record_state(store, "b", UCV_JOB_STATE_SUCCESS, NULL);

	stored = ucv_store_lookup_job(store, "a", &error);
	g_assert_no_error(error);
	g_assert_nonnull(stored);
	g_assert_cmpstr(stored->job->id, ==, "a");
	g_assert_cmpstr(stored->job->app_name, ==, "acme-batch");
	g_assert_cmpint(stored->state, ==, UCV_JOB_STATE_IN_QUEUE);
	g_assert_null(stored->status);
	g_assert_cmpint(stored->updated_at_ms, >, 0);

	missing = ucv_store_lookup_job(store, "nope", &error);
	g_assert_no_error(error);
	g_assert_null(missing);

	active = ucv_store_list_jobs(store, UCV_STORE_JOBS_ACTIVE, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(active->len, ==, 2);
	g_assert_cmpstr(((UcvStoredJob *)g_ptr_array_index(active, 0))->job->id, ==, "a");
	g_assert_cmpstr(((UcvStoredJob *)g_ptr_array_index(active, 1))->job->id, ==, "c");

	all = ucv_store_list_jobs(store, UCV_STORE_JOBS_ALL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(all->len, ==, 3);
	g_assert_cmpstr(((UcvStoredJob *)g_ptr_array_index(all, 1))->job->id, ==, "b");
	g_assert_cmpint(((UcvStoredJob *)g_ptr_array_index(all, 1))->state, ==,
			UCV_JOB_STATE_SUCCESS);
}

static void
test_store_insert_all_or_nothing(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func((GDestroyNotify)ucv_job_unref);
	g_autoptr(GPtrArray) all = NULL;

	insert_one(store, "existing");
	g_ptr_array_add(jobs, make_job("new-1", "x"));
	g_ptr_array_add(jobs, make_job("existing", "y"));
	g_ptr_array_add(jobs, make_job("new-2", "z"));
	g_assert_false(ucv_store_insert_jobs(store, jobs, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);

	all = ucv_store_list_jobs(store, UCV_STORE_JOBS_ALL, &error);
	g_assert_cmpuint(all->len, ==, 1);
	g_assert_cmpstr(((UcvStoredJob *)g_ptr_array_index(all, 0))->job->id, ==, "existing");
}

static void
test_store_record_update_atomic(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvStoredJob) stored = NULL;
	g_autoptr(GPtrArray) entries = NULL;
	g_autoptr(JsonObject) update = NULL;
	UcvOutboxEntry *entry;

	insert_one(store, "job-1");
	record_state(store, "job-1", UCV_JOB_STATE_RUNNING, "The job is now running!");

	stored = ucv_store_lookup_job(store, "job-1", &error);
	g_assert_no_error(error);
	g_assert_cmpint(stored->state, ==, UCV_JOB_STATE_RUNNING);
	g_assert_cmpstr(stored->status, ==, "The job is now running!");

	entries = peek_all(store);
	g_assert_cmpuint(entries->len, ==, 1);
	entry = g_ptr_array_index(entries, 0);
	g_assert_cmpstr(entry->job_id, ==, "job-1");
	update = parse_object(entry->update_json);
	g_assert_cmpstr(json_object_get_string_member(update, "state"), ==, "RUNNING");
	g_assert_cmpstr(json_object_get_string_member(update, "status"), ==,
			"The job is now running!");
	g_assert_cmpint(json_object_get_int_member(update, "timestamp"), ==, 0);
}

/* With the outbox insert failing, the job's own row must not change either. */
static void
test_store_record_update_rolls_back(void)
{
	g_autofree gchar *dir = make_tmp_dir();
	g_autofree gchar *path = g_build_filename(dir, "state.db", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvStore) store = ucv_store_open(path, &error);
	g_autoptr(UcvJobUpdate) update = ucv_job_update_new_state(UCV_JOB_STATE_RUNNING, "up");
	g_autoptr(UcvStoredJob) stored = NULL;
	sqlite3 *db = NULL;

	g_assert_no_error(error);
	insert_one(store, "job-1");
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db, "DROP TABLE outbox", NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);

	g_assert_false(ucv_store_record_update(store, "job-1", update, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_FAILED);
	g_clear_error(&error);
	stored = ucv_store_lookup_job(store, "job-1", &error);
	g_assert_no_error(error);
	g_assert_cmpint(stored->state, ==, UCV_JOB_STATE_IN_QUEUE);
	g_assert_null(stored->status);
	g_clear_object(&store);
	remove_tmp_dir(dir);
}

static void
test_store_status_only_update(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvStoredJob) stored = NULL;
	g_autoptr(UcvJobUpdate) update = ucv_job_update_new_status("downloading image");
	g_autoptr(GPtrArray) entries = NULL;

	insert_one(store, "job-1");
	record_state(store, "job-1", UCV_JOB_STATE_RUNNING, "up");
	g_assert_true(ucv_store_record_update(store, "job-1", update, &error));
	g_assert_no_error(error);

	stored = ucv_store_lookup_job(store, "job-1", &error);
	g_assert_cmpint(stored->state, ==, UCV_JOB_STATE_RUNNING);
	g_assert_cmpstr(stored->status, ==, "downloading image");
	entries = peek_all(store);
	g_assert_cmpuint(entries->len, ==, 2);
}

static void
test_store_unknown_job_update(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvJobUpdate) update = ucv_job_update_new_state(UCV_JOB_STATE_RUNNING, NULL);
	g_autoptr(GPtrArray) entries = NULL;

	g_assert_false(ucv_store_record_update(store, "ghost", update, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND);
	entries = peek_all(store);
	g_assert_cmpuint(entries->len, ==, 0);
}

static void
test_store_outbox_order(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) entries = NULL;
	g_autoptr(GPtrArray) first = NULL;
	g_autoptr(GPtrArray) rest = NULL;
	const gchar *expected_jobs[] = {"a", "b", "a", "b", "a"};
	gint64 last_seq = 0;

	insert_one(store, "a");
	insert_one(store, "b");
	record_state(store, "a", UCV_JOB_STATE_RUNNING, NULL);
	record_state(store, "b", UCV_JOB_STATE_RUNNING, NULL);
	record_state(store, "a", UCV_JOB_STATE_SUSPENDED, NULL);
	record_state(store, "b", UCV_JOB_STATE_SUCCESS, NULL);
	record_state(store, "a", UCV_JOB_STATE_RUNNING, NULL);

	entries = peek_all(store);
	g_assert_cmpuint(entries->len, ==, G_N_ELEMENTS(expected_jobs));
	for (guint i = 0; i < entries->len; i++) {
		UcvOutboxEntry *entry = g_ptr_array_index(entries, i);
		g_assert_cmpint(entry->seq, >, last_seq);
		g_assert_cmpstr(entry->job_id, ==, expected_jobs[i]);
		last_seq = entry->seq;
	}

	first = ucv_store_outbox_peek(store, 2, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(first->len, ==, 2);
	for (guint i = 0; i < first->len; i++) {
		UcvOutboxEntry *entry = g_ptr_array_index(first, i);
		g_assert_true(ucv_store_outbox_remove(store, entry->seq, &error));
		g_assert_no_error(error);
	}
	rest = peek_all(store);
	g_assert_cmpuint(rest->len, ==, 3);
	g_assert_cmpint(((UcvOutboxEntry *)g_ptr_array_index(rest, 0))->seq, ==,
			((UcvOutboxEntry *)g_ptr_array_index(entries, 2))->seq);
}

static void
test_store_final_state_is_final(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvJobUpdate) revive = ucv_job_update_new_state(UCV_JOB_STATE_RUNNING, "again");
	g_autoptr(UcvJobUpdate) other_final = ucv_job_update_new_state(UCV_JOB_STATE_FAILURE, NULL);
	g_autoptr(UcvStoredJob) stored = NULL;
	g_autoptr(GPtrArray) entries = NULL;

	insert_one(store, "job-1");
	record_state(store, "job-1", UCV_JOB_STATE_EXPIRED, "time is up");

	g_assert_false(ucv_store_record_update(store, "job-1", revive, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_clear_error(&error);
	g_assert_false(ucv_store_record_update(store, "job-1", other_final, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_clear_error(&error);

	stored = ucv_store_lookup_job(store, "job-1", &error);
	g_assert_no_error(error);
	g_assert_cmpint(stored->state, ==, UCV_JOB_STATE_EXPIRED);
	g_assert_cmpstr(stored->status, ==, "time is up");
	entries = peek_all(store);
	g_assert_cmpuint(entries->len, ==, 1);
}

static void
test_store_domains(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) names = NULL;
	g_autoptr(GPtrArray) replaced = NULL;
	g_autoptr(GPtrArray) none = NULL;
	g_autoptr(GPtrArray) other = NULL;

	insert_one(store, "job-1");
	insert_one(store, "job-2");
	g_assert_true(ucv_store_add_domain(store, "job-1", 1, "ucv-job-1-1", &error));
	g_assert_true(ucv_store_add_domain(store, "job-1", 0, "ucv-job-1-0", &error));
	g_assert_true(ucv_store_add_domain(store, "job-2", 0, "ucv-job-2-0", &error));
	g_assert_no_error(error);

	names = ucv_store_list_domains(store, "job-1", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(names->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(names, 0), ==, "ucv-job-1-0");
	g_assert_cmpstr(g_ptr_array_index(names, 1), ==, "ucv-job-1-1");

	g_assert_true(ucv_store_add_domain(store, "job-1", 0, "ucv-job-1-0-g2", &error));
	replaced = ucv_store_list_domains(store, "job-1", &error);
	g_assert_cmpuint(replaced->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(replaced, 0), ==, "ucv-job-1-0-g2");

	g_assert_false(ucv_store_add_domain(store, "ghost", 0, "x", &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_NOT_FOUND);
	g_clear_error(&error);

	g_assert_true(ucv_store_remove_domains(store, "job-1", &error));
	g_assert_no_error(error);
	none = ucv_store_list_domains(store, "job-1", &error);
	g_assert_cmpuint(none->len, ==, 0);
	other = ucv_store_list_domains(store, "job-2", &error);
	g_assert_cmpuint(other->len, ==, 1);
}

/* A sweep sees active jobs and finished ones still holding domains, never the whole history. */
static void
test_store_list_for_sweep(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) listed = NULL;

	insert_one(store, "running");
	insert_one(store, "done-clean");
	insert_one(store, "done-leftover");
	record_state(store, "done-clean", UCV_JOB_STATE_SUCCESS, NULL);
	record_state(store, "done-leftover", UCV_JOB_STATE_FAILURE, NULL);
	g_assert_true(ucv_store_add_domain(store, "done-leftover", 0, "ucloud-x-0", &error));

	listed = ucv_store_list_jobs(store, UCV_STORE_JOBS_ACTIVE_OR_WITH_DOMAINS, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(listed->len, ==, 2);
	g_assert_cmpstr(((UcvStoredJob *)g_ptr_array_index(listed, 0))->job->id, ==, "running");
	g_assert_cmpstr(((UcvStoredJob *)g_ptr_array_index(listed, 1))->job->id, ==,
			"done-leftover");
}

static void
test_store_hostile_text_verbatim(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func((GDestroyNotify)ucv_job_unref);
	g_autoptr(UcvJob) job = make_job("job-1", HOSTILE_TEXT);
	g_autoptr(UcvStoredJob) stored = NULL;
	g_autoptr(GPtrArray) entries = NULL;
	g_autoptr(GPtrArray) all = NULL;
	g_autoptr(GPtrArray) names = NULL;
	g_autoptr(JsonObject) update = NULL;

	g_ptr_array_add(jobs, ucv_job_ref(job));
	g_assert_true(ucv_store_insert_jobs(store, jobs, &error));
	g_assert_no_error(error);
	record_state(store, "job-1", UCV_JOB_STATE_RUNNING, HOSTILE_TEXT);
	g_assert_true(ucv_store_add_domain(store, "job-1", 0, HOSTILE_TEXT, &error));
	g_assert_no_error(error);

	stored = ucv_store_lookup_job(store, "job-1", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(stored->job->json, ==, job->json);
	g_assert_nonnull(strstr(stored->job->json, "DROP TABLE jobs"));
	g_assert_cmpstr(stored->status, ==, HOSTILE_TEXT);

	entries = peek_all(store);
	update = parse_object(((UcvOutboxEntry *)g_ptr_array_index(entries, 0))->update_json);
	g_assert_cmpstr(json_object_get_string_member(update, "status"), ==, HOSTILE_TEXT);

	names = ucv_store_list_domains(store, "job-1", &error);
	g_assert_cmpstr(g_ptr_array_index(names, 0), ==, HOSTILE_TEXT);
	all = ucv_store_list_jobs(store, UCV_STORE_JOBS_ALL, &error);
	g_assert_cmpuint(all->len, ==, 1);
}

static gint64
now_ms(void)
{
	return g_get_real_time() / 1000;
}

static UcvJobUsage *
only_usage(GPtrArray *usages)
{
	g_assert_cmpuint(usages->len, ==, 1);
	return g_ptr_array_index(usages, 0);
}

static GPtrArray *
list_usage(UcvStore *store, gint64 at_ms)
{
	g_autoptr(GError) error = NULL;
	GPtrArray *usages = ucv_store_list_unsettled_usage(store, at_ms, &error);

	g_assert_no_error(error);
	return usages;
}

/* Running stretches follow the recorded states: queued and suspended time is not counted. */
static void
test_store_usage_stretches(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GPtrArray) usages = NULL;
	g_autoptr(GPtrArray) later = NULL;
	UcvJobUsage *usage;

	insert_one(store, "u1");
	g_usleep(100 * 1000);
	record_state(store, "u1", UCV_JOB_STATE_RUNNING, "up");
	g_usleep(50 * 1000);
	record_state(store, "u1", UCV_JOB_STATE_SUSPENDED, "saved");
	g_usleep(300 * 1000);
	record_state(store, "u1", UCV_JOB_STATE_RUNNING, "up again");
	/* a new status line while running is the same stretch */
	record_state(store, "u1", UCV_JOB_STATE_RUNNING, "still up");
	g_usleep(50 * 1000);
	record_state(store, "u1", UCV_JOB_STATE_SUCCESS, "done");

	usages = list_usage(store, now_ms());
	usage = only_usage(usages);
	g_assert_cmpstr(usage->job->id, ==, "u1");
	g_assert_true(usage->complete);
	g_assert_cmpint(usage->running_ms, >=, 100);
	g_assert_cmpint(usage->running_ms, <, 300);
	/* closed stretches do not grow with time */
	later = list_usage(store, now_ms() + 3600 * 1000);
	g_assert_cmpint(only_usage(later)->running_ms, ==, usage->running_ms);
}

static void
test_store_usage_open_stretch(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GPtrArray) queued = NULL;
	g_autoptr(GPtrArray) usages = NULL;
	gint64 before = now_ms();
	UcvJobUsage *usage;

	insert_one(store, "u2");
	insert_one(store, "never-ran");
	record_state(store, "never-ran", UCV_JOB_STATE_FAILURE, "no room");
	queued = list_usage(store, now_ms());
	g_assert_cmpuint(queued->len, ==, 0);

	record_state(store, "u2", UCV_JOB_STATE_RUNNING, "up");
	usages = list_usage(store, before + 60000);
	usage = only_usage(usages);
	g_assert_false(usage->complete);
	g_assert_cmpint(usage->running_ms, <=, 60000);
	g_assert_cmpint(usage->running_ms, >=, 60000 - (now_ms() - before));
	g_assert_cmpint(usage->reported_usage, ==, 0);
	g_assert_false(usage->wallet_locked);
}

/* Machines found gone after a while unwatched: the stretch ends when a sweep last saw them. */
static void
test_store_usage_last_seen(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) unseen = NULL;
	g_autoptr(GPtrArray) usages = NULL;
	gint64 started = now_ms();

	insert_one(store, "s1");
	insert_one(store, "s2");
	record_state(store, "s1", UCV_JOB_STATE_RUNNING, "up");
	record_state(store, "s2", UCV_JOB_STATE_RUNNING, "up");
	g_assert_true(ucv_store_mark_running_seen(store, "s1", started + 2000, &error));
	g_assert_no_error(error);
	g_assert_true(ucv_store_end_running_at_last_seen(store, "s1", &error));
	/* never seen by a sweep: left for the state change to close */
	g_assert_true(ucv_store_end_running_at_last_seen(store, "s2", &error));
	g_assert_no_error(error);
	record_state(store, "s1", UCV_JOB_STATE_FAILURE, "gone");

	usages = list_usage(store, now_ms() + 3600 * 1000);
	g_assert_cmpuint(usages->len, ==, 2);
	g_assert_true(((UcvJobUsage *)g_ptr_array_index(usages, 0))->complete);
	g_assert_cmpint(((UcvJobUsage *)g_ptr_array_index(usages, 0))->running_ms, <=, 2000);
	g_assert_cmpint(((UcvJobUsage *)g_ptr_array_index(usages, 0))->running_ms, >=,
			2000 - (now_ms() - started));
	g_assert_false(((UcvJobUsage *)g_ptr_array_index(usages, 1))->complete);
	g_assert_cmpint(((UcvJobUsage *)g_ptr_array_index(usages, 1))->running_ms, >=, 3600 * 1000);
}

static void
test_store_usage_settle(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) first = NULL;
	g_autoptr(GPtrArray) second = NULL;
	g_autoptr(GPtrArray) settled = NULL;
	UcvJobUsage *usage;

	insert_one(store, "u3");
	record_state(store, "u3", UCV_JOB_STATE_RUNNING, "up");
	g_assert_true(ucv_store_settle_usage(store, "u3", 10, 2, FALSE, &error));
	first = list_usage(store, now_ms());
	usage = only_usage(first);
	g_assert_cmpint(usage->reported_usage, ==, 10);
	g_assert_cmpint(usage->charged_periods, ==, 2);
	/* a late answer to an older report never lowers what Core acknowledged */
	g_assert_true(ucv_store_settle_usage(store, "u3", 5, 1, FALSE, &error));
	second = list_usage(store, now_ms());
	g_assert_cmpint(only_usage(second)->reported_usage, ==, 10);
	g_assert_cmpint(only_usage(second)->charged_periods, ==, 2);

	record_state(store, "u3", UCV_JOB_STATE_SUCCESS, "done");
	g_assert_true(ucv_store_settle_usage(store, "u3", 12, 2, TRUE, &error));
	g_assert_no_error(error);
	settled = list_usage(store, now_ms());
	g_assert_cmpuint(settled->len, ==, 0);
}

static void
test_store_usage_wallet_lock(void)
{
	g_autoptr(UcvStore) store = open_memory_store();
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) usages = NULL;

	insert_one(store, "u4");
	g_assert_false(ucv_store_get_wallet_locked(store, "u4"));
	g_assert_false(ucv_store_get_wallet_locked(store, "nobody"));
	record_state(store, "u4", UCV_JOB_STATE_RUNNING, "up");
	g_assert_true(ucv_store_set_wallet_locked(store, "u4", TRUE, &error));
	g_assert_no_error(error);
	g_assert_true(ucv_store_get_wallet_locked(store, "u4"));
	usages = list_usage(store, now_ms());
	g_assert_true(only_usage(usages)->wallet_locked);
	g_assert_true(ucv_store_set_wallet_locked(store, "u4", FALSE, &error));
	g_assert_false(ucv_store_get_wallet_locked(store, "u4"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/store/schema/fresh", test_store_fresh_schema);
	g_test_add_func("/store/schema/reopen", test_store_reopen_keeps_data);
	g_test_add_func("/store/schema/newer-refused", test_store_refuses_newer_schema);
	g_test_add_func("/store/schema/migrates-v1", test_store_migrates_v1);
	g_test_add_func("/store/jobs/mark-terminating", test_store_mark_terminating);
	g_test_add_func("/store/jobs/record-time", test_store_record_time);
	g_test_add_func("/store/jobs/insert-lookup-list", test_store_insert_lookup_list);
	g_test_add_func("/store/jobs/insert-all-or-nothing", test_store_insert_all_or_nothing);
	g_test_add_func("/store/update/atomic", test_store_record_update_atomic);
	g_test_add_func("/store/update/rolls-back", test_store_record_update_rolls_back);
	g_test_add_func("/store/update/status-only", test_store_status_only_update);
	g_test_add_func("/store/update/unknown-job", test_store_unknown_job_update);
	g_test_add_func("/store/update/final-is-final", test_store_final_state_is_final);
	g_test_add_func("/store/outbox/order", test_store_outbox_order);
	g_test_add_func("/store/usage/stretches", test_store_usage_stretches);
	g_test_add_func("/store/usage/open-stretch", test_store_usage_open_stretch);
	g_test_add_func("/store/usage/settle", test_store_usage_settle);
	g_test_add_func("/store/usage/last-seen", test_store_usage_last_seen);
	g_test_add_func("/store/usage/wallet-lock", test_store_usage_wallet_lock);
	g_test_add_func("/store/domains", test_store_domains);
	g_test_add_func("/store/jobs/list-for-sweep", test_store_list_for_sweep);
	g_test_add_func("/store/hostile-text", test_store_hostile_text_verbatim);

	return g_test_run();
}
