/* ucloud-virt: options, configuration, signals, start, run the loop, stop. */
#define G_LOG_DOMAIN "ucloud-virt"

#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <unistd.h>

#include "api/ucv-server.h"
#include "api/ucv-token-verifier.h"
#include "engine/ucv-engine.h"
#include "model/ucv-error.h"

typedef struct {
	UcvConfig *config;
	GPtrArray *products;
	UcvTokenVerifier *verifier;
	UcvStore *store;
	UcvHypervisor *hypervisor;
	UcvCoreClient *core;
	UcvEngine *engine;
	UcvServer *server;
	GMainLoop *loop;
} UcvDaemon;

static gint verbosity = 0;

static void
daemon_clear(UcvDaemon *daemon)
{
	if (daemon->server != NULL)
		ucv_server_disconnect(daemon->server);
	g_clear_object(&daemon->server);
	g_clear_object(&daemon->engine);
	g_clear_object(&daemon->core);
	g_clear_object(&daemon->hypervisor);
	g_clear_object(&daemon->store);
	g_clear_object(&daemon->verifier);
	g_clear_pointer(&daemon->products, g_ptr_array_unref);
	g_clear_pointer(&daemon->config, ucv_config_free);
	g_clear_pointer(&daemon->loop, g_main_loop_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(UcvDaemon, daemon_clear)

static gboolean
on_verbose(const gchar *name, const gchar *value, gpointer data, GError **error)
{
	verbosity++;
	return TRUE;
}

/* Our own log domains: this file's and the "ucv-…" ones of the rest. */
static gboolean
is_own_domain(const GLogField *fields, gsize n_fields)
{
	for (gsize i = 0; i < n_fields; i++) {
		g_autofree gchar *domain = NULL;
		if (g_strcmp0(fields[i].key, "GLIB_DOMAIN") != 0)
			continue;
		domain = fields[i].length < 0 ? g_strdup(fields[i].value)
					      : g_strndup(fields[i].value, fields[i].length);
		return g_str_has_prefix(domain, "ucv-") || g_str_equal(domain, G_LOG_DOMAIN);
	}
	return FALSE;
}

/* -v shows info, -vv our debugging, -vvv the libraries' too (libvirt-glib alone logs several
 * lines per event-loop wakeup, far more than a busy console's own output); warnings and
 * messages always. */
static GLogWriterOutput
log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	GLogLevelFlags shown = G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING |
			       G_LOG_LEVEL_MESSAGE;

	if (verbosity >= 1)
		shown |= G_LOG_LEVEL_INFO;
	if (verbosity >= 3 || (verbosity == 2 && is_own_domain(fields, n_fields)))
		shown |= G_LOG_LEVEL_DEBUG;
	if ((level & shown) == 0)
		return G_LOG_WRITER_HANDLED;
	if (g_log_writer_is_journald(fileno(stderr)) &&
	    g_log_writer_journald(level, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
		return G_LOG_WRITER_HANDLED;
	return g_log_writer_standard_streams(level, fields, n_fields, user_data);
}

static gchar *
read_secret_file(const gchar *path, const gchar *what, GError **error)
{
	g_autofree gchar *contents = NULL;

	if (!g_file_get_contents(path, &contents, NULL, error)) {
		g_prefix_error(error, "cannot read the %s: ", what);
		return NULL;
	}
	g_strstrip(contents);
	if (contents[0] == '\0') {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG, "the %s in %s is empty", what,
			    path);
		return NULL;
	}
	return g_steal_pointer(&contents);
}

static gboolean
load_config(UcvDaemon *daemon, const gchar *config_path, GError **error)
{
	const gchar *path = config_path != NULL ? config_path : UCV_DEFAULT_CONFIG_FILE;

	daemon->config = ucv_config_new();
	/* without a file the defaults in code apply; a named file must exist */
	if (config_path == NULL && !g_file_test(path, G_FILE_TEST_EXISTS))
		return TRUE;
	return ucv_config_load(daemon->config, path, error);
}

static gboolean
daemon_setup(UcvDaemon *daemon, GError **error)
{
	const UcvConfig *config = daemon->config;
	g_autofree gchar *refresh_token = NULL;
	g_autofree gchar *db_path = NULL;

	refresh_token = read_secret_file(config->refresh_token_file, "refresh token", error);
	if (refresh_token == NULL)
		return FALSE;
	daemon->verifier = ucv_token_verifier_new_from_file(config->public_key_file, error);
	if (daemon->verifier == NULL)
		return FALSE;
	daemon->products = ucv_product_list_load(config->products_file, error);
	if (daemon->products == NULL)
		return FALSE;
	if (g_mkdir_with_parents(config->state_dir, 0711) != 0) {
		g_set_error(error, UCV_ERROR, UCV_ERROR_CONFIG, "cannot create %s: %s",
			    config->state_dir, g_strerror(errno));
		return FALSE;
	}
	db_path = g_build_filename(config->state_dir, "ucloud-virt.db", NULL);
	daemon->store = ucv_store_open(db_path, error);
	if (daemon->store == NULL)
		return FALSE;
	daemon->hypervisor = ucv_hypervisor_new(config->libvirt_uri);
	if (!ucv_hypervisor_connect(daemon->hypervisor, error)) {
		g_prefix_error(error, "cannot connect to libvirt at %s: ", config->libvirt_uri);
		return FALSE;
	}
	daemon->core = ucv_core_client_new(config->core_url, refresh_token);
	daemon->engine = ucv_engine_new(config, daemon->products, daemon->store, daemon->hypervisor,
					daemon->core);
	daemon->server = ucv_server_new(config, daemon->engine, daemon->verifier);
	if (!ucv_server_listen(daemon->server, error))
		return FALSE;
	return ucv_engine_start(daemon->engine, error);
}

static gboolean
on_signal(gpointer user_data)
{
	GMainLoop *loop = user_data;

	g_message("shutting down; jobs and machines are left as they are");
	g_main_loop_quit(loop);
	return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
	g_auto(UcvDaemon) daemon = {0};
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *config_path = NULL;
	gboolean version = FALSE;
	const GOptionEntry entries[] = {
		{"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
		 N_("Configuration file to read instead of the default"), "FILE"},
		{"verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, on_verbose,
		 N_("Show more (repeat for debugging output)"), NULL},
		{"version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"),
		 NULL},
		{NULL},
	};

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);
	g_log_set_writer_func(log_writer, NULL, NULL);

	context = g_option_context_new(NULL);
	g_option_context_set_summary(context, _("A UCloud compute provider for virtual machines"));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("ucloud-virt: %s\n", error->message);
		return 2;
	}
	if (version) {
		g_print("ucloud-virt %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (!load_config(&daemon, config_path, &error) || !daemon_setup(&daemon, &error)) {
		g_printerr("ucloud-virt: %s\n", error->message);
		return 1;
	}
	daemon.loop = g_main_loop_new(NULL, FALSE);
	g_unix_signal_add(SIGTERM, on_signal, daemon.loop);
	g_unix_signal_add(SIGINT, on_signal, daemon.loop);
	g_message("ucloud-virt %s ready: provider %s on %s", PACKAGE_VERSION,
		  daemon.config->provider_id, daemon.config->listen[0]);
	g_main_loop_run(daemon.loop);
	return 0;
}
