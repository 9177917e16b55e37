/* The container host's network: the container shares the VM's, so the VM's loopback must work
 * and its NIC (when the host gave it one) needs an address for web and VNC applications. */
#pragma once

/* Brings `lo` up (the kernel leaves it down). 0 or -1. */
int ucv_agent_loopback_up(void);

/* The NIC (eth0), when there is one: DHCP by busybox's udhcpc, which keeps renewing the lease
 * and calls the agent itself as its script; waits up to `wait_ms` for the address. 1 configured,
 * 0 no NIC, -1 no address. */
int ucv_agent_network_up(int wait_ms);

/* The agent run as udhcpc's script (`/init bound`, …, with udhcpc's environment): applies the
 * lease with busybox ifconfig and route. The exit code for udhcpc. */
int ucv_agent_dhcp_event(const char *event);
