/* Finding the container host's virtio disks by their serial, without udev. */
#pragma once

#include "ucv-agent-layout.h"

#include <stddef.h>

/* Writes "/dev/vdX" of the virtio disk with `serial`, or else of the disk named `fallback` (e.g.
 * "vda") if that one has no serial at all, waiting up to `wait_ms` for either. 0 or -1. */
int ucv_agent_find_disk(const char *serial, const char *fallback, int wait_ms, char *path,
			size_t size);
