/* DOCKER jobs end to end: a real docker-registry serves an image built with umoci, the daemon
 * pulls it, stages the job's folders and runs the job in a container-host VM of the private
 * libvirtd; the fake Core sees the states, follow streams the output. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ucv-docker-fixture.h"
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

int
main(int argc, char **argv)
{
	gint rc;

	/* first, while single-threaded: the daemon's folder mounts must be where libvirtd looks */
	ucv_harness_enter_libvirt_namespaces();
	g_test_init(&argc, &argv, NULL);
	ucv_docker_fixture_setup();
	g_test_add_func("/docker/batch", test_batch);
	g_test_add_func("/docker/unknown-image", test_unknown_image);
	g_test_add_func("/docker/one-pull", test_one_pull);
	g_test_add_func("/docker/agent-silent", test_agent_silent);
	rc = g_test_run();
	ucv_docker_fixture_teardown();
	return rc;
}
