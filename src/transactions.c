/* transactions.c - month files from paged transaction ranges. */
#include "transactions.h"

#include "log.h"
#include "months.h"
#include "pages.h"
#include "render.h"
#include "strbuf.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tx_range_path(char *buf, size_t size, int64_t account, int32_t from, int32_t to)
{
	int32_t after = month_add(to, 1);
	snprintf(buf, size, "/transactions?bank_account_id=%" PRId64
		 "&from_date=%04d-%02d-01&to_date=%04d-%02d-01", account, (int)(from / 100),
		 (int)(from % 100), (int)(after / 100), (int)(after % 100));
}

struct tx_item {
	int32_t month;
	const char *date;
	int64_t id;
	int64_t page;   /* where it arrived: the first of a repeated id is kept */
	size_t seq;
	json_t *item;
};

struct tx_build {
	int64_t account;
	int32_t from, to;
	const char *path;
	pthread_mutex_t lock;
	struct tx_item *items;
	size_t count, capacity;
};

/* Keeps the items of the account and months asked for: the range asked
 * reaches into the next month, and a server may answer with more. */
static int add_tx(void *ctx, int64_t page_no, int64_t id, json_t *item)
{
	struct tx_build *tb = ctx;
	const char *date = json_string_value(json_object_get(item, "transaction_date"));
	int64_t account;
	if (sepay_parse_id(json_object_get(item, "bank_account_id"), &account) &&
	    account != tb->account) {
		log_warn("list transactions: GET %s (page %" PRId64 "): dropped transaction %"
			 PRId64 " of account %" PRId64 ", not of the account asked for", tb->path,
			 page_no, id, account);
		return 0;
	}
	int32_t month = month_of_date(date);
	if (!month) {
		log_warn("list transactions: GET %s (page %" PRId64 "): dropped transaction %"
			 PRId64 ": no transaction_date of the form YYYY-MM-DD", tb->path, page_no, id);
		return 0;
	}
	if (month < tb->from || month > tb->to)
		return 0;
	int rc = 0;
	pthread_mutex_lock(&tb->lock);
	if (tb->count == tb->capacity) {
		size_t cap = tb->capacity ? tb->capacity * 2 : 64;
		struct tx_item *p = realloc(tb->items, cap * sizeof(*p));
		if (p) {
			tb->items = p;
			tb->capacity = cap;
		}
	}
	if (tb->count < tb->capacity) {
		/* Pages come side by side: the page number orders arrivals. */
		tb->items[tb->count] = (struct tx_item){ month, date, id, page_no, tb->count,
							 json_incref(item) };
		tb->count++;
	} else {
		rc = ENOMEM;
	}
	pthread_mutex_unlock(&tb->lock);
	return rc;
}

static int by_month_id_arrival(const void *a, const void *b)
{
	const struct tx_item *x = a, *y = b;
	if (x->month != y->month)
		return x->month < y->month ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int by_date_id(const void *a, const void *b)
{
	const struct tx_item *x = a, *y = b;
	int c = strcmp(x->date, y->date); /* the month leads the date */
	return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* Keeps the first of each id in each month, then orders by date and id
 * (O(n log n): a page may hold thousands). */
static void drop_repeats(struct tx_build *tb)
{
	if (!tb->count)
		return; /* nothing came: no array at all */
	qsort(tb->items, tb->count, sizeof(*tb->items), by_month_id_arrival);
	size_t kept = 0;
	for (size_t i = 0; i < tb->count; i++) {
		struct tx_item *last = kept ? &tb->items[kept - 1] : NULL;
		if (last && last->month == tb->items[i].month && last->id == tb->items[i].id)
			json_decref(tb->items[i].item);
		else
			tb->items[kept++] = tb->items[i];
	}
	tb->count = kept;
	qsort(tb->items, tb->count, sizeof(*tb->items), by_date_id);
}

/* One blob per month from..to, from the ordered items. */
static int render_months(const struct tx_build *tb, struct timespec now, struct blob **months)
{
	size_t i = 0;
	int rc = 0;
	struct strbuf text;
	strbuf_init(&text, 0);
	for (int32_t m = tb->from, n = 0; rc == 0 && m <= tb->to; m = month_add(m, 1), n++) {
		text.len = 0;
		for (; i < tb->count && tb->items[i].month == m && rc == 0; i++)
			if (!render_json_line(&text, tb->items[i].item))
				rc = ENOMEM;
		if (rc == 0 && !(months[n] = blob_new(text.data ? text.data : "", text.len, now)))
			rc = ENOMEM;
	}
	strbuf_release(&text);
	return rc;
}

/* The walk starts again from page 1: the items so far go. */
static void drop_tx_items(void *ctx)
{
	struct tx_build *tb = ctx;
	for (size_t i = 0; i < tb->count; i++)
		json_decref(tb->items[i].item);
	tb->count = 0;
}

int tx_fetch_months(struct sepay_api *api, int64_t account, int32_t from, int32_t to,
		    struct timespec now, struct blob **months)
{
	int32_t n = month_count(from, to);
	if (n <= 0 || n > TX_RANGE_MAX_MONTHS)
		return EINVAL;
	char path[192];
	tx_range_path(path, sizeof(path), account, from, to);
	struct tx_build tb = { .account = account, .from = from, .to = to, .path = path };
	pthread_mutex_init(&tb.lock, NULL);
	memset(months, 0, (size_t)n * sizeof(*months));
	int rc = sepay_walk_pages(api, "list transactions", path, add_tx, drop_tx_items, &tb);
	if (rc == 0) {
		drop_repeats(&tb);
		rc = render_months(&tb, now, months);
	}
	if (rc)
		for (int32_t i = 0; i < n; i++) {
			blob_unref(months[i]);
			months[i] = NULL;
		}
	for (size_t i = 0; i < tb.count; i++)
		json_decref(tb.items[i].item);
	free(tb.items);
	pthread_mutex_destroy(&tb.lock);
	return rc;
}
