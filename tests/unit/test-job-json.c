/* Unit tests for Job parsing (documented and current Core forms) and JobUpdate output. */
#include "config.h"

#include <string.h>

#include "model/ucv-error.h"
#include "model/ucv-job-update.h"
#include "model/ucv-job.h"

/* spec §8, with the abridged parts filled in the way the documented API shapes them */
static const gchar *documented_job =
	"{\"id\":\"54112\",\"owner\":{\"createdBy\":\"user\",\"project\":null},\"updates\":[],"
	"\"specification\":{\"application\":{\"name\":\"acme-batch\",\"version\":\"1.0.0\"},"
	"\"product\":{\"id\":\"example-compute-1\",\"category\":\"example-compute\","
	"\"provider\":\"example\"},"
	"\"name\":null,\"replicas\":1,\"allowDuplicateJob\":false,"
	"\"parameters\":{\"debug\":{\"type\":\"boolean\",\"value\":true},"
	"\"value\":{\"type\":\"text\",\"value\":\"Hello, World!\"}},"
	"\"resources\":null,\"timeAllocation\":{\"hours\":1,\"minutes\":0,\"seconds\":0}},"
	"\"status\":{\"state\":\"IN_QUEUE\",\"resolvedApplication\":{\"metadata\":{\"name\":"
	"\"acme-batch\",\"version\":\"1.0.0\"},\"invocation\":{\"tool\":{\"name\":\"acme-batch\","
	"\"version\":\"1.0.0\",\"tool\":{\"description\":{\"backend\":\"DOCKER\",\"image\":"
	"\"acme/batch:1.0.0\"}}}}},"
	"\"resolvedProduct\":{\"name\":\"example-compute-1\",\"cpu\":1,\"memoryInGigs\":2,"
	"\"gpu\":0}},"
	"\"createdAt\":1633329776235}";

/* what current Core (core2) sends for a VM job: every key present, many of them null */
static const gchar *current_job =
	"{\"id\":\"4093\",\"createdAt\":1732540000123,"
	"\"owner\":{\"createdBy\":\"alice#1234\",\"project\":\"b1a2c3d4-project\"},"
	"\"permissions\":{\"myself\":[\"ADMIN\"],\"others\":[]},"
	"\"providerGeneratedId\":null,"
	"\"updates\":[{\"state\":\"IN_QUEUE\",\"outputFolder\":null,\"status\":\"queued\","
	"\"expectedState\":null,\"expectedDifferentState\":null,\"newTimeAllocation\":null,"
	"\"allowRestart\":null,\"resourceList\":null,\"timestamp\":1732540000200}],"
	"\"specification\":{\"product\":{\"id\":\"vm-2\",\"category\":\"vm\",\"provider\":"
	"\"example\"},\"application\":{\"name\":\"debian-vm\",\"version\":\"12\"},"
	"\"name\":\"my vm\",\"hostname\":\"vm-host\",\"replicas\":2,\"allowDuplicateJob\":true,"
	"\"parameters\":{\"ucMetricSampleRate\":{\"type\":\"text\",\"path\":\"\",\"mountPath\":"
	"\"\",\"readOnly\":false,\"value\":\"60\",\"hostname\":\"\",\"jobId\":\"\",\"id\":\"\","
	"\"port\":0,\"tls\":false}},"
	"\"resources\":[{\"type\":\"file\",\"path\":\"/123/data\",\"mountPath\":\"\","
	"\"readOnly\":true,\"value\":null,\"hostname\":\"\",\"jobId\":\"\",\"id\":\"\","
	"\"port\":0,\"tls\":false}],"
	"\"timeAllocation\":null,\"openedFile\":null,\"restartOnExit\":null,"
	"\"sshEnabled\":true,\"labels\":{}},"
	"\"status\":{\"state\":\"IN_QUEUE\",\"jobParametersJson\":null,\"startedAt\":null,"
	"\"expiresAt\":null,\"allowRestart\":false,"
	"\"resolvedApplication\":{\"metadata\":{\"name\":\"debian-vm\",\"version\":\"12\","
	"\"title\":\"Debian\"},\"invocation\":{\"tool\":{\"name\":\"debian-vm\",\"version\":"
	"\"12\",\"tool\":{\"owner\":\"_ucloud\",\"createdAt\":0,\"description\":{\"info\":"
	"{\"name\":\"debian-vm\",\"version\":\"12\"},\"image\":"
	"\"https://images.example.org/debian-12.qcow2\",\"backend\":\"VIRTUAL_MACHINE\","
	"\"container\":null,\"defaultTimeAllocation\":null,\"supportedProviders\":null}}},"
	"\"invocation\":[],\"parameters\":[],\"environment\":null,\"applicationType\":"
	"\"VNC\",\"vnc\":null,\"web\":null,\"ssh\":{\"mode\":\"OPTIONAL\"},"
	"\"container\":null,\"allowMultiNode\":false}},"
	"\"resolvedProduct\":{\"name\":\"vm-2\",\"category\":{\"name\":\"vm\",\"provider\":"
	"\"example\"},\"cpu\":2,\"memoryInGigs\":4,\"gpu\":0,\"price\":2},"
	"\"resolvedSupport\":null},"
	"\"output\":null,\"unknownFutureField\":{\"x\":[1,2,3]}}";

static UcvJob *
parse_ok(const gchar *json)
{
	g_autoptr(GError) error = NULL;
	UcvJob *job = ucv_job_new_from_string(json, &error);

	g_assert_no_error(error);
	g_assert_nonnull(job);
	return job;
}

static void
parse_fails(const gchar *json, const gchar *why_part)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvJob) job = ucv_job_new_from_string(json, &error);

	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_assert_null(job);
	if (why_part != NULL && strstr(error->message, why_part) == NULL)
		g_error("\"%s\" does not mention \"%s\"", error->message, why_part);
}

static void
test_job_documented(void)
{
	g_autoptr(UcvJob) job = parse_ok(documented_job);

	g_assert_cmpstr(job->id, ==, "54112");
	g_assert_cmpint(job->created_at_ms, ==, 1633329776235);
	g_assert_cmpstr(job->created_by, ==, "user");
	g_assert_null(job->project);
	g_assert_cmpstr(job->product_id, ==, "example-compute-1");
	g_assert_cmpstr(job->product_category, ==, "example-compute");
	g_assert_cmpstr(job->product_provider, ==, "example");
	g_assert_cmpstr(job->app_name, ==, "acme-batch");
	g_assert_cmpstr(job->app_version, ==, "1.0.0");
	g_assert_null(job->name);
	g_assert_null(job->hostname);
	g_assert_cmpuint(job->replicas, ==, 1);
	g_assert_cmpint(job->time_allocation_ms, ==, 3600 * 1000);
	g_assert_false(job->ssh_enabled);
	g_assert_true(job->app_resolved);
	g_assert_cmpint(job->backend, ==, UCV_BACKEND_DOCKER);
	g_assert_cmpstr(job->backend_name, ==, "DOCKER");
	g_assert_cmpstr(job->image, ==, "acme/batch:1.0.0");
}

static void
test_job_current(void)
{
	g_autoptr(UcvJob) job = parse_ok(current_job);

	g_assert_cmpstr(job->id, ==, "4093");
	g_assert_cmpstr(job->created_by, ==, "alice#1234");
	g_assert_cmpstr(job->project, ==, "b1a2c3d4-project");
	g_assert_cmpstr(job->product_id, ==, "vm-2");
	g_assert_cmpstr(job->name, ==, "my vm");
	g_assert_cmpstr(job->hostname, ==, "vm-host");
	g_assert_cmpuint(job->replicas, ==, 2);
	g_assert_cmpint(job->time_allocation_ms, ==, 0);
	g_assert_true(job->ssh_enabled);
	g_assert_true(job->app_resolved);
	g_assert_cmpint(job->backend, ==, UCV_BACKEND_VIRTUAL_MACHINE);
	g_assert_cmpstr(job->image, ==, "https://images.example.org/debian-12.qcow2");
}

static void
test_job_json_kept(void)
{
	g_autoptr(UcvJob) job = parse_ok(current_job);
	g_autoptr(UcvJob) again = parse_ok(job->json);

	/* compact, and complete enough to parse back to the same job */
	g_assert_null(strchr(job->json, '\n'));
	g_assert_nonnull(strstr(job->json, "\"ucMetricSampleRate\""));
	g_assert_nonnull(strstr(job->json, "\"unknownFutureField\""));
	g_assert_cmpstr(again->id, ==, job->id);
	g_assert_cmpstr(again->image, ==, job->image);
}

static void
test_job_minimal(void)
{
	g_autoptr(UcvJob) job = parse_ok("{\"id\":\"1\"}");

	g_assert_cmpstr(job->id, ==, "1");
	g_assert_null(job->product_id);
	g_assert_cmpuint(job->replicas, ==, 1);
	g_assert_false(job->app_resolved);
	g_assert_cmpint(job->backend, ==, UCV_BACKEND_UNKNOWN);
	g_assert_null(job->backend_name);
}

static void
test_job_nulls(void)
{
	g_autoptr(UcvJob) job = parse_ok(
		"{\"id\":\"7\",\"createdAt\":null,\"owner\":null,\"updates\":null,"
		"\"specification\":{\"product\":null,\"application\":null,\"name\":null,"
		"\"hostname\":null,\"replicas\":null,\"parameters\":null,\"resources\":null,"
		"\"timeAllocation\":null,\"sshEnabled\":null,\"labels\":null},"
		"\"status\":{\"state\":null,\"resolvedApplication\":null,\"resolvedProduct\":null},"
		"\"output\":null}");
	g_autoptr(UcvJob) deep =
		parse_ok("{\"id\":\"8\",\"specification\":null,\"status\":{\"resolvedApplication\":"
			 "{\"invocation\":{\"tool\":{\"tool\":null}}}}}");
	g_autoptr(UcvJob) partial_time =
		parse_ok("{\"id\":\"9\",\"specification\":{\"timeAllocation\":{\"hours\":null,"
			 "\"minutes\":2}}}");

	g_assert_cmpint(job->created_at_ms, ==, 0);
	g_assert_null(job->created_by);
	g_assert_cmpuint(job->replicas, ==, 1);
	g_assert_cmpint(job->time_allocation_ms, ==, 0);
	g_assert_false(job->app_resolved);
	g_assert_cmpint(job->backend, ==, UCV_BACKEND_UNKNOWN);

	/* resolved, but without a tool description: the backend stays unknown */
	g_assert_true(deep->app_resolved);
	g_assert_cmpint(deep->backend, ==, UCV_BACKEND_UNKNOWN);
	g_assert_null(deep->image);

	g_assert_cmpint(partial_time->time_allocation_ms, ==, 120 * 1000);
}

static void
test_job_backends(void)
{
	const struct {
		const gchar *name;
		UcvBackend backend;
	} cases[] = {
		{"VIRTUAL_MACHINE", UCV_BACKEND_VIRTUAL_MACHINE},
		{"DOCKER", UCV_BACKEND_DOCKER},
		{"NATIVE", UCV_BACKEND_NATIVE},
		{"SINGULARITY", UCV_BACKEND_OTHER},
		{"docker", UCV_BACKEND_OTHER},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *json = g_strdup_printf(
			"{\"id\":\"1\",\"status\":{\"resolvedApplication\":{\"invocation\":"
			"{\"tool\":{\"tool\":{\"description\":{\"backend\":\"%s\"}}}}}}}",
			cases[i].name);
		g_autoptr(UcvJob) job = parse_ok(json);
		g_assert_cmpint(job->backend, ==, cases[i].backend);
		g_assert_cmpstr(job->backend_name, ==, cases[i].name);
	}
}

static void
test_job_time_allocation(void)
{
	g_autoptr(UcvJob) job = parse_ok("{\"id\":\"1\",\"specification\":{\"timeAllocation\":"
					 "{\"hours\":2,\"minutes\":30,\"seconds\":15}}}");
	g_autoptr(UcvJob) as_float =
		parse_ok("{\"id\":\"1\",\"specification\":{\"replicas\":3.0,\"timeAllocation\":"
			 "{\"hours\":1.0}}}");

	g_assert_cmpint(job->time_allocation_ms, ==, ((2 * 60 + 30) * 60 + 15) * 1000);
	g_assert_cmpint(as_float->time_allocation_ms, ==, 3600 * 1000);
	g_assert_cmpuint(as_float->replicas, ==, 3);
}

static void
test_job_replicas_zero(void)
{
	g_autoptr(UcvJob) job = parse_ok("{\"id\":\"1\",\"specification\":{\"replicas\":0}}");

	/* refusing zero replicas is the engine's decision, with its own message */
	g_assert_cmpuint(job->replicas, ==, 0);
}

static void
test_job_hostile_ids(void)
{
	g_autofree gchar *long_id = g_strnfill(65, 'a');
	g_autofree gchar *long_json = g_strdup_printf("{\"id\":\"%s\"}", long_id);
	g_autofree gchar *max_id = g_strnfill(64, 'b');
	g_autofree gchar *max_json = g_strdup_printf("{\"id\":\"%s\"}", max_id);
	g_autoptr(UcvJob) max_job = NULL;
	g_autoptr(UcvJob) safe = parse_ok("{\"id\":\"job_1.a-B\"}");
	const gchar *bad[] = {
		"{\"id\":\"../x\"}", "{\"id\":\"a<b>\"}", "{\"id\":\"\"}",    "{\"id\":\".\"}",
		"{\"id\":\"..\"}",   "{\"id\":\"a/b\"}",  "{\"id\":\"a b\"}", "{\"id\":\"-rf\"}",
		"{\"id\":\"x'y\"}",  "{\"id\":\"é\"}",    long_json,
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		parse_fails(bad[i], "job id");
	max_job = parse_ok(max_json);
	g_assert_cmpstr(max_job->id, ==, max_id);
	g_assert_cmpstr(safe->id, ==, "job_1.a-B");
}

static void
test_job_missing_id(void)
{
	parse_fails("{}", "no id");
	parse_fails("{\"id\":null}", "no id");
	parse_fails("{\"specification\":{}}", "no id");
}

static void
test_job_wrong_types(void)
{
	parse_fails("{\"id\":54112}", "id must be a string");
	parse_fails("{\"id\":\"1\",\"specification\":[]}", "specification");
	parse_fails("{\"id\":\"1\",\"specification\":{\"replicas\":-1}}", "replicas");
	parse_fails("{\"id\":\"1\",\"specification\":{\"replicas\":1.5}}", "replicas");
	parse_fails("{\"id\":\"1\",\"specification\":{\"replicas\":\"2\"}}", "replicas");
	parse_fails("{\"id\":\"1\",\"specification\":{\"replicas\":true}}", "replicas");
	parse_fails("{\"id\":\"1\",\"specification\":{\"replicas\":1e300}}", "replicas");
	parse_fails("{\"id\":\"1\",\"specification\":{\"product\":\"vm-2\"}}", "product");
	parse_fails("{\"id\":\"1\",\"specification\":{\"product\":{\"id\":7}}}", "id");
	parse_fails("{\"id\":\"1\",\"specification\":{\"timeAllocation\":{\"hours\":-1}}}",
		    "timeAllocation");
	parse_fails("{\"id\":\"1\",\"specification\":{\"timeAllocation\":3600}}", "timeAllocation");
	parse_fails("{\"id\":\"1\",\"specification\":{\"sshEnabled\":\"yes\"}}", "sshEnabled");
	parse_fails("{\"id\":\"1\",\"owner\":\"alice\"}", "owner");
	parse_fails("{\"id\":\"1\",\"createdAt\":\"yesterday\"}", "createdAt");
	parse_fails("{\"id\":\"1\",\"status\":{\"resolvedApplication\":[]}}",
		    "resolvedApplication");
	parse_fails("{\"id\":\"1\",\"status\":{\"resolvedApplication\":{\"invocation\":{\"tool\":"
		    "{\"tool\":{\"description\":{\"backend\":5}}}}}}}",
		    "backend");
}

static void
test_job_not_object(void)
{
	parse_fails("[]", "object");
	parse_fails("\"54112\"", "object");
	parse_fails("null", "object");
	parse_fails("{\"id\":", "malformed");
	parse_fails("", NULL);
}

static void
test_job_refcount(void)
{
	UcvJob *job = parse_ok(documented_job);
	UcvJob *ref = ucv_job_ref(job);

	g_assert_true(ref == job);
	ucv_job_unref(job);
	g_assert_cmpstr(ref->id, ==, "54112");
	ucv_job_unref(ref);
}

static void
test_job_states(void)
{
	for (UcvJobState s = UCV_JOB_STATE_IN_QUEUE; s <= UCV_JOB_STATE_SUSPENDED; s++) {
		UcvJobState back = UCV_JOB_STATE_IN_QUEUE;
		g_assert_true(ucv_job_state_from_string(ucv_job_state_to_string(s), &back));
		g_assert_cmpint(back, ==, s);
	}
	g_assert_cmpstr(ucv_job_state_to_string(UCV_JOB_STATE_CANCELING), ==, "CANCELING");
	g_assert_false(ucv_job_state_from_string("running", NULL));
	g_assert_false(ucv_job_state_from_string(NULL, NULL));
	g_assert_true(ucv_job_state_is_final(UCV_JOB_STATE_SUCCESS));
	g_assert_true(ucv_job_state_is_final(UCV_JOB_STATE_FAILURE));
	g_assert_true(ucv_job_state_is_final(UCV_JOB_STATE_EXPIRED));
	g_assert_false(ucv_job_state_is_final(UCV_JOB_STATE_SUSPENDED));
	g_assert_false(ucv_job_state_is_final(UCV_JOB_STATE_RUNNING));
	g_assert_false(ucv_job_state_is_final(UCV_JOB_STATE_IN_QUEUE));
	g_assert_false(ucv_job_state_is_final(UCV_JOB_STATE_CANCELING));
	g_assert_cmpstr(ucv_backend_to_string(UCV_BACKEND_VIRTUAL_MACHINE), ==, "VIRTUAL_MACHINE");
	g_assert_cmpstr(ucv_backend_to_string(UCV_BACKEND_DOCKER), ==, "DOCKER");
}

static void
test_job_update_state(void)
{
	g_autoptr(UcvJobUpdate) update =
		ucv_job_update_new_state(UCV_JOB_STATE_RUNNING, "The job is now running!");
	g_autofree gchar *json = ucv_job_update_to_string(update);

	g_assert_cmpstr(json, ==,
			"{\"state\":\"RUNNING\",\"outputFolder\":null,\"status\":\"The job is now "
			"running!\",\"expectedState\":null,\"expectedDifferentState\":null,"
			"\"newTimeAllocation\":null,\"allowRestart\":null,\"resourceList\":null,"
			"\"timestamp\":0}");
}

static void
test_job_update_status_and_time(void)
{
	g_autoptr(UcvJobUpdate) status = ucv_job_update_new_status("say \"hi\"");
	g_autoptr(UcvJobUpdate) time = ucv_job_update_new();
	g_autofree gchar *status_json = NULL;
	g_autofree gchar *time_json = NULL;

	time->new_time_allocation_ms = 7200000;
	status_json = ucv_job_update_to_string(status);
	time_json = ucv_job_update_to_string(time);
	g_assert_true(g_str_has_prefix(status_json, "{\"state\":null,"));
	g_assert_nonnull(strstr(status_json, "\"status\":\"say \\\"hi\\\"\""));
	g_assert_nonnull(strstr(status_json, "\"timestamp\":0}"));
	g_assert_nonnull(strstr(time_json, "\"newTimeAllocation\":7200000"));
	g_assert_nonnull(strstr(time_json, "\"status\":null"));
	g_assert_null(strstr(time_json, "\"timestamp\":null"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/job/documented-form", test_job_documented);
	g_test_add_func("/job/current-form", test_job_current);
	g_test_add_func("/job/json-kept", test_job_json_kept);
	g_test_add_func("/job/minimal", test_job_minimal);
	g_test_add_func("/job/nulls", test_job_nulls);
	g_test_add_func("/job/backends", test_job_backends);
	g_test_add_func("/job/time-allocation", test_job_time_allocation);
	g_test_add_func("/job/replicas-zero", test_job_replicas_zero);
	g_test_add_func("/job/hostile-ids", test_job_hostile_ids);
	g_test_add_func("/job/missing-id", test_job_missing_id);
	g_test_add_func("/job/wrong-types", test_job_wrong_types);
	g_test_add_func("/job/not-an-object", test_job_not_object);
	g_test_add_func("/job/refcount", test_job_refcount);
	g_test_add_func("/job/states", test_job_states);
	g_test_add_func("/job-update/state", test_job_update_state);
	g_test_add_func("/job-update/status-and-time", test_job_update_status_and_time);
	return g_test_run();
}
