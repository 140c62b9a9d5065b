/* activity.h - what the daemon is doing, in words a person reads.
 *
 * The request path, the token and the read-ahead report events here; the
 * service manager's status (sdnotify.c), SIGUSR1's line and the info log
 * read them back as one line such as
 *
 *   walking 12 of 40 accounts, 431 requests, 2.9/s, 0 waits for 429,
 *   last error 40 s ago: 403 on account 19 transactions
 *
 * A walk is what read-ahead recognises (a reader going through the
 * accounts in order); it starts at its first step and ends once nothing
 * moved and nothing was in flight for ACTIVITY_IDLE_MS.  Work outside a
 * walk (one cat, one ls) is "fetching".  Every function is thread-safe and
 * bounded; nothing here asks the API. */
#ifndef SEPAYFS_ACTIVITY_H
#define SEPAYFS_ACTIVITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Quiet this long ends a walk: read-ahead drops a stopped reader's queue
 * after one second, so two say the walk is over. */
#define ACTIVITY_IDLE_MS 2000
/* A status line fits a terminal's status row and a journal line. */
#define ACTIVITY_LINE_MAX 256

struct activity;

struct activity *activity_new(void);
void activity_free(struct activity *a);

/* Events.  A request sent, and its end; a 429 the request path waits
 * out; a request that failed for good (status 0: no HTTP answer, err
 * says why), with the API path it asked; the token refused, with what
 * helps ("run sepayfs-login"; a static string), or working again (NULL). */
void activity_request_sent(struct activity *a);
void activity_request_done(struct activity *a);
void activity_rate_limited(struct activity *a);
void activity_failed(struct activity *a, long status, int err, const char *api_path);
void activity_token_refused(struct activity *a, const char *remedy);
/* A reader walking the account list reached account id, the pos-th
 * (from 1) of total. */
void activity_walk_step(struct activity *a, int64_t id, size_t pos, size_t total);

/* The status line now (see above). */
void activity_line(struct activity *a, char *line, size_t size);
/* Ends a walk that went quiet (logging its figures at info) and says
 * whether work is still under way: the reporter ticks while it is. */
bool activity_tick(struct activity *a);
/* The reporter's pace: while busy, waits period_ms; else until work
 * starts or the token's state changes.  false once activity_stop. */
bool activity_wait(struct activity *a, bool busy, uint64_t period_ms);
void activity_stop(struct activity *a);

/* An API path (query included) in a person's words: "account 19
 * transactions", "the account list".  Printable ASCII, NUL-terminated. */
void activity_describe_path(const char *api_path, char *out, size_t size);

#endif
