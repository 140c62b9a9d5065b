/* fake_http.h - an HTTP transport that answers from a table and counts.
 *
 * Tests set the answer for a path ("/bank-accounts?page=1&limit=100"); any
 * other path is a 404.  Every request is counted, per path and in total. */
#ifndef SEPAYFS_FAKE_HTTP_H
#define SEPAYFS_FAKE_HTTP_H

#include "http.h"

struct fake_http;

struct fake_http *fake_http_new(void);
struct http_transport *fake_http_transport(struct fake_http *f);
void fake_http_free(struct fake_http *f);
/* status 0 with a NULL body makes the request fail as a network error;
 * FAKE_HTTP_HANG, a server that never answers: the request uses up the
 * whole timeout it was given (on the test clock, if one is in use) and
 * fails with ETIMEDOUT.  For post_form, path is the absolute URL. */
#define FAKE_HTTP_HANG (-1L)
/* A body over the transport's size limit: EFBIG, as http_curl.c gives it. */
#define FAKE_HTTP_TOO_BIG (-2L)
void fake_http_set(struct fake_http *f, const char *path, long status, const char *body);
/* A one-time answer for path, given before its standing answer (queue
 * several to script a sequence, e.g. 503 then the standing 200). */
void fake_http_queue(struct fake_http *f, const char *path, long status, const char *body);
/* The same, answered as if its headers asked to wait retry_after seconds. */
void fake_http_queue_retry_after(struct fake_http *f, const char *path, long status,
				 const char *body, double retry_after);
/* Requests carrying another bearer token than this one get a 401. */
void fake_http_require_token(struct fake_http *f, const char *token);
/* Wrong tokens get HTTP 200 with an empty body, as SePay's older API answers. */
void fake_http_refuse_with_empty_200(struct fake_http *f);
/* The form body of the last post_form, or "". */
const char *fake_http_last_form(struct fake_http *f);
unsigned fake_http_count(struct fake_http *f, const char *path); /* NULL: all */
void fake_http_reset_counts(struct fake_http *f);
/* The most requests that were ever being answered at once. */
unsigned fake_http_max_in_flight(struct fake_http *f);
/* The shortest timeout a request was given, in ms (0: none was sent yet). */
long fake_http_min_timeout_ms(struct fake_http *f);
/* Every answer waits this long first (to make requests overlap). */
void fake_http_set_delay_ms(struct fake_http *f, unsigned ms);

#endif
