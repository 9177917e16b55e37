/* Small helpers of the container-host agent: time, files, directories. */
#include "ucv-agent-util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t
ucv_agent_now_ms(void)
{
	struct timespec now = {0};

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void
ucv_agent_sleep_ms(int ms)
{
	struct timespec delay = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&delay, &delay) < 0 && errno == EINTR) {
	}
}

int
ucv_agent_mkdir_p(const char *path, unsigned mode)
{
	char buf[512];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

char *
ucv_agent_read_file(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *data;
	size_t fill = 0;

	if (fd < 0)
		return NULL;
	data = malloc(max + 1);
	if (data == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	/* one byte more than allowed tells a file that is too large */
	while (fill <= max) {
		ssize_t n = read(fd, data + fill, max + 1 - fill);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			close(fd);
			free(data);
			errno = saved;
			return NULL;
		}
		if (n == 0)
			break;
		fill += (size_t)n;
	}
	close(fd);
	if (fill > max) {
		free(data);
		errno = EFBIG;
		return NULL;
	}
	data[fill] = '\0';
	*len = fill;
	return data;
}

int
ucv_agent_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
ucv_agent_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int saved;

	if (fd < 0)
		return -1;
	if (ucv_agent_write_all(fd, data, len) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

pid_t
ucv_agent_read_pid(const char *path)
{
	size_t len;
	char *text = ucv_agent_read_file(path, 32, &len);
	long pid = text != NULL ? strtol(text, NULL, 10) : 0;

	free(text);
	return pid > 1 ? (pid_t)pid : 0;
}
