/* The agent's end of the virtio-serial control port: framed output queue, decoding of the host's
 * frames, and the host's connects and disconnects, in a poll(2) loop. */
#pragma once

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "ucv-agent-frame.h"

/* Room for several full frames, so one slow drain never stalls control frames. */
#define UCV_AGENT_PORT_QUEUE (8 * UCV_AGENT_FRAME_MAX)

typedef struct UcvAgentPort UcvAgentPort;

typedef void (*UcvAgentPortFrameFunc)(UcvAgentPort *port, const UcvAgentFrame *frame,
				      void *user_data);
typedef void (*UcvAgentPortConnectFunc)(UcvAgentPort *port, void *user_data);

struct UcvAgentPort {
	int fd;
	int connected;     /* the host has its end open */
	int64_t retry_at;  /* while disconnected: when to look again (poll keeps saying HUP) */
	size_t head, tail; /* queued bytes are out[head..tail) */
	size_t frame_left; /* bytes still to write of the frame at head, 0 at a frame boundary */
	UcvAgentPortFrameFunc on_frame;
	UcvAgentPortConnectFunc on_connect; /* the host (re)connected: time for HELLO */
	void *user_data;
	UcvAgentDecoder decoder;
	uint8_t out[UCV_AGENT_PORT_QUEUE];
};

/* Finds the port named UCV_AGENT_PORT_NAME (waiting up to `wait_ms` for the driver to announce
 * it), links it as /dev/virtio-ports/<name> and opens it. 0 or -1. */
int ucv_agent_port_open(UcvAgentPort *port, int wait_ms, UcvAgentPortFrameFunc on_frame,
			UcvAgentPortConnectFunc on_connect, void *user_data);

/* Bytes free in the queue. */
size_t ucv_agent_port_room(const UcvAgentPort *port);
int ucv_agent_port_queue_empty(const UcvAgentPort *port);

/* Queues a frame (checked as the host will); `front` puts it before everything not yet begun.
 * 0, or -1 when it is invalid or does not fit. */
int ucv_agent_port_send(UcvAgentPort *port, uint8_t type, uint32_t channel, const void *payload,
			size_t len);
int ucv_agent_port_send_encoded(UcvAgentPort *port, const uint8_t *frame, size_t len, int front);

/* Fills `pfd` for poll(2) and lowers `*timeout_ms` if the port needs a look sooner. */
void ucv_agent_port_prepare(UcvAgentPort *port, struct pollfd *pfd, int *timeout_ms);

/* Acts on what poll(2) said about the port: reads frames, writes queued bytes, notices the host
 * coming and going. */
void ucv_agent_port_dispatch(UcvAgentPort *port, short revents);

/* Runs the port alone until its queue is empty or `timeout_ms` passed (0: one round). */
void ucv_agent_port_pump(UcvAgentPort *port, int timeout_ms);
