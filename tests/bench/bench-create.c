/* Benchmarks of job creation: the provider against bare libvirt, and the API's answer time. */
#include "config.h"

#include <glib/gstdio.h>

#include "ucv-bench.h"
#include "ucv-harness.h"

#define ROUNDS           5
#define LATENCY_REQUESTS 200

static void
copy_file(const gchar *from_dir, const gchar *name, const gchar *to_dir)
{
	g_autoptr(GFile) from = g_file_new_build_filename(from_dir, name, NULL);
	g_autoptr(GFile) to = g_file_new_build_filename(to_dir, name, NULL);
	g_autoptr(GError) error = NULL;

	g_file_copy(from, to, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error);
	g_assert_no_error(error);
}

/* create request → RUNNING received by the fake Core; returns the domain XML it ran, with the
 * job's directory written as @JOBDIR@. */
static gchar *
provider_round(UcvHarness *h, gdouble *elapsed)
{
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *job_dir = g_build_filename(h->state_dir, "jobs", job_id, NULL);
	g_auto(GStrv) parts = NULL;
	g_autofree gchar *name = g_strdup_printf("ucloud-%s-0", job_id);
	gint64 start = g_get_monotonic_time();
	virDomainPtr domain;
	gchar *xml;

	ucv_harness_create_job(h, job_id, 1);
	g_free(ucv_harness_wait_state(h, job_id, "RUNNING", 120));
	*elapsed = ucv_bench_seconds_since(start);
	domain = virDomainLookupByName(h->conn, name);
	g_assert_nonnull(domain);
	xml = virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE);
	virDomainFree(domain);
	/* the bare side gets the machine's cloud-init seed ready-made */
	copy_file(job_dir, "seed-0.iso", h->dir);
	ucv_harness_terminate_job(h, job_id);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", 60));
	parts = g_strsplit(xml, job_dir, -1);
	free(xml);
	return g_strjoinv("@JOBDIR@", parts);
}

/* The same domain started directly: a fresh overlay (as the provider makes) in a directory of
 * its own, then virDomainCreateXML. */
static gdouble
bare_round(UcvHarness *h, const gchar *provider_xml, guint round)
{
	g_autofree gchar *name = g_strdup_printf("bench-bare-%u", round);
	g_autofree gchar *dir = g_strdup_printf("%s/bare-%u", h->dir, round);
	g_autofree gchar *disk = g_strdup_printf("%s/disk-0.qcow2", dir);
	g_auto(GStrv) parts = g_strsplit(provider_xml, "@JOBDIR@", -1);
	g_autofree gchar *relocated = g_strjoinv(dir, parts);
	g_autofree gchar *base = g_build_filename(h->image_dir, "ucv-test-guest.qcow2", NULL);
	g_autofree gchar *cmd = NULL;
	g_autoptr(GRegex) name_re = g_regex_new("<name>[^<]*</name>", 0, 0, NULL);
	g_autofree gchar *xml = NULL;
	g_autofree gchar *name_tag = g_strdup_printf("<name>%s</name>", name);
	gint64 start;
	gdouble elapsed;
	virDomainPtr domain;

	xml = g_regex_replace_literal(name_re, relocated, -1, 0, name_tag, 0, NULL);
	g_assert_cmpint(g_mkdir_with_parents(dir, 0711), ==, 0);
	copy_file(h->dir, "seed-0.iso", dir);
	start = g_get_monotonic_time();
	cmd = g_strdup_printf("qemu-img create -q -f qcow2 -F qcow2 -b %s %s", base, disk);
	g_assert_true(g_spawn_command_line_sync(cmd, NULL, NULL, NULL, NULL));
	domain = virDomainCreateXML(h->conn, xml, 0);
	elapsed = ucv_bench_seconds_since(start);
	if (domain == NULL)
		g_error("virDomainCreateXML: %s", virGetLastErrorMessage());
	virDomainDestroy(domain);
	virDomainFree(domain);
	g_unlink(disk);
	return elapsed;
}

static void
bench_create_to_running(void)
{
	g_autoptr(UcvHarness) h = ucv_harness_new();
	g_autoptr(GArray) provider = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GArray) bare = g_array_new(FALSE, FALSE, sizeof(gdouble));
	gdouble p50_provider, p50_bare;

	/* rounds alternate, so drift on a shared machine hits both sides alike */
	for (guint round = 0; round < ROUNDS; round++) {
		gdouble elapsed = 0;
		g_autofree gchar *xml = provider_round(h, &elapsed);
		g_array_append_val(provider, elapsed);
		elapsed = bare_round(h, xml, round);
		g_array_append_val(bare, elapsed);
	}
	p50_provider = ucv_bench_percentile(provider, 0.5);
	p50_bare = ucv_bench_percentile(bare, 0.5);
	g_print("create -> RUNNING at Core, median of %u: provider %.3f s, bare "
		"virDomainCreateXML %.3f s, ratio %.2f\n",
		ROUNDS, p50_provider, p50_bare, p50_provider / p50_bare);
}

/* `requests` creates, timed from request to response; `paced` waits for each job to run before
 * the next request, so the answer is measured without a backlog of provisioning behind it. */
static GArray *
create_latencies(UcvHarness *h, guint requests, gboolean paced)
{
	GArray *latencies = g_array_new(FALSE, FALSE, sizeof(gdouble));

	for (guint i = 0; i < requests; i++) {
		g_autofree gchar *job_id = ucv_harness_new_job_id();
		gint64 start = g_get_monotonic_time();
		gdouble ms;

		ucv_harness_create_job(h, job_id, 1);
		ms = ucv_bench_seconds_since(start) * 1000.0;
		g_array_append_val(latencies, ms);
		if (paced)
			g_free(ucv_harness_wait_state(h, job_id, "RUNNING", 30));
	}
	return latencies;
}

static void
bench_create_latency(void)
{
	/* test:///default claims 16 CPUs and 3 GiB: overbook it, or the scheduler queues most */
	g_autoptr(UcvHarness) h = ucv_harness_new_with_config(
		"test:///default", "[scheduler]\nreserved-memory = 0\nmemory-overcommit = 100\n"
				   "cpu-overcommit = 100\n");
	g_autoptr(GArray) paced = create_latencies(h, LATENCY_REQUESTS, TRUE);
	g_autoptr(GArray) burst = create_latencies(h, LATENCY_REQUESTS, FALSE);

	g_print("create request -> response, %u requests each (libvirt test driver):\n"
		"  one at a time: p50 %.2f ms, p99 %.2f ms\n"
		"  back to back, provisioning piling up behind: p50 %.2f ms, p99 %.2f ms\n",
		LATENCY_REQUESTS, ucv_bench_percentile(paced, 0.5),
		ucv_bench_percentile(paced, 0.99), ucv_bench_percentile(burst, 0.5),
		ucv_bench_percentile(burst, 0.99));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/bench/create-to-running", bench_create_to_running);
	g_test_add_func("/bench/create-latency", bench_create_latency);
	return g_test_run();
}
