/* The container's OCI bundle: config.json from the host through fw_cfg. */
#include "ucv-agent-bundle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ucv-agent-log.h"
#include "ucv-agent-mounts.h"
#include "ucv-agent-util.h"

#define FWCFG_RAW   "/sys/firmware/qemu_fw_cfg/by_name/" UCV_AGENT_FWCFG_NAME "/raw"
#define FWCFG_WAIT  2000
#define FWCFG_POLL  20
#define BUNDLE_CONF UCV_AGENT_BUNDLE_DIR "/config.json"

int
ucv_agent_write_bundle_config(char *why, size_t size)
{
	int64_t deadline = ucv_agent_now_ms() + FWCFG_WAIT;
	char *config;
	size_t len = 0;
	int rc;

	while (access(FWCFG_RAW, R_OK) < 0 && ucv_agent_now_ms() < deadline)
		ucv_agent_sleep_ms(FWCFG_POLL);
	config = ucv_agent_read_file(FWCFG_RAW, UCV_AGENT_CONFIG_MAX, &len);
	if (config == NULL) {
		snprintf(why, size, "no container config in fw_cfg %s: %s", UCV_AGENT_FWCFG_NAME,
			 strerror(errno));
		return -1;
	}
	if (ucv_agent_mkdir_p(UCV_AGENT_BUNDLE_DIR, 0700) < 0 ||
	    ucv_agent_write_file(BUNDLE_CONF, config, len) < 0) {
		snprintf(why, size, "cannot write %s: %s", BUNDLE_CONF, strerror(errno));
		free(config);
		return -1;
	}
	rc = len > 0 ? 0 : -1;
	if (rc < 0)
		snprintf(why, size, "the container config in fw_cfg is empty");
	else
		ucv_agent_log("container config: %zu bytes", len);
	free(config);
	return rc;
}
