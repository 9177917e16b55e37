/* DOCKER jobs against the same work done without the provider, side by side in one run: create ->
 * the container's first line of output next to a bare virDomainCreateXML of the very same
 * container host, and a cold image preparation by the daemon's image store next to skopeo + umoci.
 * Figures only, never asserted: the machines are shared. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "container/ucv-agent-channel.h"
#include "container/ucv-erofs.h"
#include "container/ucv-image-ref.h"
#include "container/ucv-image-store.h"
#include "container/ucv-layer-unpack.h"
#include "container/ucv-registry-client.h"
#include "ucv-bench.h"
#include "ucv-docker-fixture.h"
#include "ucv-follow-client.h"
#include "virt/ucv-domain-xml.h"

#define START_ROUNDS     5
#define IMAGE_ROUNDS     3
#define RUN_TIMEOUT_S    240
#define SOCKET_WAIT_MS   20000
#define POLL_MS          5
#define OUTPUT_MARKER    "hello"
#define REGISTRY_ADDR    "127.0.0.1:" G_STRINGIFY(UCV_DOCKER_REGISTRY_PORT)
#define SMALL_IMAGE      UCV_DOCKER_IMAGE
#define BIG_REPO_TAG     "acme/big:1.0.0"
#define BIG_IMAGE        REGISTRY_ADDR "/" BIG_REPO_TAG
#define OCI_TAG          "bench"
#define STORE_MAX_BYTES  (G_GUINT64_CONSTANT(4) << 30)
#define CONTAINER_UID    UCV_DOCKER_UID
#define CONFIG_FILE_NAME "config-0.json"

/* Prints, then sleeps 2 s: the provider's machine is still there to be captured. */
static const UcvDockerJob echo_job = {
	.invocation = "[{'type':'word','word':'sh'},{'type':'word','word':'-c'},"
		      "{'type':'word','word':'echo " OUTPUT_MARKER "; sleep 2'}]",
};

static void
remove_tree(const gchar *dir)
{
	const gchar *argv[] = {"rm", "-rf", "--one-file-system", dir, NULL};

	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
		     NULL);
}

static gchar *
make_tmp_dir(const gchar *template)
{
	g_autoptr(GError) error = NULL;
	gchar *dir = g_dir_make_tmp(template, &error);

	g_assert_no_error(error);
	return dir;
}

/* Runs a tool to its end in `cwd` (may be NULL); fails the benchmark if it fails. */
static void
run_tool(const gchar *cwd, const gchar *const *argv)
{
	g_autofree gchar *err = NULL;
	g_autoptr(GError) error = NULL;
	gint status = 0;

	g_spawn_sync(cwd, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
		     NULL, NULL, NULL, &err, &status, &error);
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, &error))
		g_error("%s: %s\n%s", argv[0], error->message, err);
}

static void
copy_file(const gchar *from_dir, const gchar *name, const gchar *to_dir)
{
	g_autoptr(GFile) from = g_file_new_build_filename(from_dir, name, NULL);
	g_autoptr(GFile) to = g_file_new_build_filename(to_dir, name, NULL);
	g_autoptr(GError) error = NULL;

	g_file_copy(from, to, G_FILE_COPY_OVERWRITE | G_FILE_COPY_ALL_METADATA, NULL, NULL, NULL,
		    &error);
	g_assert_no_error(error);
}

static gchar *
replace_all(const gchar *text, const gchar *old, const gchar *new)
{
	g_auto(GStrv) parts = g_strsplit(text, old, -1);

	return g_strjoinv(new, parts);
}

static gchar *
regex_replace(const gchar *text, const gchar *pattern, const gchar *replacement)
{
	g_autoptr(GRegex) re = g_regex_new(pattern, G_REGEX_DOTALL, 0, NULL);

	g_assert_nonnull(re);
	return g_regex_replace_literal(re, text, -1, 0, replacement, 0, NULL);
}

/* Create -> first stdout line
 * ---------------------------------------------------------------------------------------------- */

static gchar *
running_domain_xml(UcvHarness *h, const gchar *job_id)
{
	g_autofree gchar *name = ucv_domain_name_for(job_id, 0);
	virDomainPtr domain = virDomainLookupByName(h->conn, name);
	gchar *xml;
	gchar *copy;

	if (domain == NULL)
		g_error("the job's container host %s is gone already", name);
	xml = virDomainGetXMLDesc(domain, VIR_DOMAIN_XML_INACTIVE);
	g_assert_nonnull(xml);
	virDomainFree(domain);
	copy = g_strdup(xml);
	free(xml);
	return copy;
}

/* POST create -> "hello" at Core's follow (opened right after the create, as Core does when the
 * job appears); returns the domain XML it ran, with the job's
 * directory written as @JOBDIR@ and its share as @SHARE@, and leaves the job's config.json in
 * h->dir. */
static gchar *
provider_round(UcvHarness *h, gdouble *elapsed)
{
	g_autofree gchar *job_id = ucv_harness_new_job_id();
	g_autofree gchar *job_dir = g_build_filename(h->state_dir, "jobs", job_id, NULL);
	g_autofree gchar *share = g_build_filename(h->state_dir, "shares", job_id, NULL);
	g_autofree gchar *json = ucv_docker_job_json(job_id, &echo_job);
	g_autoptr(UcvFollowClient) follow = NULL;
	g_autofree gchar *xml = NULL;
	g_autofree gchar *jobdir_marked = NULL;
	gint64 start = g_get_monotonic_time();

	ucv_harness_post_jobs(h, "/ucloud/test/jobs", json);
	follow = ucv_follow_client_open(h, job_id);
	ucv_follow_client_wait(follow, 0, 0, OUTPUT_MARKER, RUN_TIMEOUT_S);
	*elapsed = ucv_bench_seconds_since(start);
	xml = running_domain_xml(h, job_id);
	copy_file(job_dir, CONFIG_FILE_NAME, h->dir);
	g_free(ucv_harness_wait_state(h, job_id, "SUCCESS", RUN_TIMEOUT_S));
	ucv_docker_wait_domain_gone(h, job_id);
	jobdir_marked = replace_all(xml, job_dir, "@JOBDIR@");
	return replace_all(jobdir_marked, share, "@SHARE@");
}

/* The provider's domain under another name, in `dir`: no uuid (libvirt makes one), no job
 * metadata (the daemon must not take it for one of its jobs), socket, console log and config in
 * `dir`, `share` as the virtiofs share. */
static gchar *
bare_domain_xml(const gchar *provider_xml, const gchar *name, const gchar *dir, const gchar *share)
{
	g_autofree gchar *name_tag = g_strdup_printf("<name>%s</name>", name);
	g_autofree gchar *in_dir = replace_all(provider_xml, "@JOBDIR@", dir);
	g_autofree gchar *shared = replace_all(in_dir, "@SHARE@", share);
	g_autofree gchar *named = regex_replace(shared, "<name>[^<]*</name>", name_tag);
	g_autofree gchar *no_uuid = regex_replace(named, "\\s*<uuid>[^<]*</uuid>", "");

	return regex_replace(no_uuid, "\\s*<metadata>.*</metadata>", "");
}

/* What the bench's own end of the bare domain's agent channel saw. */
typedef struct {
	UcvAgentChannel *channel;
	GError *error;
	gint64 first_output_us;
	GString *output;
	gboolean closed;
} BareWatch;

static void
on_bare_connected(GObject *source, GAsyncResult *res, gpointer user_data)
{
	BareWatch *watch = user_data;

	watch->channel = ucv_agent_channel_connect_finish(res, &watch->error);
}

static void
on_bare_output(UcvAgentChannel *channel, guint stream, GBytes *data, gpointer user_data)
{
	BareWatch *watch = user_data;
	gsize len = 0;
	const gchar *bytes = g_bytes_get_data(data, &len);

	if (watch->first_output_us == 0)
		watch->first_output_us = g_get_monotonic_time();
	g_string_append_len(watch->output, bytes, len);
}

static void
on_bare_closed(UcvAgentChannel *channel, const gchar *reason, gpointer user_data)
{
	BareWatch *watch = user_data;

	watch->closed = TRUE;
}

static void
wait_bare_output(BareWatch *watch, const gchar *socket)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)RUN_TIMEOUT_S * G_USEC_PER_SEC;

	ucv_agent_channel_connect_async(socket, SOCKET_WAIT_MS, NULL, on_bare_connected, watch);
	while (watch->channel == NULL && watch->error == NULL)
		g_main_context_iteration(NULL, TRUE);
	if (watch->error != NULL)
		g_error("no agent channel to the bare domain: %s", watch->error->message);
	g_signal_connect(watch->channel, "output", G_CALLBACK(on_bare_output), watch);
	g_signal_connect(watch->channel, "closed", G_CALLBACK(on_bare_closed), watch);
	ucv_agent_channel_start(watch->channel);
	while (watch->first_output_us == 0) {
		if (watch->closed || g_get_monotonic_time() > deadline)
			g_error("the bare domain's container printed nothing");
		ucv_harness_spin(POLL_MS);
	}
}

/* The same container host started directly: virDomainCreateXML, then the agent channel, until
 * its first "output". The share is a plain directory with an empty work/ (the container's
 * /work), owned by UCloud's user as the daemon makes it. */
static gdouble
bare_round(UcvHarness *h, const gchar *provider_xml, guint round)
{
	g_autofree gchar *name = g_strdup_printf("bench-docker-bare-%u", round);
	g_autofree gchar *dir = g_strdup_printf("%s/bare-%u", h->dir, round);
	g_autofree gchar *share = g_build_filename(dir, "share", NULL);
	g_autofree gchar *work = g_build_filename(share, "work", NULL);
	g_autofree gchar *socket = g_build_filename(dir, "agent-0.sock", NULL);
	g_autofree gchar *xml = bare_domain_xml(provider_xml, name, dir, share);
	BareWatch watch = {.output = g_string_new(NULL)};
	gint64 start;
	gdouble elapsed;
	virDomainPtr domain;

	g_assert_cmpint(g_mkdir_with_parents(dir, 0711), ==, 0);
	g_assert_cmpint(g_mkdir_with_parents(work, 0755), ==, 0);
	g_assert_cmpint(chown(work, CONTAINER_UID, CONTAINER_UID), ==, 0);
	copy_file(h->dir, CONFIG_FILE_NAME, dir);
	start = g_get_monotonic_time();
	domain = virDomainCreateXML(h->conn, xml, 0);
	if (domain == NULL)
		g_error("virDomainCreateXML: %s", virGetLastErrorMessage());
	wait_bare_output(&watch, socket);
	elapsed = (gdouble)(watch.first_output_us - start) / G_USEC_PER_SEC;
	if (strstr(watch.output->str, OUTPUT_MARKER) == NULL)
		g_error("the bare domain's first output is not \"%s\": %s", OUTPUT_MARKER,
			watch.output->str);
	g_signal_handlers_disconnect_by_data(watch.channel, &watch);
	ucv_agent_channel_close(watch.channel);
	g_clear_object(&watch.channel);
	virDomainDestroy(domain);
	virDomainFree(domain);
	g_string_free(watch.output, TRUE);
	remove_tree(dir);
	return elapsed;
}

/* The rounds in their order, e.g. "5.90 8.36 12.61": how noisy the machine was. */
static gchar *
format_rounds(GArray *values)
{
	GString *text = g_string_new(NULL);

	for (guint i = 0; i < values->len; i++)
		g_string_append_printf(text, "%s%.2f", i > 0 ? " " : "",
				       g_array_index(values, gdouble, i));
	return g_string_free(text, FALSE);
}

static void
bench_create_to_first_output(void)
{
	g_autoptr(UcvHarness) h = ucv_docker_harness_new();
	g_autoptr(GArray) provider = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GArray) bare = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autofree gchar *provider_rounds = NULL;
	g_autofree gchar *bare_rounds = NULL;
	gdouble warmup = 0;
	gdouble p50_provider, p50_bare;

	/* the image pulled and cached before any round: both sides start from the cache */
	g_free(provider_round(h, &warmup));
	/* rounds alternate, so drift on a shared machine hits both sides alike */
	for (guint round = 0; round < START_ROUNDS; round++) {
		gdouble elapsed = 0;
		g_autofree gchar *xml = provider_round(h, &elapsed);

		g_array_append_val(provider, elapsed);
		elapsed = bare_round(h, xml, round);
		g_array_append_val(bare, elapsed);
	}
	/* before the medians, which sort the arrays */
	provider_rounds = format_rounds(provider);
	bare_rounds = format_rounds(bare);
	p50_bare = ucv_bench_percentile(bare, 0.5);
	p50_provider = ucv_bench_percentile(provider, 0.5);
	g_print("docker create->first stdout: provider %.2f s, bare %.2f s, ratio %.2f "
		"(median of %u)\n"
		"  rounds in order: provider %s s; bare %s s; the first provider job (image "
		"pulled, not counted) %.2f s\n",
		p50_provider, p50_bare, p50_provider / p50_bare, START_ROUNDS, provider_rounds,
		bare_rounds, warmup);
}

/* Cold image preparation
 * ---------------------------------------------------------------------------------------------- */

typedef struct {
	UcvStoredImage *image;
	GError *error;
	gboolean done;
} Ensure;

static void
on_ensured(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Ensure *ensure = user_data;

	ensure->image = ucv_image_store_ensure_finish(UCV_IMAGE_STORE(source), res, &ensure->error);
	ensure->done = TRUE;
}

/* The daemon's store in a fresh directory: pull, safe unpack, erofs. */
static gdouble
store_round(const gchar *reference)
{
	const gchar *insecure[] = {REGISTRY_ADDR, NULL};
	g_autoptr(UcvRegistryClient) registry = ucv_registry_client_new(insecure);
	g_autoptr(UcvImageStore) store = NULL;
	g_autofree gchar *dir = make_tmp_dir("ucv-bench-store-XXXXXX");
	Ensure ensure = {0};
	gint64 start;
	gdouble elapsed;

	start = g_get_monotonic_time();
	store = ucv_image_store_new(dir, registry, STORE_MAX_BYTES, STORE_MAX_BYTES);
	ucv_image_store_ensure_async(store, reference, NULL, NULL, NULL, on_ensured, &ensure);
	while (!ensure.done)
		g_main_context_iteration(NULL, TRUE);
	elapsed = ucv_bench_seconds_since(start);
	if (ensure.image == NULL)
		g_error("the image store could not prepare %s: %s", reference,
			ensure.error->message);
	ucv_stored_image_free(ensure.image);
	g_clear_object(&store);
	remove_tree(dir);
	return elapsed;
}

/* One asynchronous registry call at a time, waited for in the main loop. */
typedef struct {
	UcvImageManifest *manifest;
	GError *error;
	gboolean done;
} Fetch;

static void
on_manifest(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Fetch *fetch = user_data;

	fetch->manifest = ucv_registry_client_get_manifest_finish(UCV_REGISTRY_CLIENT(source), res,
								  &fetch->error);
	fetch->done = TRUE;
}

static void
on_blob(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Fetch *fetch = user_data;

	ucv_registry_client_fetch_blob_finish(UCV_REGISTRY_CLIENT(source), res, &fetch->error);
	fetch->done = TRUE;
}

static void
fetch_wait(Fetch *fetch)
{
	while (!fetch->done)
		g_main_context_iteration(NULL, TRUE);
	if (fetch->error != NULL)
		g_error("registry: %s", fetch->error->message);
	fetch->done = FALSE;
}

typedef struct {
	gdouble pull;   /* the manifest, the config and the layers, one after the other */
	gdouble unpack; /* the layers in order, safely */
	gdouble erofs;  /* mkfs.erofs of the tree */
} Steps;

static void
fetch_blob(UcvRegistryClient *registry, const UcvImageRef *ref, const gchar *digest, guint64 size,
	   const gchar *path)
{
	Fetch fetch = {0};

	ucv_registry_client_fetch_blob_async(registry, ref, digest, path, size, NULL, NULL, NULL,
					     on_blob, &fetch);
	fetch_wait(&fetch);
}

static gchar *
layer_path(const gchar *dir, guint i)
{
	g_autofree gchar *name = g_strdup_printf("layer-%u", i);

	return g_build_filename(dir, name, NULL);
}

/* The manifest, then the config and the layers one after the other, as the store fetches them. */
static UcvImageManifest *
pull_blobs(const gchar *reference, const gchar *dir)
{
	const gchar *insecure[] = {REGISTRY_ADDR, NULL};
	g_autoptr(UcvRegistryClient) registry = ucv_registry_client_new(insecure);
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvImageRef) ref = ucv_image_ref_parse(reference, &error);
	g_autofree gchar *config = g_build_filename(dir, "config", NULL);
	Fetch fetch = {0};

	g_assert_no_error(error);
	ucv_registry_client_get_manifest_async(registry, ref, NULL, on_manifest, &fetch);
	fetch_wait(&fetch);
	fetch_blob(registry, ref, fetch.manifest->config_digest, fetch.manifest->config_size,
		   config);
	for (guint i = 0; i < fetch.manifest->layers->len; i++) {
		UcvImageLayer *layer = g_ptr_array_index(fetch.manifest->layers, i);
		g_autofree gchar *path = layer_path(dir, i);

		fetch_blob(registry, ref, layer->digest, layer->size, path);
	}
	return fetch.manifest;
}

static void
unpack_layers(const gchar *dir, guint n_layers, const gchar *rootfs)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvLayerUnpack) unpack = NULL;

	g_assert_cmpint(g_mkdir(rootfs, 0755), ==, 0);
	unpack = ucv_layer_unpack_new(rootfs, STORE_MAX_BYTES, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < n_layers; i++) {
		g_autofree gchar *path = layer_path(dir, i);

		if (!ucv_layer_unpack_layer(unpack, path, &error))
			g_error("%s", error->message);
	}
}

/* What the store does for a cold image, its steps timed apart with the store's own pieces. */
static Steps
store_steps_round(const gchar *reference)
{
	g_autofree gchar *dir = make_tmp_dir("ucv-bench-steps-XXXXXX");
	g_autofree gchar *rootfs = g_build_filename(dir, "rootfs", NULL);
	g_autofree gchar *image = g_build_filename(dir, "image.erofs", NULL);
	g_autoptr(GError) error = NULL;
	UcvImageManifest *manifest;
	Steps steps;
	gint64 start = g_get_monotonic_time();

	manifest = pull_blobs(reference, dir);
	steps.pull = ucv_bench_seconds_since(start);
	start = g_get_monotonic_time();
	unpack_layers(dir, manifest->layers->len, rootfs);
	steps.unpack = ucv_bench_seconds_since(start);
	start = g_get_monotonic_time();
	if (!ucv_erofs_build(rootfs, image, &error))
		g_error("%s", error->message);
	steps.erofs = ucv_bench_seconds_since(start);
	ucv_image_manifest_free(manifest);
	remove_tree(dir);
	return steps;
}

/* skopeo copy into an OCI layout, umoci unpack into a bundle; then, apart, the erofs step of the
 * daemon on that tree. */
static Steps
tools_round(const gchar *policy, const gchar *reference)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dir = make_tmp_dir("ucv-bench-tools-XXXXXX");
	g_autofree gchar *layout = g_build_filename(dir, "oci", NULL);
	g_autofree gchar *bundle = g_build_filename(dir, "bundle", NULL);
	g_autofree gchar *rootfs = g_build_filename(bundle, "rootfs", NULL);
	g_autofree gchar *image = g_build_filename(dir, "image.erofs", NULL);
	g_autofree gchar *source = g_strdup_printf("docker://%s", reference);
	g_autofree gchar *dest = g_strdup_printf("oci:%s:%s", layout, OCI_TAG);
	g_autofree gchar *tagged = g_strdup_printf("%s:%s", layout, OCI_TAG);
	const gchar *skopeo[] = {"skopeo", "--policy", policy,
				 "copy",   "--quiet",  "--src-tls-verify=false",
				 source,   dest,       NULL};
	const gchar *umoci[] = {"umoci", "unpack", "--image", tagged, bundle, NULL};
	Steps times;
	gint64 start;

	start = g_get_monotonic_time();
	run_tool(dir, skopeo);
	times.pull = ucv_bench_seconds_since(start);
	start = g_get_monotonic_time();
	run_tool(dir, umoci);
	times.unpack = ucv_bench_seconds_since(start);
	start = g_get_monotonic_time();
	if (!ucv_erofs_build(rootfs, image, &error))
		g_error("%s", error->message);
	times.erofs = ucv_bench_seconds_since(start);
	remove_tree(dir);
	return times;
}

static gchar *
registry_script(void)
{
	return g_build_filename(g_getenv("UCV_SOURCE_ROOT"), "tests", "integration",
				"local-registry.sh", NULL);
}

/* Builds and pushes the big image (with umoci and skopeo, by local-registry.sh); its build and
 * skopeo's trust policy stay in `dir`. */
static void
push_big_image(const gchar *dir)
{
	g_autofree gchar *script = registry_script();
	const gchar *argv[] = {"bash", script,       "push-big-image",
			       dir,    BIG_REPO_TAG, G_STRINGIFY(UCV_DOCKER_REGISTRY_PORT),
			       NULL};

	run_tool(NULL, argv);
}

static guint64
tree_bytes(const gchar *path)
{
	g_autofree gchar *out = NULL;
	const gchar *argv[] = {"du", "-sb", path, NULL};

	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
		     NULL, NULL, &out, NULL, NULL, NULL);
	return out != NULL ? g_ascii_strtoull(out, NULL, 10) : 0;
}

/* The median over the rounds of one step (its offset in Steps). */
static gdouble
median_step(GArray *rounds, glong offset)
{
	g_autoptr(GArray) values = g_array_new(FALSE, FALSE, sizeof(gdouble));

	for (guint i = 0; i < rounds->len; i++) {
		gdouble value = G_STRUCT_MEMBER(gdouble, &g_array_index(rounds, Steps, i), offset);

		g_array_append_val(values, value);
	}
	return ucv_bench_percentile(values, 0.5);
}

static void
bench_image(const gchar *label, const gchar *policy, const gchar *reference)
{
	g_autoptr(GArray) daemon = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GArray) tools = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GArray) own_steps = g_array_new(FALSE, FALSE, sizeof(Steps));
	g_autoptr(GArray) tool_steps = g_array_new(FALSE, FALSE, sizeof(Steps));
	const glong pull = G_STRUCT_OFFSET(Steps, pull);
	const glong unpack = G_STRUCT_OFFSET(Steps, unpack);
	const glong erofs = G_STRUCT_OFFSET(Steps, erofs);
	gdouble p50_daemon, p50_tools;

	/* not counted: the registry's files into the page cache, for both sides alike */
	store_round(reference);
	for (guint round = 0; round < IMAGE_ROUNDS; round++) {
		gdouble elapsed = store_round(reference);
		Steps times = tools_round(policy, reference);
		Steps own = store_steps_round(reference);

		g_array_append_val(daemon, elapsed);
		elapsed = times.pull + times.unpack;
		g_array_append_val(tools, elapsed);
		g_array_append_val(tool_steps, times);
		g_array_append_val(own_steps, own);
	}
	p50_daemon = ucv_bench_percentile(daemon, 0.5);
	p50_tools = ucv_bench_percentile(tools, 0.5);
	g_print("docker cold image preparation, %s: daemon (pull + safe unpack + erofs) %.2f s, "
		"skopeo+umoci %.2f s, ratio %.2f (median of %u)\n"
		"  step by step (the store's pieces one at a time, medians): pull %.2f s against "
		"skopeo copy %.2f s; unpack %.2f s against umoci unpack %.2f s; erofs alone "
		"(mkfs.erofs) %.2f s, of umoci's tree %.2f s\n",
		label, p50_daemon, p50_tools, p50_daemon / p50_tools, IMAGE_ROUNDS,
		median_step(own_steps, pull), median_step(tool_steps, pull),
		median_step(own_steps, unpack), median_step(tool_steps, unpack),
		median_step(own_steps, erofs), median_step(tool_steps, erofs));
}

static void
bench_image_preparation(void)
{
	g_autofree gchar *dir = make_tmp_dir("ucv-bench-big-XXXXXX");
	g_autofree gchar *policy = NULL;
	g_autofree gchar *rootfs = NULL;
	g_autofree gchar *small_label = NULL;
	g_autofree gchar *big_label = NULL;

	push_big_image(dir);
	policy = g_build_filename(dir, "policy.json", NULL);
	rootfs = g_build_filename(dir, "build", "bundle", "rootfs", NULL);
	big_label = g_strdup_printf("%s (%.0f MB unpacked)", BIG_IMAGE,
				    (gdouble)tree_bytes(rootfs) / 1e6);
	small_label = g_strdup_printf("%s (small)", SMALL_IMAGE);
	bench_image(small_label, policy, SMALL_IMAGE);
	bench_image(big_label, policy, BIG_IMAGE);
	if (g_getenv("UCV_TEST_KEEP") == NULL)
		remove_tree(dir);
}

int
main(int argc, char **argv)
{
	ucv_docker_test_init(&argc, &argv);
	g_test_add_func("/bench/docker/create-to-first-output", bench_create_to_first_output);
	g_test_add_func("/bench/docker/image-preparation", bench_image_preparation);
	return ucv_docker_test_run();
}
