/* The filesystems of the container host: the agent's own, and the container's overlay root. */
#include "ucv-agent-mounts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ucv-agent-disks.h"
#include "ucv-agent-log.h"
#include "ucv-agent-util.h"

#define BIND_DIR    "/newroot"
#define LOWER_DIR   "/run/ucv/lower"
#define SCRATCH_DIR "/run/ucv/scratch"
#define UPPER_DIR   SCRATCH_DIR "/upper"
#define WORK_DIR    SCRATCH_DIR "/work"

#define DISK_WAIT_MS 5000

static int
mount_at(const char *source, const char *target, const char *type, unsigned long flags,
	 const char *data)
{
	if (ucv_agent_mkdir_p(target, 0755) < 0) {
		ucv_agent_log_errno("cannot create %s", target);
		return -1;
	}
	if (mount(source, target, type, flags, data) < 0) {
		ucv_agent_log_errno("cannot mount %s (%s) on %s", source, type ? type : "bind",
				    target);
		return -1;
	}
	return 0;
}

int
ucv_agent_mount_dev(void)
{
	int fd;

	if (mount_at("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") < 0 && errno != EBUSY)
		return -1;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return -1;
	for (int i = 0; i <= 2; i++) {
		if (fd != i && dup2(fd, i) < 0)
			return -1;
	}
	if (fd > 2)
		close(fd);
	return 0;
}

int
ucv_agent_leave_initramfs(void)
{
	if (mount_at("/", BIND_DIR, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	if (chdir(BIND_DIR) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0) {
		ucv_agent_log_errno("cannot move the root out of the initramfs");
		return -1;
	}
	return 0;
}

int
ucv_agent_mount_system(void)
{
	const unsigned long nodev = MS_NOSUID | MS_NODEV | MS_NOEXEC;

	if (mount_at("proc", "/proc", "proc", nodev, NULL) < 0 ||
	    mount_at("sysfs", "/sys", "sysfs", nodev, NULL) < 0 ||
	    mount_at("cgroup2", "/sys/fs/cgroup", "cgroup2", nodev, NULL) < 0 ||
	    mount_at("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		     "gid=5,mode=620,ptmxmode=666") < 0 ||
	    mount_at("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0 ||
	    mount_at("run", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0 ||
	    mount_at("tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		return -1;
	return 0;
}

/* The scratch disk if there is one, else a tmpfs, with the overlay's upper and work dirs. */
static int
mount_scratch(void)
{
	char disk[320];

	if (ucv_agent_find_disk(UCV_AGENT_SCRATCH_SERIAL, "vdb", 0, disk, sizeof(disk)) == 0) {
		ucv_agent_log("scratch disk %s", disk);
		if (mount_at(disk, SCRATCH_DIR, "ext4", MS_NOSUID | MS_NODEV, NULL) < 0)
			return -1;
	} else if (mount_at("scratch", SCRATCH_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") <
		   0) {
		return -1;
	}
	if (ucv_agent_mkdir_p(UPPER_DIR, 0755) < 0 || ucv_agent_mkdir_p(WORK_DIR, 0755) < 0) {
		ucv_agent_log_errno("cannot create the overlay directories");
		return -1;
	}
	return 0;
}

int
ucv_agent_mount_rootfs(void)
{
	char disk[320];

	if (ucv_agent_find_disk(UCV_AGENT_IMAGE_SERIAL, "vda", DISK_WAIT_MS, disk, sizeof(disk)) <
	    0) {
		ucv_agent_log("no image disk (serial %s, or vda)", UCV_AGENT_IMAGE_SERIAL);
		return -1;
	}
	ucv_agent_log("image disk %s", disk);
	if (mount_at(disk, LOWER_DIR, "erofs", MS_RDONLY | MS_NODEV, NULL) < 0 ||
	    mount_scratch() < 0)
		return -1;
	return mount_at("overlay", UCV_AGENT_ROOTFS_DIR, "overlay", 0,
			"lowerdir=" LOWER_DIR ",upperdir=" UPPER_DIR ",workdir=" WORK_DIR);
}

/* A virtiofs device is there (bound to its driver): the host shared the job's folders. The
 * kernel's answer to mounting a tag no device has is not reliably ENOENT, so look first. */
static int
has_virtiofs_device(void)
{
	DIR *dir = opendir("/sys/bus/virtio/drivers/virtiofs");
	struct dirent *entry;
	int found = 0;

	if (dir == NULL)
		return 0;
	while (!found && (entry = readdir(dir)) != NULL)
		found = strncmp(entry->d_name, "virtio", strlen("virtio")) == 0;
	closedir(dir);
	return found;
}

int
ucv_agent_mount_share(void)
{
	if (!has_virtiofs_device())
		return 0;
	if (mount_at(UCV_AGENT_SHARE_TAG, UCV_AGENT_SHARE_DIR, "virtiofs", MS_NOSUID | MS_NODEV,
		     NULL) < 0)
		return -1;
	ucv_agent_log("job folders on %s", UCV_AGENT_SHARE_DIR);
	return 1;
}
