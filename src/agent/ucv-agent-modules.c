/* Loading the kernel modules the image build put into the initramfs, with finit_module(2). */
#include "ucv-agent-modules.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ucv-agent-log.h"

static int
load_module(const char *name)
{
	char path[300];
	int fd;
	long rc;

	snprintf(path, sizeof(path), "%s/%s.ko", UCV_AGENT_MODULE_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ucv_agent_log_errno("module %s", path);
		return -1;
	}
	rc = syscall(SYS_finit_module, fd, "", 0);
	close(fd);
	if (rc < 0 && errno != EEXIST) {
		ucv_agent_log_errno("cannot load module %s", name);
		return -1;
	}
	return 0;
}

int
ucv_agent_load_modules(void)
{
	FILE *list = fopen(UCV_AGENT_MODULE_LIST, "re");
	char line[128];
	int failures = 0;

	if (list == NULL) {
		ucv_agent_log_errno("no module list %s", UCV_AGENT_MODULE_LIST);
		return 1;
	}
	while (fgets(line, sizeof(line), list) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (load_module(line) < 0)
			failures++;
	}
	fclose(list);
	return failures;
}
