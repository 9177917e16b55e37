/* One container job: crun starts it from the bundle, its stdout and stderr go to the
 * host as frames, and its exit code is repeated until the host acknowledges it. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "ucv-agent-port.h"
#include "ucv-agent-shell.h"

/* EXIT's code for a job whose container never ran (the reason went out as STDERR first). */
#define UCV_AGENT_EXIT_NOT_STARTED (-1)

typedef struct {
	UcvAgentPort *port;
	int signal_fd;       /* SIGCHLD, for reaping every child as PID 1 must */
	int out_fd, err_fd;  /* the container's stdout and stderr, -1 after EOF */
	pid_t container_pid; /* 0 until crun created it */
	int exited;
	int32_t exit_code;
	int64_t drain_since;   /* since the container ended, or the host last held output back */
	int64_t exit_next;     /* when to repeat EXIT, 0 before the first */
	int64_t exit_deadline; /* when to stop waiting for EXIT_ACK */
	int acked;
	UcvAgentShell shells[UCV_AGENT_MAX_SHELLS];
} UcvAgentJob;

/* Prepares the job: SIGCHLD to a signalfd. Call before anything is spawned. 0 or -1. */
int ucv_agent_job_init(UcvAgentJob *job, UcvAgentPort *port);

/* The port's callbacks, with the job as user data. */
void ucv_agent_job_on_frame(UcvAgentPort *port, const UcvAgentFrame *frame, void *user_data);
void ucv_agent_job_on_connect(UcvAgentPort *port, void *user_data);

/* Runs the bundle's container to its end and reports it; returns the exit code sent. */
int32_t ucv_agent_job_run(UcvAgentJob *job);

/* Reports a job that cannot run: `why` as a STDERR line, then EXIT -1 until acknowledged. */
void ucv_agent_job_fail(UcvAgentJob *job, const char *why);
