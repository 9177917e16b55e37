/* The agent's end of the virtio-serial control port (see the header). The port reports POLLHUP
 * as long as the host has not opened its end, and blocks writes until it does: output waits in
 * the queue, and a frame cut short by a disconnect is dropped rather than sent half to the next
 * connection. */
#include "ucv-agent-port.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ucv-agent-log.h"
#include "ucv-agent-util.h"

#define PORTS_DIR       "/sys/class/virtio-ports"
#define LINK_DIR        "/dev/virtio-ports"
#define POLL_MS         20
#define HUP_RECHECK_MS  100
#define READ_CHUNK      (16 * 1024)
#define FRAME_LEN_FIELD 4

static uint32_t
frame_size_at(const uint8_t *p)
{
	return FRAME_LEN_FIELD +
	       ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

/* The name of a port as the host announced it, or "" when there is none yet. */
static void
read_port_name(const char *port, char *name, size_t size)
{
	char path[300];
	FILE *f;

	name[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s/name", PORTS_DIR, port);
	f = fopen(path, "re");
	if (f == NULL)
		return;
	if (fgets(name, (int)size, f) == NULL)
		name[0] = '\0';
	fclose(f);
	name[strcspn(name, "\n")] = '\0';
}

/* Links every named port as udev would; 1 with `device` set when the agent's port is among them. */
static int
scan_ports(char *device, size_t size)
{
	DIR *dir = opendir(PORTS_DIR);
	struct dirent *entry;
	int found = 0;

	if (dir == NULL)
		return 0;
	while ((entry = readdir(dir)) != NULL) {
		char name[128], link[300], target[300];

		if (entry->d_name[0] == '.')
			continue;
		read_port_name(entry->d_name, name, sizeof(name));
		if (name[0] == '\0' || strchr(name, '/') != NULL)
			continue;
		snprintf(link, sizeof(link), "%s/%s", LINK_DIR, name);
		snprintf(target, sizeof(target), "../%s", entry->d_name);
		mkdir(LINK_DIR, 0755);
		if (symlink(target, link) < 0 && errno != EEXIST)
			ucv_agent_log_errno("cannot link %s", link);
		if (strcmp(name, UCV_AGENT_PORT_NAME) == 0) {
			snprintf(device, size, "/dev/%s", entry->d_name);
			found = 1;
		}
	}
	closedir(dir);
	return found;
}

int
ucv_agent_port_open(UcvAgentPort *port, int wait_ms, UcvAgentPortFrameFunc on_frame,
		    UcvAgentPortConnectFunc on_connect, void *user_data)
{
	int64_t deadline = ucv_agent_now_ms() + wait_ms;
	char device[300];

	while (!scan_ports(device, sizeof(device))) {
		if (ucv_agent_now_ms() >= deadline) {
			ucv_agent_log("no virtio-serial port named %s", UCV_AGENT_PORT_NAME);
			return -1;
		}
		ucv_agent_sleep_ms(POLL_MS);
	}
	port->fd = open(device, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (port->fd < 0) {
		ucv_agent_log_errno("cannot open %s", device);
		return -1;
	}
	port->connected = 0;
	port->retry_at = 0;
	port->head = port->tail = port->frame_left = 0;
	port->on_frame = on_frame;
	port->on_connect = on_connect;
	port->user_data = user_data;
	ucv_agent_decoder_init(&port->decoder, UCV_AGENT_PEER_HOST);
	ucv_agent_log("control port %s", device);
	return 0;
}

size_t
ucv_agent_port_room(const UcvAgentPort *port)
{
	return sizeof(port->out) - (port->tail - port->head);
}

int
ucv_agent_port_queue_empty(const UcvAgentPort *port)
{
	return port->head == port->tail;
}

/* Makes `len` bytes of room at the tail, or before the first unbegun frame when `front`;
 * returns where they go, or NULL. */
static uint8_t *
make_room(UcvAgentPort *port, size_t len, int front)
{
	size_t at;

	if (ucv_agent_port_room(port) < len)
		return NULL;
	if (port->head > 0) {
		memmove(port->out, port->out + port->head, port->tail - port->head);
		port->tail -= port->head;
		port->head = 0;
	}
	/* the frame at head may be partly written: the rest of it stays first */
	at = front ? port->frame_left : port->tail;
	memmove(port->out + at + len, port->out + at, port->tail - at);
	port->tail += len;
	return port->out + at;
}

int
ucv_agent_port_send_encoded(UcvAgentPort *port, const uint8_t *frame, size_t len, int front)
{
	uint8_t *at = make_room(port, len, front);

	if (at == NULL)
		return -1;
	memcpy(at, frame, len);
	return 0;
}

int
ucv_agent_port_send(UcvAgentPort *port, uint8_t type, uint32_t channel, const void *payload,
		    size_t len)
{
	uint8_t *at;
	size_t n;

	if (ucv_agent_frame_check(UCV_AGENT_PEER_GUEST, type, channel, payload, len) !=
	    UCV_AGENT_DECODE_OK)
		return -1;
	at = make_room(port, UCV_AGENT_FRAME_HEADER + len, 0);
	if (at == NULL)
		return -1;
	n = ucv_agent_frame_encode(at, UCV_AGENT_FRAME_HEADER + len, UCV_AGENT_PEER_GUEST, type,
				   channel, payload, len);
	return n > 0 ? 0 : -1;
}

void
ucv_agent_port_prepare(UcvAgentPort *port, struct pollfd *pfd, int *timeout_ms)
{
	int64_t now = ucv_agent_now_ms();

	pfd->fd = port->fd;
	pfd->revents = 0;
	if (!port->connected && now < port->retry_at) {
		int wait = (int)(port->retry_at - now);

		pfd->fd = -1;
		if (*timeout_ms < 0 || wait < *timeout_ms)
			*timeout_ms = wait;
		return;
	}
	pfd->events = POLLIN;
	if (!port->connected || !ucv_agent_port_queue_empty(port))
		pfd->events |= POLLOUT;
}

static void
handle_disconnect(UcvAgentPort *port)
{
	port->retry_at = ucv_agent_now_ms() + HUP_RECHECK_MS;
	if (!port->connected)
		return;
	port->connected = 0;
	/* the rest of a frame begun on the old connection would garble the next one */
	port->head += port->frame_left;
	port->frame_left = 0;
	ucv_agent_decoder_init(&port->decoder, UCV_AGENT_PEER_HOST);
	ucv_agent_log("host closed the control port");
}

static void
read_frames(UcvAgentPort *port)
{
	uint8_t buf[READ_CHUNK];
	ssize_t n = read(port->fd, buf, sizeof(buf));
	size_t pos = 0;

	while (n > 0 && pos < (size_t)n) {
		UcvAgentFrame frame;
		size_t used = 0;
		UcvAgentFeedResult result = ucv_agent_decoder_feed(&port->decoder, buf + pos,
								   (size_t)n - pos, &used, &frame);

		pos += used;
		if (result == UCV_AGENT_FEED_FRAME && port->on_frame != NULL)
			port->on_frame(port, &frame, port->user_data);
		if (result == UCV_AGENT_FEED_ERROR) {
			/* the host is trusted, so this is a bug there: start over */
			ucv_agent_log("bad frame from the host: %s",
				      ucv_agent_decode_error_string(
					      ucv_agent_decoder_error(&port->decoder)));
			ucv_agent_decoder_init(&port->decoder, UCV_AGENT_PEER_HOST);
			return;
		}
	}
}

/* Moves head past `n` written bytes, keeping track of where frames end. */
static void
consume(UcvAgentPort *port, size_t n)
{
	while (n > 0) {
		size_t step;

		if (port->frame_left == 0)
			port->frame_left = frame_size_at(port->out + port->head);
		step = n < port->frame_left ? n : port->frame_left;
		port->head += step;
		port->frame_left -= step;
		n -= step;
	}
}

static void
write_queue(UcvAgentPort *port)
{
	while (!ucv_agent_port_queue_empty(port)) {
		ssize_t n = write(port->fd, port->out + port->head, port->tail - port->head);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		consume(port, (size_t)n);
	}
	port->head = port->tail = 0;
}

void
ucv_agent_port_dispatch(UcvAgentPort *port, short revents)
{
	if (revents == 0)
		return;
	if ((revents & POLLHUP) != 0) {
		handle_disconnect(port);
		return;
	}
	if (!port->connected) {
		port->connected = 1;
		ucv_agent_log("host opened the control port");
		if (port->on_connect != NULL)
			port->on_connect(port, port->user_data);
	}
	if ((revents & POLLIN) != 0)
		read_frames(port);
	if ((revents & POLLOUT) != 0)
		write_queue(port);
}

void
ucv_agent_port_pump(UcvAgentPort *port, int timeout_ms)
{
	int64_t deadline = ucv_agent_now_ms() + timeout_ms;

	if (port->connected && ucv_agent_port_queue_empty(port))
		return;
	do {
		struct pollfd pfd;
		int wait = (int)(deadline - ucv_agent_now_ms());

		if (wait < 0)
			wait = 0;
		ucv_agent_port_prepare(port, &pfd, &wait);
		if (pfd.fd >= 0 && poll(&pfd, 1, wait) > 0)
			ucv_agent_port_dispatch(port, pfd.revents);
		else if (pfd.fd < 0)
			ucv_agent_sleep_ms(wait);
	} while ((!port->connected || !ucv_agent_port_queue_empty(port)) &&
		 ucv_agent_now_ms() < deadline);
}
