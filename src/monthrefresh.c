/* monthrefresh.c - the current month refreshed with what is new. */
#include "monthrefresh.h"

#include "htab.h"
#include "log.h"
#include "months.h"
#include "numtext.h"
#include "pages.h"
#include "render.h"
#include "strbuf.h"
#include "transactions.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of the held month read at a time. */
#define CHUNK (64u << 10)

/* A transaction the cache holds: where its line is, what it was. */
struct held_tx {
	int64_t id;
	uint64_t off;
	uint32_t len;
	uint64_t hash;      /* of its line */
	char date[20];
	bool before;        /* dated before the window asked again */
	bool seen;          /* came again in the window */
};

struct refresh {
	int64_t account;
	int32_t month;
	char window_day[40];  /* YYYY-MM-DD: what is asked again starts there */
	const char *path;
	struct held_tx *held; /* sorted by id */
	size_t n_held;
	pthread_mutex_t lock;
	struct month_build *build;
	char *why;            /* the first doubt */
	size_t why_size;
	bool doubt;
};

static void doubt(struct refresh *r, const char *fmt, int64_t id)
{
	pthread_mutex_lock(&r->lock);
	if (!r->doubt) {
		r->doubt = true;
		snprintf(r->why, r->why_size, fmt, id);
	}
	pthread_mutex_unlock(&r->lock);
}

static int by_id(const void *a, const void *b)
{
	const struct held_tx *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

static struct held_tx *find_held(struct refresh *r, int64_t id)
{
	struct held_tx key = { .id = id };
	return r->n_held ? bsearch(&key, r->held, r->n_held, sizeof(key), by_id) : NULL;
}

/* One held line: its id and date (a line of ours, parsed as an API body is,
 * numbers marked). */
static bool parse_held(const char *line, size_t len, struct held_tx *h)
{
	char *owned = NULL;
	size_t n;
	const char *text = numtext_rewrite(line, len, &owned, &n);
	json_t *obj = text ? json_loadb(text, n, JSON_ALLOW_NUL, NULL) : NULL;
	free(owned);
	const char *date = json_string_value(json_object_get(obj, "transaction_date"));
	bool ok = sepay_parse_id(json_object_get(obj, "id"), &h->id) && date;
	if (ok)
		snprintf(h->date, sizeof(h->date), "%s", date);
	json_decref(obj);
	return ok;
}

/* Every line of the held month, parsed; false on a line it cannot read. */
static bool read_held(struct refresh *r, const struct blob *held)
{
	size_t cap = 0;
	char *buf = malloc(CHUNK);
	struct strbuf line;
	strbuf_init(&line, 0);
	bool ok = buf != NULL;
	uint64_t line_at = 0;
	for (uint64_t off = 0; ok && off < held->v.len;) {
		ssize_t got = blob_read(held, buf, CHUNK, off);
		if (got <= 0) {
			ok = false;
			break;
		}
		for (ssize_t i = 0; ok && i < got; i++) {
			strbuf_putc(&line, buf[i]);
			if (buf[i] != '\n')
				continue;
			if (r->n_held == cap) {
				cap = cap ? cap * 2 : 1024;
				struct held_tx *p = realloc(r->held, cap * sizeof(*p));
				if (!p) {
					ok = false;
					break;
				}
				r->held = p;
			}
			struct held_tx *h = &r->held[r->n_held];
			memset(h, 0, sizeof(*h));
			h->off = line_at;
			h->len = (uint32_t)line.len;
			h->hash = hash_bytes(line.data, line.len);
			ok = !strbuf_failed(&line) && line.len <= UINT32_MAX &&
			     parse_held(line.data, line.len, h);
			r->n_held += ok;
			line_at += line.len;
			line.len = 0;
		}
		off += (uint64_t)got;
	}
	ok = ok && line.len == 0; /* our months end every line */
	strbuf_release(&line);
	free(buf);
	return ok;
}

/* What is asked again starts a day before the newest transaction held,
 * within the month. */
static void choose_window(struct refresh *r)
{
	const char *newest = "";
	for (size_t i = 0; i < r->n_held; i++)
		if (strcmp(r->held[i].date, newest) > 0)
			newest = r->held[i].date;
	int y = 0, m = 0, d = 0;
	if (sscanf(newest, "%4d-%2d-%2d", &y, &m, &d) != 3 || y * 100 + m != r->month)
		d = 1 + MONTHREFRESH_OVERLAP_DAYS; /* a date it cannot read: the whole month */
	d -= MONTHREFRESH_OVERLAP_DAYS;
	if (d < 1)
		d = 1;
	snprintf(r->window_day, sizeof(r->window_day), "%04d-%02d-%02d", (int)(r->month / 100),
		 (int)(r->month % 100), d);
	for (size_t i = 0; i < r->n_held; i++)
		r->held[i].before = strncmp(r->held[i].date, r->window_day, 10) < 0;
}

/* A transaction of the window: into the build, against what is held. */
static int add_window_tx(void *ctx, int64_t page_no, int64_t id, json_t *item)
{
	struct refresh *r = ctx;
	const char *date = json_string_value(json_object_get(item, "transaction_date"));
	if (tx_item_foreign(item, r->account, r->path, page_no, id))
		return 0;
	if (month_of_date(date) != r->month)
		return 0; /* the next month's first day, asked for its month's end */
	struct strbuf line;
	strbuf_init(&line, 0);
	if (!render_json_line(&line, item)) {
		strbuf_release(&line);
		return ENOMEM;
	}
	struct held_tx *h = find_held(r, id);
	if (h && h->before)
		doubt(r, "transaction %" PRId64 " moved into the days asked again", id);
	else if (h && h->hash != hash_bytes(line.data, line.len))
		doubt(r, "transaction %" PRId64 " changed", id);
	if (h) {
		pthread_mutex_lock(&r->lock);
		h->seen = true;
		pthread_mutex_unlock(&r->lock);
	}
	/* Page 1 on: what is held (page 0) is the older of a repeated id. */
	int rc = month_build_add(r->build, r->month, date, id, page_no, line.data, line.len);
	strbuf_release(&line);
	return rc;
}

static void forget_window(void *ctx)
{
	struct refresh *r = ctx;
	month_build_reset(r->build);
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n_held; i++)
		r->held[i].seen = false;
	pthread_mutex_unlock(&r->lock);
}

/* The held lines before the window, into the build as they are. */
static int add_held_before(struct refresh *r, const struct blob *held)
{
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;
	for (size_t i = 0; i < r->n_held && !rc; i++) {
		const struct held_tx *h = &r->held[i];
		if (!h->before)
			continue;
		if (h->len > cap) {
			char *p = realloc(line, h->len);
			if (!p) {
				rc = ENOMEM;
				break;
			}
			line = p;
			cap = h->len;
		}
		if (blob_read(held, line, h->len, h->off) != (ssize_t)h->len)
			rc = EIO;
		else
			rc = month_build_add(r->build, r->month, h->date, h->id, 0, line, h->len);
	}
	free(line);
	return rc;
}

/* The month's total as the API counts it: a page of one item. */
static int month_total(struct sepay_api *api, int64_t account, int32_t month, int64_t *total)
{
	char path[224];
	tx_range_path(path, sizeof(path), account, month, month);
	strcat(path, "&page=1&limit=1");
	json_t *root;
	int rc = sepay_get_json(api, "count transactions", path, &root);
	if (rc)
		return rc;
	struct sepay_page page;
	*total = sepay_parse_page(root, 1, &page) == 0 ? page.total : -1;
	json_decref(root);
	return 0;
}

/* The refresh itself, r set up: 0 and *out, ESTALE (r->why says why), or
 * a request's errno. */
static int refresh_run(struct refresh *r, struct sepay_api *api, const struct blob *held,
		       struct timespec now, struct blob **out)
{
	if (!held->v.len)
		return ESTALE;
	if (!read_held(r, held)) {
		snprintf(r->why, r->why_size, "a line held could not be read again");
		return ESTALE;
	}
	/* What is new costs a page and a count: a month of two pages or
	 * fewer costs no more asked whole, and needs no doubt. */
	if (r->n_held <= 2 * (size_t)sepay_page_limit(api)) {
		r->why[0] = '\0';
		return ESTALE;
	}
	qsort(r->held, r->n_held, sizeof(*r->held), by_id);
	for (size_t i = 1; i < r->n_held; i++)
		if (r->held[i].id == r->held[i - 1].id) {
			snprintf(r->why, r->why_size, "transaction %" PRId64 " held twice",
				 r->held[i].id);
			return ESTALE;
		}
	choose_window(r);
	char path[224];
	int32_t after = month_add(r->month, 1);
	char which[48] = "";
	if (r->account != TX_COMPANY)
		snprintf(which, sizeof(which), "bank_account_id=%" PRId64 "&", r->account);
	snprintf(path, sizeof(path), "/transactions?%sfrom_date=%s&to_date=%04d-%02d-01", which,
		 r->window_day, (int)(after / 100), (int)(after % 100));
	r->path = path;
	int rc = sepay_walk_pages(api, "list transactions", path, add_window_tx, forget_window, r);
	if (rc)
		return rc;
	for (size_t i = 0; i < r->n_held && !r->doubt; i++)
		if (!r->held[i].before && !r->held[i].seen)
			doubt(r, "transaction %" PRId64 " is gone", r->held[i].id);
	if (r->doubt)
		return ESTALE;
	int64_t total;
	if ((rc = month_total(api, r->account, r->month, &total)))
		return rc;
	if (total < 0) {
		snprintf(r->why, r->why_size, "the API says no total for the month");
		return ESTALE;
	}
	struct blob *merged;
	if ((rc = add_held_before(r, held)) || (rc = month_build_finish(r->build, now, &merged)))
		return rc;
	size_t count = month_build_count(r->build);
	if ((int64_t)count != total) {
		snprintf(r->why, r->why_size, "%zu transactions merged, the API counts %" PRId64,
			 count, total);
		blob_unref(merged);
		return ESTALE;
	}
	*out = merged;
	return 0;
}

int monthrefresh(struct sepay_api *api, struct month_room *room, int64_t account, int32_t month,
		 const struct blob *held, struct timespec now, struct blob **out, char *why,
		 size_t why_size)
{
	struct refresh r = { .account = account, .month = month, .why = why,
			     .why_size = why_size };
	why[0] = '\0'; /* nothing held (an empty month is one page anyway): no doubt */
	if (!(r.build = month_build_new(room, month, month)))
		return ENOMEM;
	pthread_mutex_init(&r.lock, NULL);
	int rc = refresh_run(&r, api, held, now, out);
	month_build_free(r.build);
	free(r.held);
	pthread_mutex_destroy(&r.lock);
	return rc == EFBIG ? ESTALE : rc; /* no room to merge: the whole month, as ever */
}
