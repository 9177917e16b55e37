/* Finding the container host's virtio disks by their serial, without udev. */
#include "ucv-agent-disks.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ucv-agent-util.h"

#define POLL_MS 20

/* 1 when /sys/block/<name>/serial holds `serial` ("" for a disk without one). */
static int
has_serial(const char *name, const char *serial)
{
	char path[300];
	char value[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/%s/serial", name);
	f = fopen(path, "re");
	if (f == NULL)
		return serial[0] == '\0';
	if (fgets(value, sizeof(value), f) == NULL)
		value[0] = '\0';
	fclose(f);
	value[strcspn(value, "\n")] = '\0';
	return strcmp(value, serial) == 0;
}

/* The virtio disk with `serial`: 1 with its name in `name`, or 0. */
static int
find_by_serial(const char *serial, char *name, size_t size)
{
	DIR *dir = opendir("/sys/block");
	struct dirent *entry;
	int found = 0;

	if (dir == NULL)
		return 0;
	while (!found && (entry = readdir(dir)) != NULL) {
		if (strncmp(entry->d_name, "vd", 2) != 0 || !has_serial(entry->d_name, serial))
			continue;
		snprintf(name, size, "%s", entry->d_name);
		found = 1;
	}
	closedir(dir);
	return found;
}

/* A disk without a serial stands in for one by name: a disk with a serial is always meant. */
static int
exists_without_serial(const char *name)
{
	char path[300];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/block/%s", name);
	return stat(path, &st) == 0 && has_serial(name, "");
}

int
ucv_agent_find_disk(const char *serial, const char *fallback, int wait_ms, char *path, size_t size)
{
	int64_t deadline = ucv_agent_now_ms() + wait_ms;
	char name[300];

	for (;;) {
		if (find_by_serial(serial, name, sizeof(name)) ||
		    (exists_without_serial(fallback) &&
		     snprintf(name, sizeof(name), "%s", fallback) > 0)) {
			snprintf(path, size, "/dev/%s", name);
			return 0;
		}
		if (ucv_agent_now_ms() >= deadline)
			return -1;
		ucv_agent_sleep_ms(POLL_MS);
	}
}
