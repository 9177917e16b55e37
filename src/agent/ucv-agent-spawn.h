/* Starting and waiting for the agent's helper programs (crun). */
#pragma once

#include <sys/types.h>

/* Starts argv[0] (an absolute path) with stdin from /dev/null, stdout on `out_fd` and stderr on
 * `err_fd` (-1: the console), every signal at its default and unblocked. The pid, or -1. */
pid_t ucv_agent_spawn(char *const argv[], int out_fd, int err_fd);

/* Waits for one child and returns its exit code (128 + signal when killed), -1 on error. Other
 * children stay for the caller's reaping. */
int ucv_agent_wait(pid_t pid);

/* A wait status as a shell exit code: the code, or 128 + the signal that killed it. */
int ucv_agent_exit_code(int status);
