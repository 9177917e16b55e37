/* Diagnostics of the container-host agent: lines on the console (ttyS0), which the host logs. */
#pragma once

#define UCV_AGENT_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* A line "[seconds since boot] ucv-agent: …" on stderr, which is the console. */
void ucv_agent_log(const char *format, ...) UCV_AGENT_PRINTF(1, 2);

/* The same, followed by ": " and strerror(errno). */
void ucv_agent_log_errno(const char *format, ...) UCV_AGENT_PRINTF(1, 2);
