/* Loading the kernel modules the image build put into the initramfs. */
#pragma once

#define UCV_AGENT_MODULE_DIR  "/lib/modules"
#define UCV_AGENT_MODULE_LIST UCV_AGENT_MODULE_DIR "/load-order"

/* Loads each module named in UCV_AGENT_MODULE_LIST (one a line, dependencies first) from
 * UCV_AGENT_MODULE_DIR/<name>.ko, as insmod does. A module that fails is logged and skipped, so
 * the job still gets a chance; returns the number of failures. */
int ucv_agent_load_modules(void);
