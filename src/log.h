/* log.h - one-line log messages with a level, to stderr or syslog.
 *
 * Every failure that reaches a user is logged once, here, as one line.
 * In the foreground lines go to stderr; once daemonized, to syslog with
 * ident "sepayfs" (journalctl -t sepayfs).  Never pass a secret (token,
 * Authorization header) to these functions. */
#ifndef SEPAYFS_LOG_H
#define SEPAYFS_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_set_level(enum log_level level);
/* From now on, to syslog instead of stderr. */
void log_to_syslog(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether lines of this level are written: skips building a costly one. */
bool log_enabled(enum log_level level);
/* Copies the printable ASCII of s (at most size - 1 bytes, NUL-terminated;
 * s may be NULL): text from a server or a client reaches a log line only so. */
void log_printable(char *out, size_t size, const char *s);

/* A line asked for (statistics): written whatever the level. */
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
