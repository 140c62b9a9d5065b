/* sepay.c - one request to SePay's API: its attempts, envelopes and errors. */
#include "sepay.h"

#include "clock.h"
#include "log.h"
#include "numtext.h"
#include "salvage.h"
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
/* An attempt is sent only with this much of the deadline left: one given a
 * millisecond to live still counts against SePay's per-address budget, and
 * its certain timeout would hide why the attempts before it failed. */
#define ATTEMPT_MIN_MS 100
/* A 429 that names no time waits a second: SePay counts requests per second.
 * One that names more than two minutes is not believed past them: a typo or
 * a hostile server must not stop the mount for longer. */
#define RETRY_AFTER_MIN_S 1.0
#define RETRY_AFTER_MAX_S 120.0

void sepay_api_init(struct sepay_api *api, const struct sepay_api_config *cfg)
{
	memset(api, 0, sizeof(*api));
	api->cfg = *cfg;
	if (!api->cfg.parallel)
		api->cfg.parallel = 1;
	if (!api->cfg.timeout_ms)
		api->cfg.timeout_ms = 20000;
	if (!api->cfg.max_pages || api->cfg.max_pages > SEPAY_MAX_PAGES)
		api->cfg.max_pages = SEPAY_MAX_PAGES;
	rate_limit_init(&api->rate, cfg->max_rate);
	atomic_init(&api->page_limit, cfg->page_size ? cfg->page_size : SEPAY_PAGE_LARGE);
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
	api->seed_expires_ms = clock_mono_ms() + ttl_ms;
	pthread_mutex_unlock(&api->seed_lock);
}

json_t *sepay_take_seed(struct sepay_api *api, const char *path)
{
	json_t *root = NULL;
	pthread_mutex_lock(&api->seed_lock);
	if (api->seed_root && strcmp(api->seed_path, path) == 0) {
		if (clock_mono_ms() < api->seed_expires_ms)
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

bool sepay_parse_id(const json_t *v, int64_t *id)
{
	if (json_is_integer(v)) {
		if (json_integer_value(v) <= 0)
			return false;
		*id = json_integer_value(v);
		return true;
	}
	const char *s = json_string_value(v);
	if (!s || !*s || json_string_length(v) > 19)
		return false;
	int64_t n = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > (INT64_MAX - (*s - '0')) / 10)
			return false;
		n = n * 10 + (*s - '0');
	}
	if (n <= 0)
		return false;
	*id = n;
	return true;
}

void sepay_error_code(const json_t *root, char *out, size_t size)
{
	const json_t *error = json_object_get(root, "error");
	const char *code = json_string_value(json_object_get(root, "error_code"));
	if (!code)
		code = json_is_object(error) ? json_string_value(json_object_get(error, "code"))
					     : json_string_value(error);
	if (!code)
		code = json_string_value(json_object_get(root, "message"));
	log_printable(out, size, code);
}

/* The HTTP status an error code stands for, when a 200 says "status":"error". */
static long status_of_code(const char *code)
{
	static const struct { const char *code; long status; } codes[] = {
		{ "unauthorized", 401 }, { "invalid_token", 401 }, { "forbidden", 403 },
		{ "resource_not_found", 404 }, { "not_found", 404 },
		{ "too_many_requests", 429 }, { "rate_limited", 429 },
	};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i].code) == 0)
			return codes[i].status;
	return 500;
}

size_t sepay_json_depth(json_t *v, size_t limit)
{
	if (!limit)
		return 1;
	size_t deepest = 0, d;
	const char *key;
	json_t *child;
	size_t i;
	if (json_is_object(v)) {
		json_object_foreach(v, key, child)
			if ((d = sepay_json_depth(child, limit - 1)) > deepest)
				deepest = d;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			if ((d = sepay_json_depth(child, limit - 1)) > deepest)
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
		state = clock_mono_ns() ^ (uint64_t)(uintptr_t)&state;
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return bound_ms ? state % bound_ms : 0;
}

/* What one attempt came to, and so what the loop does next. */
enum outcome {
	ANSWERED,     /* a usable body */
	PASSING,      /* worth asking again after a backoff: 5xx, network, cut short */
	UNAUTHORIZED, /* 401: refresh the token once, then again */
	EMPTY_200,    /* SePay's older API refuses a token with an empty 200 */
	SLOW_DOWN,    /* 429: wait as the server asks */
	FINAL,        /* asking again gives the same */
};

/* Why the last attempt failed, for the one log line. */
struct attempt {
	long status;
	char detail[300];
	int err;
	double retry_after; /* seconds the server asked for on a 429, or -1 */
	unsigned sent;      /* requests sent so far in this call */
	const char *op, *path;
	size_t dropped;     /* items of the answer left out (salvage.c) */
};

/* Whether a body at least starts as JSON does; an HTML page from a proxy
 * does not, and is worth asking again. */
static bool starts_as_json(const char *b, size_t n)
{
	size_t i = 0;
	while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
		i++;
	return i < n && (b[i] == '{' || b[i] == '[');
}

/* Classifies a response that arrived: *root on ANSWERED. */
static enum outcome judge_response(struct http_response *resp, json_t **root,
				   struct attempt *a)
{
	long status = resp->status;
	json_t *body = NULL;
	json_error_t jerr;
	size_t dropped = 0;
	/* \u0000 is a character like any other in a value: files escape it.
	 * Numbers keep the text the API wrote them with (numtext.h). */
	if (resp->body && resp->len && status >= 200 && status < 300) {
		char *marked;
		size_t len;
		const char *text = numtext_rewrite(resp->body, resp->len, &marked, &len);
		if (!text) {
			snprintf(a->detail, sizeof(a->detail), "out of memory");
			a->err = ENOMEM;
			return FINAL;
		}
		body = salvage_list(text, len, JSON_ALLOW_NUL, a->op, a->path, &dropped, &jerr);
		free(marked);
	} else if (resp->body && resp->len)
		body = json_loadb(resp->body, resp->len, JSON_ALLOW_NUL, &jerr);
	char code[64] = "";
	if (json_is_object(body))
		sepay_error_code(body, code, sizeof(code));
	if (status >= 200 && status < 300) {
		if (!resp->body || !resp->len) {
			snprintf(a->detail, sizeof(a->detail), "with an empty body (SePay's older API "
				 "refuses a token so)");
			a->err = EACCES;
			return EMPTY_200;
		}
		if (!json_is_object(body)) {
			/* Cut short, or not JSON at all (a proxy's page): something on
			 * the way, worth asking again.  A whole JSON body that is no
			 * envelope, or that jansson cannot hold outside any item, is
			 * what the server says: asking again gives the same. */
			bool passing = !body && (json_error_code(&jerr) ==
						 json_error_premature_end_of_input ||
						 !starts_as_json(resp->body, resp->len));
			snprintf(a->detail, sizeof(a->detail), "a body that is not a JSON object%s%s",
				 body ? "" : ": ", body ? "" : jerr.text);
			json_decref(body);
			a->err = EIO;
			return passing ? PASSING : FINAL;
		}
		const char *said = json_string_value(json_object_get(body, "status"));
		if (!said || strcmp(said, "error") != 0) {
			if (sepay_json_depth(body, SEPAY_MAX_BODY_DEPTH + 1) > SEPAY_MAX_BODY_DEPTH) {
				/* Well-formed and hostile: asking again gives the same. */
				snprintf(a->detail, sizeof(a->detail),
					 "JSON nested deeper than %d levels", SEPAY_MAX_BODY_DEPTH);
				json_decref(body);
				a->err = EIO;
				return FINAL;
			}
			*root = body;
			a->dropped = dropped;
			return ANSWERED;
		}
		/* A 200 that says it failed fails as the status its code names. */
		status = status_of_code(code);
		snprintf(a->detail, sizeof(a->detail), "\"status\":\"error\"%s%s", code[0] ? " " : "",
			 code);
	} else {
		snprintf(a->detail, sizeof(a->detail), "%s", code);
	}
	json_decref(body);
	a->err = sepay_status_errno(status);
	if (status == 401)
		return UNAUTHORIZED;
	if (status == 429) {
		a->retry_after = resp->retry_after;
		return SLOW_DOWN;
	}
	return status >= 500 ? PASSING : FINAL;
}

/* One request: waits for its slot, sends it, and judges the answer. */
static enum outcome attempt_once(struct sepay_api *api, const char *path, uint64_t deadline,
				 json_t **root, uint64_t *generation, struct attempt *a)
{
	a->retry_after = -1;
	if (!rate_limit_wait(&api->rate, deadline * 1000000u)) {
		a->status = 0;
		snprintf(a->detail, sizeof(a->detail), "the request pace leaves no slot before "
			 "the deadline");
		a->err = a->err ? a->err : ETIMEDOUT;
		return FINAL;
	}
	uint64_t now = clock_mono_ms();
	if (now + ATTEMPT_MIN_MS > deadline) {
		/* The last failure says what went wrong: a 5xx stays EIO,
		 * only a timeout is ETIMEDOUT. */
		a->err = a->err ? a->err : ETIMEDOUT;
		return FINAL;
	}
	char *token;
	int rc = auth_current(api->cfg.auth, &token, generation);
	if (rc) {
		a->status = 0;
		snprintf(a->detail, sizeof(a->detail), "no usable access token");
		a->err = rc;
		return FINAL;
	}
	/* A timeout the call's deadline imposed says nothing new about an
	 * earlier failure (a 5xx, a body that is no JSON): that stays the
	 * reason given. */
	struct attempt before = *a;
	a->sent++;
	a->status = 0;
	a->detail[0] = '\0';
	atomic_fetch_add(&api->requests, 1);
	struct http_response resp;
	uint64_t left = deadline - now;
	bool cut_by_deadline = left < ATTEMPT_TIMEOUT_MS;
	atomic_fetch_add(&api->in_flight, 1);
	activity_request_sent(api->cfg.activity);
	rc = api->cfg.http->get(api->cfg.http, path, token,
				(long)(cut_by_deadline ? left : ATTEMPT_TIMEOUT_MS), &resp);
	activity_request_done(api->cfg.activity);
	atomic_fetch_sub(&api->in_flight, 1);
	secret_free(token);
	a->status = resp.status;
	if (log_enabled(LOG_LEVEL_DEBUG)) {
		/* The path and query only: the token travels in a header. */
		char why[sizeof(resp.error)];
		log_printable(why, sizeof(why), resp.error);
		if (rc)
			log_debug("GET %s: %s, %llu ms, attempt %u", path, why[0] ? why : strerror(rc),
				  (unsigned long long)(clock_mono_ms() - now), a->sent);
		else
			log_debug("GET %s: HTTP %ld, %zu bytes, %llu ms, attempt %u", path, resp.status,
				  resp.len, (unsigned long long)(clock_mono_ms() - now), a->sent);
	}
	enum outcome out;
	a->path = path;
	if (rc == ETIMEDOUT && cut_by_deadline && before.err) {
		before.sent = a->sent;
		*a = before;
		out = FINAL;
	} else if (rc) {
		/* No answer: refused, reset, timed out, cut off.  A body over
		 * the size limit comes again the same size. */
		snprintf(a->detail, sizeof(a->detail), "%s", resp.error);
		a->err = rc;
		out = rc == ENOMEM || rc == EFBIG ? FINAL : PASSING;
	} else {
		out = judge_response(&resp, root, a);
	}
	http_response_release(&resp);
	return out;
}

/* The wait a 429 asks for: what the server said, within bounds, and a
 * second when it names no time (SePay's limit is counted per second).  A
 * wait longer than a request's whole deadline would only make every
 * request fail at once until it passed: no longer than that. */
static uint64_t slow_down_ns(const struct sepay_api *api, double retry_after)
{
	/* A little under the deadline, so the next request still fits. */
	double most = (double)api->cfg.timeout_ms / 1000.0 * 0.9;
	if (most > RETRY_AFTER_MAX_S)
		most = RETRY_AFTER_MAX_S;
	if (!(retry_after >= RETRY_AFTER_MIN_S))
		retry_after = RETRY_AFTER_MIN_S;
	if (retry_after > most)
		retry_after = most;
	return (uint64_t)(retry_after * 1e9);
}

void sepay_api_forget(struct sepay_api *api)
{
	rate_limit_reset(&api->rate);
	pthread_mutex_lock(&api->seed_lock);
	json_decref(api->seed_root);
	free(api->seed_path);
	api->seed_root = NULL;
	api->seed_path = NULL;
	pthread_mutex_unlock(&api->seed_lock);
}

/* A page size the server would not give: it said so (400, 413, 422), or
 * the answer came over the size limit. */
static bool size_refused(const struct attempt *a)
{
	return a->err == EFBIG || a->status == 400 || a->status == 413 || a->status == 422;
}

int sepay_get_page(struct sepay_api *api, const char *op, const char *path, unsigned flags,
		   json_t **root, struct sepay_answer *answer)
{
	*root = NULL;
	answer->dropped = 0;
	answer->status = 0;
	uint64_t start = clock_mono_ms(), deadline = start + api->cfg.timeout_ms;
	uint64_t backoff = RETRY_FIRST_MS;
	unsigned empty_answers = 0;
	bool refreshed = false;
	struct attempt last = { .err = 0, .op = op };
	for (;;) {
		uint64_t generation = 0;
		enum outcome out = attempt_once(api, path, deadline, root, &generation, &last);
		if (out == ANSWERED) {
			activity_token_refused(api->cfg.activity, NULL);
			rate_limit_speed_up(&api->rate, clock_mono_ns());
			answer->dropped = last.dropped;
			answer->status = last.status;
			return 0;
		}
		if (out == EMPTY_200 && ++empty_answers == 1)
			out = PASSING; /* once may be a glitch on the way */
		if ((out == UNAUTHORIZED || out == EMPTY_200) && !refreshed &&
		    auth_can_refresh(api->cfg.auth)) {
			/* The token died: one refresh (shared), then again.  A
			 * token endpoint that is down passes like any fault:
			 * back off and try the refresh again, within the deadline. */
			int arc = auth_after_401(api->cfg.auth, generation);
			if (arc == 0) {
				/* The 401 is answered: no reason for what follows. */
				refreshed = true;
				last.err = 0;
				last.status = 0;
				last.detail[0] = '\0';
				continue;
			}
			last.err = arc;
			snprintf(last.detail + strlen(last.detail),
				 sizeof(last.detail) - strlen(last.detail),
				 ", and the token refresh failed");
			out = arc == EIO || arc == ETIMEDOUT ? PASSING : FINAL;
		}
		if (out == SLOW_DOWN) {
			/* Everyone waits as the server asks, and slows down. */
			rate_limit_slow_down(&api->rate, clock_mono_ns(),
					     slow_down_ns(api, last.retry_after));
			atomic_fetch_add(&api->retries, 1);
			activity_rate_limited(api->cfg.activity);
			continue;
		}
		if (out != PASSING)
			break;
		uint64_t wait = jitter_ms(backoff);
		backoff = backoff * 2 < RETRY_MAX_MS ? backoff * 2 : RETRY_MAX_MS;
		if (clock_mono_ms() + wait + ATTEMPT_MIN_MS > deadline)
			break; /* no time left for another attempt */
		atomic_fetch_add(&api->retries, 1);
		clock_sleep_ms(wait);
	}
	int rc = last.err ? last.err : EIO;
	answer->status = last.status;
	/* A page size tried and refused is what the caller asks next time
	 * with a smaller one: worth a line, not an error. */
	bool trial_refused = (flags & SEPAY_SIZE_TRIAL) && size_refused(&last);
	if (trial_refused)
		rc = EFBIG;
	enum log_level level = trial_refused ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR;
	if (!trial_refused)
		activity_failed(api->cfg.activity, last.status, rc, path);
	/* A token refused for good (no refresh, or the refresh refused too):
	 * only a new log-in or token helps, and the status says so. */
	if (rc == EACCES)
		activity_token_refused(api->cfg.activity, api->cfg.token_remedy
							  ? api->cfg.token_remedy
							  : "give sepayfs a new token");
	double elapsed = (double)(clock_mono_ms() - start) / 1000.0;
	unsigned attempts = last.sent;
	if (last.status)
		log_msg(level, "%s: GET %s: HTTP %ld%s%s, %u attempt%s in %.1f s (%s)", op, path,
			last.status, last.detail[0] ? " " : "", last.detail, attempts,
			attempts == 1 ? "" : "s", elapsed, strerror(rc));
	else
		log_msg(level, "%s: GET %s: %s, %u attempt%s in %.1f s (%s)", op, path,
			last.detail[0] ? last.detail : "no answer", attempts,
			attempts == 1 ? "" : "s", elapsed, strerror(rc));
	return rc;
}

int sepay_get_json(struct sepay_api *api, const char *op, const char *path, json_t **root)
{
	struct sepay_answer answer;
	int rc = sepay_get_page(api, op, path, 0, root, &answer);
	return rc == EFBIG ? EIO : rc; /* a body too large is not the documented JSON */
}

unsigned sepay_page_limit(struct sepay_api *api)
{
	return atomic_load(&api->page_limit);
}

bool sepay_page_size_refused(struct sepay_api *api, unsigned asked)
{
	if (api->cfg.page_size)
		return false; /* the user's own size: kept, and its failures are failures */
	unsigned expected = asked;
	if (asked <= SEPAY_PAGE_DOCUMENTED ||
	    !atomic_compare_exchange_strong(&api->page_limit, &expected, SEPAY_PAGE_DOCUMENTED))
		return asked > SEPAY_PAGE_DOCUMENTED; /* another walk lowered it already */
	log_info("the API would not give %u items a page: asking %u from now on", asked,
		 SEPAY_PAGE_DOCUMENTED);
	return true;
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
