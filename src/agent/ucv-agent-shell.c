/* Shells inside the running container (see the header). crun exec --detach --tty connects to a
 * console socket and passes the terminal's master end over it; the shell is reparented to the
 * agent, which reaps it like every orphan. */
#include "ucv-agent-shell.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "ucv-agent-crun.h"
#include "ucv-agent-log.h"
#include "ucv-agent-spawn.h"
#include "ucv-agent-util.h"

#define CRUN          "/usr/bin/crun"
#define CRUN_ROOT     "/run/crun"
#define SHELL_DIR     "/run/ucv/shell"
#define INPUT_WAIT_MS 1000
#define SHELL_COMMAND "if command -v bash >/dev/null 2>&1; then exec bash -l; fi; exec sh -l"

static int
listen_console_socket(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The terminal crun sent over the console socket, or -1. */
static int
receive_master(int listen_fd)
{
	char data[256];
	char control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control,
			     .msg_controllen = sizeof(control)};
	struct cmsghdr *cmsg;
	int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	int master = -1;

	if (conn < 0)
		return -1;
	if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) >= 0) {
		cmsg = CMSG_FIRSTHDR(&msg);
		if (cmsg != NULL && cmsg->cmsg_level == SOL_SOCKET &&
		    cmsg->cmsg_type == SCM_RIGHTS && cmsg->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&master, CMSG_DATA(cmsg), sizeof(int));
	}
	close(conn);
	return master;
}

/* crun exec, detached, with a terminal; returns its exit code. */
static int
exec_shell(const char *container_id, uint32_t uid, const char *socket_path, const char *pid_path)
{
	char console[160], pid_file[160], user[40];
	char *argv[] = {UCV_AGENT_CRUN,
			"--root=" UCV_AGENT_CRUN_ROOT,
			"exec",
			"--detach",
			"--tty",
			console,
			pid_file,
			user,
			"--env=TERM=xterm-256color",
			(char *)container_id,
			"/bin/sh",
			"-c",
			SHELL_COMMAND,
			NULL};
	pid_t pid;

	snprintf(console, sizeof(console), "--console-socket=%s", socket_path);
	snprintf(pid_file, sizeof(pid_file), "--pid-file=%s", pid_path);
	snprintf(user, sizeof(user), "--user=%u:%u", (unsigned)uid, (unsigned)uid);
	pid = ucv_agent_spawn(argv, -1, -1);
	return pid < 0 ? -1 : ucv_agent_wait(pid);
}

int
ucv_agent_shell_open(UcvAgentShell *shell, const char *container_id, uint32_t channel, uint32_t uid,
		     uint16_t cols, uint16_t rows, char *why, size_t size)
{
	char socket_path[64], pid_path[64];
	int listen_fd, code;

	snprintf(socket_path, sizeof(socket_path), SHELL_DIR "/%u.sock", (unsigned)channel);
	snprintf(pid_path, sizeof(pid_path), SHELL_DIR "/%u.pid", (unsigned)channel);
	if (ucv_agent_mkdir_p(SHELL_DIR, 0700) < 0 ||
	    (listen_fd = listen_console_socket(socket_path)) < 0) {
		snprintf(why, size, "cannot make a console socket: %s", strerror(errno));
		return -1;
	}
	code = exec_shell(container_id, uid, socket_path, pid_path);
	shell->master = code == 0 ? receive_master(listen_fd) : -1;
	close(listen_fd);
	unlink(socket_path);
	if (code != 0 || shell->master < 0) {
		snprintf(why, size, "crun exec failed (%d)", code);
		if (shell->master >= 0)
			close(shell->master);
		return -1;
	}
	shell->channel = channel;
	shell->pid = ucv_agent_read_pid(pid_path);
	unlink(pid_path);
	fcntl(shell->master, F_SETFL, O_NONBLOCK);
	ucv_agent_shell_resize(shell, cols, rows);
	ucv_agent_log("shell %u: pid %d, uid %u", (unsigned)channel, (int)shell->pid,
		      (unsigned)uid);
	return 0;
}

void
ucv_agent_shell_input(UcvAgentShell *shell, const uint8_t *data, size_t len)
{
	int64_t deadline = ucv_agent_now_ms() + INPUT_WAIT_MS;

	while (len > 0 && shell->master >= 0) {
		ssize_t n = write(shell->master, data, len);
		struct pollfd pfd = {.fd = shell->master, .events = POLLOUT};

		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return;
		/* a shell that reads nothing for a second loses the rest */
		if (ucv_agent_now_ms() >= deadline || poll(&pfd, 1, INPUT_WAIT_MS) <= 0)
			return;
	}
}

void
ucv_agent_shell_resize(UcvAgentShell *shell, uint16_t cols, uint16_t rows)
{
	struct winsize size = {.ws_row = rows, .ws_col = cols};

	if (shell->master >= 0 && ioctl(shell->master, TIOCSWINSZ, &size) < 0)
		ucv_agent_log_errno("shell %u: resize", (unsigned)shell->channel);
}

void
ucv_agent_shell_signal(UcvAgentShell *shell, int signal_number)
{
	pid_t group = 0;

	if (shell->master >= 0 && ioctl(shell->master, TIOCGPGRP, &group) == 0 && group > 1) {
		kill(-group, signal_number);
		return;
	}
	if (shell->pid > 1)
		kill(shell->pid, signal_number);
}

void
ucv_agent_shell_close(UcvAgentShell *shell)
{
	if (shell->master >= 0) {
		/* the hang-up reaches the shell's session when the last master fd goes */
		close(shell->master);
		shell->master = -1;
	}
	if (shell->pid > 1)
		kill(shell->pid, SIGHUP);
	ucv_agent_log("shell %u closed", (unsigned)shell->channel);
	shell->channel = 0;
	shell->pid = 0;
}
