/* One container job: crun runs it detached, its output and exit code go to the host as frames.
 * The container's init is reparented to the agent (PID 1) once crun exits, so its exit status
 * arrives here through SIGCHLD. */
#include "ucv-agent-run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ucv-agent-crun.h"
#include "ucv-agent-log.h"
#include "ucv-agent-mounts.h"
#include "ucv-agent-spawn.h"
#include "ucv-agent-util.h"
#include "ucv-agent-version.h"

#define PID_FILE      "/run/ucv/container.pid"
#define READ_CHUNK    (16 * 1024)
#define RESERVE       1024 /* queue room kept for control frames */
#define DRAIN_MS      2000 /* how long output may trail the container's end */
#define EXIT_EVERY_MS 1000
#define EXIT_WAIT_MS  30000

enum { PFD_PORT, PFD_SIGNAL, PFD_OUT, PFD_ERR, PFD_SHELLS };

#define N_PFDS (PFD_SHELLS + UCV_AGENT_MAX_SHELLS)

int
ucv_agent_job_init(UcvAgentJob *job, UcvAgentPort *port)
{
	sigset_t chld;

	memset(job, 0, sizeof(*job));
	job->port = port;
	job->out_fd = job->err_fd = -1;
	for (int i = 0; i < UCV_AGENT_MAX_SHELLS; i++)
		job->shells[i].master = -1;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0)
		return -1;
	job->signal_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	return job->signal_fd < 0 ? -1 : 0;
}

void
ucv_agent_job_on_connect(UcvAgentPort *port, void *user_data)
{
	UcvAgentJob *job = user_data;
	uint8_t hello[UCV_AGENT_FRAME_HEADER + 2 + UCV_AGENT_VERSION_MAX];
	size_t len = ucv_agent_frame_encode_hello(hello, sizeof(hello), UCV_AGENT_VERSION);

	/* a new host connection knows none of the old one's shells: end them, freeing their
	 * channels and slots */
	for (int i = 0; i < UCV_AGENT_MAX_SHELLS; i++) {
		if (job->shells[i].channel != 0)
			ucv_agent_shell_close(&job->shells[i]);
	}
	/* a host that connects late (or again) learns first who it talks to */
	if (len > 0)
		ucv_agent_port_send_encoded(port, hello, len, 1);
}

static UcvAgentShell *
find_shell(UcvAgentJob *job, uint32_t channel)
{
	for (int i = 0; i < UCV_AGENT_MAX_SHELLS; i++) {
		if (job->shells[i].channel == channel)
			return &job->shells[i];
	}
	return NULL;
}

/* A reason on the terminal, then CLOSE: the host learns why there is no shell. */
static void
refuse_shell(UcvAgentJob *job, uint32_t channel, const char *why)
{
	char line[300];
	int n = snprintf(line, sizeof(line), "ucv-agent: %s\r\n", why);

	ucv_agent_log("shell %u refused: %s", (unsigned)channel, why);
	if (n > 0)
		ucv_agent_port_send(job->port, UCV_AGENT_FRAME_DATA, channel, line, strlen(line));
	ucv_agent_port_send(job->port, UCV_AGENT_FRAME_CLOSE, channel, NULL, 0);
}

static void
open_shell(UcvAgentJob *job, const UcvAgentFrame *frame)
{
	UcvAgentShell *slot = find_shell(job, 0);
	char why[200] = "";
	uint32_t uid;
	uint16_t cols, rows;

	if (job->container_pid == 0 || job->exited) {
		refuse_shell(job, frame->channel, "the container is not running");
		return;
	}
	if (find_shell(job, frame->channel) != NULL || slot == NULL) {
		refuse_shell(job, frame->channel, "channel in use, or too many shells");
		return;
	}
	ucv_agent_frame_parse_shell_open(frame, &uid, &cols, &rows);
	if (ucv_agent_shell_open(slot, UCV_AGENT_CONTAINER_ID, frame->channel, uid, cols, rows, why,
				 sizeof(why)) < 0)
		refuse_shell(job, frame->channel, why);
}

/* DATA, RESIZE, SIGNAL and CLOSE for a shell; a channel no shell has is ignored. */
static void
drive_shell(UcvAgentJob *job, const UcvAgentFrame *frame)
{
	UcvAgentShell *shell = find_shell(job, frame->channel);
	uint16_t cols, rows;

	if (shell == NULL)
		return;
	switch (frame->type) {
	case UCV_AGENT_FRAME_DATA:
		ucv_agent_shell_input(shell, frame->payload, frame->payload_len);
		break;
	case UCV_AGENT_FRAME_RESIZE:
		ucv_agent_frame_parse_resize(frame, &cols, &rows);
		ucv_agent_shell_resize(shell, cols, rows);
		break;
	case UCV_AGENT_FRAME_SIGNAL:
		ucv_agent_shell_signal(shell, ucv_agent_frame_parse_signal(frame));
		break;
	case UCV_AGENT_FRAME_CLOSE:
		ucv_agent_shell_close(shell);
		break;
	default:
		break;
	}
}

/* The container's init only gets signals it handles (SIGKILL aside): it is PID 1 of its own
 * namespace, so a job that should stop on SIGTERM must trap it. */
static void
signal_container(UcvAgentJob *job, int signal_number)
{
	if (job->container_pid == 0 || job->exited)
		return;
	ucv_agent_log("signal %d to the container", signal_number);
	kill(job->container_pid, signal_number);
}

void
ucv_agent_job_on_frame(UcvAgentPort *port, const UcvAgentFrame *frame, void *user_data)
{
	UcvAgentJob *job = user_data;

	switch (frame->type) {
	case UCV_AGENT_FRAME_EXIT_ACK:
		if (job->exit_next != 0)
			job->acked = 1;
		break;
	case UCV_AGENT_FRAME_PING:
		ucv_agent_port_send(port, UCV_AGENT_FRAME_PONG, 0, frame->payload,
				    frame->payload_len);
		break;
	case UCV_AGENT_FRAME_SHELL_OPEN:
		open_shell(job, frame);
		break;
	case UCV_AGENT_FRAME_SIGNAL:
		if (frame->channel == 0)
			signal_container(job, ucv_agent_frame_parse_signal(frame));
		else
			drive_shell(job, frame);
		break;
	case UCV_AGENT_FRAME_DATA:
	case UCV_AGENT_FRAME_RESIZE:
	case UCV_AGENT_FRAME_CLOSE:
		drive_shell(job, frame);
		break;
	default:
		break;
	}
}

/* A line from the agent itself on the job's stderr, so the user sees why a job failed. */
static void
send_stderr_line(UcvAgentJob *job, const char *text)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "ucv-agent: %s\n", text);

	if (n > 0)
		ucv_agent_port_send(job->port, UCV_AGENT_FRAME_STDERR, 0, line, strlen(line));
}

static void
mark_exited(UcvAgentJob *job, int32_t code)
{
	if (job->exited)
		return;
	job->exited = 1;
	job->exit_code = code;
	job->drain_since = ucv_agent_now_ms();
}

static void
reap_children(UcvAgentJob *job)
{
	struct signalfd_siginfo info;
	pid_t pid;
	int status;

	while (read(job->signal_fd, &info, sizeof(info)) == sizeof(info)) {
	}
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == job->container_pid) {
			ucv_agent_log("container exited (status 0x%x)", (unsigned)status);
			mark_exited(job, ucv_agent_exit_code(status));
		}
		/* a reaped pid may be reused: never signal it again */
		for (int i = 0; i < UCV_AGENT_MAX_SHELLS; i++) {
			if (job->shells[i].pid == pid)
				job->shells[i].pid = 0;
		}
	}
}

static int
open_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	return fcntl(fds[0], F_SETFL, O_NONBLOCK);
}

/* crun run --detach: create and start in one go (each crun start-up costs time under
 * emulation), with the container's stdout and stderr on the pipes. */
static int
start_container(UcvAgentJob *job, int out_w, int err_w)
{
	char *run[] = {UCV_AGENT_CRUN,
		       "--root=" UCV_AGENT_CRUN_ROOT,
		       "run",
		       "--detach",
		       "--bundle=" UCV_AGENT_BUNDLE_DIR,
		       "--pid-file=" PID_FILE,
		       UCV_AGENT_CONTAINER_ID,
		       NULL};
	pid_t pid = ucv_agent_spawn(run, out_w, err_w);
	int code = pid < 0 ? -1 : ucv_agent_wait(pid);

	if (code != 0) {
		ucv_agent_log("crun run exited with %d", code);
		send_stderr_line(job, "crun could not start the container");
		return -1;
	}
	job->container_pid = ucv_agent_read_pid(PID_FILE);
	if (job->container_pid == 0) {
		send_stderr_line(job, "crun wrote no container pid");
		return -1;
	}
	ucv_agent_log("container started, pid %d", (int)job->container_pid);
	return 0;
}

/* Forwards what the container wrote; closes the pipe at EOF. */
static void
forward_output(UcvAgentJob *job, int *fd, uint8_t type)
{
	uint8_t buf[READ_CHUNK];
	ssize_t n = read(*fd, buf, sizeof(buf));

	if (n > 0) {
		ucv_agent_port_send(job->port, type, 0, buf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	close(*fd);
	*fd = -1;
}

/* Forwards what a shell's terminal shows; at its end (EOF, or EIO once the shell is gone) the
 * host gets CLOSE. */
static void
forward_shell(UcvAgentJob *job, UcvAgentShell *shell)
{
	uint8_t buf[READ_CHUNK];
	ssize_t n = read(shell->master, buf, sizeof(buf));

	if (n > 0) {
		ucv_agent_port_send(job->port, UCV_AGENT_FRAME_DATA, shell->channel, buf,
				    (size_t)n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	ucv_agent_port_send(job->port, UCV_AGENT_FRAME_CLOSE, shell->channel, NULL, 0);
	ucv_agent_shell_close(shell);
}

static int
has_room(const UcvAgentJob *job)
{
	return ucv_agent_port_room(job->port) >= UCV_AGENT_FRAME_HEADER + READ_CHUNK + RESERVE;
}

/* All output is through once both pipes are closed; an orphan that keeps one open gets
 * DRAIN_MS, counted only while the host keeps up. */
static int
output_done(UcvAgentJob *job)
{
	int64_t now = ucv_agent_now_ms();

	if (job->out_fd < 0 && job->err_fd < 0)
		return 1;
	if (!has_room(job))
		job->drain_since = now;
	return now - job->drain_since >= DRAIN_MS;
}

static void
close_output(UcvAgentJob *job)
{
	if (job->out_fd >= 0)
		close(job->out_fd);
	if (job->err_fd >= 0)
		close(job->err_fd);
	job->out_fd = job->err_fd = -1;
}

/* EXIT once the output is through, then again every second until EXIT_ACK. */
static void
report_exit(UcvAgentJob *job)
{
	uint8_t frame[UCV_AGENT_FRAME_HEADER + 4];
	int64_t now = ucv_agent_now_ms();
	int first = job->exit_next == 0;
	size_t len;

	if (!job->exited || !output_done(job) || now < job->exit_next)
		return;
	job->exit_next = now + EXIT_EVERY_MS;
	if (first) {
		ucv_agent_log("reporting exit code %d", (int)job->exit_code);
		job->exit_deadline = now + EXIT_WAIT_MS;
		/* nothing may follow EXIT */
		close_output(job);
	} else if (!job->port->connected || !ucv_agent_port_queue_empty(job->port)) {
		/* a repeat is for a host that missed one, not to pile up while none listens */
		return;
	}
	len = ucv_agent_frame_encode_exit(frame, sizeof(frame), job->exit_code);
	ucv_agent_port_send_encoded(job->port, frame, len, 0);
}

static void
watch_output(const UcvAgentJob *job, struct pollfd *pfd, int fd)
{
	/* a full queue holds the container back rather than dropping its output */
	pfd->fd = has_room(job) ? fd : -1;
	pfd->events = POLLIN;
	pfd->revents = 0;
}

static int
poll_timeout(const UcvAgentJob *job)
{
	int64_t now = ucv_agent_now_ms();
	int64_t at = -1;

	if (job->exit_next != 0)
		at = job->exit_next;
	else if (job->exited)
		at = job->drain_since + DRAIN_MS;
	if (at < 0)
		return -1;
	return at <= now ? 0 : (int)(at - now);
}

static void
loop(UcvAgentJob *job)
{
	while (!job->acked &&
	       (job->exit_deadline == 0 || ucv_agent_now_ms() < job->exit_deadline)) {
		struct pollfd pfds[N_PFDS];
		int timeout = poll_timeout(job);

		ucv_agent_port_prepare(job->port, &pfds[PFD_PORT], &timeout);
		pfds[PFD_SIGNAL] = (struct pollfd){.fd = job->signal_fd, .events = POLLIN};
		watch_output(job, &pfds[PFD_OUT], job->out_fd);
		watch_output(job, &pfds[PFD_ERR], job->err_fd);
		for (int i = 0; i < UCV_AGENT_MAX_SHELLS; i++)
			watch_output(job, &pfds[PFD_SHELLS + i],
				     job->shells[i].channel != 0 ? job->shells[i].master : -1);
		if (poll(pfds, N_PFDS, timeout) < 0 && errno != EINTR) {
			ucv_agent_log_errno("poll");
			ucv_agent_sleep_ms(100);
			continue;
		}
		if (pfds[PFD_SIGNAL].revents != 0)
			reap_children(job);
		if (pfds[PFD_OUT].revents != 0)
			forward_output(job, &job->out_fd, UCV_AGENT_FRAME_STDOUT);
		if (pfds[PFD_ERR].revents != 0)
			forward_output(job, &job->err_fd, UCV_AGENT_FRAME_STDERR);
		for (int i = 0; i < UCV_AGENT_MAX_SHELLS; i++) {
			if (pfds[PFD_SHELLS + i].revents != 0 && job->shells[i].channel != 0)
				forward_shell(job, &job->shells[i]);
		}
		report_exit(job);
		ucv_agent_port_dispatch(job->port, pfds[PFD_PORT].revents);
	}
	if (!job->acked)
		ucv_agent_log("no EXIT_ACK from the host; giving up");
	/* whatever is still queued gets a last chance */
	ucv_agent_port_pump(job->port, 1000);
}

int32_t
ucv_agent_job_run(UcvAgentJob *job)
{
	int out[2], err[2];

	if (open_pipe(out) < 0 || open_pipe(err) < 0) {
		ucv_agent_log_errno("pipe");
		ucv_agent_job_fail(job, "cannot create the output pipes");
		return job->exit_code;
	}
	job->out_fd = out[0];
	job->err_fd = err[0];
	if (start_container(job, out[1], err[1]) < 0) {
		mark_exited(job, UCV_AGENT_EXIT_NOT_STARTED);
	} else {
		ucv_agent_port_send(job->port, UCV_AGENT_FRAME_STARTED, 0, NULL, 0);
	}
	/* from now on only the container holds the pipes' write ends */
	close(out[1]);
	close(err[1]);
	loop(job);
	return job->exit_code;
}

void
ucv_agent_job_fail(UcvAgentJob *job, const char *why)
{
	ucv_agent_log("job cannot run: %s", why);
	send_stderr_line(job, why);
	mark_exited(job, UCV_AGENT_EXIT_NOT_STARTED);
	loop(job);
}
