/* The container host's network: the container shares the VM's, so the VM's loopback must work. */
#pragma once

/* Brings `lo` up (the kernel leaves it down). 0 or -1. */
int ucv_agent_loopback_up(void);
