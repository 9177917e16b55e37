/* The filesystems of the container host: the agent's own, and the container's overlay root. */
#pragma once

#include "ucv-agent-layout.h"

/* Where the container's bundle lives: config.json and the rootfs mount point. */
#define UCV_AGENT_BUNDLE_DIR "/run/ucv/bundle"
#define UCV_AGENT_ROOTFS_DIR UCV_AGENT_BUNDLE_DIR "/rootfs"

/* devtmpfs on /dev, and the console as stdin, stdout and stderr (an initramfs without a
 * /dev/console node leaves PID 1 without any). 0 or -1. */
int ucv_agent_mount_dev(void);

/* Makes the initramfs an ordinary mount and the agent's root: bind / to a directory, move that
 * mount over /, chroot into it. pivot_root(2) refuses to move away from the initramfs itself
 * (rootfs has no parent mount), and crun pivots the container's root. 0 or -1. */
int ucv_agent_leave_initramfs(void);

/* proc, sysfs, cgroup2 (crun needs it), devpts, /dev/shm, tmpfs on /run and /tmp. 0 or -1. */
int ucv_agent_mount_system(void);

/* The container's root at UCV_AGENT_ROOTFS_DIR: an overlay with the image disk (erofs,
 * read-only) as its lower layer and the scratch disk (ext4) or, without one, a tmpfs for the
 * changes. 0 or -1. */
int ucv_agent_mount_rootfs(void);

/* The job's virtiofs share at UCV_AGENT_SHARE_DIR: 1 mounted, 0 the VM has none, -1 failed. */
int ucv_agent_mount_share(void);
