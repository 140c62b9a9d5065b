/* test_readahead.c - read-ahead follows a walk, in its mode, and stops
 * when the walk does. */
#include "cache.h"
#include "check.h"
#include "clock.h"
#include "objects.h"
#include "readahead.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct obj_key seen[4096];
static size_t n_seen;
static atomic_bool gate_open = true;

static int counting_fetch(void *ctx, const struct obj_key *key, struct snapshot **out)
{
	(void)ctx;
	pthread_mutex_lock(&seen_lock);
	if (n_seen < 4096)
		seen[n_seen++] = *key;
	pthread_mutex_unlock(&seen_lock);
	struct timespec tick = { 0, 1000000L };
	while (!atomic_load(&gate_open))
		nanosleep(&tick, NULL);
	*out = snapshot_new_listing(clock_wall());
	return 0;
}

static size_t count(int kind, int64_t from, int64_t to)
{
	size_t n = 0;
	pthread_mutex_lock(&seen_lock);
	for (size_t i = 0; i < n_seen; i++)
		n += seen[i].kind == kind && seen[i].a >= from && seen[i].a <= to;
	pthread_mutex_unlock(&seen_lock);
	return n;
}

static size_t total(void)
{
	pthread_mutex_lock(&seen_lock);
	size_t n = n_seen;
	pthread_mutex_unlock(&seen_lock);
	return n;
}

/* Waits (bounded) until the fetchers have asked for want objects in all. */
static void settle(size_t want)
{
	struct timespec tick = { 0, 2000000L };
	for (int i = 0; i < 5000 && total() < want; i++)
		nanosleep(&tick, NULL);
	nanosleep(&(struct timespec){ 0, 50000000L }, NULL); /* and nothing more comes */
}

static void reset(void)
{
	pthread_mutex_lock(&seen_lock);
	n_seen = 0;
	pthread_mutex_unlock(&seen_lock);
}

int main(void)
{
	struct fake_clock fake = { .mono_ns = 1000000000u, .wall_ns = 1800000000LL * 1000000000LL };
	clock_use_fake(&fake);
	struct cache_config cc = { .ttl_ms = 3600000, .fetch = counting_fetch };
	struct cache *c = cache_new(&cc);
	struct snapshot *list = snapshot_new_listing(clock_wall());
	for (int64_t id = 1; id <= 40; id++)
		CHECK(snapshot_listing_add(list, id, NULL));
	CHECK(snapshot_listing_finish(list));
	cache_put(c, &(struct obj_key){ OBJ_ACCOUNT_LIST, 0, 0 }, list);
	snapshot_unref(list);
	struct readahead *ra = readahead_start(c, 2, 4, NULL);

	/* One visit is no walk: nothing comes (given a moment to). */
	readahead_visit(ra, 1, READAHEAD_FILES);
	nanosleep(&(struct timespec){ 0, 200000000L }, NULL);
	CHECK_INT(total(), 0);
	/* Two neighbours: the next four accounts' files, and no months. */
	readahead_visit(ra, 2, READAHEAD_FILES);
	settle(8);
	CHECK_INT(count(OBJ_ACCOUNT, 3, 6), 4);
	CHECK_INT(count(OBJ_SUB_LIST, 3, 6), 4);
	CHECK_INT(count(OBJ_TX_RANGE, 1, 40), 0);
	/* The walk reads a transactions folder: its next accounts' ranges too. */
	reset();
	readahead_visit(ra, 3, READAHEAD_MONTHS);
	readahead_visit(ra, 4, READAHEAD_FILES);
	settle(4); /* 7 and 8: files (3 to 6 are cached) and ranges */
	CHECK_INT(count(OBJ_TX_RANGE, 7, 8), 2);
	/* A new walk elsewhere starts without months. */
	reset();
	readahead_visit(ra, 20, READAHEAD_FILES);
	readahead_visit(ra, 21, READAHEAD_FILES);
	settle(8);
	CHECK_INT(count(OBJ_ACCOUNT, 22, 25), 4);
	CHECK_INT(count(OBJ_TX_RANGE, 20, 40), 0);

	/* The reader stops: after a second without visits, what is queued is
	 * dropped; only what the two fetchers already took goes out. */
	reset();
	atomic_store(&gate_open, false);
	readahead_visit(ra, 30, READAHEAD_FILES);
	readahead_visit(ra, 31, READAHEAD_FILES); /* queues 8: 32-35, files */
	settle(2);                                /* both fetchers are held */
	fake_clock_advance_ms(&fake, 1500);
	atomic_store(&gate_open, true);
	settle(2);
	CHECK_INT(total(), 2);
	CHECK(readahead_dropped(ra) >= 6);
	/* The reader goes on: what was dropped is queued again. */
	reset();
	readahead_visit(ra, 32, READAHEAD_FILES);
	settle(8);
	CHECK_INT(count(OBJ_ACCOUNT, 33, 36), 4);
	readahead_stop(ra);
	cache_free(c);
	clock_use_fake(NULL);
	return check_report("readahead");
}
