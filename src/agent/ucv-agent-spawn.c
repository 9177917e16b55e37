/* Starting and waiting for the agent's helper programs (crun). */
#include "ucv-agent-spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ucv-agent-log.h"

static char *const helper_env[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	NULL,
};

/* In the child: stdio in place, signals as a fresh process has them, then exec. */
static void
exec_child(char *const argv[], int out_fd, int err_fd)
{
	sigset_t none;
	int null_fd = open("/dev/null", O_RDWR);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
	    (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0) ||
	    (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0))
		_exit(126);
	setsid();
	execve(argv[0], argv, helper_env);
	_exit(127);
}

pid_t
ucv_agent_spawn(char *const argv[], int out_fd, int err_fd)
{
	pid_t pid = fork();

	if (pid < 0) {
		ucv_agent_log_errno("cannot start %s", argv[0]);
		return -1;
	}
	if (pid == 0)
		exec_child(argv, out_fd, err_fd);
	return pid;
}

int
ucv_agent_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

int
ucv_agent_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			ucv_agent_log_errno("cannot wait for process %d", (int)pid);
			return -1;
		}
	}
	return ucv_agent_exit_code(status);
}
