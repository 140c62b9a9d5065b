/* objects.c - fetch and render the objects the tree shows. */
#include "objects.h"

#include "cache.h"
#include "log.h"
#include "months.h"
#include "render.h"
#include "strbuf.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void objects_path(const struct obj_key *key, char *buf, size_t size)
{
	switch (key->kind) {
	case OBJ_ACCOUNT_LIST:
		snprintf(buf, size, "/bank-accounts");
		break;
	case OBJ_ACCOUNT:
		snprintf(buf, size, "/bank-accounts/%" PRId64, key->a);
		break;
	case OBJ_SUB_LIST:
		snprintf(buf, size, "/bank-accounts/%" PRId64 "/sub-accounts", key->a);
		break;
	case OBJ_TX_MONTH: {
		/* Up to the 1st of the next month: whether SePay's to_date takes
		 * that whole day, stops at its midnight or leaves it out, the
		 * month's last day is in the answer.  What falls outside the
		 * month is dropped when the answer is read. */
		int32_t m = (int32_t)key->b, next = month_add(m, 1);
		snprintf(buf, size, "/transactions?bank_account_id=%" PRId64
			 "&from_date=%04d-%02d-01&to_date=%04d-%02d-01", key->a, (int)(m / 100),
			 (int)(m % 100), (int)(next / 100), (int)(next % 100));
		break;
	}
	default:
		snprintf(buf, size, "?");
	}
}

static struct blob *render_blob(const json_t *obj, struct timespec now)
{
	size_t len;
	char *text = render_json(obj, &len);
	if (!text)
		return NULL;
	struct blob *b = blob_new(text, len, now);
	free(text);
	return b;
}

/* A listing arrives page by page, pages on several threads at once: each
 * page's items go to that page's bucket, and the buckets are joined in page
 * order at the end, so "first seen" means first in the list's own order. */
struct listing_build {
	pthread_mutex_t lock;
	struct snapshot **pages; /* pages[n - 1] holds page n's items */
	size_t n_pages;
	bool with_files;
	struct timespec now;
};

static int add_listed_item(void *ctx, int64_t page_no, int64_t id, json_t *item)
{
	struct listing_build *lb = ctx;
	int32_t since = month_of_date(json_string_value(json_object_get(item, "created_at")));
	struct blob *file = NULL;
	if (lb->with_files && !(file = render_blob(item, lb->now)))
		return ENOMEM;
	int rc = 0;
	size_t index = (size_t)page_no - 1;
	pthread_mutex_lock(&lb->lock);
	if (index >= lb->n_pages) {
		size_t n = index + 1 > lb->n_pages * 2 ? index + 1 : lb->n_pages * 2;
		struct snapshot **p = realloc(lb->pages, n * sizeof(*p));
		if (p) {
			memset(p + lb->n_pages, 0, (n - lb->n_pages) * sizeof(*p));
			lb->pages = p;
			lb->n_pages = n;
		}
	}
	struct snapshot *bucket = NULL;
	if (index >= lb->n_pages ||
	    (!lb->pages[index] && !(lb->pages[index] = snapshot_new_listing(lb->now))))
		rc = ENOMEM;
	else
		bucket = lb->pages[index]; /* the array may move once unlocked */
	pthread_mutex_unlock(&lb->lock);
	if (rc) {
		blob_unref(file);
		return rc;
	}
	/* Only this page's thread touches this page's bucket. */
	if (!snapshot_listing_add(bucket, id, file))
		return ENOMEM;
	bucket->entries[bucket->count - 1].since = since;
	return 0;
}

/* Joins the pages into one listing, moving the files over. */
static struct snapshot *join_pages(struct listing_build *lb)
{
	struct snapshot *all = snapshot_new_listing(lb->now);
	for (size_t p = 0; all && p < lb->n_pages; p++) {
		struct snapshot *page = lb->pages[p];
		for (size_t i = 0; page && i < page->count; i++) {
			struct listing_entry *e = &page->entries[i];
			bool ok = snapshot_listing_add(all, e->id, e->file);
			e->file = NULL; /* moved, or released by a failed add */
			if (!ok) {
				snapshot_unref(all);
				return NULL;
			}
			all->entries[all->count - 1].since = e->since;
		}
	}
	if (all && !snapshot_listing_finish(all)) {
		snapshot_unref(all);
		return NULL;
	}
	return all;
}

static int fetch_listing(struct sepay_api *api, const char *op, const char *path,
			 bool with_files, struct timespec now, struct snapshot **out)
{
	struct listing_build lb = { .with_files = with_files, .now = now };
	pthread_mutex_init(&lb.lock, NULL);
	int rc = sepay_walk_pages(api, op, path, add_listed_item, &lb);
	if (rc == 0 && !(*out = join_pages(&lb)))
		rc = ENOMEM;
	for (size_t p = 0; p < lb.n_pages; p++)
		snapshot_unref(lb.pages[p]);
	free(lb.pages);
	pthread_mutex_destroy(&lb.lock);
	return rc;
}

static int fetch_detail(struct sepay_api *api, const char *path, struct timespec now,
			struct snapshot **out)
{
	json_t *data;
	int rc = sepay_get_object(api, "read account", path, &data);
	if (rc)
		return rc;
	struct blob *file = render_blob(data, now);
	json_decref(data);
	if (!file || !(*out = snapshot_new_file(file)))
		return ENOMEM;
	return 0;
}

/* A month's transactions: gathered from every page, then ordered by
 * transaction_date and id, a repeated id kept once. */
struct tx_item {
	const char *date;
	int64_t id;
	int64_t page;   /* where it arrived: the first of a repeated id is kept */
	size_t seq;
	json_t *item;
};

struct tx_build {
	int64_t account;
	int32_t month;
	const char *path;
	pthread_mutex_t lock;
	struct tx_item *items;
	size_t count, capacity;
};

/* Keeps the items of the month and account asked for: the range asked
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
	if (month != tb->month)
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
		tb->items[tb->count] = (struct tx_item){ date, id, page_no, tb->count,
							 json_incref(item) };
		tb->count++;
	} else {
		rc = ENOMEM;
	}
	pthread_mutex_unlock(&tb->lock);
	return rc;
}

static int tx_by_id(const void *a, const void *b)
{
	const struct tx_item *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int tx_by_date(const void *a, const void *b)
{
	const struct tx_item *x = a, *y = b;
	int c = strcmp(x->date, y->date);
	return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* Keeps the first of each id (O(n log n): a page may hold thousands). */
static void drop_repeats(struct tx_build *tb)
{
	if (!tb->count)
		return; /* an empty month has no array at all */
	qsort(tb->items, tb->count, sizeof(*tb->items), tx_by_id);
	size_t kept = 0;
	for (size_t i = 0; i < tb->count; i++) {
		if (kept && tb->items[kept - 1].id == tb->items[i].id)
			json_decref(tb->items[i].item);
		else
			tb->items[kept++] = tb->items[i];
	}
	tb->count = kept;
	qsort(tb->items, tb->count, sizeof(*tb->items), tx_by_date);
}

static int fetch_month(struct sepay_api *api, const struct obj_key *key, const char *path,
		       struct timespec now, struct snapshot **out)
{
	struct tx_build tb = { .account = key->a, .month = (int32_t)key->b, .path = path };
	pthread_mutex_init(&tb.lock, NULL);
	int rc = sepay_walk_pages(api, "list transactions", path, add_tx, &tb);
	struct strbuf text;
	strbuf_init(&text, 0);
	if (rc == 0) {
		drop_repeats(&tb);
		for (size_t i = 0; i < tb.count && rc == 0; i++)
			if (!render_json_line(&text, tb.items[i].item))
				rc = ENOMEM;
	}
	for (size_t i = 0; i < tb.count; i++)
		json_decref(tb.items[i].item);
	free(tb.items);
	pthread_mutex_destroy(&tb.lock);
	if (rc == 0) {
		struct blob *file = blob_new(text.data ? text.data : "", text.len, now);
		if (!file || !(*out = snapshot_new_file(file)))
			rc = ENOMEM;
	}
	strbuf_release(&text);
	return rc;
}

uint64_t objects_ttl_ms(void *ctx, const struct obj_key *key, uint64_t fetched_wall_ms)
{
	const struct objects_ttl *t = ctx;
	if (key->kind != OBJ_TX_MONTH)
		return t->ttl_ms;
	int32_t next = month_add((int32_t)key->b, 1);
	uint64_t ended_ms = (uint64_t)month_start(next) * 1000;
	bool settled = fetched_wall_ms >= ended_ms && fetched_wall_ms - ended_ms >= t->settle_ms;
	return settled ? t->history_ttl_ms : t->ttl_ms;
}

void objects_source_init(struct objects_source *src, struct sepay_api *api,
			 uint64_t forbidden_ms, bool no_tx_scope)
{
	src->api = api;
	tx_access_init(&src->tx, forbidden_ms, no_tx_scope);
}

void objects_source_destroy(struct objects_source *src)
{
	tx_access_destroy(&src->tx);
}

bool objects_tx_forbidden(struct objects_source *src, int64_t account)
{
	return tx_access_forbidden(&src->tx, account);
}

int objects_fetch(void *ctx, const struct obj_key *key, struct snapshot **out)
{
	struct objects_source *src = ctx;
	struct sepay_api *api = src->api;
	char path[192];
	objects_path(key, path, sizeof(path));
	/* Content is dated by the wall clock: it becomes the files' mtime. */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int rc = EINVAL;
	switch (key->kind) {
	case OBJ_ACCOUNT_LIST:
		rc = fetch_listing(api, "list accounts", path, false, now, out);
		if (rc == 0)
			tx_access_set_accounts(&src->tx, (*out)->count);
		break;
	case OBJ_ACCOUNT:
		rc = fetch_detail(api, path, now, out);
		break;
	case OBJ_SUB_LIST:
		rc = fetch_listing(api, "list sub-accounts", path, true, now, out);
		break;
	case OBJ_TX_MONTH: {
		bool probe;
		if ((rc = tx_access_begin(&src->tx, key->a, &probe)))
			return rc;
		rc = fetch_month(api, key, path, now, out);
		tx_access_end(&src->tx, key->a, probe, rc);
		break;
	}
	}
	if (rc == 0)
		clock_gettime(CLOCK_REALTIME, &(*out)->fetched);
	return rc;
}

bool objects_listing_matches_page(const struct snapshot *listing, json_t *page_root)
{
	struct sepay_page page;
	if (!listing || !listing->count || sepay_parse_page(page_root, 1, &page) != 0 ||
	    !json_array_size(page.items))
		return true; /* nothing to tell them apart by */
	size_t i;
	json_t *item;
	json_array_foreach(page.items, i, item) {
		int64_t id;
		if (sepay_parse_id(json_object_get(item, "id"), &id) && snapshot_find(listing, id))
			return true;
	}
	return false;
}
