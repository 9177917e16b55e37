/* ucv-fake-core: the fake UCloud/Core as a program, for manual runs and shell-driven tests. */
#include "config.h"

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>

#include "ucv-fake-core.h"

static void
print_update_cb(UcvFakeCore *core, UcvFakeCoreUpdate *update, gpointer user_data)
{
	g_autoptr(GString) line = g_string_new(NULL);

	g_string_append_printf(line, "job %s: %s", update->job_id,
			       update->state != NULL ? update->state : "(no state)");
	if (update->status != NULL)
		g_string_append_printf(line, " — %s", update->status);
	if (update->new_time_allocation_ms >= 0)
		g_string_append_printf(line, " (newTimeAllocation %" G_GINT64_FORMAT " ms)",
				       update->new_time_allocation_ms);
	printf("%s\n", line->str);
	fflush(stdout);
}

static gboolean
quit_cb(gpointer user_data)
{
	g_main_loop_quit(user_data);
	return G_SOURCE_CONTINUE;
}

static int
run_mint(UcvFakeCore *core)
{
	g_autofree gchar *token = ucv_fake_core_mint_core_token(core);

	printf("%s\n", token);
	return EXIT_SUCCESS;
}

static int
run_server(UcvFakeCore *core, gint port, const gchar *provider_id, gint64 lifetime_s)
{
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	g_autoptr(GError) error = NULL;

	if (provider_id != NULL)
		ucv_fake_core_set_provider_id(core, provider_id);
	if (lifetime_s > 0)
		ucv_fake_core_set_token_lifetime(core, lifetime_s);
	if (!ucv_fake_core_listen(core, (guint)port, &error)) {
		g_printerr("ucv-fake-core: %s\n", error->message);
		return EXIT_FAILURE;
	}
	g_signal_connect(core, "update-received", G_CALLBACK(print_update_cb), NULL);
	g_unix_signal_add(SIGINT, quit_cb, loop);
	g_unix_signal_add(SIGTERM, quit_cb, loop);

	printf("ucv-fake-core: listening on %s (state %s)\n", ucv_fake_core_get_url(core),
	       ucv_fake_core_get_state_dir(core));
	fflush(stdout);
	g_main_loop_run(loop);
	return EXIT_SUCCESS;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *state_dir = NULL;
	g_autofree gchar *provider_id = NULL;
	gint port = 0;
	gint64 lifetime_s = 0;
	const GOptionEntry entries[] = {
		{"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
		 "Directory for the key, public key and refresh token", "DIR"},
		{"port", 0, 0, G_OPTION_ARG_INT, &port, "Port on 127.0.0.1 (0 = any)", "N"},
		{"provider-id", 0, 0, G_OPTION_ARG_STRING, &provider_id,
		 "Provider id in access tokens (default: example)", "ID"},
		{"token-lifetime", 0, 0, G_OPTION_ARG_INT64, &lifetime_s,
		 "Access token lifetime in seconds (default: 600)", "S"},
		{NULL},
	};
	g_autoptr(GOptionContext) context =
		g_option_context_new("[mint] - a fake UCloud/Core for ucloud-virt tests");
	g_autoptr(GError) error = NULL;
	g_autoptr(UcvFakeCore) core = NULL;
	gboolean mint;

	g_option_context_add_main_entries(context, entries, NULL);
	g_option_context_set_description(
		context,
		"Without a command: serve Core's provider-facing calls and print every job\n"
		"update received, one line each. \"mint\": print a Core token (for curl).\n");
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("ucv-fake-core: %s\n", error->message);
		return 2;
	}
	mint = argc == 2 && g_strcmp0(argv[1], "mint") == 0;
	if (state_dir == NULL || (argc > 1 && !mint) || port < 0 || port > 65535) {
		g_autofree gchar *help = g_option_context_get_help(context, TRUE, NULL);

		g_printerr("%s", help);
		return 2;
	}

	core = ucv_fake_core_new(state_dir, &error);
	if (core == NULL) {
		g_printerr("ucv-fake-core: %s\n", error->message);
		return EXIT_FAILURE;
	}
	if (mint)
		return run_mint(core);
	return run_server(core, port, provider_id, lifetime_s);
}
