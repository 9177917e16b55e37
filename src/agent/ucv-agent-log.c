/* Diagnostics of the container-host agent: lines on the console, with the time since boot. */
#include "ucv-agent-log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
log_line(const char *suffix, const char *format, va_list args)
{
	char line[1024];
	struct timespec now = {0};
	int n;

	clock_gettime(CLOCK_BOOTTIME, &now);
	n = snprintf(line, sizeof(line), "[%5ld.%03ld] ucv-agent: ", (long)now.tv_sec,
		     now.tv_nsec / 1000000);
	if (n < 0)
		return;
	vsnprintf(line + n, sizeof(line) - (size_t)n, format, args);
	n = (int)strlen(line);
	snprintf(line + n, sizeof(line) - (size_t)n, "%s\n", suffix);
	/* one write per line, so lines from the container's own console output stay whole */
	if (write(STDERR_FILENO, line, strlen(line)) < 0)
		return;
}

void
ucv_agent_log(const char *format, ...)
{
	va_list args;

	va_start(args, format);
	log_line("", format, args);
	va_end(args);
}

void
ucv_agent_log_errno(const char *format, ...)
{
	char suffix[160];
	va_list args;

	snprintf(suffix, sizeof(suffix), ": %s", strerror(errno));
	va_start(args, format);
	log_line(suffix, format, args);
	va_end(args);
}
