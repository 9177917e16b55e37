/* The configuration: spec/configuration.md's defaults, every key overridden, bad values refused. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "engine/ucv-config.h"
#include "model/ucv-error.h"

typedef struct {
	gchar *dir;
	gchar *path;
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	f->dir = g_dir_make_tmp("ucv-test-config-XXXXXX", &error);
	g_assert_no_error(error);
	f->path = g_build_filename(f->dir, "ucloud-virt.conf", NULL);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	g_unlink(f->path);
	g_rmdir(f->dir);
	g_free(f->path);
	g_free(f->dir);
}

/* Writes `text` as the config file and loads it over the defaults. */
static UcvConfig *
load_text(Fixture *f, const gchar *text, GError **error)
{
	g_autoptr(UcvConfig) config = ucv_config_new();
	g_autoptr(GError) write_error = NULL;

	g_file_set_contents(f->path, text, -1, &write_error);
	g_assert_no_error(write_error);
	if (!ucv_config_load(config, f->path, error))
		return NULL;
	return g_steal_pointer(&config);
}

static void
assert_strv(gchar **actual, const gchar *const *expected)
{
	g_assert_nonnull(actual);
	g_assert_cmpuint(g_strv_length(actual), ==, g_strv_length((gchar **)expected));
	for (guint i = 0; expected[i] != NULL; i++)
		g_assert_cmpstr(actual[i], ==, expected[i]);
}

/* Loading `text` fails with UCV_ERROR_CONFIG and a message that mentions `needle`. */
static void
assert_refused(Fixture *f, const gchar *text, const gchar *needle)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvConfig) config = load_text(f, text, &error);

	g_assert_null(config);
	g_assert_error(error, UCV_ERROR, UCV_ERROR_CONFIG);
	if (strstr(error->message, needle) == NULL)
		g_error("error \"%s\" for\n%s\ndoes not mention \"%s\"", error->message, text,
			needle);
}

/* The values of spec/configuration.md's example file, which documents the defaults. */
static void
assert_defaults(const UcvConfig *config)
{
	const gchar *listen[] = {"127.0.0.1:8889", NULL};
	const gchar *none[] = {NULL};

	g_assert_cmpstr(config->provider_id, ==, "example");
	g_assert_cmpstr(config->public_url, ==, "https://provider.example.com");
	g_assert_cmpstr(config->core_url, ==, "https://cloud.sdu.dk");
	g_assert_cmpstr(config->refresh_token_file, ==, "/etc/ucloud-virt/refresh-token");
	g_assert_cmpstr(config->public_key_file, ==, "/etc/ucloud-virt/ucloud-public-key");
	g_assert_cmpstr(config->accounting, ==, "report-usage");
	g_assert_cmpuint(config->accounting_interval, ==, 60);
	assert_strv(config->listen, listen);
	g_assert_cmpuint(config->max_body_bytes, ==, 4 * 1024 * 1024);
	g_assert_cmpstr(config->libvirt_uri, ==, "qemu:///system");
	g_assert_cmpstr(config->domain_type, ==, "kvm");
	g_assert_cmpstr(config->network, ==, "");
	g_assert_cmpstr(config->state_dir, ==, "/var/lib/ucloud-virt");
	g_assert_cmpstr(config->image_dir, ==, "/var/lib/ucloud-virt/images");
	g_assert_cmpstr(config->products_file, ==, "/etc/ucloud-virt/products.json");
	g_assert_cmpstr(config->container_kernel, ==,
			"/usr/lib/ucloud-virt/container-host/vmlinuz");
	g_assert_cmpstr(config->container_initrd, ==,
			"/usr/lib/ucloud-virt/container-host/initrd.img");
	assert_strv(config->insecure_registries, none);
	g_assert_cmpstr(config->drive_root, ==, "/var/lib/ucloud-virt/drives");
}

static void
test_defaults(Fixture *f, gconstpointer data)
{
	g_autoptr(UcvConfig) config = ucv_config_new();

	assert_defaults(config);
}

static void
test_empty_file(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvConfig) config = load_text(f, "# nothing to override\n", &error);

	g_assert_no_error(error);
	assert_defaults(config);
}

static void
test_every_key(Fixture *f, gconstpointer data)
{
	const gchar *text = "[provider]\n"
			    "id = site-1.b_2\n"
			    "public-url = https://vm.site.example:8443\n"
			    "[ucloud]\n"
			    "url = http://core.local:8080\n"
			    "refresh-token-file = /srv/ucv/token\n"
			    "public-key-file = /srv/ucv/core.pub\n"
			    "accounting = charge-credits\n"
			    "accounting-interval = 300\n"
			    "[http]\n"
			    "listen = 127.0.0.1:9000; ;[::1]:9001;;  0.0.0.0:80 ;\n"
			    "max-body-size = 65536\n"
			    "[libvirt]\n"
			    "uri = qemu+unix:///system?socket=/run/x/libvirt-sock\n"
			    "domain-type = qemu\n"
			    "network = guests\n"
			    "[storage]\n"
			    "state-dir = /srv/ucv/state\n"
			    "image-dir = /srv/ucv/images\n"
			    "[products]\n"
			    "file = /srv/ucv/products.json\n"
			    "[container]\n"
			    "kernel = /srv/ucv/vmlinuz\n"
			    "initrd = /srv/ucv/initrd.img\n"
			    "insecure-registries = 127.0.0.1:5000 ; registry.lan:5000;\n"
			    "[files]\n"
			    "drive-root = /srv/ucv/drives\n";
	const gchar *listen[] = {"127.0.0.1:9000", "[::1]:9001", "0.0.0.0:80", NULL};
	const gchar *registries[] = {"127.0.0.1:5000", "registry.lan:5000", NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvConfig) config = load_text(f, text, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(config->provider_id, ==, "site-1.b_2");
	g_assert_cmpstr(config->public_url, ==, "https://vm.site.example:8443");
	g_assert_cmpstr(config->core_url, ==, "http://core.local:8080");
	g_assert_cmpstr(config->refresh_token_file, ==, "/srv/ucv/token");
	g_assert_cmpstr(config->public_key_file, ==, "/srv/ucv/core.pub");
	g_assert_cmpstr(config->accounting, ==, "charge-credits");
	g_assert_cmpuint(config->accounting_interval, ==, 300);
	assert_strv(config->listen, listen);
	g_assert_cmpuint(config->max_body_bytes, ==, 65536);
	g_assert_cmpstr(config->libvirt_uri, ==, "qemu+unix:///system?socket=/run/x/libvirt-sock");
	g_assert_cmpstr(config->domain_type, ==, "qemu");
	g_assert_cmpstr(config->network, ==, "guests");
	g_assert_cmpstr(config->state_dir, ==, "/srv/ucv/state");
	g_assert_cmpstr(config->image_dir, ==, "/srv/ucv/images");
	g_assert_cmpstr(config->products_file, ==, "/srv/ucv/products.json");
	g_assert_cmpstr(config->container_kernel, ==, "/srv/ucv/vmlinuz");
	g_assert_cmpstr(config->container_initrd, ==, "/srv/ucv/initrd.img");
	assert_strv(config->insecure_registries, registries);
	g_assert_cmpstr(config->drive_root, ==, "/srv/ucv/drives");
}

static void
test_partial_keeps_defaults(Fixture *f, gconstpointer data)
{
	const gchar *listen[] = {"127.0.0.1:8889", NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvConfig) config =
		load_text(f, "[ucloud]\naccounting = none\n[libvirt]\nnetwork = default\n", &error);

	g_assert_no_error(error);
	g_assert_cmpstr(config->accounting, ==, "none");
	g_assert_cmpstr(config->network, ==, "default");
	g_assert_cmpstr(config->provider_id, ==, "example");
	g_assert_cmpuint(config->accounting_interval, ==, 60);
	assert_strv(config->listen, listen);
	g_assert_cmpstr(config->domain_type, ==, "kvm");
	g_assert_cmpstr(config->state_dir, ==, "/var/lib/ucloud-virt");
}

static void
test_empty_list(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvConfig) config =
		load_text(f, "[container]\ninsecure-registries = ; ;\n", &error);

	g_assert_no_error(error);
	g_assert_nonnull(config->insecure_registries);
	g_assert_cmpuint(g_strv_length(config->insecure_registries), ==, 0);
}

static void
test_unknown_ignored(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvConfig) config = load_text(f,
						"[provider]\nid = site\ncolour = blue\n"
						"[future-section]\nanswer = 42\nflag = true\n"
						"[http]\nlisten-backlog = lots\n",
						&error);

	g_assert_no_error(error);
	g_assert_cmpstr(config->provider_id, ==, "site");
	g_assert_cmpstr(config->accounting, ==, "report-usage");
}

static void
test_bad_accounting(Fixture *f, gconstpointer data)
{
	assert_refused(f, "[ucloud]\naccounting = bogus\n", "accounting");
	assert_refused(f, "[ucloud]\naccounting = bogus\n", "bogus");
}

static void
test_bad_interval(Fixture *f, gconstpointer data)
{
	assert_refused(f, "[ucloud]\naccounting-interval = abc\n", "accounting-interval");
	assert_refused(f, "[ucloud]\naccounting-interval = 0\n", "accounting-interval");
	assert_refused(f, "[ucloud]\naccounting-interval = -5\n", "accounting-interval");
	assert_refused(f, "[ucloud]\naccounting-interval = 86401\n", "accounting-interval");
}

static void
test_bad_max_body(Fixture *f, gconstpointer data)
{
	assert_refused(f, "[http]\nmax-body-size = 4M\n", "max-body-size");
	assert_refused(f, "[http]\nmax-body-size = 100\n", "max-body-size");
}

static void
test_empty_listen(Fixture *f, gconstpointer data)
{
	assert_refused(f, "[http]\nlisten =\n", "listen");
	assert_refused(f, "[http]\nlisten = ; ;  ;\n", "listen");
}

static void
test_unsafe_provider_id(Fixture *f, gconstpointer data)
{
	const gchar *ids[] = {"a/b", "a b", "x?y", "caf\xc3\xa9", ""};
	g_autofree gchar *long_id = g_strnfill(65, 'a');
	g_autofree gchar *long_text = g_strdup_printf("[provider]\nid = %s\n", long_id);

	for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
		g_autofree gchar *text = g_strdup_printf("[provider]\nid = %s\n", ids[i]);
		assert_refused(f, text, "[provider] id");
	}
	assert_refused(f, long_text, "[provider] id");
}

static void
test_relative_dirs(Fixture *f, gconstpointer data)
{
	/* the message names the group, not which of its directories is relative */
	assert_refused(f, "[storage]\nstate-dir = var/lib/ucv\n", "[storage]");
	assert_refused(f, "[storage]\nimage-dir = images\n", "[storage]");
	assert_refused(f, "[libvirt]\ndomain-type =\n", "domain-type");
	assert_refused(f, "[libvirt]\nsave-dir = save\n", "[libvirt] save-dir");
}

/* Suspend settings: libvirt's save directory for qemu:///system, the page cache used, unless
 * told otherwise; a value that is not a boolean is refused. */
static void
test_save_settings(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvConfig) defaults = load_text(f, "[provider]\nid = site\n", &error);
	g_autoptr(UcvConfig) set = NULL;

	g_assert_no_error(error);
	g_assert_cmpstr(defaults->save_dir, ==, "/var/lib/libvirt/qemu/save");
	g_assert_false(defaults->save_bypass_cache);
	set = load_text(f, "[libvirt]\nsave-dir = /srv/save\nsave-bypass-cache = true\n", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(set->save_dir, ==, "/srv/save");
	g_assert_true(set->save_bypass_cache);
	assert_refused(f, "[libvirt]\nsave-bypass-cache = maybe\n", "save-bypass-cache");
}

/* Console sessions: tokens expire after a minute unused, any origin may connect, unless set. */
static void
test_console_settings(Fixture *f, gconstpointer data)
{
	const gchar *origins[] = {"https://cloud.sdu.dk", "https://dev.cloud.sdu.dk", NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvConfig) defaults = load_text(f, "[provider]\nid = site\n", &error);
	g_autoptr(UcvConfig) set = NULL;

	g_assert_no_error(error);
	g_assert_cmpuint(defaults->session_timeout_s, ==, 60);
	g_assert_cmpuint(g_strv_length(defaults->allowed_origins), ==, 0);
	g_assert_cmpuint(defaults->log_backlog_kib, ==, 64);
	set = load_text(f,
			"[console]\nsession-timeout = 30\n"
			"allowed-origins = https://cloud.sdu.dk; https://dev.cloud.sdu.dk\n"
			"log-backlog = 0\n",
			&error);
	g_assert_no_error(error);
	g_assert_cmpuint(set->session_timeout_s, ==, 30);
	assert_strv(set->allowed_origins, origins);
	g_assert_cmpuint(set->log_backlog_kib, ==, 0);
	assert_refused(f, "[console]\nsession-timeout = 0\n", "session-timeout");
	assert_refused(f, "[console]\nlog-backlog = 99999\n", "log-backlog");
}

/* DOCKER jobs: image cache and size limits in GiB, the agent's greeting time, the web domain;
 * paths of the container host and the drives must be absolute. */
static void
test_container_settings(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvConfig) defaults = load_text(f, "[provider]\nid = site\n", &error);
	g_autoptr(UcvConfig) set = NULL;

	g_assert_no_error(error);
	g_assert_cmpuint(defaults->image_cache_gib, ==, 50);
	g_assert_cmpuint(defaults->max_image_gib, ==, 20);
	g_assert_cmpuint(defaults->agent_timeout_s, ==, 120);
	g_assert_cmpstr(defaults->web_domain, ==, "");
	set = load_text(f,
			"[container]\nimage-cache-size = 5\nmax-image-size = 2\n"
			"agent-timeout = 30\n[web]\ndomain = apps.example.org\n",
			&error);
	g_assert_no_error(error);
	g_assert_cmpuint(set->image_cache_gib, ==, 5);
	g_assert_cmpuint(set->max_image_gib, ==, 2);
	g_assert_cmpuint(set->agent_timeout_s, ==, 30);
	g_assert_cmpstr(set->web_domain, ==, "apps.example.org");
	assert_refused(f, "[container]\nagent-timeout = 1\n", "agent-timeout");
	assert_refused(f, "[container]\nimage-cache-size = 0\n", "image-cache-size");
	assert_refused(f, "[container]\nkernel = vmlinuz\n", "kernel");
	assert_refused(f, "[files]\ndrive-root = drives\n", "drive-root");
}

static void
test_not_utf8(Fixture *f, gconstpointer data)
{
	assert_refused(f, "[provider]\npublic-url = https://\xff\xfe/\n", "public-url");
}

static void
test_missing_file(Fixture *f, gconstpointer data)
{
	g_autoptr(UcvConfig) config = ucv_config_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *missing = g_build_filename(f->dir, "absent.conf", NULL);

	g_assert_false(ucv_config_load(config, missing, &error));
	g_assert_error(error, UCV_ERROR, UCV_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, missing));
	/* a failed load leaves the defaults usable */
	assert_defaults(config);
}

static void
test_syntax_error(Fixture *f, gconstpointer data)
{
	assert_refused(f, "[provider]\nthis line has no equals sign\n", f->path);
}

#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	ADD("/config/defaults", test_defaults);
	ADD("/config/empty-file", test_empty_file);
	ADD("/config/every-key", test_every_key);
	ADD("/config/partial-keeps-defaults", test_partial_keeps_defaults);
	ADD("/config/empty-list", test_empty_list);
	ADD("/config/unknown-ignored", test_unknown_ignored);
	ADD("/config/bad/accounting", test_bad_accounting);
	ADD("/config/bad/accounting-interval", test_bad_interval);
	ADD("/config/bad/max-body-size", test_bad_max_body);
	ADD("/config/bad/empty-listen", test_empty_listen);
	ADD("/config/bad/provider-id", test_unsafe_provider_id);
	ADD("/config/bad/relative-dirs", test_relative_dirs);
	ADD("/config/save-settings", test_save_settings);
	ADD("/config/console-settings", test_console_settings);
	ADD("/config/container-settings", test_container_settings);
	ADD("/config/bad/not-utf8", test_not_utf8);
	ADD("/config/missing-file", test_missing_file);
	ADD("/config/syntax-error", test_syntax_error);
	return g_test_run();
}
