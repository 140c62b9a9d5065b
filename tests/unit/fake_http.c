/* fake_http.c - table-driven fake transport for unit tests. */
#include "fake_http.h"

#include <errno.h>
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

struct fake_http {
	struct http_transport base;
	pthread_mutex_t lock;
	struct route routes[FAKE_MAX_ROUTES];
	size_t n_routes;
	unsigned total;
	unsigned delay_ms;
	unsigned in_flight;
	unsigned max_in_flight;
};

static struct route *find_route(struct fake_http *f, const char *path)
{
	for (size_t i = 0; i < f->n_routes; i++)
		if (strcmp(f->routes[i].path, path) == 0)
			return &f->routes[i];
	return NULL;
}

static int fake_get(struct http_transport *t, const char *path, struct http_response *resp)
{
	struct fake_http *f = (struct fake_http *)t;
	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	pthread_mutex_lock(&f->lock);
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
	int rc = 0;
	if (!r) {
		resp->status = 404;
		resp->body = strdup("{\"status\":\"error\",\"error\":\"resource_not_found\"}");
	} else {
		r->hits++;
		if (r->status == 0) {
			snprintf(resp->error, sizeof(resp->error), "connection refused (fake)");
			rc = EIO;
		} else {
			resp->status = r->status;
			resp->body = r->body ? strdup(r->body) : NULL;
		}
	}
	if (resp->body)
		resp->len = strlen(resp->body);
	pthread_mutex_unlock(&f->lock);
	return rc;
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

void fake_http_set_delay_ms(struct fake_http *f, unsigned ms)
{
	pthread_mutex_lock(&f->lock);
	f->delay_ms = ms;
	pthread_mutex_unlock(&f->lock);
}
