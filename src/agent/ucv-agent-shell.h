/* Shells inside the running container: `crun exec --tty` hands the agent the master end of the
 * container's terminal, which the host drives through DATA, RESIZE, SIGNAL and CLOSE frames. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UCV_AGENT_MAX_SHELLS 8

typedef struct {
	uint32_t channel; /* 0: a free slot */
	int master;       /* the container's terminal, -1 once it reported EOF */
	pid_t pid;        /* the shell, as the agent sees it */
} UcvAgentShell;

/* Starts a shell in container `container_id` as `uid` (group = uid) with a `cols`×`rows`
 * terminal. 0, or -1 with the reason in `why`. */
int ucv_agent_shell_open(UcvAgentShell *shell, const char *container_id, uint32_t channel,
			 uint32_t uid, uint16_t cols, uint16_t rows, char *why, size_t size);

/* Keystrokes from the host; waits briefly when the terminal is full. */
void ucv_agent_shell_input(UcvAgentShell *shell, const uint8_t *data, size_t len);
void ucv_agent_shell_resize(UcvAgentShell *shell, uint16_t cols, uint16_t rows);

/* Signals the terminal's foreground process group (the shell's if there is none). */
void ucv_agent_shell_signal(UcvAgentShell *shell, int signal_number);

/* Hangs up the terminal and frees the slot. */
void ucv_agent_shell_close(UcvAgentShell *shell);
