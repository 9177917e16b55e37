/* Tests for UcvAccountant with a real store and the fake Core: absolute usage, charges with
 * fixed ids, locked wallets, outages and a provider that dies with a charge in flight. */
#include "config.h"

#include <sqlite3.h>

#include "engine/ucv-accountant.h"
#include "model/ucv-product.h"
#include "ucv-fake-core.h"
#include "ucv-test-files.h"

/* 60000 a minute: one unit per millisecond of running time per machine */
#define PRODUCTS_JSON                                                                              \
	"[{\"type\":\"compute\",\"name\":\"acct\",\"category\":{\"name\":\"acct-cat\","            \
	"\"provider\":\"test\",\"accountingFrequency\":\"PERIODIC_MINUTE\"},\"price\":60000,"      \
	"\"cpu\":1,\"memoryInGigs\":1,\"gpu\":0}]"

typedef struct {
	gchar *dir;
	gchar *db_path;
	UcvFakeCore *fake_core;
	UcvCoreClient *core;
	UcvStore *store;
	GPtrArray *products;
	UcvAccountant *accountant;
	guint rounds;
	GPtrArray *locked; /* job ids of "wallet-locked" */
} Fixture;

static void
on_round_finished(UcvAccountant *accountant, Fixture *f)
{
	f->rounds++;
}

static void
on_wallet_locked(UcvAccountant *accountant, const gchar *job_id, Fixture *f)
{
	g_ptr_array_add(f->locked, g_strdup(job_id));
}

static void
make_accountant(Fixture *f, UcvAccountingMode mode)
{
	g_clear_object(&f->accountant);
	f->accountant = ucv_accountant_new(f->store, f->core, f->products, mode, 3600);
	g_signal_connect(f->accountant, "round-finished", G_CALLBACK(on_round_finished), f);
	g_signal_connect(f->accountant, "wallet-locked", G_CALLBACK(on_wallet_locked), f);
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	f->dir = g_dir_make_tmp("ucv-accountant-XXXXXX", &error);
	g_assert_no_error(error);
	f->db_path = g_build_filename(f->dir, "state.db", NULL);
	f->fake_core = ucv_fake_core_new(f->dir, &error);
	g_assert_no_error(error);
	ucv_fake_core_set_provider_id(f->fake_core, "test");
	g_assert_true(ucv_fake_core_listen(f->fake_core, 0, &error));
	f->core = ucv_core_client_new(ucv_fake_core_get_url(f->fake_core),
				      ucv_fake_core_get_refresh_token(f->fake_core));
	f->store = ucv_store_open(f->db_path, &error);
	g_assert_no_error(error);
	f->products = ucv_product_list_parse(PRODUCTS_JSON, -1, &error);
	g_assert_no_error(error);
	f->locked = g_ptr_array_new_with_free_func(g_free);
	make_accountant(f, GPOINTER_TO_INT(data));
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	g_clear_object(&f->accountant);
	g_clear_object(&f->core);
	g_clear_object(&f->fake_core);
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_clear_object(&f->store);
	g_ptr_array_unref(f->products);
	g_ptr_array_unref(f->locked);
	ucv_test_remove_tree(f->dir);
	g_free(f->db_path);
	g_free(f->dir);
}

static void
add_job(Fixture *f, const gchar *id, const gchar *project, guint replicas)
{
	g_autofree gchar *owner =
		project != NULL ? g_strdup_printf("\"%s\"", project) : g_strdup("null");
	g_autofree gchar *json = g_strdup_printf(
		"{\"id\":\"%s\",\"owner\":{\"createdBy\":\"alice#1\",\"project\":%s},"
		"\"specification\":{\"product\":{\"id\":\"acct\",\"category\":\"acct-cat\","
		"\"provider\":\"test\"},\"replicas\":%u}}",
		id, owner, replicas);
	g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func((GDestroyNotify)ucv_job_unref);
	g_autoptr(GError) error = NULL;

	g_ptr_array_add(jobs, ucv_job_new_from_string(json, &error));
	g_assert_no_error(error);
	g_assert_true(ucv_store_insert_jobs(f->store, jobs, &error));
}

static void
record_state(Fixture *f, const gchar *id, UcvJobState state)
{
	g_autoptr(UcvJobUpdate) update = ucv_job_update_new_state(state, "test");
	g_autoptr(GError) error = NULL;

	g_assert_true(ucv_store_record_update(f->store, id, update, &error));
	g_assert_no_error(error);
}

/* Moves every running stretch of the job `ms` into the past, as if it had run that long. */
static void
backdate(Fixture *f, const gchar *id, gint64 ms)
{
	g_autofree gchar *sql = g_strdup_printf(
		"UPDATE running_intervals SET started_ms = started_ms - %" G_GINT64_FORMAT
		" WHERE job_id = '%s'",
		ms, id);
	sqlite3 *db = NULL;

	g_assert_cmpint(sqlite3_open(f->db_path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);
}

static gboolean
on_timeout(gpointer user_data)
{
	g_error("an accounting round did not finish in time");
	return G_SOURCE_REMOVE;
}

static void
run_round(Fixture *f)
{
	guint rounds = f->rounds;
	guint timeout = g_timeout_add_seconds(10, on_timeout, NULL);

	ucv_accountant_kick(f->accountant);
	while (f->rounds == rounds)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(timeout);
}

static gint64
now_ms(void)
{
	return g_get_real_time() / 1000;
}

static void
test_report_usage_grows(Fixture *f, gconstpointer data)
{
	gint64 started = now_ms();
	gint64 first, second;

	add_job(f, "r1", NULL, 2);
	add_job(f, "r2", "project-7", 1);
	record_state(f, "r1", UCV_JOB_STATE_RUNNING);
	record_state(f, "r2", UCV_JOB_STATE_RUNNING);
	g_usleep(200 * 1000);
	run_round(f);
	first = ucv_fake_core_get_reported_usage(f->fake_core, "r1");
	/* two machines, one unit per millisecond each */
	g_assert_cmpint(first, >=, 2 * 200);
	g_assert_cmpint(first, <=, 2 * (now_ms() - started));
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->fake_core, "r2"), >=, 200);
	g_usleep(100 * 1000);
	run_round(f);
	second = ucv_fake_core_get_reported_usage(f->fake_core, "r1");
	g_assert_cmpint(second, >=, first + 2 * 100);
	g_assert_cmpuint(ucv_fake_core_get_usage_reports(f->fake_core, "r1"), ==, 2);
	g_assert_cmpuint(ucv_fake_core_get_usage_decreases(f->fake_core, "r1"), ==, 0);
	g_assert_cmpuint(f->locked->len, ==, 0);
}

/* Suspended time adds nothing; an ended job is reported once more, then never again. */
static void
test_report_usage_final(Fixture *f, gconstpointer data)
{
	gint64 at_suspend;

	add_job(f, "f1", NULL, 1);
	record_state(f, "f1", UCV_JOB_STATE_RUNNING);
	g_usleep(100 * 1000);
	record_state(f, "f1", UCV_JOB_STATE_SUSPENDED);
	run_round(f);
	at_suspend = ucv_fake_core_get_reported_usage(f->fake_core, "f1");
	g_assert_cmpint(at_suspend, >=, 100);
	g_usleep(300 * 1000);
	run_round(f);
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->fake_core, "f1"), ==, at_suspend);
	record_state(f, "f1", UCV_JOB_STATE_SUCCESS);
	run_round(f);
	run_round(f);
	run_round(f);
	g_assert_cmpuint(ucv_fake_core_get_usage_reports(f->fake_core, "f1"), ==, 3);
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->fake_core, "f1"), ==, at_suspend);
}

static void
test_report_usage_locked(Fixture *f, gconstpointer data)
{
	add_job(f, "l1", NULL, 1);
	record_state(f, "l1", UCV_JOB_STATE_RUNNING);
	ucv_fake_core_set_wallet_locked(f->fake_core, TRUE);
	run_round(f);
	g_assert_cmpuint(f->locked->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(f->locked, 0), ==, "l1");
	g_assert_true(ucv_store_get_wallet_locked(f->store, "l1"));
	/* Core records usage even for a locked wallet */
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->fake_core, "l1"), >=, 0);

	/* the job is stopped (suspended); Core's next "true" lifts the lock */
	record_state(f, "l1", UCV_JOB_STATE_SUSPENDED);
	ucv_fake_core_set_wallet_locked(f->fake_core, FALSE);
	run_round(f);
	g_assert_false(ucv_store_get_wallet_locked(f->store, "l1"));
	g_assert_cmpuint(f->locked->len, ==, 1);
}

static void
test_report_usage_core_away(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	gint64 started, ended;

	add_job(f, "a1", NULL, 1);
	started = now_ms();
	record_state(f, "a1", UCV_JOB_STATE_RUNNING);
	g_assert_true(ucv_fake_core_set_down(f->fake_core, TRUE, &error));
	g_usleep(150 * 1000);
	record_state(f, "a1", UCV_JOB_STATE_SUCCESS);
	ended = now_ms();
	run_round(f);
	run_round(f);
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->fake_core, "a1"), ==, -1);
	g_assert_true(ucv_fake_core_set_down(f->fake_core, FALSE, &error));
	run_round(f);
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->fake_core, "a1"), >=, 150);
	/* complete: the whole stretch, however long Core was away */
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->fake_core, "a1"), <=, ended - started);
}

static void
test_charge_credits_periods(Fixture *f, gconstpointer data)
{
	add_job(f, "c1", NULL, 2);
	record_state(f, "c1", UCV_JOB_STATE_RUNNING);
	backdate(f, "c1", 5 * 60 * 1000 + 500);
	run_round(f);
	/* five whole minutes of two machines: five charges of two units */
	g_assert_cmpuint(ucv_fake_core_get_charges(f->fake_core, "c1"), ==, 5);
	g_assert_cmpint(ucv_fake_core_get_charged(f->fake_core, "c1"), ==, 10);
	run_round(f);
	g_assert_cmpuint(ucv_fake_core_get_charges(f->fake_core, "c1"), ==, 5);
	g_assert_cmpuint(ucv_fake_core_get_repeated_charges(f->fake_core, "c1"), ==, 0);
	backdate(f, "c1", 60 * 1000);
	record_state(f, "c1", UCV_JOB_STATE_SUCCESS);
	run_round(f);
	g_assert_cmpuint(ucv_fake_core_get_charges(f->fake_core, "c1"), ==, 6);
	/* settled: later rounds send nothing */
	run_round(f);
	g_assert_cmpuint(ucv_fake_core_get_charges(f->fake_core, "c1"), ==, 6);
	g_assert_cmpuint(ucv_fake_core_get_repeated_charges(f->fake_core, "c1"), ==, 0);
}

static gboolean
spin_until_held(Fixture *f)
{
	for (guint i = 0; i < 1000; i++) {
		if (ucv_fake_core_get_held_accounting_calls(f->fake_core) > 0)
			return TRUE;
		g_main_context_iteration(NULL, FALSE);
		g_usleep(5000);
	}
	return FALSE;
}

/* The provider dies after Core took a charge and before it heard so: the restarted provider
 * sends the same charge ids again, and Core charges them once. */
static void
test_charge_credits_crash(Fixture *f, gconstpointer data)
{
	add_job(f, "k1", NULL, 1);
	record_state(f, "k1", UCV_JOB_STATE_RUNNING);
	backdate(f, "k1", 3 * 60 * 1000 + 500);
	ucv_fake_core_set_accounting_stalled(f->fake_core, TRUE);
	ucv_accountant_kick(f->accountant);
	g_assert_true(spin_until_held(f));
	g_assert_cmpint(ucv_fake_core_get_charged(f->fake_core, "k1"), ==, 3);
	/* the provider goes away with the answer still on its way */
	g_clear_object(&f->accountant);
	ucv_fake_core_set_accounting_stalled(f->fake_core, FALSE);
	make_accountant(f, UCV_ACCOUNTING_CHARGE_CREDITS);
	run_round(f);
	g_assert_cmpuint(ucv_fake_core_get_repeated_charges(f->fake_core, "k1"), ==, 3);
	g_assert_cmpint(ucv_fake_core_get_charged(f->fake_core, "k1"), ==, 3);
	/* acknowledged now: not sent again */
	run_round(f);
	g_assert_cmpuint(ucv_fake_core_get_repeated_charges(f->fake_core, "k1"), ==, 3);
}

static void
check_insufficient_then_paid(Fixture *f)
{
	add_job(f, "i1", "project-9", 1);
	record_state(f, "i1", UCV_JOB_STATE_RUNNING);
	backdate(f, "i1", 2 * 60 * 1000 + 500);
	ucv_fake_core_set_wallet_locked(f->fake_core, TRUE);
	run_round(f);
	g_assert_cmpuint(f->locked->len, ==, 1);
	g_assert_true(ucv_store_get_wallet_locked(f->store, "i1"));
	g_assert_cmpint(ucv_fake_core_get_charged(f->fake_core, "i1"), ==, 0);
	/* the job stops; its uncharged periods go again until Core takes them */
	record_state(f, "i1", UCV_JOB_STATE_SUSPENDED);
	run_round(f);
	g_assert_cmpint(ucv_fake_core_get_charged(f->fake_core, "i1"), ==, 0);
	ucv_fake_core_set_wallet_locked(f->fake_core, FALSE);
	run_round(f);
	g_assert_cmpint(ucv_fake_core_get_charged(f->fake_core, "i1"), ==, 2);
	g_assert_false(ucv_store_get_wallet_locked(f->store, "i1"));
	/* every locked answer about a job that has not ended is announced (the engine acts only
	 * on running ones), none after the wallet has funds */
	g_assert_cmpuint(f->locked->len, ==, 2);
}

static void
test_charge_credits_insufficient(Fixture *f, gconstpointer data)
{
	check_insufficient_then_paid(f);
}

static void
test_charge_credits_402(Fixture *f, gconstpointer data)
{
	ucv_fake_core_set_charge_402(f->fake_core, TRUE);
	check_insufficient_then_paid(f);
}

static void
test_none_reports_nothing(Fixture *f, gconstpointer data)
{
	add_job(f, "n1", NULL, 1);
	record_state(f, "n1", UCV_JOB_STATE_RUNNING);
	ucv_accountant_start(f->accountant);
	ucv_accountant_kick(f->accountant);
	for (guint i = 0; i < 20; i++) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(10 * 1000);
	}
	g_assert_cmpuint(f->rounds, ==, 0);
	g_assert_cmpuint(ucv_fake_core_get_usage_calls(f->fake_core), ==, 0);
}

/* Warnings of the accountant, counted instead of aborting the test while `counting`. */
static gboolean counting;
static guint accounting_warnings;

static GLogWriterOutput
count_accounting_warnings(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
			  gpointer user_data)
{
	for (gsize i = 0; i < n_fields; i++) {
		if (counting && g_strcmp0(fields[i].key, "GLIB_DOMAIN") == 0 &&
		    g_strcmp0(fields[i].value, "ucv-accounting") == 0 &&
		    (level & G_LOG_LEVEL_WARNING) != 0) {
			accounting_warnings++;
			return G_LOG_WRITER_HANDLED;
		}
	}
	return g_log_writer_default(level, fields, n_fields, user_data);
}

/* Core refusing the same report every round is said once, not every interval. */
static void
test_refusal_warned_once(Fixture *f, gconstpointer data)
{
	add_job(f, "w1", NULL, 1);
	record_state(f, "w1", UCV_JOB_STATE_RUNNING);
	/* a category of another provider: Core answers 403 */
	ucv_fake_core_set_provider_id(f->fake_core, "someone-else");
	accounting_warnings = 0;
	counting = TRUE;
	run_round(f);
	run_round(f);
	run_round(f);
	counting = FALSE;
	g_assert_cmpuint(accounting_warnings, ==, 1);
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->fake_core, "w1"), ==, -1);
	/* once Core takes it, the report goes through */
	ucv_fake_core_set_provider_id(f->fake_core, "test");
	run_round(f);
	g_assert_cmpint(ucv_fake_core_get_reported_usage(f->fake_core, "w1"), >=, 0);
}

int
main(int argc, char **argv)
{
	gconstpointer report = GINT_TO_POINTER(UCV_ACCOUNTING_REPORT_USAGE);
	gconstpointer charge = GINT_TO_POINTER(UCV_ACCOUNTING_CHARGE_CREDITS);
	gconstpointer none = GINT_TO_POINTER(UCV_ACCOUNTING_NONE);

	g_test_init(&argc, &argv, NULL);
	g_log_set_writer_func(count_accounting_warnings, NULL, NULL);
	g_test_add("/accountant/report-usage/grows", Fixture, report, fixture_setup,
		   test_report_usage_grows, fixture_teardown);
	g_test_add("/accountant/report-usage/final", Fixture, report, fixture_setup,
		   test_report_usage_final, fixture_teardown);
	g_test_add("/accountant/report-usage/locked", Fixture, report, fixture_setup,
		   test_report_usage_locked, fixture_teardown);
	g_test_add("/accountant/report-usage/core-away", Fixture, report, fixture_setup,
		   test_report_usage_core_away, fixture_teardown);
	g_test_add("/accountant/charge-credits/periods", Fixture, charge, fixture_setup,
		   test_charge_credits_periods, fixture_teardown);
	g_test_add("/accountant/charge-credits/crash", Fixture, charge, fixture_setup,
		   test_charge_credits_crash, fixture_teardown);
	g_test_add("/accountant/charge-credits/insufficient", Fixture, charge, fixture_setup,
		   test_charge_credits_insufficient, fixture_teardown);
	g_test_add("/accountant/charge-credits/402", Fixture, charge, fixture_setup,
		   test_charge_credits_402, fixture_teardown);
	g_test_add("/accountant/report-usage/refusal-warned-once", Fixture, report, fixture_setup,
		   test_refusal_warned_once, fixture_teardown);
	g_test_add("/accountant/none", Fixture, none, fixture_setup, test_none_reports_nothing,
		   fixture_teardown);
	return g_test_run();
}
