/* The daemon's configuration for an engine on libvirt's in-memory test driver. */
#include "config.h"

#include "ucv-test-engine-config.h"

UcvConfig *
ucv_test_engine_config_new(const gchar *tmp_dir)
{
	UcvConfig *config = ucv_config_new();

	g_free(config->state_dir);
	config->state_dir = g_build_filename(tmp_dir, "state", NULL);
	g_free(config->image_dir);
	config->image_dir = g_build_filename(tmp_dir, "images", NULL);
	/* the test driver only runs domains of its own type */
	g_free(config->domain_type);
	config->domain_type = g_strdup("test");
	/* test:///default is a 16-CPU, 3 GiB host: room for every test's jobs, unless a test
	 * (capacity) says otherwise */
	config->reserved_memory_mib = 0;
	config->memory_overcommit = 10;
	/* usage reports have tests of their own (test-accountant); here they would only be noise */
	g_free(config->accounting);
	config->accounting = g_strdup("none");
	return config;
}
