/* The container host's network: the container shares the VM's, so the VM's loopback must work. */
#include "ucv-agent-net.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ucv-agent-log.h"
#include "ucv-agent-spawn.h"

#define NIC     "eth0"
#define BUSYBOX "/bin/busybox"

int
ucv_agent_loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = -1;

	if (fd < 0) {
		ucv_agent_log_errno("socket");
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (rc < 0)
		ucv_agent_log_errno("cannot bring lo up");
	close(fd);
	return rc;
}

/* 1 when `name` has an IPv4 address, 0 when not (yet), -1 when there is no such interface. */
static int
has_address(const char *name)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	rc = ioctl(fd, SIOCGIFADDR, &ifr) == 0 ? 1 : (errno == ENODEV ? -1 : 0);
	close(fd);
	return rc;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int
ucv_agent_network_up(int wait_ms)
{
	char *const udhcpc[] = {BUSYBOX, "udhcpc", "-f", "-i", NIC,     "-t",
				"20",    "-T",     "1",  "-s", "/init", NULL};

	if (has_address(NIC) < 0)
		return 0;
	/* not waited for: it keeps the lease, and PID 1 reaps it if it ever ends */
	if (ucv_agent_spawn(udhcpc, -1, -1) < 0)
		return -1;
	for (int waited = 0; waited < wait_ms; waited += 100) {
		if (has_address(NIC) == 1) {
			ucv_agent_log("network: %s configured", NIC);
			return 1;
		}
		sleep_ms(100);
	}
	ucv_agent_log("network: no address for %s within %d ms", NIC, wait_ms);
	return -1;
}

static int
run_busybox(char *const argv[])
{
	pid_t pid = ucv_agent_spawn(argv, -1, -1);

	return pid < 0 ? -1 : ucv_agent_wait(pid);
}

int
ucv_agent_dhcp_event(const char *event)
{
	const char *iface = getenv("interface");
	const char *ip = getenv("ip");
	const char *mask = getenv("subnet");
	const char *router = getenv("router");
	char gateway[64] = "";

	if (iface == NULL)
		return 1;
	if (strcmp(event, "deconfig") == 0) {
		char *const down[] = {BUSYBOX, "ifconfig", (char *)iface, "0.0.0.0", "up", NULL};
		return run_busybox(down) == 0 ? 0 : 1;
	}
	if ((strcmp(event, "bound") != 0 && strcmp(event, "renew") != 0) || ip == NULL)
		return 0;
	char *const up[] = {BUSYBOX,    "ifconfig", (char *)iface,
			    (char *)ip, "netmask",  (char *)(mask != NULL ? mask : "255.255.255.0"),
			    "up",       NULL};
	if (run_busybox(up) != 0)
		return 1;
	if (router == NULL || router[0] == '\0')
		return 0;
	/* the first of the routers udhcpc lists */
	snprintf(gateway, sizeof(gateway), "%s", router);
	gateway[strcspn(gateway, " ")] = '\0';
	char *const route[] = {BUSYBOX, "route", "add", "default", "gw", gateway, NULL};
	run_busybox(route); /* already there on a renewal */
	return 0;
}
