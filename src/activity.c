/* activity.c - counters and the walk under way, for the status line. */
#include "activity.h"

#include "clock.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct activity {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	bool woken;             /* work started since the reporter last waited */

	uint64_t requests, waits_429, failures;
	long in_flight;
	uint64_t last_event_ms; /* monotonic: a request, its end, a step */
	const char *token_remedy; /* the token is refused: what helps */
	int64_t last_error_s;   /* wall clock; 0: none yet */
	char last_error[128];

	/* The walk under way. */
	bool walking;
	size_t pos, total;
	uint64_t walk_start_ms, walk_requests, walk_waits, walk_failures;
	/* Work outside a walk: since it began. */
	uint64_t stretch_start_ms, stretch_requests;
};

struct activity *activity_new(void)
{
	struct activity *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wake, &attr);
	pthread_condattr_destroy(&attr);
	return a;
}

void activity_free(struct activity *a)
{
	if (!a)
		return;
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* With the lock held: something happened now; wakes an idle reporter. */
static void touched(struct activity *a)
{
	uint64_t now = clock_mono_ms();
	if (!a->walking && a->in_flight == 0 && now - a->last_event_ms >= ACTIVITY_IDLE_MS) {
		a->stretch_start_ms = now;
		a->stretch_requests = a->requests;
	}
	a->last_event_ms = now;
	if (!a->woken) {
		a->woken = true;
		pthread_cond_signal(&a->wake);
	}
}

void activity_request_sent(struct activity *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	touched(a);
	a->requests++;
	a->in_flight++;
	pthread_mutex_unlock(&a->lock);
}

void activity_request_done(struct activity *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	if (a->in_flight > 0)
		a->in_flight--;
	touched(a);
	pthread_mutex_unlock(&a->lock);
}

void activity_rate_limited(struct activity *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->waits_429++;
	pthread_mutex_unlock(&a->lock);
}

void activity_failed(struct activity *a, long status, int err, const char *api_path)
{
	if (!a)
		return;
	char what[96];
	activity_describe_path(api_path, what, sizeof(what));
	pthread_mutex_lock(&a->lock);
	a->failures++;
	a->last_error_s = clock_wall_s();
	if (status)
		snprintf(a->last_error, sizeof(a->last_error), "%ld on %s", status, what);
	else
		snprintf(a->last_error, sizeof(a->last_error), "%s on %s", strerror(err), what);
	pthread_mutex_unlock(&a->lock);
}

void activity_token_refused(struct activity *a, const char *remedy)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	bool changed = a->token_remedy != remedy;
	a->token_remedy = remedy;
	if (changed && !a->woken) {
		/* The reporter says so now, busy or not. */
		a->woken = true;
		pthread_cond_signal(&a->wake);
	}
	pthread_mutex_unlock(&a->lock);
}

void activity_walk_step(struct activity *a, int64_t id, size_t pos, size_t total)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	touched(a);
	if (!a->walking) {
		a->walking = true;
		a->walk_start_ms = a->last_event_ms;
		a->walk_requests = a->requests;
		a->walk_waits = a->waits_429;
		a->walk_failures = a->failures;
		log_info("walk started at account %lld (%zu of %zu)", (long long)id, pos, total);
	}
	a->pos = pos;
	a->total = total;
	pthread_mutex_unlock(&a->lock);
}

static double per_second(uint64_t n, uint64_t ms)
{
	return (double)n * 1000.0 / (double)(ms < 1000 ? 1000 : ms);
}

/* "40 s", "3 min", "2 h", "5 d". */
static void age_text(int64_t s, char *out, size_t size)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(out, size, "%lld s", (long long)s);
	else if (s < 7200)
		snprintf(out, size, "%lld min", (long long)(s / 60));
	else if (s < 172800)
		snprintf(out, size, "%lld h", (long long)(s / 3600));
	else
		snprintf(out, size, "%lld d", (long long)(s / 86400));
}

void activity_line(struct activity *a, char *line, size_t size)
{
	if (!size)
		return;
	pthread_mutex_lock(&a->lock);
	uint64_t now = clock_mono_ms();
	size_t n = 0;
	bool busy = a->walking || a->in_flight > 0 || now - a->last_event_ms < ACTIVITY_IDLE_MS;
#define PUT(...)                                                                              \
	do {                                                                                  \
		int k = snprintf(line + n, size - n, __VA_ARGS__);                              \
		n = k < 0 ? n : (size_t)k >= size - n ? size - 1 : n + (size_t)k;               \
	} while (0)
	if (a->token_remedy)
		PUT("token refused: %s; ", a->token_remedy);
	if (a->walking)
		PUT("walking %zu of %zu accounts, %llu requests, %.1f/s, %llu waits for 429", a->pos,
		    a->total, (unsigned long long)(a->requests - a->walk_requests),
		    per_second(a->requests - a->walk_requests, now - a->walk_start_ms),
		    (unsigned long long)(a->waits_429 - a->walk_waits));
	else if (busy)
		PUT("fetching, %llu requests, %.1f/s, %llu waits for 429",
		    (unsigned long long)(a->requests - a->stretch_requests),
		    per_second(a->requests - a->stretch_requests, now - a->stretch_start_ms),
		    (unsigned long long)a->waits_429);
	else
		PUT("idle, %llu requests since mounted, %llu waits for 429",
		    (unsigned long long)a->requests, (unsigned long long)a->waits_429);
	if (a->last_error_s && busy) {
		char age[32];
		age_text(clock_wall_s() - a->last_error_s, age, sizeof(age));
		PUT(", last error %s ago: %s", age, a->last_error);
	} else if (a->last_error_s) {
		/* An idle line stands until work starts again: a time, not an age. */
		char when[32];
		struct tm tm;
		time_t t = (time_t)a->last_error_s;
		if (localtime_r(&t, &tm) && strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm))
			PUT(", last error at %s: %s", when, a->last_error);
	} else {
		PUT(", no errors");
	}
#undef PUT
	pthread_mutex_unlock(&a->lock);
}

bool activity_tick(struct activity *a)
{
	pthread_mutex_lock(&a->lock);
	uint64_t now = clock_mono_ms();
	bool quiet = a->in_flight == 0 && now - a->last_event_ms >= ACTIVITY_IDLE_MS;
	if (a->walking && quiet) {
		uint64_t took = a->last_event_ms - a->walk_start_ms;
		uint64_t asked = a->requests - a->walk_requests;
		log_info("walk ended at %zu of %zu accounts: %llu requests in %.1f s (%.1f/s), "
			 "%llu waits for 429, %llu failed", a->pos, a->total, (unsigned long long)asked,
			 (double)took / 1000.0, per_second(asked, took),
			 (unsigned long long)(a->waits_429 - a->walk_waits),
			 (unsigned long long)(a->failures - a->walk_failures));
		a->walking = false;
	}
	pthread_mutex_unlock(&a->lock);
	return !quiet;
}

bool activity_wait(struct activity *a, bool busy, uint64_t period_ms)
{
	pthread_mutex_lock(&a->lock);
	if (busy) {
		/* The whole period, whatever wakes it: at most a line a period. */
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)(period_ms / 1000);
		until.tv_nsec += (long)(period_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!a->stopping && pthread_cond_timedwait(&a->wake, &a->lock, &until) == 0)
			;
	} else {
		while (!a->stopping && !a->woken)
			pthread_cond_wait(&a->wake, &a->lock);
	}
	a->woken = false;
	bool go_on = !a->stopping;
	pthread_mutex_unlock(&a->lock);
	return go_on;
}

void activity_stop(struct activity *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	pthread_cond_broadcast(&a->wake);
	pthread_mutex_unlock(&a->lock);
}

/* The value of name= in query (up to the next &), or NULL. */
static const char *query_value(const char *query, const char *name, size_t *len)
{
	size_t n = strlen(name);
	for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (!strncmp(p, name, n) && p[n] == '=') {
			*len = strcspn(p + n + 1, "&");
			return p + n + 1;
		}
	}
	return NULL;
}

void activity_describe_path(const char *api_path, char *out, size_t size)
{
	if (!size)
		return;
	const char *p = api_path ? api_path : "";
	size_t path_len = strcspn(p, "?");
	const char *query = p[path_len] == '?' ? p + path_len + 1 : "";
	const char *accounts = "/bank-accounts";
	size_t alen = strlen(accounts);
	char id[24] = "";
	size_t idlen = 0;
	const char *rest = NULL;
	if (path_len >= alen && !strncmp(p, accounts, alen)) {
		const char *q = p + alen;
		if (*q == '/') {
			idlen = strspn(q + 1, "0123456789");
			if (idlen && idlen < sizeof(id)) {
				memcpy(id, q + 1, idlen);
				id[idlen] = '\0';
				rest = q + 1 + idlen;
			}
		} else if (q == p + path_len) {
			snprintf(out, size, "the account list");
			return;
		}
	}
	if (id[0] && rest == p + path_len) {
		snprintf(out, size, "account %s", id);
		return;
	}
	if (id[0] && (size_t)(p + path_len - rest) == strlen("/sub-accounts") &&
	    !strncmp(rest, "/sub-accounts", strlen("/sub-accounts"))) {
		snprintf(out, size, "account %s sub-accounts", id);
		return;
	}
	if (path_len == strlen("/transactions") && !strncmp(p, "/transactions", path_len)) {
		size_t vlen;
		const char *v = query_value(query, "bank_account_id", &vlen);
		if (v && vlen && vlen < sizeof(id) && strspn(v, "0123456789") >= vlen) {
			snprintf(out, size, "account %.*s transactions", (int)vlen, v);
			return;
		}
		snprintf(out, size, "the company's transactions");
		return;
	}
	/* Anything else as its path, printable only, without its query. */
	char shown[64];
	char copy[64];
	size_t n = path_len < sizeof(copy) - 1 ? path_len : sizeof(copy) - 1;
	memcpy(copy, p, n);
	copy[n] = '\0';
	log_printable(shown, sizeof(shown), copy);
	snprintf(out, size, "GET %s", shown);
}
