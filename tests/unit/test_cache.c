/* test_cache.c - TTL on an injected clock, single-flight, shared errors,
 * and mtimes that move only with content. */
#include "cache.h"
#include "clock.h"
#include "check.h"
#include "diskcache.h"
#include "diskformat.h"
#include "htab.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct fake_source {
	atomic_uint fetches;
	int result;            /* errno to return, or 0 */
	const char *content;   /* bytes of the detail file */
	unsigned delay_ms;
	long wall_sec;         /* mtime given to new blobs */
	atomic_bool *gate;     /* if set, a fetch waits until it is true */
};

static int fake_fetch(void *ctx, const struct obj_key *key, struct snapshot **out)
{
	(void)key;
	struct fake_source *src = ctx;
	atomic_fetch_add(&src->fetches, 1);
	struct timespec tick = { 0, 1000000L };
	while (src->gate && !atomic_load(src->gate))
		nanosleep(&tick, NULL);
	if (src->delay_ms) {
		struct timespec ts = { 0, (long)src->delay_ms * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (src->result)
		return src->result;
	struct timespec mtime = { src->wall_sec, 0 };
	struct blob *b = blob_new(src->content, strlen(src->content), mtime);
	*out = snapshot_new_file(b);
	return 0;
}

/* The cache reads clock.h's monotonic clock, milliseconds; tests set it. */
static struct fake_clock test_clock;
static void fake_set(uint64_t ms)
{
	atomic_store(&test_clock.mono_ns, ms * 1000000u);
}

static void fake_advance(uint64_t ms)
{
	fake_clock_advance_ms(&test_clock, ms);
}

static struct cache *make_cache_capped(struct fake_source *src, uint64_t neg_ttl, size_t max_bytes)
{
	struct cache_config cfg = {
		.ttl_ms = 60000, .negative_ttl_ms = neg_ttl, .max_bytes = max_bytes,
		.fetch = fake_fetch, .fetch_ctx = src,
	};
	return cache_new(&cfg);
}

static struct cache *make_cache(struct fake_source *src, uint64_t neg_ttl)
{
	return make_cache_capped(src, neg_ttl, 0);
}

static void test_ttl(void)
{
	struct fake_source src = { .content = "v1", .wall_sec = 100 };
	struct cache *c = make_cache(&src, 0);
	struct obj_key k = { 1, 19, 0 };
	struct snapshot *s;
	fake_set(1000);

	CHECK_INT(cache_get(c, &k, &s), 0);
	CHECK_STR(s->file->bytes, "v1");
	snapshot_unref(s);
	fake_advance(59999); /* still fresh */
	CHECK_INT(cache_get(c, &k, &s), 0);
	snapshot_unref(s);
	CHECK_INT(atomic_load(&src.fetches), 1);

	/* Past the TTL: fetched again; unchanged bytes keep the first mtime. */
	fake_advance(1);
	src.wall_sec = 200;
	CHECK_INT(cache_get(c, &k, &s), 0);
	CHECK_INT(atomic_load(&src.fetches), 2);
	CHECK_INT(s->file->v.mtime.tv_sec, 100);
	snapshot_unref(s);

	/* Changed bytes after the TTL: new content, new mtime. */
	fake_advance(60000);
	src.content = "v2";
	src.wall_sec = 300;
	CHECK_INT(cache_get(c, &k, &s), 0);
	CHECK_STR(s->file->bytes, "v2");
	CHECK_INT(s->file->v.mtime.tv_sec, 300);
	struct snapshot *pinned = s; /* an open file keeps its version */

	/* expire_all makes the next get fetch even within the TTL. */
	cache_expire_all(c);
	src.content = "v3";
	CHECK_INT(cache_get(c, &k, &s), 0);
	CHECK_INT(atomic_load(&src.fetches), 4);
	CHECK_STR(s->file->bytes, "v3");
	CHECK_STR(pinned->file->bytes, "v2");
	snapshot_unref(s);
	snapshot_unref(pinned);

	/* A failed refresh is reported, and the value stays for peeking. */
	fake_advance(60000);
	src.result = EIO;
	CHECK_INT(cache_get(c, &k, &s), EIO);
	CHECK(s == NULL);
	s = cache_peek(c, &k, false);
	CHECK(s && strcmp(s->file->bytes, "v3") == 0);
	snapshot_unref(s);
	CHECK(cache_peek(c, &k, true) == NULL);
	cache_free(c);
}

static void test_negative(void)
{
	struct fake_source src = { .result = ENOENT };
	struct cache *c = make_cache(&src, 5000);
	struct obj_key k = { 2, 404, 0 };
	struct snapshot *s;
	fake_set(1000);
	CHECK_INT(cache_get(c, &k, &s), ENOENT);
	CHECK_INT(cache_get(c, &k, &s), ENOENT);
	CHECK_INT(atomic_load(&src.fetches), 1); /* remembered */
	fake_advance(5000);
	CHECK_INT(cache_get(c, &k, &s), ENOENT);
	CHECK_INT(atomic_load(&src.fetches), 2); /* forgotten after its TTL */
	/* Other errors are not remembered. */
	src.result = EIO;
	struct obj_key k2 = { 2, 500, 0 };
	CHECK_INT(cache_get(c, &k2, &s), EIO);
	CHECK_INT(cache_get(c, &k2, &s), EIO);
	CHECK_INT(atomic_load(&src.fetches), 4);
	cache_free(c);
}

#define READERS 32

struct reader {
	struct cache *cache;
	pthread_barrier_t *start;
	int rc;
	struct snapshot *snap;
};

static void *read_one(void *arg)
{
	struct reader *r = arg;
	struct obj_key k = { 1, 7, 0 };
	pthread_barrier_wait(r->start); /* all ask at once, while one fetch runs */
	r->rc = cache_get(r->cache, &k, &r->snap);
	return NULL;
}

static void run_readers(struct fake_source *src, int expect_rc)
{
	struct cache *c = make_cache(src, 0);
	pthread_t threads[READERS];
	struct reader readers[READERS];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, READERS);
	for (int i = 0; i < READERS; i++) {
		readers[i] = (struct reader){ c, &start, -1, NULL };
		pthread_create(&threads[i], NULL, read_one, &readers[i]);
	}
	/* The fetch is held until every other reader waits on it, however
	 * slowly threads run (valgrind runs one at a time): a fixed delay let
	 * a late reader start a second fetch after an uncached error. */
	struct cache_stats st = { 0 };
	for (int i = 0; i < 10000 && st.shared < READERS - 1; i++) {
		nanosleep(&(struct timespec){ 0, 1000000L }, NULL);
		cache_get_stats(c, &st);
	}
	CHECK_INT(st.shared, READERS - 1);
	atomic_store(src->gate, true);
	for (int i = 0; i < READERS; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&start);
	CHECK_INT(atomic_load(&src->fetches), 1);
	for (int i = 0; i < READERS; i++) {
		CHECK_INT(readers[i].rc, expect_rc);
		if (readers[i].snap) {
			CHECK(readers[i].snap == readers[0].snap); /* one result, shared */
			snapshot_unref(readers[i].snap);
		}
	}
	cache_free(c);
}

static void test_single_flight(void)
{
	fake_set(1000);
	atomic_bool ok_gate = false, failing_gate = false;
	struct fake_source ok = { .content = "shared", .gate = &ok_gate };
	run_readers(&ok, 0);
	struct fake_source failing = { .result = EACCES, .gate = &failing_gate };
	run_readers(&failing, EACCES);
}

/* A byte budget: memory stays under it, least recently used out first,
 * and an evicted object refetched unchanged keeps its mtime. */
static void test_eviction(void)
{
	char big[2000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct fake_source src = { .content = big, .wall_sec = 100 };
	struct cache *c = make_cache_capped(&src, 1000, 64 * 1024);
	struct snapshot *s;
	struct cache_stats st;
	fake_set(1000);
	for (int64_t id = 1; id <= 100; id++) {
		struct obj_key k = { 1, id, 0 };
		CHECK_INT(cache_get(c, &k, &s), 0);
		snapshot_unref(s);
		cache_get_stats(c, &st);
		CHECK(st.bytes <= 64 * 1024);
	}
	CHECK(st.evictions > 0);
	CHECK_INT(atomic_load(&src.fetches), 100);

	/* The newest is still there; the oldest was evicted and is fetched
	 * again, with its first mtime although the wall clock moved on. */
	struct obj_key newest = { 1, 100, 0 }, oldest = { 1, 1, 0 };
	CHECK_INT(cache_get(c, &newest, &s), 0);
	snapshot_unref(s);
	CHECK_INT(atomic_load(&src.fetches), 100);
	src.wall_sec = 999;
	CHECK_INT(cache_get(c, &oldest, &s), 0);
	CHECK_INT(atomic_load(&src.fetches), 101);
	CHECK_INT(s->file->v.mtime.tv_sec, 100);
	snapshot_unref(s);

	/* Negative answers are bounded by the same budget. */
	src.result = ENOENT;
	for (int64_t id = 1000; id < 5000; id++) {
		struct obj_key k = { 2, id, 0 };
		CHECK_INT(cache_get(c, &k, &s), ENOENT);
	}
	cache_get_stats(c, &st);
	CHECK(st.bytes <= 64 * 1024);
	CHECK(st.entries < 4000);
	cache_free(c);

	/* An object larger than the whole budget stays while it is the one in
	 * use: a listing read batch by batch is fetched once, not once a
	 * batch (it was evicted as soon as stored). */
	char huge[8192];
	memset(huge, 'h', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	struct fake_source big_src = { .content = huge, .wall_sec = 100 };
	c = make_cache_capped(&big_src, 1000, 1024);
	struct obj_key listing = { 3, 1, 0 };
	for (int batch = 0; batch < 10; batch++) {
		CHECK_INT(cache_get(c, &listing, &s), 0);
		snapshot_unref(s);
	}
	CHECK_INT(atomic_load(&big_src.fetches), 1);
	/* Once another object is in use, it goes. */
	struct obj_key other = { 3, 2, 0 };
	CHECK_INT(cache_get(c, &other, &s), 0);
	snapshot_unref(s);
	CHECK_INT(cache_get(c, &listing, &s), 0);
	snapshot_unref(s);
	CHECK_INT(atomic_load(&big_src.fetches), 3);
	cache_free(c);

	/* Errors not remembered leave no entry behind. */
	struct fake_source failing = { .result = EIO };
	c = make_cache(&failing, 0);
	for (int64_t id = 1; id <= 50; id++) {
		struct obj_key k = { 3, id, 0 };
		CHECK_INT(cache_get(c, &k, &s), EIO);
	}
	cache_get_stats(c, &st);
	CHECK_INT(st.entries, 0);
	cache_free(c);
}

struct slow_get {
	struct cache *cache;
	int rc;
	struct snapshot *snap;
};

static void *slow_get(void *arg)
{
	struct slow_get *g = arg;
	struct obj_key k = { 1, 5, 0 };
	g->rc = cache_get(g->cache, &k, &g->snap);
	return NULL;
}

/* A flush while a fetch is under way: the fetch's caller gets its answer,
 * but that answer is not fresh for anyone after the flush. */
static void test_flush_during_fetch(void)
{
	atomic_bool gate = false;
	struct fake_source src = { .content = "before", .gate = &gate };
	struct cache *c = make_cache(&src, 0);
	fake_set(1000);
	struct slow_get g = { c, -1, NULL };
	pthread_t t;
	pthread_create(&t, NULL, slow_get, &g);
	/* Flush once the fetch has started; the fetch is held until then. */
	struct timespec tick = { 0, 1000000L };
	while (atomic_load(&src.fetches) == 0)
		nanosleep(&tick, NULL);
	cache_expire_all(c);
	atomic_store(&gate, true);
	pthread_join(t, NULL);
	CHECK_INT(g.rc, 0);
	CHECK_STR(g.snap->file->bytes, "before");
	snapshot_unref(g.snap);
	src.content = "after";
	src.delay_ms = 0;
	struct obj_key k = { 1, 5, 0 };
	struct snapshot *s;
	CHECK_INT(cache_get(c, &k, &s), 0);
	CHECK_STR(s->file->bytes, "after");
	CHECK_INT(atomic_load(&src.fetches), 2);
	snapshot_unref(s);
	cache_free(c);
}

/* A value from disk older than the machine's uptime is as old as it is:
 * stale_if_error does not serve a three-week-old listing after a reboot.
 * A value put after a flush but fetched before it is stale. */
static void test_ages_across_reboots_and_flushes(void)
{
	char root[] = "/tmp/sepayfs-test-cache-age-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	char why[1200];
	enum disk_cache_failure failure;
	atomic_store(&test_clock.wall_ns, 1800000000LL * 1000000000LL);
	struct disk_cache *d = disk_cache_open(root, "age", 1 << 20, 0, &failure, why, sizeof(why));
	CHECK(d != NULL);
	struct obj_key k = { 1, 7, 0 };
	struct snapshot *old = snapshot_new_file(blob_new("old", 3, (struct timespec){ 1, 0 }));
	old->fetched = (struct timespec){ 1800000000 - 21 * 86400, 0 };
	disk_cache_store(d, &k, old);
	snapshot_unref(old);
	fake_set(1000); /* a second after boot */
	struct fake_source failing = { .result = EIO };
	struct cache_config cfg = { .ttl_ms = 60000, .stale_if_error_ms = 3600000,
				    .fetch = fake_fetch, .fetch_ctx = &failing, .disk = d };
	struct cache *c = cache_new(&cfg);
	struct snapshot *s = NULL;
	CHECK_INT(cache_get(c, &k, &s), EIO);
	snapshot_unref(s);

	/* Flushed while a range was under way: what it puts is stale. */
	cache_expire_all(c);
	struct obj_key month = { 4, 7, 202601 };
	struct snapshot *put = snapshot_new_file(blob_new("m", 1, (struct timespec){ 1, 0 }));
	put->fetched = (struct timespec){ 1800000000 - 10, 0 };
	cache_put(c, &month, put);
	snapshot_unref(put);
	CHECK(!cache_fresh(c, &month));
	cache_free(c);
	disk_cache_close(d);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK(system(cmd) == 0);
}

/* A value put without a fetch of its own (a month of a range), into a
 * cache that has nothing of it in memory (a new mount), keeps the times
 * its bytes had on disk: a remount's range moved every month that was not
 * loaded first. */
static void test_put_keeps_times_from_disk(void)
{
	char root[] = "/tmp/sepayfs-test-cache-put-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	char why[1200];
	enum disk_cache_failure failure;
	atomic_store(&test_clock.wall_ns, 1800000000LL * 1000000000LL);
	struct disk_cache *d = disk_cache_open(root, "put", 1 << 20, 0, &failure, why,
					       sizeof(why));
	CHECK(d != NULL);
	struct obj_key month = { 4, 7, 202605 }, other = { 4, 7, 202606 };
	struct snapshot *seen = snapshot_new_file(blob_new("same", 4, (struct timespec){ 100, 0 }));
	seen->fetched = (struct timespec){ 1800000000 - 10, 0 };
	disk_cache_store(d, &month, seen);
	disk_cache_store(d, &other, seen);
	snapshot_unref(seen);
	atomic_store(&test_clock.wall_ns, 1800000000LL * 1000000000LL);
	struct fake_source src = { .content = "x" };
	struct cache_config cfg = { .ttl_ms = 60000, .fetch = fake_fetch, .fetch_ctx = &src,
				    .disk = d };
	struct cache *c = cache_new(&cfg);
	struct snapshot *put = snapshot_new_file(blob_new("same", 4, (struct timespec){ 200, 0 }));
	put->fetched = (struct timespec){ 1800000000, 0 };
	cache_put(c, &month, put);
	snapshot_unref(put);
	put = snapshot_new_file(blob_new("new bytes", 9, (struct timespec){ 200, 0 }));
	put->fetched = (struct timespec){ 1800000000, 0 };
	cache_put(c, &other, put);
	snapshot_unref(put);
	struct snapshot *s = cache_peek(c, &month, true);
	CHECK(s != NULL);
	CHECK_INT(s ? s->file->v.mtime.tv_sec : 0, 100);
	snapshot_unref(s);
	s = cache_peek(c, &other, true);
	CHECK_INT(s ? s->file->v.mtime.tv_sec : 0, 200);
	snapshot_unref(s);
	CHECK_INT(src.fetches, 0);
	cache_free(c);
	/* And on disk, for the next mount. */
	s = disk_cache_load(d, &month);
	CHECK_INT(s ? s->file->v.mtime.tv_sec : 0, 100);
	snapshot_unref(s);
	disk_cache_close(d);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK(system(cmd) == 0);
}

/* Replaces the entry of key in the cache folder dir (identity named
 * identity) with one of disk format 2: the layout of 3 (which
 * disk_entry_encode_as writes) under version word 2, summed again. */
static void entry_as_format_2(const char *dir, const char *identity, const struct obj_key *key,
			      const struct snapshot *s)
{
	size_t len;
	char *bytes = disk_entry_encode_as(key, hash_text(identity), s, 3, &len);
	CHECK(bytes != NULL);
	if (!bytes)
		return;
	bytes[8] = 2;
	uint64_t sum = hash_bytes(bytes, len - 8);
	for (int i = 0; i < 8; i++)
		bytes[len - 8 + i] = (char)(sum >> (8 * i));
	char path[1024];
	snprintf(path, sizeof(path), "%s/%d-%lld-%lld", dir, key->kind, (long long)key->a,
		 (long long)key->b);
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (f) {
		CHECK(fwrite(bytes, 1, len, f) == len);
		fclose(f);
	}
	free(bytes);
}

/* An entry of the disk format before numbers kept their text is not
 * served, though within its TTL: the next look fetches again, and bytes
 * that did not change keep the mtime it recorded. */
static void test_outdated_disk_entry(void)
{
	char root[] = "/tmp/sepayfs-test-cache-format-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	char why[1200];
	enum disk_cache_failure failure;
	atomic_store(&test_clock.wall_ns, 1800000000LL * 1000000000LL);
	struct disk_cache *d = disk_cache_open(root, "format", 1 << 20, 0, &failure, why,
					       sizeof(why));
	CHECK(d != NULL);
	struct obj_key k = { 1, 9, 0 };
	struct snapshot *old = snapshot_new_file(blob_new("same", 4, (struct timespec){ 1000, 0 }));
	atomic_store(&test_clock.wall_ns, 1800000000LL * 1000000000LL);
	old->fetched = (struct timespec){ 1800000000 - 5, 0 };
	entry_as_format_2(disk_cache_dir(d), "format", &k, old);
	snapshot_unref(old);

	struct fake_source src = { .content = "same", .wall_sec = 2000 };
	struct cache_config cfg = { .ttl_ms = 60000, .fetch = fake_fetch, .fetch_ctx = &src,
				    .disk = d };
	struct cache *c = cache_new(&cfg);
	struct snapshot *s = NULL;
	CHECK_INT(cache_get(c, &k, &s), 0);
	CHECK_INT(atomic_load(&src.fetches), 1); /* served from disk before */
	CHECK(s && s->file->v.mtime.tv_sec == 1000);
	snapshot_unref(s);
	/* What it fetched went to disk in this format, its mtime kept. */
	s = disk_cache_load(d, &k);
	CHECK(s && !s->outdated && s->file->v.mtime.tv_sec == 1000);
	snapshot_unref(s);
	cache_free(c);
	disk_cache_close(d);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK(system(cmd) == 0);
}

/* fake_fetch, dated now on the wall clock as objects.c dates a fetch. */
static int dated_fetch(void *ctx, const struct obj_key *key, struct snapshot **out)
{
	int rc = fake_fetch(ctx, key, out);
	if (rc == 0)
		(*out)->fetched = clock_wall();
	return rc;
}

/* A flush outlives the mount: what the disk held before it is stale after
 * a remount, and fetched again; what was fetched after it is not. */
static void test_flush_outlives_the_mount(void)
{
	char root[] = "/tmp/sepayfs-test-cache-flush-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	atomic_store(&test_clock.wall_ns, 1800000000LL * 1000000000LL);
	struct fake_source src = { .content = "before" };
	struct obj_key k = { 1, 9, 0 };
	const char *want[] = { "before", "after", "after" };
	const unsigned fetches[] = { 1, 2, 2 };
	for (int mount = 0; mount < 3; mount++) {
		char why[1200];
		enum disk_cache_failure failure;
		struct disk_cache *d = disk_cache_open(root, "flush", 1 << 20, 0, &failure, why,
						       sizeof(why));
		CHECK(d != NULL);
		struct cache_config cfg = { .ttl_ms = 600000, .fetch = dated_fetch,
					    .fetch_ctx = &src, .disk = d };
		struct cache *c = cache_new(&cfg);
		if (mount == 1)
			src.content = "after";
		struct snapshot *s = NULL;
		CHECK_INT(cache_get(c, &k, &s), 0);
		CHECK_STR(s ? s->file->bytes : NULL, want[mount]);
		CHECK_INT(atomic_load(&src.fetches), fetches[mount]);
		snapshot_unref(s);
		atomic_fetch_add(&test_clock.wall_ns, 1000000000LL);
		if (mount == 0)
			cache_expire_all(c); /* SIGHUP, then unmount */
		cache_free(c);
		disk_cache_close(d);
		atomic_fetch_add(&test_clock.wall_ns, 1000000000LL);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK(system(cmd) == 0);
}

struct told {
	unsigned replaced, refused;
};

static void count_told(void *ctx, const struct obj_key *key, struct snapshot *old,
		       struct snapshot *fresh)
{
	(void)key;
	(void)old;
	struct told *t = ctx;
	if (fresh)
		t->replaced++;
	else
		t->refused++;
}

/* A 403 (EPERM) or a 401 no new token cured (EACCES) is remembered for
 * refusal_ttl_ms: the value held is not served meanwhile, by cache_get or
 * cache_peek, and nothing is asked; the tree is told. */
static void test_refusals_hold_for_what_is_held(void)
{
	fake_set(1000);
	struct fake_source src = { .content = "bytes" };
	struct cache_config cfg = { .ttl_ms = 60000, .refusal_ttl_ms = 60000,
				    .fetch = fake_fetch, .fetch_ctx = &src };
	struct cache *c = cache_new(&cfg);
	struct told told = { 0, 0 };
	cache_on_replace(c, count_told, &told);
	struct obj_key k = { 2, 19, 0 };
	struct snapshot *s;
	CHECK_INT(cache_get(c, &k, &s), 0);
	snapshot_unref(s);
	CHECK_INT(told.replaced, 1);
	fake_advance(61000);
	src.result = EPERM;
	CHECK_INT(cache_get(c, &k, &s), EPERM);
	CHECK_INT(told.refused, 1);
	CHECK(cache_peek(c, &k, false) == NULL);
	CHECK_INT(cache_refusal(c, &k), EPERM);
	unsigned fetches = atomic_load(&src.fetches);
	fake_advance(30000);
	CHECK_INT(cache_get(c, &k, &s), EPERM);
	CHECK_INT(atomic_load(&src.fetches), fetches); /* remembered: not asked again */
	/* Past the window, asked again; access back, the value is served. */
	fake_advance(31000);
	src.result = 0;
	CHECK_INT(cache_refusal(c, &k), 0);
	CHECK_INT(cache_get(c, &k, &s), 0);
	snapshot_unref(s);
	CHECK_INT(atomic_load(&src.fetches), fetches + 1);
	CHECK((s = cache_peek(c, &k, true)) != NULL);
	snapshot_unref(s);
	/* A token refused for good is the same. */
	fake_advance(61000);
	src.result = EACCES;
	CHECK_INT(cache_get(c, &k, &s), EACCES);
	CHECK_INT(cache_refusal(c, &k), EACCES);
	CHECK(cache_peek(c, &k, false) == NULL);
	cache_free(c);
}

int main(void)
{
	clock_use_fake(&test_clock);
	test_flush_outlives_the_mount();
	test_outdated_disk_entry();
	test_ages_across_reboots_and_flushes();
	test_put_keeps_times_from_disk();
	test_refusals_hold_for_what_is_held();
	test_flush_during_fetch();
	test_eviction();
	test_ttl();
	test_negative();
	test_single_flight();
	return check_report("cache");
}
