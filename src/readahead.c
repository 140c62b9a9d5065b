/* readahead.c - background fetches ahead of ordered walks. */
#include "readahead.h"

#include "clock.h"
#include "months.h"
#include "names.h"
#include "objects.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Room for a window of accounts (a detail, a sub-account listing and a
 * range of months each); when full, new work is dropped: read-ahead is an
 * optimisation, never a backlog. */
#define QUEUE_SLOTS 256
/* A reader that has visited nothing for this long has stopped (Ctrl-C, or
 * it is busy elsewhere): what is queued for it is dropped, so a stopped
 * walk stops asking the API within a second or two.  A reader going on
 * simply queues again. */
#define IDLE_DROP_MS 1000

enum walk_order { ORDER_LISTING, ORDER_NAME, ORDER_COUNT };

struct readahead {
	struct cache *cache;
	struct activity *activity;
	unsigned window;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	struct obj_key queue[QUEUE_SLOTS];
	size_t head, len;
	pthread_t *threads;
	unsigned n_threads;

	/* The walk: the listing it runs over, the position of the last visit
	 * in each order, and how far ahead each order was already queued. */
	struct snapshot *listing;
	int64_t *by_name;          /* the listing's ids in name order */
	size_t last_pos[ORDER_COUNT];
	size_t queued_to[ORDER_COUNT];
	bool has_last;
	bool with_months;          /* this walk goes into transactions folders */
	bool stepping;             /* the last visit was a step of a walk */
	uint64_t last_visit_ms;    /* monotonic */
	uint64_t dropped;          /* queued work dropped after the reader stopped */
};

static uint64_t now_ms(void)
{
	return clock_mono_ms();
}

static void *fetcher(void *arg)
{
	struct readahead *ra = arg;
	pthread_mutex_lock(&ra->lock);
	for (;;) {
		while (!ra->len && !ra->stopping)
			pthread_cond_wait(&ra->wake, &ra->lock);
		if (ra->stopping)
			break;
		if (now_ms() - ra->last_visit_ms > IDLE_DROP_MS) {
			/* A reader going on queues what was dropped again. */
			ra->dropped += ra->len;
			ra->len = 0;
			for (int o = 0; o < ORDER_COUNT; o++)
				ra->queued_to[o] = ra->last_pos[o];
			continue;
		}
		struct obj_key key = ra->queue[ra->head];
		ra->head = (ra->head + 1) % QUEUE_SLOTS;
		ra->len--;
		pthread_mutex_unlock(&ra->lock);
		struct snapshot *s;
		if (cache_get(ra->cache, &key, &s) == 0)
			snapshot_unref(s);
		pthread_mutex_lock(&ra->lock);
	}
	pthread_mutex_unlock(&ra->lock);
	return NULL;
}

struct readahead *readahead_start(struct cache *cache, unsigned threads, unsigned window,
				  struct activity *activity)
{
	struct readahead *ra = calloc(1, sizeof(*ra));
	if (!ra)
		return NULL;
	ra->cache = cache;
	ra->activity = activity;
	ra->window = window;
	pthread_mutex_init(&ra->lock, NULL);
	pthread_cond_init(&ra->wake, NULL);
	ra->threads = calloc(threads, sizeof(*ra->threads));
	for (unsigned i = 0; ra->threads && i < threads; i++)
		if (pthread_create(&ra->threads[i], NULL, fetcher, ra) == 0)
			ra->n_threads++;
	return ra;
}

void readahead_stop(struct readahead *ra)
{
	if (!ra)
		return;
	pthread_mutex_lock(&ra->lock);
	ra->stopping = true;
	pthread_cond_broadcast(&ra->wake);
	pthread_mutex_unlock(&ra->lock);
	for (unsigned i = 0; i < ra->n_threads; i++)
		pthread_join(ra->threads[i], NULL);
	free(ra->threads);
	snapshot_unref(ra->listing);
	free(ra->by_name);
	pthread_cond_destroy(&ra->wake);
	pthread_mutex_destroy(&ra->lock);
	free(ra);
}

static int name_cmp(const void *a, const void *b)
{
	char x[NAME_MAX_ID_FILE], y[NAME_MAX_ID_FILE];
	name_format_id(x, *(const int64_t *)a, false);
	name_format_id(y, *(const int64_t *)b, false);
	return strcmp(x, y);
}

/* Follows the cached listing; false when there is none to walk over. */
static bool track_listing(struct readahead *ra)
{
	struct obj_key key = { OBJ_ACCOUNT_LIST, 0, 0 };
	struct snapshot *now = cache_peek(ra->cache, &key, false);
	if (!now)
		return false;
	if (now == ra->listing) {
		snapshot_unref(now);
		return true;
	}
	int64_t *by_name = malloc((now->count ? now->count : 1) * sizeof(*by_name));
	if (!by_name) {
		snapshot_unref(now);
		return false;
	}
	for (size_t i = 0; i < now->count; i++)
		by_name[i] = now->entries[i].id;
	qsort(by_name, now->count, sizeof(*by_name), name_cmp);
	snapshot_unref(ra->listing);
	free(ra->by_name);
	ra->listing = now;
	ra->by_name = by_name;
	ra->has_last = false;
	return true;
}

static bool position(const struct readahead *ra, enum walk_order order, int64_t id, size_t *pos)
{
	if (order == ORDER_LISTING) {
		const struct listing_entry *e = snapshot_find(ra->listing, id);
		if (e)
			*pos = (size_t)(e - ra->listing->entries);
		return e != NULL;
	}
	const int64_t *found = bsearch(&id, ra->by_name, ra->listing->count, sizeof(int64_t),
				       name_cmp);
	if (found)
		*pos = (size_t)(found - ra->by_name);
	return found != NULL;
}

static int64_t id_at(const struct readahead *ra, enum walk_order order, size_t pos)
{
	return order == ORDER_LISTING ? ra->listing->entries[pos].id : ra->by_name[pos];
}

static void enqueue(struct readahead *ra, int kind, int64_t id, int64_t b)
{
	if (ra->len == QUEUE_SLOTS)
		return;
	ra->queue[(ra->head + ra->len) % QUEUE_SLOTS] = (struct obj_key){ kind, id, b };
	ra->len++;
}

void readahead_visit(struct readahead *ra, int64_t account_id, int want)
{
	if (!ra)
		return;
	pthread_mutex_lock(&ra->lock);
	ra->last_visit_ms = now_ms();
	if (!ra->n_threads || !track_listing(ra)) {
		pthread_mutex_unlock(&ra->lock);
		return;
	}
	bool queued_any = false, walking_any = false, known = false;
	size_t step = 0; /* from 1, in the order that walks */
	for (int order = 0; order < ORDER_COUNT; order++) {
		size_t pos = 0; /* set by position(); gcc -O1 cannot tell */
		if (!position(ra, order, account_id, &pos))
			continue;
		known = true;
		bool walking = ra->has_last && pos == ra->last_pos[order] + 1;
		bool same = ra->has_last && pos == ra->last_pos[order];
		walking_any |= walking || same;
		/* A walk starts at a step to a neighbour; a second visit
		 * to the same account (its info.json, then its
		 * sub-accounts) only continues one. */
		if ((walking || (same && ra->stepping)) && !step)
			step = pos + 1;
		if (same)
			continue;
		ra->last_pos[order] = pos;
		if (!walking) {
			ra->queued_to[order] = pos;
			continue;
		}
		size_t from = ra->queued_to[order] > pos ? ra->queued_to[order] + 1 : pos + 1;
		size_t to = pos + ra->window < ra->listing->count ? pos + ra->window
								   : ra->listing->count - 1;
		for (size_t p = from; p <= to && ra->len + 3 <= QUEUE_SLOTS; p++) {
			int64_t id = id_at(ra, order, p);
			if (want & READAHEAD_FILES) {
				enqueue(ra, OBJ_ACCOUNT, id, 0);
				enqueue(ra, OBJ_SUB_LIST, id, 0);
			}
			if ((want & READAHEAD_MONTHS) || ra->with_months)
				enqueue(ra, OBJ_TX_RANGE, id, 0);
			ra->queued_to[order] = p;
			queued_any = true;
		}
	}
	if (known && !walking_any) {
		/* Not the next account of any walk: a new walk (or none), whose
		 * mode is its own.  What was queued for the old one goes. */
		ra->with_months = false;
		ra->len = 0;
	}
	ra->stepping = step != 0;
	/* A folder of no listed account (the company's months, an account
	 * reached by path only) is no step of a walk through the listing. */
	if ((want & READAHEAD_MONTHS) && known)
		ra->with_months = true;
	ra->has_last = true;
	if (step)
		activity_walk_step(ra->activity, account_id, step, ra->listing->count);
	if (queued_any)
		pthread_cond_broadcast(&ra->wake);
	pthread_mutex_unlock(&ra->lock);
}

uint64_t readahead_dropped(struct readahead *ra)
{
	if (!ra)
		return 0;
	pthread_mutex_lock(&ra->lock);
	uint64_t n = ra->dropped;
	pthread_mutex_unlock(&ra->lock);
	return n;
}
