/* Small helpers of the container-host agent: time, files, directories. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t ucv_agent_now_ms(void);
void ucv_agent_sleep_ms(int ms);

/* Creates a directory and its parents; existing ones are fine. 0 or -1 with errno. */
int ucv_agent_mkdir_p(const char *path, unsigned mode);

/* Reads a whole file of at most `max` bytes into a new NUL-terminated buffer (free() it); NULL
 * with errno on failure, EFBIG when it is larger. */
char *ucv_agent_read_file(const char *path, size_t max, size_t *len);

/* Writes `len` bytes to a new file (mode 0600, replaced if there). 0 or -1 with errno. */
int ucv_agent_write_file(const char *path, const void *data, size_t len);

/* write() until all of it is out, retrying on EINTR. 0 or -1 with errno. */
int ucv_agent_write_all(int fd, const void *data, size_t len);

/* The pid in a pid file (as crun writes them), or 0. */
pid_t ucv_agent_read_pid(const char *path);
