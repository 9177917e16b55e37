/* The hypervisor against libvirt's in-memory test driver: start, events, listing, removal. */
#include "config.h"

#include <glib/gstdio.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "model/ucv-error.h"
#include "virt/ucv-domain-xml.h"
#include "virt/ucv-hypervisor.h"
#include "virt/ucv-save-params.h"
#include "ucv-test-files.h"

#define TEST_URI "test:///default"

typedef struct {
	UcvHypervisor *hypervisor;
	GPtrArray *events; /* "name event" strings, in arrival order */
	guint n_connected;
	guint n_disconnected;
	GAsyncResult *result;
} Fixture;

static gchar *
event_key(const gchar *name, UcvDomainEvent event)
{
	return g_strdup_printf("%s %d", name, (gint)event);
}

static void
on_domain_event(UcvHypervisor *hypervisor, const gchar *name, gint event, Fixture *fixture)
{
	g_ptr_array_add(fixture->events, event_key(name, event));
}

static void
on_connected(UcvHypervisor *hypervisor, Fixture *fixture)
{
	fixture->n_connected++;
}

static void
on_disconnected(UcvHypervisor *hypervisor, Fixture *fixture)
{
	fixture->n_disconnected++;
}

static gboolean
on_timeout(gpointer user_data)
{
	g_error("timed out waiting for %s", (const gchar *)user_data);
	return G_SOURCE_REMOVE;
}

static gboolean
has_event(Fixture *fixture, const gchar *name, UcvDomainEvent event)
{
	g_autofree gchar *key = event_key(name, event);

	return g_ptr_array_find_with_equal_func(fixture->events, key, g_str_equal, NULL);
}

static void
wait_for_event(Fixture *fixture, const gchar *name, UcvDomainEvent event)
{
	g_autofree gchar *key = event_key(name, event);
	guint id = g_timeout_add_seconds(10, on_timeout, key);

	while (!has_event(fixture, name, event))
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(id);
}

static void
on_result(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Fixture *fixture = user_data;

	fixture->result = g_object_ref(res);
}

static GAsyncResult *
wait_for_result(Fixture *fixture)
{
	guint id = g_timeout_add_seconds(10, on_timeout, "an async result");

	while (fixture->result == NULL)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(id);
	return g_steal_pointer(&fixture->result);
}

static void
drain_main_context(void)
{
	while (g_main_context_iteration(NULL, FALSE))
		;
}

static void
fixture_setup_uri(Fixture *fixture, const gchar *uri)
{
	g_autoptr(GError) error = NULL;

	fixture->events = g_ptr_array_new_with_free_func(g_free);
	fixture->hypervisor = ucv_hypervisor_new(uri);
	/* a freshly started daemon may need a moment before it accepts */
	for (guint i = 0; i < 100 && !ucv_hypervisor_connect(fixture->hypervisor, NULL); i++)
		g_usleep(50 * G_TIME_SPAN_MILLISECOND);
	g_assert_true(ucv_hypervisor_connect(fixture->hypervisor, &error));
	g_assert_no_error(error);
	g_signal_connect(fixture->hypervisor, "domain-event", G_CALLBACK(on_domain_event), fixture);
	g_signal_connect(fixture->hypervisor, "connected", G_CALLBACK(on_connected), fixture);
	g_signal_connect(fixture->hypervisor, "disconnected", G_CALLBACK(on_disconnected), fixture);
}

static void
fixture_setup(Fixture *fixture, gconstpointer data)
{
	fixture_setup_uri(fixture, TEST_URI);
}

static void
fixture_teardown(Fixture *fixture, gconstpointer data)
{
	drain_main_context();
	/* a worker thread may still hold the object for a moment after its result arrived */
	g_signal_handlers_disconnect_by_data(fixture->hypervisor, fixture);
	g_clear_object(&fixture->hypervisor);
	g_clear_pointer(&fixture->events, g_ptr_array_unref);
}

static gchar *
render(const gchar *job_id, guint rank, guint64 memory_mib)
{
	g_autofree gchar *name = ucv_domain_name_for(job_id, rank);
	/* the test driver only knows domains of type 'test' */
	const UcvDomainSpec spec = {
		.name = name,
		.title = "hypervisor test",
		.domain_type = "test",
		.vcpus = 1,
		.memory_mib = memory_mib,
		.disk_path = "/nonexistent/disk.qcow2",
		.disk_format = "qcow2",
		.console_log = "/nonexistent/console.log",
		.vnc_socket = "/nonexistent/vnc.sock",
		.job_id = job_id,
		.rank = rank,
		.owner = "tester",
		.product = "test-product",
		.application = "test@1",
	};
	g_autoptr(GError) error = NULL;
	gchar *xml = ucv_domain_xml_render(&spec, &error);

	g_assert_no_error(error);
	return xml;
}

static gboolean
start_domain(Fixture *fixture, const gchar *xml, GError **error)
{
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(UcvDomainStartResult) result = NULL;

	ucv_hypervisor_start_domain_async(fixture->hypervisor, xml, NULL, on_result, fixture);
	res = wait_for_result(fixture);
	result = ucv_hypervisor_start_domain_finish(fixture->hypervisor, res, error);
	return result != NULL;
}

static gboolean
remove_domain(Fixture *fixture, const gchar *name, GError **error)
{
	g_autoptr(GAsyncResult) res = NULL;

	ucv_hypervisor_remove_domain_async(fixture->hypervisor, name, NULL, on_result, fixture);
	res = wait_for_result(fixture);
	return ucv_hypervisor_remove_domain_finish(fixture->hypervisor, res, error);
}

static UcvDomainInfo *
lookup_info(GPtrArray *infos, const gchar *name)
{
	for (guint i = 0; i < infos->len; i++) {
		UcvDomainInfo *info = g_ptr_array_index(infos, i);
		if (g_strcmp0(info->name, name) == 0)
			return info;
	}
	return NULL;
}

static UcvDomainInfo *
find_info(GPtrArray *infos, const gchar *name)
{
	UcvDomainInfo *info = lookup_info(infos, name);

	if (info == NULL)
		g_error("domain %s is not listed", name);
	return info;
}

static void
test_connected_signal(Fixture *fixture, gconstpointer data)
{
	g_assert_true(ucv_hypervisor_is_connected(fixture->hypervisor));
	g_assert_nonnull(ucv_hypervisor_get_connection(fixture->hypervisor));
	/* emitted from an idle, so this handler, connected after connect(), hears it */
	g_assert_cmpuint(fixture->n_connected, ==, 0);
	drain_main_context();
	g_assert_cmpuint(fixture->n_connected, ==, 1);
}

static void
test_lifecycle(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *xml = render("77", 2, 256);
	g_autoptr(GPtrArray) infos = NULL;
	g_autoptr(UcvDomainInfo) info = NULL;
	g_autoptr(UcvDomainInfo) missing = NULL;
	g_autoptr(GError) error = NULL;
	UcvDomainInfo *found;

	g_assert_true(start_domain(fixture, xml, &error));
	g_assert_no_error(error);
	wait_for_event(fixture, "ucloud-77-2", UCV_DOMAIN_EVENT_STARTED);

	infos = ucv_hypervisor_list_domains(fixture->hypervisor, &error);
	g_assert_no_error(error);
	found = find_info(infos, "ucloud-77-2");
	g_assert_cmpstr(found->job_id, ==, "77");
	g_assert_cmpuint(found->rank, ==, 2);
	g_assert_true(found->active);
	g_assert_false(found->has_managed_save);
	/* the test driver's own domain carries no metadata */
	g_assert_null(lookup_info(infos, "test"));

	info = ucv_hypervisor_lookup_domain(fixture->hypervisor, "ucloud-77-2", &error);
	g_assert_no_error(error);
	g_assert_nonnull(info);
	g_assert_cmpstr(info->job_id, ==, "77");
	missing = ucv_hypervisor_lookup_domain(fixture->hypervisor, "ucloud-none-0", &error);
	g_assert_no_error(error);
	g_assert_null(missing);

	/* starting a running domain is a no-op */
	g_assert_true(start_domain(fixture, xml, &error));
	g_assert_no_error(error);

	g_assert_true(remove_domain(fixture, "ucloud-77-2", &error));
	g_assert_no_error(error);
	wait_for_event(fixture, "ucloud-77-2", UCV_DOMAIN_EVENT_DESTROYED);
	wait_for_event(fixture, "ucloud-77-2", UCV_DOMAIN_EVENT_UNDEFINED);
	g_clear_pointer(&info, ucv_domain_info_free);
	info = ucv_hypervisor_lookup_domain(fixture->hypervisor, "ucloud-77-2", &error);
	g_assert_no_error(error);
	g_assert_null(info);

	g_assert_true(remove_domain(fixture, "ucloud-77-2", &error));
	g_assert_no_error(error);
}

static void
get_uuid(virConnectPtr conn, const gchar *name, gchar *uuid)
{
	virDomainPtr dom = virDomainLookupByName(conn, name);

	g_assert_nonnull(dom);
	g_assert_cmpint(virDomainGetUUIDString(dom, uuid), ==, 0);
	virDomainFree(dom);
}

static void
test_redefine_and_managed_save(Fixture *fixture, gconstpointer data)
{
	virConnectPtr conn = ucv_hypervisor_get_connection(fixture->hypervisor);
	g_autofree gchar *old_xml = render("78", 0, 128);
	g_autofree gchar *new_xml = render("78", 0, 256);
	gchar uuid_before[VIR_UUID_STRING_BUFLEN] = {0};
	gchar uuid_after[VIR_UUID_STRING_BUFLEN] = {0};
	g_autoptr(GPtrArray) infos = NULL;
	g_autoptr(GError) error = NULL;
	virDomainPtr dom;

	dom = virDomainDefineXML(conn, old_xml);
	g_assert_nonnull(dom);
	virDomainFree(dom);
	get_uuid(conn, "ucloud-78-0", uuid_before);

	/* defined but stopped: redefined with the new XML, same UUID, then started */
	g_assert_true(start_domain(fixture, new_xml, &error));
	g_assert_no_error(error);
	wait_for_event(fixture, "ucloud-78-0", UCV_DOMAIN_EVENT_STARTED);
	get_uuid(conn, "ucloud-78-0", uuid_after);
	g_assert_cmpstr(uuid_before, ==, uuid_after);
	dom = virDomainLookupByName(conn, "ucloud-78-0");
	g_assert_cmpuint(virDomainGetMaxMemory(dom), ==, 256 * 1024);

	g_assert_cmpint(virDomainManagedSave(dom, 0), ==, 0);
	virDomainFree(dom);
	wait_for_event(fixture, "ucloud-78-0", UCV_DOMAIN_EVENT_SAVED);
	infos = ucv_hypervisor_list_domains(fixture->hypervisor, &error);
	g_assert_no_error(error);
	g_assert_true(find_info(infos, "ucloud-78-0")->has_managed_save);
	g_assert_false(find_info(infos, "ucloud-78-0")->active);

	/* a suspended domain starts again from its image */
	g_ptr_array_set_size(fixture->events, 0);
	g_assert_true(start_domain(fixture, new_xml, &error));
	g_assert_no_error(error);
	wait_for_event(fixture, "ucloud-78-0", UCV_DOMAIN_EVENT_STARTED);

	g_assert_true(remove_domain(fixture, "ucloud-78-0", &error));
	g_assert_no_error(error);
	wait_for_event(fixture, "ucloud-78-0", UCV_DOMAIN_EVENT_UNDEFINED);
}

static void
test_remove_stopped_with_save(Fixture *fixture, gconstpointer data)
{
	virConnectPtr conn = ucv_hypervisor_get_connection(fixture->hypervisor);
	g_autofree gchar *xml = render("79", 0, 128);
	g_autoptr(UcvDomainInfo) info = NULL;
	g_autoptr(GError) error = NULL;
	virDomainPtr dom;

	g_assert_true(start_domain(fixture, xml, &error));
	g_assert_no_error(error);
	dom = virDomainLookupByName(conn, "ucloud-79-0");
	g_assert_cmpint(virDomainManagedSave(dom, 0), ==, 0);
	virDomainFree(dom);

	g_assert_true(remove_domain(fixture, "ucloud-79-0", &error));
	g_assert_no_error(error);
	wait_for_event(fixture, "ucloud-79-0", UCV_DOMAIN_EVENT_UNDEFINED);
	info = ucv_hypervisor_lookup_domain(fixture->hypervisor, "ucloud-79-0", &error);
	g_assert_no_error(error);
	g_assert_null(info);
}

static void
test_foreign_domains(Fixture *fixture, gconstpointer data)
{
	virConnectPtr conn = ucv_hypervisor_get_connection(fixture->hypervisor);
	g_autofree gchar *ours = render("80", 0, 128);
	g_autofree gchar *xml = NULL;
	g_autoptr(GError) error = NULL;
	virDomainPtr dom;

	xml = g_strdup("<domain type='test'><name>admin-vm</name><memory unit='MiB'>64</memory>"
		       "<os><type>hvm</type></os></domain>");
	dom = virDomainCreateXML(conn, xml, 0);
	g_assert_nonnull(dom);
	g_assert_cmpint(virDomainDestroy(dom), ==, 0);
	virDomainFree(dom);

	/* an event for our domain after the foreign ones proves those were delivered first */
	g_assert_true(start_domain(fixture, ours, &error));
	wait_for_event(fixture, "ucloud-80-0", UCV_DOMAIN_EVENT_STARTED);
	for (guint i = 0; i < fixture->events->len; i++)
		g_assert_true(g_str_has_prefix(g_ptr_array_index(fixture->events, i), "ucloud-"));
	g_assert_true(remove_domain(fixture, "ucloud-80-0", &error));
	g_assert_no_error(error);
}

static void
test_list_async(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *xml = render("81", 3, 128);
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GPtrArray) infos = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(start_domain(fixture, xml, &error));
	ucv_hypervisor_list_domains_async(fixture->hypervisor, NULL, on_result, fixture);
	res = wait_for_result(fixture);
	infos = ucv_hypervisor_list_domains_finish(fixture->hypervisor, res, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(find_info(infos, "ucloud-81-3")->rank, ==, 3);
	g_assert_true(remove_domain(fixture, "ucloud-81-3", &error));
	g_assert_no_error(error);
}

static void
test_bad_xml(Fixture *fixture, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(start_domain(fixture, "<domain><name>x</name>", &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_INVALID);
	g_clear_error(&error);
	g_assert_false(start_domain(
		fixture, "<domain type='nonsense'><name>ucloud-x-0</name></domain>", &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_LIBVIRT);
}

static gboolean
saved_and_stopped(Fixture *fixture, const gchar *name)
{
	virConnectPtr conn = ucv_hypervisor_get_connection(fixture->hypervisor);
	virDomainPtr dom = virDomainLookupByName(conn, name);
	gboolean saved;

	g_assert_nonnull(dom);
	saved = virDomainIsActive(dom) == 0 && virDomainHasManagedSaveImage(dom, 0) == 1;
	virDomainFree(dom);
	return saved;
}

/* A managed save stops the domain with its memory kept; starting it as it is restores it; both
 * are idempotent, as a repeated operation after a restart needs. */
static void
test_managed_save(Fixture *fixture, gconstpointer data)
{
	g_autofree gchar *xml = render("81", 0, 128);
	g_autoptr(GAsyncResult) saved = NULL;
	g_autoptr(GAsyncResult) again = NULL;
	g_autoptr(GAsyncResult) started = NULL;
	g_autoptr(GAsyncResult) restarted = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(start_domain(fixture, xml, &error));
	ucv_hypervisor_managed_save_async(fixture->hypervisor, "ucloud-81-0", 0, NULL, on_result,
					  fixture);
	saved = wait_for_result(fixture);
	g_assert_true(ucv_hypervisor_managed_save_finish(fixture->hypervisor, saved, &error));
	g_assert_no_error(error);
	g_assert_true(saved_and_stopped(fixture, "ucloud-81-0"));
	ucv_hypervisor_managed_save_async(fixture->hypervisor, "ucloud-81-0", 0, NULL, on_result,
					  fixture);
	again = wait_for_result(fixture);
	g_assert_true(ucv_hypervisor_managed_save_finish(fixture->hypervisor, again, &error));

	ucv_hypervisor_start_existing_async(fixture->hypervisor, "ucloud-81-0", NULL, on_result,
					    fixture);
	started = wait_for_result(fixture);
	g_assert_true(ucv_hypervisor_start_existing_finish(fixture->hypervisor, started, &error));
	g_assert_no_error(error);
	g_assert_false(saved_and_stopped(fixture, "ucloud-81-0"));
	ucv_hypervisor_start_existing_async(fixture->hypervisor, "ucloud-81-0", NULL, on_result,
					    fixture);
	restarted = wait_for_result(fixture);
	g_assert_true(ucv_hypervisor_start_existing_finish(fixture->hypervisor, restarted, &error));
}

/* Parallel save channels only where libvirt has them (11.2), a few, never one. */
static void
test_save_channels(void)
{
	g_assert_cmpuint(ucv_save_parallel_channels(9000000, 64), ==, 0);
	g_assert_cmpuint(ucv_save_parallel_channels(11001000, 64), ==, 0);
	g_assert_cmpuint(ucv_save_parallel_channels(11002000, 1), ==, 2);
	g_assert_cmpuint(ucv_save_parallel_channels(11002000, 6), ==, 3);
	g_assert_cmpuint(ucv_save_parallel_channels(12000000, 64), ==, 4);
}

static void
test_not_connected(void)
{
	g_autoptr(UcvHypervisor) hypervisor =
		ucv_hypervisor_new("qemu+unix:///system?socket=/nonexistent/libvirt-sock");
	g_autoptr(GPtrArray) infos = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_false(ucv_hypervisor_connect(hypervisor, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE);
	g_clear_error(&error);
	g_assert_false(ucv_hypervisor_is_connected(hypervisor));
	infos = ucv_hypervisor_list_domains(hypervisor, &error);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE);
	g_assert_null(infos);
}

/* A private libvirtd in its own mount namespace that serves only its built-in test driver. */
typedef struct {
	gchar *dir;
	gchar *socket;
	GSubprocess *proc;
} PrivateDaemon;

static const gchar *const daemon_mounts[] = {"/etc/libvirt", "/run/libvirt", "/var/lib/libvirt",
					     "/var/log/libvirt", "/var/cache/libvirt"};

static gboolean
daemon_can_run(void)
{
	g_autofree gchar *libvirtd = g_find_program_in_path("libvirtd");
	g_autofree gchar *unshare = g_find_program_in_path("unshare");

	if (geteuid() != 0 || libvirtd == NULL || unshare == NULL)
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(daemon_mounts); i++) {
		if (!g_file_test(daemon_mounts[i], G_FILE_TEST_IS_DIR))
			return FALSE;
	}
	return TRUE;
}

static gchar *
daemon_script(PrivateDaemon *daemon)
{
	g_autoptr(GString) script = g_string_new(NULL);

	for (guint i = 0; i < G_N_ELEMENTS(daemon_mounts); i++) {
		g_autofree gchar *base = g_path_get_basename(daemon_mounts[i]);
		g_autofree gchar *dir = g_build_filename(daemon->dir, base, NULL);
		g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
		g_string_append_printf(script, "mount --bind '%s' '%s' && ", dir, daemon_mounts[i]);
	}
	g_string_append_printf(script, "exec libvirtd -f '%s/libvirtd.conf' -p '%s/libvirtd.pid'",
			       daemon->dir, daemon->dir);
	return g_string_free(g_steal_pointer(&script), FALSE);
}

static void
daemon_child_setup(gpointer user_data)
{
	/* no daemon outlives a crashed test */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void
daemon_start(PrivateDaemon *daemon)
{
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autofree gchar *conf_path = g_build_filename(daemon->dir, "libvirtd.conf", NULL);
	g_autofree gchar *drivers = g_build_filename(daemon->dir, "no-drivers", NULL);
	g_autofree gchar *conf = NULL;
	g_autofree gchar *script = daemon_script(daemon);
	g_autoptr(GError) error = NULL;

	conf = g_strdup_printf(
		"unix_sock_dir = \"%s\"\nauth_unix_rw = \"none\"\n"
		"auth_unix_ro = \"none\"\nlog_outputs = \"1:file:%s/libvirtd.log\"\n",
		daemon->dir, daemon->dir);
	g_file_set_contents(conf_path, conf, -1, &error);
	g_assert_no_error(error);
	g_assert_cmpint(g_mkdir_with_parents(drivers, 0700), ==, 0);

	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
					     G_SUBPROCESS_FLAGS_STDERR_SILENCE);
	/* an empty driver directory keeps the QEMU and network drivers out */
	g_subprocess_launcher_setenv(launcher, "LIBVIRT_DRIVER_DIR", drivers, TRUE);
	g_subprocess_launcher_set_child_setup(launcher, daemon_child_setup, NULL, NULL);
	daemon->proc =
		g_subprocess_launcher_spawn(launcher, &error, "unshare", "--mount", "--propagation",
					    "private", "sh", "-c", script, NULL);
	g_assert_no_error(error);
}

static void
daemon_stop(PrivateDaemon *daemon)
{
	if (daemon->proc == NULL)
		return;
	g_subprocess_send_signal(daemon->proc, SIGTERM);
	g_subprocess_wait(daemon->proc, NULL, NULL);
	g_clear_object(&daemon->proc);
}

static void
wait_for_count(guint *counter, guint value, const gchar *what)
{
	guint id = g_timeout_add_seconds(20, on_timeout, (gpointer)what);

	while (*counter < value)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(id);
}

static gboolean
on_quit(gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
	return G_SOURCE_REMOVE;
}

static void
run_main_loop_for(guint ms)
{
	gboolean done = FALSE;

	g_timeout_add(ms, on_quit, &done);
	while (!done)
		g_main_context_iteration(NULL, TRUE);
}

static void
test_reconnect(void)
{
	PrivateDaemon daemon = {0};
	Fixture fixture = {0};
	g_autofree gchar *uri = NULL;
	g_autofree gchar *xml = render("82", 0, 128);
	g_autoptr(GError) error = NULL;

	if (!daemon_can_run()) {
		g_test_skip("needs root, unshare, libvirtd and libvirt's directories");
		return;
	}
	daemon.dir = g_dir_make_tmp("ucv-libvirtd-XXXXXX", &error);
	g_assert_no_error(error);
	daemon.socket = g_build_filename(daemon.dir, "libvirt-sock", NULL);
	uri = g_strdup_printf("test+unix:///default?socket=%s", daemon.socket);
	daemon_start(&daemon);
	fixture_setup_uri(&fixture, uri);
	wait_for_count(&fixture.n_connected, 1, "connected");

	g_test_expect_message("ucv-virt", G_LOG_LEVEL_WARNING, "lost the connection to libvirt*");
	daemon_stop(&daemon);
	wait_for_count(&fixture.n_disconnected, 1, "disconnected");
	g_test_assert_expected_messages();
	g_assert_false(ucv_hypervisor_is_connected(fixture.hypervisor));
	g_assert_false(start_domain(&fixture, xml, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_UNAVAILABLE);
	g_clear_error(&error);

	/* the first retry (after 0.5 s) finds nobody; the next one, a second later, succeeds */
	run_main_loop_for(800);
	g_assert_cmpuint(fixture.n_connected, ==, 1);
	daemon_start(&daemon);
	wait_for_count(&fixture.n_connected, 2, "reconnected");
	g_assert_true(ucv_hypervisor_is_connected(fixture.hypervisor));
	/* and with the lifecycle events registered again */
	g_assert_true(start_domain(&fixture, xml, &error));
	g_assert_no_error(error);
	wait_for_event(&fixture, "ucloud-82-0", UCV_DOMAIN_EVENT_STARTED);

	fixture_teardown(&fixture, NULL);
	daemon_stop(&daemon);
	ucv_test_remove_tree(daemon.dir);
	g_free(daemon.dir);
	g_free(daemon.socket);
}

static void
test_fold(void)
{
	const struct {
		int event;
		int detail;
		UcvDomainEvent expected;
	} cases[] = {
		{VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED,
		 UCV_DOMAIN_EVENT_STARTED},
		{VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED,
		 UCV_DOMAIN_EVENT_STARTED},
		{VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN,
		 UCV_DOMAIN_EVENT_SHUTDOWN},
		{VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED,
		 UCV_DOMAIN_EVENT_DESTROYED},
		{VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_CRASHED,
		 UCV_DOMAIN_EVENT_CRASHED},
		{VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FAILED,
		 UCV_DOMAIN_EVENT_FAILED},
		{VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SAVED, UCV_DOMAIN_EVENT_SAVED},
		{VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED,
		 UCV_DOMAIN_EVENT_OTHER},
		{VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_PANICKED,
		 UCV_DOMAIN_EVENT_CRASHED},
		{VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_UNDEFINED_REMOVED,
		 UCV_DOMAIN_EVENT_UNDEFINED},
		{VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED, UCV_DOMAIN_EVENT_OTHER},
		{VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED,
		 UCV_DOMAIN_EVENT_OTHER},
		{VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED,
		 UCV_DOMAIN_EVENT_OTHER},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
		g_assert_cmpint(ucv_domain_event_from_libvirt(cases[i].event, cases[i].detail), ==,
				cases[i].expected);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/hypervisor/fold", test_fold);
	g_test_add_func("/hypervisor/not-connected", test_not_connected);
	g_test_add("/hypervisor/connected-signal", Fixture, NULL, fixture_setup,
		   test_connected_signal, fixture_teardown);
	g_test_add("/hypervisor/lifecycle", Fixture, NULL, fixture_setup, test_lifecycle,
		   fixture_teardown);
	g_test_add("/hypervisor/redefine-and-managed-save", Fixture, NULL, fixture_setup,
		   test_redefine_and_managed_save, fixture_teardown);
	g_test_add("/hypervisor/remove-stopped-with-save", Fixture, NULL, fixture_setup,
		   test_remove_stopped_with_save, fixture_teardown);
	g_test_add("/hypervisor/foreign-domains", Fixture, NULL, fixture_setup,
		   test_foreign_domains, fixture_teardown);
	g_test_add("/hypervisor/list-async", Fixture, NULL, fixture_setup, test_list_async,
		   fixture_teardown);
	g_test_add("/hypervisor/bad-xml", Fixture, NULL, fixture_setup, test_bad_xml,
		   fixture_teardown);
	g_test_add_func("/hypervisor/reconnect", test_reconnect);
	g_test_add("/hypervisor/managed-save", Fixture, NULL, fixture_setup, test_managed_save,
		   fixture_teardown);
	g_test_add_func("/hypervisor/save-channels", test_save_channels);
	return g_test_run();
}
