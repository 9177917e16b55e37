/* The daemon's command line and its refusal of unusable configurations (one line, non-zero). */
#include "config.h"

#include <gio/gio.h>

#include "ucv-test-signer.h"

typedef struct {
	gchar *dir;
	gchar *config;
	gchar *key;
	gchar *token;
	gchar *products;
} Fixture;

static void
write_file(const gchar *path, const gchar *contents)
{
	g_autoptr(GError) error = NULL;

	g_file_set_contents(path, contents, -1, &error);
	g_assert_no_error(error);
}

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvTestSigner) signer = ucv_test_signer_new(&error);
	g_autofree gchar *public_key = NULL;

	g_assert_no_error(error);
	f->dir = g_dir_make_tmp("ucv-startup-XXXXXX", &error);
	g_assert_no_error(error);
	f->config = g_build_filename(f->dir, "ucloud-virt.conf", NULL);
	f->key = g_build_filename(f->dir, "ucloud-public-key", NULL);
	f->token = g_build_filename(f->dir, "refresh-token", NULL);
	f->products = g_build_filename(f->dir, "products.json", NULL);
	public_key = ucv_test_signer_get_public_key_base64(signer);
	write_file(f->key, public_key);
	write_file(f->token, "a-refresh-token\n");
	write_file(f->products, "[{\"name\":\"p\",\"category\":{\"name\":\"p\",\"provider\":\"t\"},"
				"\"cpu\":1,\"memoryInGigs\":1}]");
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

	g_assert_true(g_spawn_command_line_sync(cmd, NULL, NULL, NULL, NULL));
	g_free(f->dir);
	g_free(f->config);
	g_free(f->key);
	g_free(f->token);
	g_free(f->products);
}

/* A config whose [libvirt] uri and [http] listen the caller chooses. */
static void
write_config(Fixture *f, const gchar *uri, const gchar *listen, const gchar *token_file)
{
	g_autofree gchar *config = g_strdup_printf(
		"[provider]\nid = t\n[ucloud]\nurl = http://127.0.0.1:1\nrefresh-token-file = %s\n"
		"public-key-file = %s\n[http]\nlisten = %s\n[libvirt]\nuri = %s\n"
		"[storage]\nstate-dir = %s/state\nimage-dir = %s/images\n[products]\nfile = %s\n",
		token_file, f->key, listen, uri, f->dir, f->dir, f->products);

	write_file(f->config, config);
}

/* Runs the daemon to its end; returns its exit status and what it printed on stderr. */
static gint
run_daemon(const gchar *const *args, gchar **err)
{
	g_autofree gchar *binary =
		g_build_filename(g_getenv("UCV_BUILD_ROOT"), "ucloud-virt", NULL);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GSubprocess) daemon = NULL;
	g_autoptr(GError) error = NULL;

	g_ptr_array_add(argv, binary);
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	daemon = g_subprocess_newv((const gchar *const *)argv->pdata,
				   G_SUBPROCESS_FLAGS_STDERR_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
				   &error);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8(daemon, NULL, NULL, NULL, err, &error);
	g_assert_no_error(error);
	return g_subprocess_get_exit_status(daemon);
}

/* Exactly one line on stderr that contains `reason`, and a non-zero exit. */
static void
assert_refused(Fixture *f, const gchar *reason)
{
	const gchar *args[] = {"--config", f->config, NULL};
	g_autofree gchar *err = NULL;

	g_assert_cmpint(run_daemon(args, &err), !=, 0);
	g_assert_nonnull(strstr(err, reason));
	/* one line: a single newline, at the end */
	g_assert_true(g_str_has_suffix(err, "\n"));
	g_assert_true(strchr(err, '\n') == err + strlen(err) - 1);
}

static void
test_missing_refresh_token(Fixture *f, gconstpointer data)
{
	g_autofree gchar *missing = g_build_filename(f->dir, "no-such-token", NULL);

	write_config(f, "test:///default", "127.0.0.1:0", missing);
	assert_refused(f, "refresh token");
}

static void
test_unreachable_libvirt(Fixture *f, gconstpointer data)
{
	write_config(f, "qemu+unix:///system?socket=/nonexistent/libvirt-sock", "127.0.0.1:0",
		     f->token);
	assert_refused(f, "cannot connect to libvirt");
}

static void
test_port_in_use(Fixture *f, gconstpointer data)
{
	g_autoptr(GSocketListener) listener = g_socket_listener_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *listen = NULL;
	guint16 port = g_socket_listener_add_any_inet_port(listener, NULL, &error);

	g_assert_no_error(error);
	listen = g_strdup_printf("0.0.0.0:%u", port);
	write_config(f, "test:///default", listen, f->token);
	assert_refused(f, "cannot listen");
}

static void
test_missing_config(Fixture *f, gconstpointer data)
{
	assert_refused(f, "ucloud-virt.conf");
}

static void
test_version(Fixture *f, gconstpointer data)
{
	const gchar *args[] = {"--version", NULL};
	g_autofree gchar *err = NULL;

	g_assert_cmpint(run_daemon(args, &err), ==, 0);
}

static void
test_unknown_option(Fixture *f, gconstpointer data)
{
	const gchar *args[] = {"--no-such-option", NULL};
	g_autofree gchar *err = NULL;

	g_assert_cmpint(run_daemon(args, &err), !=, 0);
	g_assert_nonnull(strstr(err, "no-such-option"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/startup/missing-refresh-token", Fixture, NULL, fixture_set_up,
		   test_missing_refresh_token, fixture_tear_down);
	g_test_add("/startup/unreachable-libvirt", Fixture, NULL, fixture_set_up,
		   test_unreachable_libvirt, fixture_tear_down);
	g_test_add("/startup/port-in-use", Fixture, NULL, fixture_set_up, test_port_in_use,
		   fixture_tear_down);
	g_test_add("/startup/missing-config", Fixture, NULL, fixture_set_up, test_missing_config,
		   fixture_tear_down);
	g_test_add("/startup/version", Fixture, NULL, fixture_set_up, test_version,
		   fixture_tear_down);
	g_test_add("/startup/unknown-option", Fixture, NULL, fixture_set_up, test_unknown_option,
		   fixture_tear_down);
	return g_test_run();
}
