/* An in-process UcvServer for tests, its engine on libvirt's test driver, and a client session. */
#include "config.h"

#include "ucv-test-files.h"
#include "ucv-test-loop.h"
#include "ucv-test-server.h"

#define ENGINE_GONE_MS (30 * 1000)

void
ucv_test_server_prepare(UcvTestServer *s, const gchar *tmp_template)
{
	g_autoptr(GError) error = NULL;
	const gchar *listen[] = {"127.0.0.1:0", NULL};

	s->tmp_dir = g_dir_make_tmp(tmp_template, &error);
	g_assert_no_error(error);
	s->config = ucv_config_new();
	g_strfreev(s->config->listen);
	s->config->listen = g_strdupv((gchar **)listen);
	g_free(s->config->state_dir);
	s->config->state_dir = g_strdup(s->tmp_dir);
	g_free(s->config->image_dir);
	s->config->image_dir = g_build_filename(s->tmp_dir, "images", NULL);
}

void
ucv_test_server_start(UcvTestServer *s, GPtrArray *products, UcvTestSigner *core_signer)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *key = ucv_test_signer_get_public_key_base64(core_signer);

	s->store = ucv_store_open(":memory:", &error);
	g_assert_no_error(error);
	s->hypervisor = ucv_hypervisor_new("test:///default");
	g_assert_true(ucv_hypervisor_connect(s->hypervisor, &error));
	g_assert_no_error(error);
	s->core = ucv_core_client_new("http://127.0.0.1:1", "x");
	s->engine = ucv_engine_new(s->config, products, s->store, s->hypervisor, s->core);
	s->verifier = ucv_token_verifier_new(key, &error);
	g_assert_no_error(error);

	s->server = ucv_server_new(s->config, s->engine, s->verifier);
	g_assert_true(ucv_server_listen(s->server, &error));
	g_assert_no_error(error);
	s->base = g_strdup_printf("http://127.0.0.1:%u", ucv_server_get_port(s->server));
	s->session = soup_session_new();
	s->token = ucv_test_signer_mint_core_token(core_signer, 600);
}

void
ucv_test_server_stop(UcvTestServer *s)
{
	ucv_server_disconnect(s->server);
	g_clear_object(&s->session);
	g_clear_object(&s->server);
	g_clear_object(&s->verifier);
	/* background work of accepted jobs keeps the engine, which borrows the config, alive */
	ucv_test_loop_release(&s->engine, ENGINE_GONE_MS);
	g_clear_object(&s->core);
	g_clear_object(&s->hypervisor);
	g_clear_object(&s->store);
	g_clear_pointer(&s->config, ucv_config_free);
	while (g_main_context_iteration(NULL, FALSE))
		;
	ucv_test_remove_tree(s->tmp_dir);
	g_clear_pointer(&s->tmp_dir, g_free);
	g_clear_pointer(&s->base, g_free);
	g_clear_pointer(&s->token, g_free);
}
