/* retry_after.h - how long a response asks us to wait, from its headers.
 *
 * SePay's APIs say it in several ways: Retry-After in seconds or as an HTTP
 * date, the legacy x-sepay-userapi-retry-after in seconds, and v2's
 * X-RateLimit-Remaining / X-RateLimit-Reset.  The transport feeds every
 * header line in; the answer is one number of seconds. */
#ifndef SEPAYFS_RETRY_AFTER_H
#define SEPAYFS_RETRY_AFTER_H

#include <stddef.h>
#include <time.h>

struct retry_hints {
	double retry_after;  /* Retry-After, seconds from now; -1: not said */
	double userapi;      /* x-sepay-userapi-retry-after; -1: not said */
	double remaining;    /* X-RateLimit-Remaining; -1: not said */
	double reset;        /* X-RateLimit-Reset as sent (seconds, or a Unix time); -1 */
	time_t now;          /* when the headers arrived, for dates */
};

void retry_hints_init(struct retry_hints *h, time_t now);
/* One raw header line ("Name: value\r\n", not NUL-terminated). */
void retry_hints_header(struct retry_hints *h, const char *line, size_t len);
/* The wait asked for, in seconds (finite, >= 0), or -1 when the headers
 * name none.  Retry-After first, then the legacy header, then an exhausted
 * X-RateLimit window's reset. */
double retry_hints_seconds(const struct retry_hints *h);

#endif
