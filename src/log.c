/* log.c - one-line log messages to stderr or syslog. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <syslog.h>

static atomic_int current_level = LOG_LEVEL_WARN;
static atomic_bool use_syslog;

void log_set_level(enum log_level level) { atomic_store(&current_level, (int)level); }

void log_to_syslog(void)
{
	openlog("sepayfs", LOG_PID, LOG_DAEMON);
	atomic_store(&use_syslog, true);
}

static void emit(int priority, const char *label, const char *fmt, va_list ap)
{
	/* Format into one buffer and write it with one call, so lines from
	 * concurrent FUSE threads never interleave. */
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	if (atomic_load(&use_syslog))
		syslog(priority, "%s: %s", label, line);
	else
		fprintf(stderr, "sepayfs: %s: %s\n", label, line);
}

bool log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&current_level);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const labels[] = { "error", "warning", "info", "debug" };
	static const int priorities[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	if ((int)level > atomic_load(&current_level))
		return;
	va_list ap;
	va_start(ap, fmt);
	emit(priorities[level], labels[level], fmt, ap);
	va_end(ap);
}

void log_notice(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(LOG_NOTICE, "notice", fmt, ap);
	va_end(ap);
}

void log_printable(char *out, size_t size, const char *s)
{
	size_t n = 0;
	for (; s && *s && n + 1 < size; s++)
		if (*s >= 0x20 && *s < 0x7f)
			out[n++] = *s;
	out[n] = '\0';
}
