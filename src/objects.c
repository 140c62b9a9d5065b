/* objects.c - fetch and render the objects the tree shows. */
#include "objects.h"

#include "cache.h"
#include "clock.h"
#include "log.h"
#include "monthrefresh.h"
#include "months.h"
#include "pages.h"
#include "render.h"
#include "strbuf.h"
#include "transactions.h"
#include "views.h"

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
	case OBJ_TX_MONTH:
		tx_range_path(buf, size, key->a, (int32_t)key->b, (int32_t)key->b);
		break;
	case OBJ_TX_RANGE:
		if (key->a == TX_COMPANY)
			snprintf(buf, size, "/transactions");
		else
			snprintf(buf, size, "/transactions?bank_account_id=%" PRId64, key->a);
		break;
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
/* A listing holds at most this many bytes of rendered files: past it, a
 * server that pages forever through huge items would take all memory.  A
 * listing's files are sub-accounts, a few hundred bytes each, or an account's
 * row (views.h), a couple of hundred: 32 MiB is
 * some hundred thousand of them. */
#define LISTING_MAX_BYTES (32u << 20)

struct listing_build {
	pthread_mutex_t lock;
	struct snapshot **pages; /* pages[n - 1] holds page n's items */
	size_t n_pages;
	bool accounts;           /* the account list: rows and item hashes */
	struct timespec now;
	size_t bytes;            /* rendered so far, under lock */
};

/* A hash of an item as the list showed it: what tells that it changed. */
static uint64_t item_hash(const json_t *item)
{
	struct strbuf line;
	strbuf_init(&line, 0);
	uint64_t h = render_json_line(&line, item) ? hash_bytes(line.data, line.len) : 0;
	strbuf_release(&line);
	return h ? h : 1; /* 0 means none */
}

static int add_listed_item(void *ctx, int64_t page_no, int64_t id, json_t *item)
{
	struct listing_build *lb = ctx;
	int32_t since = month_of_date(json_string_value(json_object_get(item, "created_at")));
	/* An account keeps the fields its views show; a sub-account is a file. */
	struct blob *file = lb->accounts ? views_account_row(item, lb->now)
					 : render_blob(item, lb->now);
	if (!file)
		return ENOMEM;
	uint64_t hash = lb->accounts ? item_hash(item) : 0;
	int rc = 0;
	size_t index = (size_t)page_no - 1;
	pthread_mutex_lock(&lb->lock);
	lb->bytes += file ? file->v.len : 0;
	if (lb->bytes > LISTING_MAX_BYTES)
		rc = EFBIG;
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
	if (rc) {
		/* over the cap: refused below */
	} else if (index >= lb->n_pages ||
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
	bucket->entries[bucket->count - 1].item_hash = hash;
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
			all->entries[all->count - 1].item_hash = e->item_hash;
		}
	}
	if (all && !snapshot_listing_finish(all)) {
		snapshot_unref(all);
		return NULL;
	}
	return all;
}

/* The walk starts again from page 1: what the pages so far built goes. */
static void drop_listed_items(void *ctx)
{
	struct listing_build *lb = ctx;
	for (size_t p = 0; p < lb->n_pages; p++) {
		snapshot_unref(lb->pages[p]);
		lb->pages[p] = NULL;
	}
	lb->bytes = 0;
}

static int fetch_listing(struct sepay_api *api, const char *op, const char *path,
			 bool accounts, struct timespec now, struct snapshot **out)
{
	struct listing_build lb = { .accounts = accounts, .now = now };
	pthread_mutex_init(&lb.lock, NULL);
	int rc = sepay_walk_pages(api, op, path, add_listed_item, drop_listed_items, &lb);
	if (rc == EFBIG) {
		log_error("%s: GET %s: the listing's files pass %u MiB; refused (%s)", op, path,
			  LISTING_MAX_BYTES >> 20, strerror(EIO));
		rc = EIO;
	}
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
	int32_t since = month_of_date(json_string_value(json_object_get(data, "created_at")));
	json_decref(data);
	if (!file || !(*out = snapshot_new_file(file)))
		return ENOMEM;
	(*out)->since = since;
	return 0;
}

/* The current month held, refreshed with what is new (monthrefresh.h):
 * ESTALE when nothing is held or in doubt, for a whole fetch. */
static int refresh_held(struct objects_source *src, int64_t account, int32_t month,
			struct timespec now, struct blob **out)
{
	struct obj_key key = { OBJ_TX_MONTH, account, month };
	struct snapshot *held = src->cache ? cache_peek(src->cache, &key, false) : NULL;
	int rc = ESTALE;
	if (held && held->file && !held->outdated && held->file->v.len) {
		char why[160];
		rc = monthrefresh(src->api, &src->room, account, month, held->file, now, out, why,
				  sizeof(why));
		if (rc == ESTALE && why[0])
			log_info("list transactions: account %" PRId64 ", %04d-%02d: %s: the whole "
				 "month is asked", account, (int)(month / 100), (int)(month % 100),
				 why);
	}
	snapshot_unref(held);
	return rc;
}

/* A month: the current one by what is new when it is held, else whole. */
static int month_file(struct objects_source *src, int64_t account, int32_t month,
		      struct timespec now, struct blob **out)
{
	int rc = month == month_of_time(now.tv_sec) ? refresh_held(src, account, month, now, out)
						     : ESTALE;
	if (rc == ESTALE)
		rc = tx_fetch_months(src->api, &src->room, account, month, month, now, out);
	return rc;
}

static uint64_t wall_ms(struct timespec t)
{
	return t.tv_sec > 0 ? (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000 : 0;
}

/* A past month fetched whole as it settles (kept for history_ttl from
 * now on): a difference from what was held, refreshed by what was new or
 * fetched before a late posting, is worth a line. */
static void note_settling(struct objects_source *src, int64_t account, int32_t month,
			  const struct blob *fetched, struct timespec now)
{
	uint64_t ended_ms = (uint64_t)month_start(month_add(month, 1)) * 1000;
	uint64_t at = wall_ms(now);
	if (!src->cache || !src->settle_ms || at < ended_ms || at - ended_ms < src->settle_ms)
		return;
	struct obj_key key = { OBJ_TX_MONTH, account, month };
	struct snapshot *held = cache_peek(src->cache, &key, false);
	if (held && held->file && !held->outdated &&
	    !version_same_bytes(&held->file->v, &fetched->v))
		log_info("list transactions: account %" PRId64 ", %04d-%02d settled with other "
			 "transactions than were held (%zu bytes, now %zu)", account,
			 (int)(month / 100), (int)(month % 100), held->file->v.len, fetched->v.len);
	snapshot_unref(held);
}

static int fetch_month(struct objects_source *src, const struct obj_key *key,
		       struct timespec now, struct snapshot **out)
{
	struct blob *file;
	int rc = month_file(src, key->a, (int32_t)key->b, now, &file);
	if (rc == 0)
		note_settling(src, key->a, (int32_t)key->b, file, now);
	if (rc == 0 && !(*out = snapshot_new_file(file)))
		rc = ENOMEM;
	return rc == EFBIG ? EIO : rc; /* logged with its size */
}

/* The company's first month: its oldest account's (one whose created_at
 * is not known counts from history_months back), from the listing in
 * memory; 0 when there is none. */
static int32_t company_since(struct objects_source *src, int32_t now)
{
	struct obj_key key = { OBJ_ACCOUNT_LIST, 0, 0 };
	if (src->cache)
		cache_fresh(src->cache, &key); /* loads it from disk when held there */
	struct snapshot *list = src->cache ? cache_peek(src->cache, &key, false) : NULL;
	int32_t since = 0, unknown = month_add(now, 1 - src->history_months);
	for (size_t i = 0; list && i < list->count; i++) {
		int32_t first = list->entries[i].since && list->entries[i].since <= now
				? list->entries[i].since : unknown;
		if (!since || first < since)
			since = first;
	}
	snapshot_unref(list);
	return since;
}

int32_t objects_account_since(struct objects_source *src, int64_t account, int32_t now)
{
	int32_t since = account == TX_COMPANY ? company_since(src, now) : 0;
	struct obj_key keys[] = { { OBJ_ACCOUNT_LIST, 0, 0 }, { OBJ_ACCOUNT, account, 0 } };
	for (size_t i = 0; i < 2 && !since && src->cache && account != TX_COMPANY; i++) {
		struct snapshot *s = cache_peek(src->cache, &keys[i], false);
		const struct listing_entry *e = s && i == 0 ? snapshot_find(s, account) : NULL;
		since = e ? e->since : s && i == 1 ? s->since : 0;
		snapshot_unref(s);
	}
	if (!since || since > now)
		since = month_add(now, 1 - src->history_months);
	return since;
}


/* The list is followed this much past ttl_ms.  The cache counts a list's
 * age from a moment later than this file notes its arrival: without the
 * grace, a lookup in between would find the list fresh to the cache (not
 * asked again) but stale to its followers (each asked instead). */
#define LIST_FOLLOW_GRACE_MS 1000

/* Objects whose freshness follows the account list: what a new
 * transaction changes along with the balance the list shows. */
static bool follows_list(const struct obj_key *key)
{
	return key->kind == OBJ_ACCOUNT || key->kind == OBJ_SUB_LIST ||
	       (key->kind == OBJ_TX_MONTH && key->b == month_of_time((time_t)clock_wall_s()));
}

uint64_t objects_ttl_ms(void *ctx, const struct obj_key *key, const struct snapshot *value)
{
	const struct objects_ttl *t = ctx;
	uint64_t fetched = value ? wall_ms(value->fetched) : 0;
	if (key->kind == OBJ_TX_MONTH) {
		int32_t next = month_add((int32_t)key->b, 1);
		uint64_t ended_ms = (uint64_t)month_start(next) * 1000;
		if (fetched >= ended_ms && fetched - ended_ms >= t->settle_ms)
			return t->history_ttl_ms;
	}
	uint64_t listed, list_fetched, list_noted;
	if (!t->follow_ms || !t->src || !value || !value->follows || !follows_list(key) ||
	    !objects_list_item(t->src, key->a, &listed, &list_fetched, &list_noted) ||
	    clock_wall_ms() - list_noted >= t->ttl_ms + LIST_FOLLOW_GRACE_MS)
		return t->ttl_ms; /* no fresh list to follow */
	if (listed == value->follows)
		return t->follow_ms > t->ttl_ms ? t->follow_ms : t->ttl_ms;
	/* The item changed since (a new balance): stale at once. */
	return list_fetched >= fetched ? 0 : t->ttl_ms;
}

bool objects_list_item(struct objects_source *src, int64_t account, uint64_t *hash,
		       uint64_t *fetched_wall_ms, uint64_t *noted_wall_ms)
{
	pthread_mutex_lock(&src->list_lock);
	const struct listing_entry *e = src->list ? snapshot_find(src->list, account) : NULL;
	if (e) {
		*hash = e->item_hash;
		if (fetched_wall_ms)
			*fetched_wall_ms = wall_ms(src->list->fetched);
		if (noted_wall_ms)
			*noted_wall_ms = src->list_noted_wall_ms;
	}
	pthread_mutex_unlock(&src->list_lock);
	return e != NULL;
}

/* Whether a held value of key follows the list (a lookup of something
 * never fetched, or fetched before the list was, has nothing to keep). */
static bool holds_follower(struct objects_source *src, const struct obj_key *key)
{
	struct obj_key held_key = *key;
	if (key->kind == OBJ_TX_RANGE) /* a range asks the current month too */
		held_key = (struct obj_key){ OBJ_TX_MONTH, key->a,
					     month_of_time((time_t)clock_wall_s()) };
	else if (!follows_list(key))
		return false;
	struct snapshot *held = cache_peek(src->cache, &held_key, false);
	bool follower = held && held->follows;
	snapshot_unref(held);
	return follower;
}

void objects_prepare(void *ctx, const struct obj_key *key)
{
	const struct objects_ttl *t = ctx;
	struct objects_source *src = t->src;
	if (!t->follow_ms || !src || !src->cache || key->kind == OBJ_ACCOUNT_LIST)
		return;
	uint64_t now = clock_wall_ms();
	pthread_mutex_lock(&src->list_lock);
	bool due = src->list && now - src->list_noted_wall_ms >= t->ttl_ms &&
		   now - src->list_failed_wall_ms >= t->ttl_ms;
	pthread_mutex_unlock(&src->list_lock);
	if (!due || !holds_follower(src, key))
		return;
	/* Callers who come while it is asked wait for that answer (the cache
	 * shares one fetch), so none of them asks its own object meanwhile. */
	struct obj_key list_key = { OBJ_ACCOUNT_LIST, 0, 0 };
	struct snapshot *list;
	if (cache_get(src->cache, &list_key, &list) == 0) {
		snapshot_unref(list);
		return;
	}
	/* The objects ask themselves; the list is not asked again before
	 * ttl_ms (a failing list must not double every request). */
	pthread_mutex_lock(&src->list_lock);
	src->list_failed_wall_ms = now;
	pthread_mutex_unlock(&src->list_lock);
}

/* The newest account list, for what follows it. */
static void note_list(struct objects_source *src, struct snapshot *list)
{
	pthread_mutex_lock(&src->list_lock);
	snapshot_unref(src->list);
	src->list = snapshot_ref(list);
	src->list_noted_wall_ms = clock_wall_ms();
	pthread_mutex_unlock(&src->list_lock);
}

/* What an account's object records of the list when it is asked. */
static uint64_t list_item_now(struct objects_source *src, int64_t account)
{
	uint64_t hash = 0;
	return objects_list_item(src, account, &hash, NULL, NULL) ? hash : 0;
}

/* A month a range fetched, into the cache as if fetched alone.  Takes
 * the blob. */
static void put_month(struct objects_source *src, int64_t account, int32_t month,
		      struct blob *file, struct timespec now, uint64_t follows)
{
	note_settling(src, account, month, file, now);
	struct snapshot *s = snapshot_new_file(file);
	if (!s)
		return;
	s->fetched = now;
	s->follows = follows;
	cache_put(src->cache, &(struct obj_key){ OBJ_TX_MONTH, account, month }, s);
	snapshot_unref(s);
}

/* The months of an account's history a walk needs fetched: from the
 * oldest one not fresh in the cache to now, one range, its months put in
 * the cache as if each had been fetched alone.  The range's own snapshot
 * holds nothing: it only says when the range was last asked. */
/* The oldest of the account's months not fresh in the cache (the current
 * one when all before it are); false when even that one is fresh. */
static bool oldest_stale_month(struct objects_source *src, int64_t account, int32_t to,
			       int32_t *from)
{
	*from = objects_account_since(src, account, to);
	if (month_count(*from, to) > TX_RANGE_MAX_MONTHS)
		*from = month_add(to, 1 - TX_RANGE_MAX_MONTHS);
	for (; *from <= to; *from = month_add(*from, 1)) {
		struct obj_key month = { OBJ_TX_MONTH, account, *from };
		if (!cache_fresh(src->cache, &month))
			return true;
	}
	*from = to;
	return false;
}

static int fetch_range(struct objects_source *src, int64_t account, struct timespec now,
		       struct snapshot **out)
{
	uint64_t follows = list_item_now(src, account);
	int32_t to = month_of_time(now.tv_sec), from;
	oldest_stale_month(src, account, to, &from);
	/* The current month is refreshed by what is new when it is held (or
	 * left as it is, when fresh: it follows the list); the months before
	 * it that are stale, as one range. */
	struct blob *current;
	struct obj_key current_key = { OBJ_TX_MONTH, account, to };
	bool current_done = from < to && cache_fresh(src->cache, &current_key);
	if (!current_done && refresh_held(src, account, to, now, &current) == 0) {
		put_month(src, account, to, current, now, follows);
		current_done = true;
	}
	if (current_done) {
		to = month_add(to, -1);
		if (to < from)
			return (*out = snapshot_new_listing(now)) ? 0 : ENOMEM;
	}
	struct blob *months[TX_RANGE_MAX_MONTHS];
	int32_t n = month_count(from, to);
	int rc = tx_fetch_months(src->api, &src->room, account, from, to, now, months);
	if (rc == 0) {
		for (int32_t i = 0; i < n; i++)
			put_month(src, account, month_add(from, i), months[i], now, follows);
	} else if (rc == EFBIG && n > 1) {
		/* More than one build may order: a month at a time, about as
		 * many pages, a request or two more a month. */
		rc = 0;
		for (int32_t i = 0; i < n; i++) {
			struct blob *one;
			int32_t month = month_add(from, i);
			int mrc = tx_fetch_months(src->api, &src->room, account, month, month, now,
						  &one);
			if (mrc == 0)
				put_month(src, account, month, one, now, follows);
			else if (!rc)
				rc = mrc == EFBIG ? EIO : mrc;
		}
	}
	if (rc == 0 && !(*out = snapshot_new_listing(now)))
		rc = ENOMEM;
	return rc;
}


void objects_source_init(struct objects_source *src, struct sepay_api *api,
			 uint64_t forbidden_ms, bool no_tx_scope, int history_months,
			 size_t build_memory, int spill_dir)
{
	src->api = api;
	src->cache = NULL;
	src->history_months = history_months;
	tx_access_init(&src->tx, forbidden_ms, no_tx_scope);
	month_room_init(&src->room, build_memory, spill_dir);
	pthread_mutex_init(&src->list_lock, NULL);
	src->list = NULL;
	src->list_noted_wall_ms = 0;
	src->list_failed_wall_ms = 0;
	src->settle_ms = 0;
}

void objects_source_destroy(struct objects_source *src)
{
	snapshot_unref(src->list);
	pthread_mutex_destroy(&src->list_lock);
	tx_access_destroy(&src->tx);
}

bool objects_tx_forbidden(struct objects_source *src, int64_t account)
{
	return tx_access_forbidden(&src->tx, account);
}

/* Whether the account's transactions may still be read, for one item's
 * worth: a page of one of its current month. */
static int ask_one_item(struct objects_source *src, int64_t account, int32_t month)
{
	bool probe;
	int rc = tx_access_begin(&src->tx, account, &probe);
	if (rc)
		return rc;
	char path[224];
	tx_range_path(path, sizeof(path), account, month, month);
	strcat(path, "&page=1&limit=1");
	json_t *root;
	if ((rc = sepay_get_json(src->api, "check access", path, &root)) == 0)
		json_decref(root);
	tx_access_end(&src->tx, account, probe, rc);
	return rc;
}

/* Whether the API answered for the account's transactions within the
 * window a 403 is believed for: this mount saw it, or the current month
 * held (on disk too, from a mount before) was fetched within it. */
static bool answered_lately(struct objects_source *src, int64_t account)
{
	if (tx_access_recently_allowed(&src->tx, account))
		return true;
	struct obj_key current = { OBJ_TX_MONTH, account, month_of_time((time_t)clock_wall_s()) };
	cache_fresh(src->cache, &current); /* loads it from disk when held there */
	struct snapshot *s = cache_peek(src->cache, &current, false);
	bool lately = s && clock_wall_ms() - wall_ms(s->fetched) < src->tx.window_ms;
	snapshot_unref(s);
	return lately;
}

int objects_tx_access(struct objects_source *src, int64_t account, int32_t month)
{
	if (tx_access_forbidden(&src->tx, account))
		return EPERM;
	if (!src->cache || answered_lately(src, account))
		return 0;
	/* A month not held asks the API itself, which answers for access. */
	struct obj_key asked = { OBJ_TX_MONTH, account, month };
	if (!cache_fresh(src->cache, &asked))
		return 0;
	/* The account's months that are not fresh, as one range: the one
	 * request both asks and refreshes them, so a walk that reads the
	 * folder's listing from the kernel's cache (no readdir: nothing marks
	 * it as a walk) asks no more than a cold one.  With none stale (the
	 * current month follows the list), a page of one item asks. */
	int32_t from, now = month_of_time((time_t)clock_wall_s());
	int rc;
	if (oldest_stale_month(src, account, now, &from)) {
		struct obj_key range = { OBJ_TX_RANGE, account, 0 };
		struct snapshot *s;
		if ((rc = cache_get(src->cache, &range, &s)) == 0)
			snapshot_unref(s);
	} else {
		rc = ask_one_item(src, account, now);
	}
	return rc == EPERM || rc == EACCES || rc == ENOENT ? rc : 0;
}

int objects_fetch(void *ctx, const struct obj_key *key, struct snapshot **out)
{
	struct objects_source *src = ctx;
	struct sepay_api *api = src->api;
	char path[192];
	objects_path(key, path, sizeof(path));
	/* Content is dated by the wall clock: it becomes the files' mtime. */
	struct timespec now = clock_wall();
	/* What the list showed of the account when it was asked. */
	uint64_t follows = key->kind == OBJ_ACCOUNT_LIST ? 0 : list_item_now(src, key->a);
	int rc = EINVAL;
	switch (key->kind) {
	case OBJ_ACCOUNT_LIST:
		rc = fetch_listing(api, "list accounts", path, true, now, out);
		if (rc == 0) {
			(*out)->fetched = now;
			tx_access_set_accounts(&src->tx, (*out)->count);
			note_list(src, *out);
		}
		break;
	case OBJ_ACCOUNT:
		rc = fetch_detail(api, path, now, out);
		break;
	case OBJ_SUB_LIST:
		rc = fetch_listing(api, "list sub-accounts", path, false, now, out);
		break;
	case OBJ_TX_MONTH:
	case OBJ_TX_RANGE: {
		bool probe;
		if ((rc = tx_access_begin(&src->tx, key->a, &probe)))
			return rc;
		rc = key->kind == OBJ_TX_MONTH ? fetch_month(src, key, now, out)
					       : fetch_range(src, key->a, now, out);
		tx_access_end(&src->tx, key->a, probe, rc);
		break;
	}
	}
	/* Dated by when it was asked: a SIGHUP while it was under way makes
	 * it stale, on disk too. */
	if (rc == 0) {
		(*out)->fetched = now;
		(*out)->follows = follows;
	}
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
