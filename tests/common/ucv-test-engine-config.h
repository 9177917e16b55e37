/* The daemon's configuration for an engine on libvirt's in-memory test driver. */
#pragma once

#include "engine/ucv-config.h"

G_BEGIN_DECLS

/* Defaults, with state and images below `tmp_dir` and domains the test driver can run. */
UcvConfig *ucv_test_engine_config_new(const gchar *tmp_dir);

G_END_DECLS
