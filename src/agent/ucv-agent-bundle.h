/* The container's OCI bundle: config.json from the host through fw_cfg. */
#pragma once

#include "ucv-agent-layout.h"

#include <stddef.h>

/* The largest config.json the agent reads from fw_cfg (UCV_AGENT_FWCFG_NAME). */
#define UCV_AGENT_CONFIG_MAX (4 * 1024 * 1024)

/* Copies the config from fw_cfg to UCV_AGENT_BUNDLE_DIR/config.json (waiting a moment for the
 * qemu_fw_cfg driver). 0, or -1 with the reason in `why`. */
int ucv_agent_write_bundle_config(char *why, size_t size);
