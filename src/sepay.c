/* sepay.c - SePay API envelopes, pagination and errors. */
#include "sepay.h"

#include "cache.h"
#include "log.h"
#include "secretfile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Retries start this far apart and double up to the cap; each wait is
 * drawn at random below it ("full jitter"), so clients that failed together
 * do not come back together. */
#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 2000
/* One attempt may take this long at most, whatever is left of the deadline. */
#define ATTEMPT_TIMEOUT_MS 15000

void sepay_api_init(struct sepay_api *api, const struct sepay_api_config *cfg)
{
	memset(api, 0, sizeof(*api));
	api->cfg = *cfg;
	if (!api->cfg.parallel)
		api->cfg.parallel = 1;
	if (!api->cfg.timeout_ms)
		api->cfg.timeout_ms = 20000;
	rate_limit_init(&api->rate, cfg->max_rate);
	atomic_init(&api->requests, 0);
	atomic_init(&api->retries, 0);
	atomic_init(&api->in_flight, 0);
	pthread_mutex_init(&api->seed_lock, NULL);
}

void sepay_api_destroy(struct sepay_api *api)
{
	free(api->seed_path);
	json_decref(api->seed_root);
	pthread_mutex_destroy(&api->seed_lock);
	rate_limit_destroy(&api->rate);
}

void sepay_api_seed(struct sepay_api *api, const char *path, json_t *root, uint64_t ttl_ms)
{
	char *copy = strdup(path);
	if (!copy)
		return;
	pthread_mutex_lock(&api->seed_lock);
	free(api->seed_path);
	json_decref(api->seed_root);
	api->seed_path = copy;
	api->seed_root = json_incref(root);
	api->seed_expires_ms = cache_clock_monotonic_ms(NULL) + ttl_ms;
	pthread_mutex_unlock(&api->seed_lock);
}

/* The seeded page for path if there is a fresh one; it is handed out once. */
static json_t *take_seed(struct sepay_api *api, const char *path)
{
	json_t *root = NULL;
	pthread_mutex_lock(&api->seed_lock);
	if (api->seed_root && strcmp(api->seed_path, path) == 0) {
		if (cache_clock_monotonic_ms(NULL) < api->seed_expires_ms)
			root = json_incref(api->seed_root);
		json_decref(api->seed_root);
		free(api->seed_path);
		api->seed_root = NULL;
		api->seed_path = NULL;
	}
	pthread_mutex_unlock(&api->seed_lock);
	return root;
}

int sepay_status_errno(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	switch (status) {
	case 401: return EACCES;
	case 403: return EPERM;
	case 404: case 410: return ENOENT;
	case 429: return EAGAIN;
	default: return EIO;
	}
}

/* The error code an error body names ("forbidden"), or "" when it names none. */
static void error_code_of(const struct http_response *resp, char *out, size_t size)
{
	out[0] = '\0';
	if (!resp->body)
		return;
	json_t *root = json_loadb(resp->body, resp->len, 0, NULL);
	const char *code = json_string_value(json_object_get(root, "error"));
	if (code) {
		/* Only printable ASCII of it reaches the log. */
		size_t n = 0;
		for (; *code && n + 1 < size; code++)
			if (*code >= 0x20 && *code < 0x7f)
				out[n++] = *code;
		out[n] = '\0';
	}
	json_decref(root);
}

static size_t json_depth(json_t *v, size_t limit)
{
	if (!limit)
		return 1;
	size_t deepest = 0, d;
	const char *key;
	json_t *child;
	size_t i;
	if (json_is_object(v)) {
		json_object_foreach(v, key, child)
			if ((d = json_depth(child, limit - 1)) > deepest)
				deepest = d;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			if ((d = json_depth(child, limit - 1)) > deepest)
				deepest = d;
	} else {
		return 0;
	}
	return deepest + 1;
}

/* A wait drawn uniformly below bound_ms, from a per-thread generator. */
static uint64_t jitter_ms(uint64_t bound_ms)
{
	static _Thread_local uint64_t state;
	if (!state)
		state = rate_limit_monotonic_ns() ^ (uint64_t)(uintptr_t)&state;
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return bound_ms ? state % bound_ms : 0;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Why the last attempt failed, for the one log line. */
struct attempt {
	long status;
	char detail[300];
	int err;
};

/* Parses a 2xx body: 0 and *root, or EIO with a.detail saying why. */
static int parse_body(const struct http_response *resp, json_t **root, struct attempt *a)
{
	json_error_t jerr;
	*root = resp->body ? json_loadb(resp->body, resp->len, 0, &jerr) : NULL;
	if (!json_is_object(*root)) {
		snprintf(a->detail, sizeof(a->detail), "a body that is not a JSON object%s%s",
			 *root ? "" : ": ", *root ? "" : jerr.text);
		json_decref(*root);
		*root = NULL;
		return EAGAIN; /* cut short or garbled on the way: worth asking again */
	}
	return 0;
}

int sepay_get_json(struct sepay_api *api, const char *op, const char *path, json_t **root)
{
	*root = NULL;
	uint64_t start = cache_clock_monotonic_ms(NULL), deadline = start + api->cfg.timeout_ms;
	uint64_t backoff = RETRY_FIRST_MS;
	unsigned attempts = 0;
	bool refreshed = false;
	struct attempt last = { 0, "", 0 };
	int rc;
	for (;;) {
		bool transient = false;
		if (!rate_limit_wait(&api->rate, deadline * 1000000u)) {
			rc = last.err ? last.err : ETIMEDOUT;
			snprintf(last.detail, sizeof(last.detail), "the rate limit leaves no slot "
				 "before the deadline");
			break;
		}
		uint64_t now = cache_clock_monotonic_ms(NULL);
		if (now >= deadline) {
			/* The last failure says what went wrong: a 5xx stays EIO,
			 * only a timeout is ETIMEDOUT. */
			rc = last.err ? last.err : ETIMEDOUT;
			break;
		}
		char *token;
		uint64_t generation;
		if ((rc = auth_current(api->cfg.auth, &token, &generation))) {
			snprintf(last.detail, sizeof(last.detail), "no usable access token");
			break;
		}
		attempts++;
		atomic_fetch_add(&api->requests, 1);
		struct http_response resp;
		uint64_t left = deadline - now;
		atomic_fetch_add(&api->in_flight, 1);
		rc = api->cfg.http->get(api->cfg.http, path, token,
					(long)(left < ATTEMPT_TIMEOUT_MS ? left : ATTEMPT_TIMEOUT_MS),
					&resp);
		atomic_fetch_sub(&api->in_flight, 1);
		secret_free(token);
		last.status = resp.status;
		last.detail[0] = '\0';
		if (rc) {
			/* No answer: refused, reset, timed out, cut off. */
			snprintf(last.detail, sizeof(last.detail), "%s", resp.error);
			transient = rc != ENOMEM;
		} else if (resp.status >= 200 && resp.status < 300) {
			rc = parse_body(&resp, root, &last);
			transient = rc == EAGAIN; /* a 200 cut short or garbled: ask again */
			if (rc == 0 && json_depth(*root, SEPAY_MAX_BODY_DEPTH + 1) > SEPAY_MAX_BODY_DEPTH) {
				/* Well-formed and hostile: asking again gives the same. */
				snprintf(last.detail, sizeof(last.detail),
					 "JSON nested deeper than %d levels", SEPAY_MAX_BODY_DEPTH);
				json_decref(*root);
				*root = NULL;
				rc = EIO;
			} else if (rc) {
				rc = EIO;
			}
		} else {
			char code[64];
			error_code_of(&resp, code, sizeof(code));
			snprintf(last.detail, sizeof(last.detail), "%s", code);
			rc = sepay_status_errno(resp.status);
			if (resp.status == 401 && !refreshed && auth_can_refresh(api->cfg.auth)) {
				/* The token died: one refresh (shared), then again.  A
				 * token endpoint that is down passes like any fault:
				 * back off and try the refresh again, within the deadline. */
				int arc = auth_after_401(api->cfg.auth, generation);
				if (arc == 0) {
					refreshed = true;
					http_response_release(&resp);
					continue;
				}
				rc = arc;
				snprintf(last.detail, sizeof(last.detail), "%s, and the token refresh "
					 "failed", code);
				transient = arc == EIO || arc == ETIMEDOUT;
				http_response_release(&resp);
				goto failed;
			}
			if (resp.status == 429) {
				/* Everyone waits as the server asks, and slows down. */
				double ra = resp.retry_after >= 0 ? resp.retry_after
								   : (double)backoff / 1000.0;
				rate_limit_slow_down(&api->rate, rate_limit_monotonic_ns(),
						     (uint64_t)(ra * 1e9));
				backoff = backoff * 2 < RETRY_MAX_MS ? backoff * 2 : RETRY_MAX_MS;
				http_response_release(&resp);
				last.err = EAGAIN;
				atomic_fetch_add(&api->retries, 1);
				continue;
			}
			transient = resp.status >= 500;
		}
		http_response_release(&resp);
		if (rc == 0) {
			rate_limit_speed_up(&api->rate, rate_limit_monotonic_ns());
			return 0;
		}
failed:
		last.err = rc;
		if (!transient)
			break;
		uint64_t wait = jitter_ms(backoff);
		backoff = backoff * 2 < RETRY_MAX_MS ? backoff * 2 : RETRY_MAX_MS;
		if (cache_clock_monotonic_ms(NULL) + wait >= deadline)
			break; /* no time left for another attempt */
		atomic_fetch_add(&api->retries, 1);
		sleep_ms(wait);
	}
	double elapsed = (double)(cache_clock_monotonic_ms(NULL) - start) / 1000.0;
	if (last.status)
		log_error("%s: GET %s: HTTP %ld%s%s, %u attempt%s in %.1f s (%s)", op, path,
			  last.status, last.detail[0] ? " " : "", last.detail, attempts,
			  attempts == 1 ? "" : "s", elapsed, strerror(rc));
	else
		log_error("%s: GET %s: %s, %u attempt%s in %.1f s (%s)", op, path,
			  last.detail[0] ? last.detail : "no answer", attempts,
			  attempts == 1 ? "" : "s", elapsed, strerror(rc));
	return rc;
}

int sepay_get_object(struct sepay_api *api, const char *op, const char *path, json_t **data)
{
	json_t *root;
	*data = NULL;
	int rc = sepay_get_json(api, op, path, &root);
	if (rc)
		return rc;
	json_t *obj = json_object_get(root, "data");
	if (!json_is_object(obj)) {
		log_error("%s: GET %s: response has no \"data\" object (%s)", op, path, strerror(EIO));
		json_decref(root);
		return EIO;
	}
	*data = json_incref(obj);
	json_decref(root);
	return 0;
}

int sepay_parse_page(json_t *root, int64_t requested, struct sepay_page *page)
{
	page->items = json_object_get(root, "data");
	page->current_page = requested;
	page->last_page = requested;
	if (!json_is_array(page->items))
		return EIO;
	json_t *pagination = json_object_get(json_object_get(root, "meta"), "pagination");
	json_t *cur = json_object_get(pagination, "current_page");
	json_t *last = json_object_get(pagination, "last_page");
	if (json_is_integer(cur))
		page->current_page = json_integer_value(cur);
	if (json_is_integer(last))
		page->last_page = json_integer_value(last);
	return 0;
}

/* The id a listed item must carry to be shown: a positive JSON integer. */
static bool item_id(json_t *item, int64_t *id)
{
	json_t *v = json_object_get(item, "id");
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return false;
	*id = json_integer_value(v);
	return true;
}

struct walk {
	struct sepay_api *api;
	const char *op;
	const char *path;
	sepay_item_fn on_item;
	void *ctx;
	pthread_mutex_t lock;
	int64_t next_page;  /* the next page a worker takes */
	int64_t last_page;  /* as far as the server said */
	int64_t end_page;   /* a page found past the end: none from it on is taken */
	int64_t error_page; /* the lowest page that failed, and how */
	int error;
};

/* Fetches one page and hands its items over.  *past_end: the page showed
 * the list is over (empty, or the server answered with another page). */
static int walk_page(struct walk *w, int64_t page_no, int64_t *last_page, bool *past_end)
{
	char page_path[512];
	*past_end = false;
	if ((size_t)snprintf(page_path, sizeof(page_path), "%s%cpage=%" PRId64 "&limit=%u",
			     w->path, strchr(w->path, '?') ? '&' : '?', page_no,
			     w->api->cfg.page_size) >= sizeof(page_path))
		return ENAMETOOLONG;
	json_t *root = page_no == 1 ? take_seed(w->api, page_path) : NULL;
	int rc = root ? 0 : sepay_get_json(w->api, w->op, page_path, &root);
	if (rc)
		return rc;
	struct sepay_page page;
	if (sepay_parse_page(root, page_no, &page) != 0) {
		log_error("%s: GET %s: response has no \"data\" list (%s)", w->op, page_path,
			  strerror(EIO));
		json_decref(root);
		return EIO;
	}
	*last_page = page.last_page;
	/* A server clamping a page past the end answers with another page:
	 * those items were seen already.  Page 1 is taken as it comes. */
	if ((page_no > 1 && page.current_page != page_no) ||
	    (page_no > 1 && json_array_size(page.items) == 0)) {
		*past_end = true;
		json_decref(root);
		return 0;
	}
	size_t i;
	json_t *item;
	json_array_foreach(page.items, i, item) {
		int64_t id;
		if (!json_is_object(item) || !item_id(item, &id)) {
			log_warn("%s: GET %s: skipped item %zu: not an object with a positive integer id",
				 w->op, page_path, i);
			continue;
		}
		if (json_depth(item, SEPAY_MAX_DEPTH + 1) > SEPAY_MAX_DEPTH) {
			log_warn("%s: GET %s: skipped item %zu (id %" PRId64 "): nested deeper than "
				 "%d levels", w->op, page_path, i, id, SEPAY_MAX_DEPTH);
			continue;
		}
		if ((rc = w->on_item(w->ctx, page_no, id, item)))
			break;
	}
	if (page.current_page != page_no)
		*past_end = true;
	json_decref(root);
	return rc;
}

/* Takes pages until none is left, an error, or the end. */
static void *walk_worker(void *arg)
{
	struct walk *w = arg;
	pthread_mutex_lock(&w->lock);
	while (w->next_page <= w->last_page && w->next_page < w->end_page &&
	       w->next_page < w->error_page) {
		int64_t page_no = w->next_page++;
		pthread_mutex_unlock(&w->lock);
		int64_t last = 0;
		bool past_end;
		int rc = walk_page(w, page_no, &last, &past_end);
		pthread_mutex_lock(&w->lock);
		if (rc && page_no < w->error_page) {
			w->error_page = page_no;
			w->error = rc;
		}
		if (past_end && page_no < w->end_page)
			w->end_page = page_no;
		/* Accounts added meanwhile may lengthen the list. */
		if (!past_end && last > w->last_page)
			w->last_page = last < SEPAY_MAX_PAGES ? last : SEPAY_MAX_PAGES;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int sepay_walk_pages(struct sepay_api *api, const char *op, const char *path,
		     sepay_item_fn on_item, void *ctx)
{
	struct walk w = { .api = api, .op = op, .path = path, .on_item = on_item, .ctx = ctx,
			  .next_page = 2, .end_page = SEPAY_MAX_PAGES + 1,
			  .error_page = SEPAY_MAX_PAGES + 1 };
	int64_t last = 1;
	bool past_end;
	int rc = walk_page(&w, 1, &last, &past_end);
	if (rc || past_end || last <= 1)
		return rc;
	w.last_page = last < SEPAY_MAX_PAGES ? last : SEPAY_MAX_PAGES;
	pthread_mutex_init(&w.lock, NULL);

	/* The rest side by side: this thread and up to parallel - 1 helpers. */
	size_t helpers = 0;
	int64_t wanted = w.last_page - 1;
	pthread_t threads[64];
	while (helpers + 1 < api->cfg.parallel && (int64_t)helpers + 1 < wanted &&
	       helpers < sizeof(threads) / sizeof(threads[0]) &&
	       pthread_create(&threads[helpers], NULL, walk_worker, &w) == 0)
		helpers++;
	walk_worker(&w);
	for (size_t i = 0; i < helpers; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&w.lock);
	/* Pages fetched side by side may fail past an end found meanwhile (a
	 * server answering 404 there): only a failure before the end counts. */
	return w.error_page < w.end_page ? w.error : 0;
}
