/* sepay.h - the SePay Bank Accounts API: one request, its envelope, its errors.
 *
 * Everything here treats the server's bytes as untrusted: a body that is not
 * the documented envelope is an error (EIO), never a crash, and every
 * failure is logged once as one line naming the operation, the API path
 * and the status. */
#ifndef SEPAYFS_SEPAY_H
#define SEPAYFS_SEPAY_H

#include "activity.h"
#include "auth.h"
#include "http.h"
#include "ratelimit.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pages we follow at most in one listing: 10,000 pages of 100 is a million
 * accounts, far past any company, and it stops a server whose last_page
 * never ends from holding a thread forever. */
#define SEPAY_MAX_PAGES 10000
/* Requests in flight at most, whatever -o max_conns asks: the page walker
 * sizes its helper threads by it. */
#define SEPAY_MAX_PARALLEL 64
/* An item nested deeper than this is not an account; it is skipped with a
 * log line.  A whole body nested deeper than SEPAY_MAX_BODY_DEPTH (an item
 * inside its envelope) is refused, and not asked for again. */
#define SEPAY_MAX_DEPTH 32
#define SEPAY_MAX_BODY_DEPTH 64

/* Items a list page is asked for.  SePay's v1 does not publish its
 * largest limit; the older userapi gives 5,000 transactions a page and v2
 * documents 100.  1,000 asks ten times fewer requests of a long history
 * than 100, while a page of ordinary items (about 600 bytes a
 * transaction) stays near 600 KiB, far under the 16 MiB body limit; a
 * server that refuses it (400, 413, 422) or answers over that limit is
 * asked 100, the documented size, for the rest of the mount.  A server
 * that gives fewer than asked is followed by what its pages say. */
#define SEPAY_PAGE_LARGE 1000
#define SEPAY_PAGE_DOCUMENTED 100

struct sepay_api_config {
	struct http_transport *http; /* borrowed */
	struct auth *auth;           /* borrowed */
	unsigned page_size;          /* the limit we ask for (the server may give fewer);
				      * 0: SEPAY_PAGE_LARGE, falling back as above */
	unsigned parallel;           /* pages fetched side by side at most */
	double max_rate;             /* requests a second; 0: no cap */
	unsigned timeout_ms;         /* a request's deadline, over all its retries */
	unsigned max_pages;          /* pages one listing may take; 0: SEPAY_MAX_PAGES */
	struct activity *activity;   /* told of requests, 429s and failures (may be NULL) */
	/* What helps when the token is refused, for the status line. */
	const char *token_remedy;
};

struct sepay_api {
	struct sepay_api_config cfg;
	struct rate_limit rate;
	atomic_uint page_limit;  /* the limit list pages are asked with now */
	atomic_ulong requests;   /* sent, for statistics */
	atomic_ulong retries;
	atomic_long in_flight;

	/* A first page already fetched (the mount's access check), handed to
	 * the first walk that asks for it while it is fresh. */
	pthread_mutex_t seed_lock;
	char *seed_path;
	json_t *seed_root;
	uint64_t seed_expires_ms;
};

void sepay_api_init(struct sepay_api *api, const struct sepay_api_config *cfg);
void sepay_api_destroy(struct sepay_api *api);

/* Offers a fetched page (its path with query, and its parsed body) to the
 * next walk of that list, if it comes within ttl_ms.  Takes a reference. */
void sepay_api_seed(struct sepay_api *api, const char *path, json_t *root, uint64_t ttl_ms);

/* An id as SePay's APIs send it: a positive JSON integer, or a string of
 * decimal digits ("25") that fits an int64.  false for anything else. */
bool sepay_parse_id(const json_t *v, int64_t *id);

/* What an error body names, for a log line: error_code, else error (a
 * string, or an object's code), else message; printable ASCII only, "" when
 * none. */
void sepay_error_code(const json_t *root, char *out, size_t size);

/* SIGHUP: forgets the waits 429s asked for, and the access check's page,
 * so the next listing asks the API too. */
void sepay_api_forget(struct sepay_api *api);

/* The errno a user sees for an HTTP status (0 for 2xx). */
int sepay_status_errno(long status);

/* GET path and parse its JSON object.  0 and *root (caller decrefs), or an
 * errno.  Transient failures (5xx, network, timeouts, a 200 whose body is
 * cut short or not JSON) are retried with backoff and jitter until the
 * deadline; a 401 refreshes the token once; a 429 waits as the server asks
 * and slows every request down.  A failure is logged as one line. */
int sepay_get_json(struct sepay_api *api, const char *op, const char *path, json_t **root);

/* GET path and return its "data" object.  0 and *data (caller decrefs), or an errno. */
int sepay_get_object(struct sepay_api *api, const char *op, const char *path, json_t **data);

/* For the page walker (pages.c).  sepay_get_json for a list page, also
 * saying how many of its items were left out (salvage.h) and the status.
 * With SEPAY_SIZE_TRIAL (the page asks a size the server may refuse), a
 * refusal of the size (400, 413, 422, or a body over the limit) gives
 * EFBIG and is logged as information, not as an error. */
#define SEPAY_SIZE_TRIAL 1u
struct sepay_answer {
	size_t dropped;
	long status; /* the last HTTP status; 0: none arrived */
};
int sepay_get_page(struct sepay_api *api, const char *op, const char *path, unsigned flags,
		   json_t **root, struct sepay_answer *answer);
/* The limit list pages are asked with now. */
unsigned sepay_page_limit(struct sepay_api *api);
/* A page asked with `asked` items was refused for its size: true when a
 * smaller size is to be asked from now on (the size was ours to choose,
 * and larger than the documented one), remembered for the mount. */
bool sepay_page_size_refused(struct sepay_api *api, unsigned asked);
/* The seeded page for path if there is a fresh one; handed out once. */
json_t *sepay_take_seed(struct sepay_api *api, const char *path);
/* How deep v nests, counted up to limit. */
size_t sepay_json_depth(json_t *v, size_t limit);

#endif
