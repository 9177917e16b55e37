/* The container host's init: prepares the VM, runs one OCI container with crun, reports to the
 * host over the virtio-serial control port, and powers the VM off when the job is over. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "ucv-agent-bundle.h"
#include "ucv-agent-log.h"
#include "ucv-agent-modules.h"
#include "ucv-agent-mounts.h"
#include "ucv-agent-net.h"
#include "ucv-agent-port.h"
#include "ucv-agent-run.h"
#include "ucv-agent-version.h"

#define PORT_WAIT_MS 10000
#define DHCP_WAIT_MS 15000

static UcvAgentPort port;
static UcvAgentJob job;

/* PID 1 must never return: power off, and if that fails, wait for the host to end the VM. */
static void
power_off(void)
{
	ucv_agent_log("powering off");
	sync();
	reboot(RB_POWER_OFF);
	ucv_agent_log_errno("power-off failed");
	for (;;)
		pause();
}

/* Everything up to the container's bundle; the reason for a failure in `why`. */
static int
prepare(char *why, size_t size)
{
	if (ucv_agent_mount_rootfs() < 0) {
		snprintf(why, size, "cannot mount the container image (see the console log)");
		return -1;
	}
	if (ucv_agent_mount_share() < 0) {
		snprintf(why, size, "cannot mount the job's folders (see the console log)");
		return -1;
	}
	return ucv_agent_write_bundle_config(why, size);
}

static void
run_as_init(void)
{
	char why[256] = "";

	if (ucv_agent_mount_dev() < 0 || ucv_agent_leave_initramfs() < 0 ||
	    ucv_agent_mount_system() < 0)
		power_off();
	ucv_agent_log("version %s", UCV_AGENT_VERSION);
	if (ucv_agent_load_modules() > 0)
		ucv_agent_log("some modules did not load");
	ucv_agent_loopback_up();
	/* a job without network still runs; web and VNC applications will not be reachable */
	ucv_agent_network_up(DHCP_WAIT_MS);
	if (ucv_agent_job_init(&job, &port) < 0 ||
	    ucv_agent_port_open(&port, PORT_WAIT_MS, ucv_agent_job_on_frame,
				ucv_agent_job_on_connect, &job) < 0)
		power_off();
	/* HELLO goes out now if the host is there already */
	ucv_agent_port_pump(&port, 0);
	if (prepare(why, sizeof(why)) < 0)
		ucv_agent_job_fail(&job, why);
	else
		ucv_agent_job_run(&job);
	power_off();
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("%s\n", UCV_AGENT_VERSION);
		return 0;
	}
	/* udhcpc runs the agent as its script, with the lease in the environment */
	if (argc == 2 && getpid() != 1 && getenv("interface") != NULL)
		return ucv_agent_dhcp_event(argv[1]);
	/* it mounts over / and powers the machine off: only ever as a VM's init */
	if (getpid() != 1) {
		fprintf(stderr, "ucv-agent: runs only as PID 1 of a container host (--version: "
				"print the version)\n");
		return 2;
	}
	run_as_init();
	return 0;
}
