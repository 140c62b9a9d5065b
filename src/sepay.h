/* sepay.h - the SePay Bank Accounts API: paths, envelopes, pages, errors.
 *
 * Everything here treats the server's bytes as untrusted: a body that is not
 * the documented envelope is an error (EIO), never a crash, and every
 * failure is logged once as one line naming the operation, the API path
 * and the status. */
#ifndef SEPAYFS_SEPAY_H
#define SEPAYFS_SEPAY_H

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

struct sepay_api_config {
	struct http_transport *http; /* borrowed */
	struct auth *auth;           /* borrowed */
	unsigned page_size;          /* the limit we ask for; the server may give fewer */
	unsigned parallel;           /* pages fetched side by side at most */
	double max_rate;             /* requests a second; 0: no cap */
	unsigned timeout_ms;         /* a request's deadline, over all its retries */
	unsigned max_pages;          /* pages one listing may take; 0: SEPAY_MAX_PAGES */
};

struct sepay_api {
	struct sepay_api_config cfg;
	struct rate_limit rate;
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

/* Calls on_item for each valid item (an object with a positive id, see
 * sepay_parse_id) of every page of a paginated list at path.  When page 1
 * names the last page, the others are fetched side by side, so on_item runs
 * on several threads at once (for different pages).  Otherwise pages are
 * asked one after another while has_more says so, or until one is empty or
 * shorter than page 1.  A list that does not end within SEPAY_MAX_PAGES, or
 * whose pages contradict each other, fails with EIO and one log line: never
 * a listing in part.  on_item returns 0 or an errno that stops the walk.
 *
 * A list that lost items while it was read (a total that falls between
 * pages, a page shorter than page 1 before the last, the end coming early)
 * has shifted every later item onto an earlier page already read: those
 * items would be missing.  The walk is then done again from page 1, after
 * on_restart(ctx) drops what the items so far built, up to
 * SEPAY_WALK_TRIES walks; a list that keeps shifting fails with EIO.  A
 * list that grew meanwhile needs nothing: its items pushed down come again
 * on a later page, and callers keep each id once. */
#define SEPAY_WALK_TRIES 3
typedef int (*sepay_item_fn)(void *ctx, int64_t page_no, int64_t id, json_t *item);
typedef void (*sepay_restart_fn)(void *ctx);
int sepay_walk_pages(struct sepay_api *api, const char *op, const char *path,
		     sepay_item_fn on_item, sepay_restart_fn on_restart, void *ctx);

/* How a page names itself: what the walker needs, parsed apart so tests
 * can reach it.  Read from meta.pagination, then a flat meta; numbers may
 * be JSON integers or digit strings.  0, or EIO when root is not a list
 * envelope. */
struct sepay_page {
	json_t *items;        /* borrowed from root */
	int64_t current_page; /* the requested page when not said */
	int64_t last_page;    /* last_page or page_count; 0: not said */
	int has_more;         /* 1, 0, or -1: not said */
	int64_t total;        /* items in the whole list; -1: not said */
};
int sepay_parse_page(json_t *root, int64_t requested, struct sepay_page *page);

#endif
