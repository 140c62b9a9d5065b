/* fake_http.c - table-driven fake transport for unit tests. */
#include "fake_http.h"

#include "clock.h"

#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAKE_MAX_ROUTES 256

struct route {
	char *path;
	long status;
	char *body;
	unsigned hits;
};

struct queued {
	char *path;
	long status;
	char *body;
	double retry_after;
};

struct fake_http {
	struct http_transport base;
	pthread_mutex_t lock;
	struct route routes[FAKE_MAX_ROUTES];
	size_t n_routes;
	struct queued queue[FAKE_MAX_ROUTES];
	size_t n_queued;
	char *required_token;
	long refusal_status;  /* how a wrong token is answered: 401, or 200 with an empty body */
	char *last_form;
	unsigned total;
	unsigned delay_ms;
	unsigned in_flight;
	unsigned max_in_flight;
	long min_timeout_ms;
};

static struct route *find_route(struct fake_http *f, const char *path)
{
	for (size_t i = 0; i < f->n_routes; i++)
		if (strcmp(f->routes[i].path, path) == 0)
			return &f->routes[i];
	return NULL;
}

static bool has_queued(const struct fake_http *f, const char *path)
{
	for (size_t i = 0; i < f->n_queued; i++)
		if (strcmp(f->queue[i].path, path) == 0)
			return true;
	return false;
}

/* Takes the first queued answer for path, if any. */
static bool take_queued(struct fake_http *f, const char *path, long *status, char **body,
			double *retry_after)
{
	for (size_t i = 0; i < f->n_queued; i++) {
		if (strcmp(f->queue[i].path, path) != 0)
			continue;
		*status = f->queue[i].status;
		*body = f->queue[i].body;
		*retry_after = f->queue[i].retry_after;
		free(f->queue[i].path);
		memmove(&f->queue[i], &f->queue[i + 1], (f->n_queued - i - 1) * sizeof(f->queue[0]));
		f->n_queued--;
		return true;
	}
	return false;
}

static int answer(struct fake_http *f, const char *path, const char *token, long timeout_ms,
		  struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	pthread_mutex_lock(&f->lock);
	if (!f->min_timeout_ms || timeout_ms < f->min_timeout_ms)
		f->min_timeout_ms = timeout_ms;
	struct route *hanging = find_route(f, path);
	if (hanging && hanging->status == FAKE_HTTP_HANG && !has_queued(f, path)) {
		hanging->hits++;
		f->total++;
		pthread_mutex_unlock(&f->lock);
		clock_sleep_ms(timeout_ms > 0 ? (uint64_t)timeout_ms : 0);
		snprintf(resp->error, sizeof(resp->error), "timed out after %ld ms (fake)",
			 timeout_ms);
		return ETIMEDOUT;
	}
	unsigned delay = f->delay_ms;
	if (++f->in_flight > f->max_in_flight)
		f->max_in_flight = f->in_flight;
	pthread_mutex_unlock(&f->lock);
	if (delay) {
		struct timespec ts = { delay / 1000, (long)(delay % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&f->lock);
	f->in_flight--;
	f->total++;
	struct route *r = find_route(f, path);
	if (r)
		r->hits++;
	long status;
	char *queued_body = NULL;
	int rc = 0;
	if (token && f->required_token && strcmp(token, f->required_token) != 0) {
		resp->status = f->refusal_status ? f->refusal_status : 401;
		resp->body = strdup(resp->status == 401
				    ? "{\"status\":\"error\",\"error\":\"unauthorized\"}" : "");
	} else if (take_queued(f, path, &status, &queued_body, &resp->retry_after)) {
		resp->status = status;
		resp->body = queued_body;
		if (!status) {
			snprintf(resp->error, sizeof(resp->error), "connection reset (fake)");
			rc = EIO;
		}
	} else if (!r) {
		resp->status = 404;
		resp->body = strdup("{\"status\":\"error\",\"error\":\"resource_not_found\"}");
	} else if (r->status == 0) {
		snprintf(resp->error, sizeof(resp->error), "connection refused (fake)");
		rc = EIO;
	} else if (r->status == FAKE_HTTP_TOO_BIG) {
		snprintf(resp->error, sizeof(resp->error), "response larger than the size limit");
		rc = EFBIG;
	} else {
		resp->status = r->status;
		resp->body = r->body ? strdup(r->body) : NULL;
	}
	if (resp->body)
		resp->len = strlen(resp->body);
	if (rc) {
		free(resp->body);
		resp->body = NULL;
		resp->len = 0;
		resp->status = 0;
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_get(struct http_transport *t, const char *path, const char *token,
		    long timeout_ms, struct http_response *resp)
{
	return answer((struct fake_http *)t, path, token, timeout_ms, resp);
}

static int fake_post_form(struct http_transport *t, const char *url, const char *form,
			  long timeout_ms, struct http_response *resp)
{
	struct fake_http *f = (struct fake_http *)t;
	pthread_mutex_lock(&f->lock);
	free(f->last_form);
	f->last_form = strdup(form);
	pthread_mutex_unlock(&f->lock);
	return answer(f, url, NULL, timeout_ms, resp);
}

static void fake_destroy(struct http_transport *t)
{
	(void)t; /* owned by fake_http_free */
}

struct fake_http *fake_http_new(void)
{
	struct fake_http *f = calloc(1, sizeof(*f));
	if (!f)
		abort();
	f->base.get = fake_get;
	f->base.post_form = fake_post_form;
	f->base.destroy = fake_destroy;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

struct http_transport *fake_http_transport(struct fake_http *f)
{
	return &f->base;
}

void fake_http_free(struct fake_http *f)
{
	for (size_t i = 0; i < f->n_queued; i++) {
		free(f->queue[i].path);
		free(f->queue[i].body);
	}
	free(f->required_token);
	free(f->last_form);
	for (size_t i = 0; i < f->n_routes; i++) {
		free(f->routes[i].path);
		free(f->routes[i].body);
	}
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void fake_http_set(struct fake_http *f, const char *path, long status, const char *body)
{
	pthread_mutex_lock(&f->lock);
	struct route *r = find_route(f, path);
	if (!r) {
		if (f->n_routes == FAKE_MAX_ROUTES)
			abort();
		r = &f->routes[f->n_routes++];
		r->path = strdup(path);
	} else {
		free(r->body);
	}
	r->status = status;
	r->body = body ? strdup(body) : NULL;
	pthread_mutex_unlock(&f->lock);
}

unsigned fake_http_count(struct fake_http *f, const char *path)
{
	pthread_mutex_lock(&f->lock);
	unsigned n = f->total;
	if (path) {
		struct route *r = find_route(f, path);
		n = r ? r->hits : 0;
	}
	pthread_mutex_unlock(&f->lock);
	return n;
}

void fake_http_reset_counts(struct fake_http *f)
{
	pthread_mutex_lock(&f->lock);
	f->total = 0;
	for (size_t i = 0; i < f->n_routes; i++)
		f->routes[i].hits = 0;
	pthread_mutex_unlock(&f->lock);
}

unsigned fake_http_max_in_flight(struct fake_http *f)
{
	pthread_mutex_lock(&f->lock);
	unsigned n = f->max_in_flight;
	pthread_mutex_unlock(&f->lock);
	return n;
}

long fake_http_min_timeout_ms(struct fake_http *f)
{
	pthread_mutex_lock(&f->lock);
	long ms = f->min_timeout_ms;
	pthread_mutex_unlock(&f->lock);
	return ms;
}

void fake_http_set_delay_ms(struct fake_http *f, unsigned ms)
{
	pthread_mutex_lock(&f->lock);
	f->delay_ms = ms;
	pthread_mutex_unlock(&f->lock);
}

void fake_http_queue(struct fake_http *f, const char *path, long status, const char *body)
{
	pthread_mutex_lock(&f->lock);
	if (f->n_queued == FAKE_MAX_ROUTES)
		abort();
	f->queue[f->n_queued++] = (struct queued){ strdup(path), status, body ? strdup(body) : NULL,
						   -1 };
	pthread_mutex_unlock(&f->lock);
}

void fake_http_queue_retry_after(struct fake_http *f, const char *path, long status,
				 const char *body, double retry_after)
{
	fake_http_queue(f, path, status, body);
	pthread_mutex_lock(&f->lock);
	f->queue[f->n_queued - 1].retry_after = retry_after;
	pthread_mutex_unlock(&f->lock);
}

void fake_http_require_token(struct fake_http *f, const char *token)
{
	pthread_mutex_lock(&f->lock);
	free(f->required_token);
	f->required_token = token ? strdup(token) : NULL;
	pthread_mutex_unlock(&f->lock);
}

void fake_http_refuse_with_empty_200(struct fake_http *f)
{
	pthread_mutex_lock(&f->lock);
	f->refusal_status = 200;
	pthread_mutex_unlock(&f->lock);
}

const char *fake_http_last_form(struct fake_http *f)
{
	return f->last_form ? f->last_form : "";
}
