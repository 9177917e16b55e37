/* Log lines about one domain, with its name as a structured field for the journal. */
#pragma once

#include <glib.h>

#define ucv_domain_log(level, name, ...)                                                           \
	g_log_structured(G_LOG_DOMAIN, level, "UCV_DOMAIN", name, "MESSAGE", __VA_ARGS__)
