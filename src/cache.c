/* cache.c - TTL cache with single-flight fetches and an LRU byte budget. */
#include "cache.h"

#include "clock.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cache_entry {
	struct hnode node;
	struct cache_entry *newer, *older;  /* LRU list: head is most recent */
	struct obj_key key;
	struct snapshot *value;             /* the newest good value, fresh or not */
	struct snapshot_versions *versions; /* of the newest good value, kept past eviction */
	int64_t fetched_ms;                 /* when value was fetched, monotonic; before
					     * boot (negative) for old values from disk */
	uint64_t epoch;                     /* cache epoch value belongs to; older = stale */
	int error;                          /* remembered ENOENT, or 0 */
	uint64_t error_until_ms;
	uint64_t token_epoch;               /* of a remembered EACCES (cache_config) */
	bool fetching;
	uint64_t fetches_done;              /* waiters watch this move */
	int last_result;                    /* of the fetch that finished last */
	unsigned users;                     /* threads using the entry across an unlock */
	size_t cost;                        /* bytes charged to the budget */
	uint64_t file_cost;                 /* bytes of the value kept in files */
};

struct cache {
	struct cache_config cfg;
	/* cfg.disk, until another user's token brings another (cache_set_disk). */
	_Atomic(struct disk_cache *) disk;
	pthread_mutex_t lock;
	pthread_cond_t fetched;   /* broadcast whenever any fetch finishes */
	struct htab entries;
	struct cache_entry *newest, *oldest;
	uint64_t epoch;           /* cache_expire_all() moves it */
	uint64_t expired_wall_ms; /* and when it last did */
	struct cache_stats stats;
	cache_replaced_fn replaced;
	void *replaced_ctx;
};

static struct disk_cache *disk_of(struct cache *c)
{
	return atomic_load(&c->disk);
}

void cache_set_disk(struct cache *c, struct disk_cache *disk)
{
	atomic_store(&c->disk, disk);
}

void cache_on_replace(struct cache *c, cache_replaced_fn fn, void *ctx)
{
	c->replaced = fn;
	c->replaced_ctx = ctx;
}

/* What a store replaced (or a refusal took away), told once the lock is
 * let go. */
struct replacement {
	bool pending;
	struct obj_key key;
	struct snapshot *old, *fresh; /* references; fresh NULL: refused */
};

static void replacement_take(struct cache *c, struct replacement *r, const struct cache_entry *e,
			     struct snapshot *fresh)
{
	if (!c->replaced)
		return;
	r->pending = true;
	r->key = e->key;
	r->old = e->value ? snapshot_ref(e->value) : NULL;
	r->fresh = fresh ? snapshot_ref(fresh) : NULL;
}

static void replacement_tell(struct cache *c, struct replacement *r)
{
	if (!r->pending)
		return;
	c->replaced(c->replaced_ctx, &r->key, r->old, r->fresh);
	snapshot_unref(r->old);
	snapshot_unref(r->fresh);
}

struct cache *cache_new(const struct cache_config *cfg)
{
	struct cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	atomic_init(&c->disk, cfg->disk);
	/* A SIGHUP of an earlier mount made stale what the disk held then. */
	if (cfg->disk)
		c->expired_wall_ms = disk_cache_expired_ms(cfg->disk);
	if (htab_init(&c->entries) != 0) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->fetched, NULL);
	return c;
}

static void entry_free(struct cache_entry *e)
{
	snapshot_unref(e->value);
	free(e->versions);
	free(e);
}

static void entry_free_node(struct hnode *node, void *arg)
{
	(void)arg;
	entry_free((struct cache_entry *)node);
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	htab_foreach(&c->entries, entry_free_node, NULL);
	htab_destroy(&c->entries);
	pthread_cond_destroy(&c->fetched);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static bool entry_matches(const struct hnode *node, const void *key)
{
	return obj_key_equal(&((const struct cache_entry *)node)->key, key);
}

static void lru_unlink(struct cache *c, struct cache_entry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push_newest(struct cache *c, struct cache_entry *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest)
		c->newest->newer = e;
	c->newest = e;
	if (!c->oldest)
		c->oldest = e;
}

static void entry_touch(struct cache *c, struct cache_entry *e)
{
	if (c->newest != e) {
		lru_unlink(c, e);
		lru_push_newest(c, e);
	}
}

/* Charges the entry's current size to the budget. */
static void entry_recharge(struct cache *c, struct cache_entry *e)
{
	size_t cost = sizeof(*e);
	if (e->value)
		cost += snapshot_size(e->value);
	if (e->versions)
		cost += snapshot_versions_size(e->versions);
	c->stats.bytes = c->stats.bytes - e->cost + cost;
	e->cost = cost;
	uint64_t file_cost = e->value ? snapshot_file_bytes(e->value) : 0;
	c->stats.file_bytes = c->stats.file_bytes - e->file_cost + file_cost;
	c->stats.file_values = c->stats.file_values - (e->file_cost > 0) + (file_cost > 0);
	e->file_cost = file_cost;
}

static struct cache_entry *entry_get(struct cache *c, const struct obj_key *key)
{
	struct cache_entry *e = (struct cache_entry *)htab_find(&c->entries, obj_key_hash(key),
								 entry_matches, key);
	if (e) {
		entry_touch(c, e);
		return e;
	}
	if (!(e = calloc(1, sizeof(*e))))
		return NULL;
	e->key = *key;
	htab_insert(&c->entries, &e->node, obj_key_hash(key));
	lru_push_newest(c, e);
	c->stats.entries++;
	entry_recharge(c, e);
	return e;
}

static void entry_remove(struct cache *c, struct cache_entry *e)
{
	htab_remove(&c->entries, &e->node);
	lru_unlink(c, e);
	c->stats.entries--;
	c->stats.bytes -= e->cost;
	c->stats.file_bytes -= e->file_cost;
	c->stats.file_values -= e->file_cost > 0;
	entry_free(e);
}

static bool entry_busy(const struct cache_entry *e)
{
	return e->fetching || e->users;
}

/* An entry that remembers nothing is not worth its memory. */
static void entry_drop_if_empty(struct cache *c, struct cache_entry *e)
{
	if (!entry_busy(e) && !e->value && !e->versions && !e->error)
		entry_remove(c, e);
}

/* Over budget: drop the bytes of the least recently used values first, and
 * only when that is not enough, whole entries with their version records.
 * The entry used last stays, so an object larger than the budget is
 * served from memory while it is the one being read. */
static bool files_over(const struct cache *c)
{
	return (c->cfg.max_file_bytes && c->stats.file_bytes > c->cfg.max_file_bytes) ||
	       (c->cfg.max_file_values && c->stats.file_values > c->cfg.max_file_values);
}

/* Values kept in files take no memory but disk and an open file each: past
 * their own bounds the least recently used of them go (the entry used
 * last, as below, stays). */
static void evict_files(struct cache *c)
{
	for (struct cache_entry *e = c->oldest; e && files_over(c); e = e->newer) {
		if (e->file_cost && !entry_busy(e) && e != c->newest) {
			snapshot_unref(e->value);
			e->value = NULL;
			entry_recharge(c, e);
			c->stats.evictions++;
		}
	}
}

static void evict(struct cache *c)
{
	evict_files(c);
	if (!c->cfg.max_bytes)
		return;
	for (int pass = 0; pass < 2; pass++) {
		struct cache_entry *e = c->oldest;
		while (c->stats.bytes > c->cfg.max_bytes && e) {
			struct cache_entry *newer = e->newer;
			if (entry_busy(e) || e == c->newest) {
				/* in use (the newest is the one just read or
				 * stored): kept whatever the budget, or an object
				 * over it would be fetched again for every batch */
			} else if (e->value) {
				snapshot_unref(e->value);
				e->value = NULL;
				entry_recharge(c, e);
				c->stats.evictions++;
			} else if (pass == 1) {
				entry_remove(c, e);
			}
			e = newer;
		}
	}
}

static uint64_t wall_ms_of(struct timespec t)
{
	return t.tv_sec > 0 ? (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000 : 0;
}

static uint64_t ttl_of(const struct cache *c, const struct obj_key *key, const struct snapshot *s)
{
	return c->cfg.ttl_for ? c->cfg.ttl_for(c->cfg.ttl_ctx, key, s) : c->cfg.ttl_ms;
}

static uint64_t entry_ttl(const struct cache *c, const struct cache_entry *e)
{
	return ttl_of(c, &e->key, e->value);
}

static bool entry_fresh(const struct cache *c, const struct cache_entry *e, uint64_t now)
{
	return e->value && e->epoch == c->epoch &&
	       (uint64_t)((int64_t)now - e->fetched_ms) < entry_ttl(c, e);
}

static uint64_t token_epoch(const struct cache *c)
{
	return c->cfg.token_epoch ? c->cfg.token_epoch(c->cfg.token_epoch_ctx) : 0;
}

static bool entry_error_fresh(const struct cache *c, const struct cache_entry *e, uint64_t now)
{
	/* A 401 is about the token, not the object: a new token (a new
	 * log-in written to the file) ends it at once. */
	return e->error && e->epoch == c->epoch && now < e->error_until_ms &&
	       (e->error != EACCES || e->token_epoch == token_epoch(c));
}

/* The API said no (403, or a 401 a new token did not cure): what is held
 * is not served, by cache_get or cache_peek, until the refusal passes. */
static bool is_refusal(int rc)
{
	return rc == EPERM || rc == EACCES;
}

static bool entry_refused(const struct cache *c, const struct cache_entry *e, uint64_t now)
{
	return is_refusal(e->error) && entry_error_fresh(c, e, now);
}

/* A failure that says nothing about the object itself (the server or the
 * network had trouble) may be covered by the last value, for a while. */
static bool stale_usable(const struct cache *c, const struct cache_entry *e, int rc, uint64_t now)
{
	bool passing = rc == EIO || rc == ETIMEDOUT || rc == EAGAIN;
	return passing && e->value && c->cfg.stale_if_error_ms &&
	       (uint64_t)((int64_t)now - e->fetched_ms) < entry_ttl(c, e) + c->cfg.stale_if_error_ms;
}

static void entry_store(struct cache *c, struct cache_entry *e, struct snapshot *fresh,
			uint64_t epoch, uint64_t now)
{
	snapshot_carry_over(fresh, e->versions);
	struct snapshot_versions *versions = snapshot_versions_of(fresh);
	if (versions) { /* without memory for it, the older record still serves */
		free(e->versions);
		e->versions = versions;
	}
	snapshot_unref(e->value);
	e->value = fresh;
	e->fetched_ms = (int64_t)now;
	e->epoch = epoch; /* from before an expire_all: stale on arrival */
	e->error = 0;
	entry_recharge(c, e);
}

/* A value kept in an unlinked file of its own (a month built larger than
 * memory may hold) is on disk twice once its entry is written: it is read
 * back as a blob of the entry's file (the same bytes and times) and takes
 * the place of what was stored, unless something replaced that meanwhile,
 * so the unlinked file goes with its last reader. */
static void swap_to_entry(struct cache *c, const struct obj_key *key, struct snapshot *stored)
{
	struct snapshot *entry = disk_cache_load(disk_of(c), key);
	if (!entry)
		return;
	pthread_mutex_lock(&c->lock);
	struct cache_entry *e = (struct cache_entry *)htab_find(&c->entries, obj_key_hash(key),
								 entry_matches, key);
	/* Another mount may have written the entry meanwhile: only the same
	 * version takes the place of what was stored. */
	bool same = e && e->value == stored && !e->fetching && stored->file && entry->file &&
		    entry->file->file && version_same_bytes(&entry->file->v, &stored->file->v) &&
		    entry->file->v.mtime.tv_sec == stored->file->v.mtime.tv_sec &&
		    entry->file->v.mtime.tv_nsec == stored->file->v.mtime.tv_nsec;
	if (same) {
		entry->fetched = stored->fetched;
		snapshot_unref(e->value);
		e->value = entry;
		entry = NULL;
		entry_recharge(c, e);
	}
	pthread_mutex_unlock(&c->lock);
	snapshot_unref(entry);
}

/* Writes a value just stored to disk (the file I/O outside the cache's
 * lock), and lets go of the reference taken for it; NULL: nothing to do. */
static void persist_unlocked(struct cache *c, const struct obj_key *key, struct snapshot *value)
{
	if (!value)
		return;
	disk_cache_store(disk_of(c), key, value);
	if (snapshot_file_bytes(value))
		swap_to_entry(c, key, value);
	snapshot_unref(value);
}

/* A value read from disk becomes the entry's value, dated by its age on
 * the wall clock: fresh if that is within its TTL and after the last
 * cache_expire_all(), and not outdated (an older disk format); stale
 * otherwise (its version records still keep the
 * mtimes of unchanged content, and stale_if_error may still serve it). */
static void entry_adopt(struct cache *c, struct cache_entry *e, struct snapshot *loaded,
			uint64_t now)
{
	uint64_t wall = clock_wall_ms();
	uint64_t fetched = wall_ms_of(loaded->fetched);
	uint64_t age = wall > fetched ? wall - fetched : 0;
	bool fresh = !loaded->outdated && fetched <= wall && fetched >= c->expired_wall_ms &&
		     age < ttl_of(c, &e->key, loaded);
	free(e->versions);
	e->versions = snapshot_versions_of(loaded);
	snapshot_unref(e->value);
	e->value = loaded;
	/* Its age, even when older than the monotonic clock (a reboot). */
	e->fetched_ms = (int64_t)now - (int64_t)(age < INT64_MAX / 2 ? age : INT64_MAX / 2);
	e->epoch = fresh ? c->epoch : c->epoch - 1; /* any other epoch is stale */
	e->error = 0;
	if (fresh)
		c->stats.disk_hits++;
	entry_recharge(c, e);
}

/* An answer that failed: remembered as the errno for a while when it is an
 * absence or a refusal, or the older value served when the failure is one a
 * stale copy may cover. Returns the result the caller sees. */
static int entry_fetch_failed(struct cache *c, struct cache_entry *e, const struct obj_key *key,
			      int rc, uint64_t epoch, uint64_t now, struct snapshot **out,
			      struct replacement *told)
{
	c->stats.errors++;
	if (rc == ENOENT && c->cfg.negative_ttl_ms) {
		e->error = rc;
		e->error_until_ms = now + c->cfg.negative_ttl_ms;
		e->epoch = epoch;
	} else if (is_refusal(rc) && c->cfg.refusal_ttl_ms) {
		/* The value stays for its version records (the times of bytes
		 * seen before, when access comes back), but is not served. */
		e->error = rc;
		e->error_until_ms = now + c->cfg.refusal_ttl_ms;
		e->epoch = epoch;
		e->token_epoch = token_epoch(c);
		replacement_take(c, told, e, NULL);
	} else if (stale_usable(c, e, rc, now)) {
		c->stats.stale_served++;
		char what[128] = "an object";
		if (c->cfg.describe)
			c->cfg.describe(key, what, sizeof(what));
		log_warn("serving %s as fetched %.0f s ago: its refresh failed (%s)", what,
			 (double)((int64_t)now - e->fetched_ms) / 1000.0, strerror(rc));
		*out = snapshot_ref(e->value);
		rc = 0;
	}
	return rc;
}

/* This caller asks: from what an earlier mount kept on disk when memory has
 * nothing and that is fresh, else from the server, with the lock let go while
 * it waits. Called and returns with the lock held; wakes the callers that
 * waited for this answer. */
static int entry_fetch(struct cache *c, struct cache_entry *e, const struct obj_key *key,
		       struct snapshot **out, struct snapshot **persist, struct replacement *told)
{
	e->fetching = true;
	uint64_t epoch = c->epoch;
	uint64_t now;
	int rc;
	bool from_disk = false;
	if (!e->value && disk_of(c)) {
		pthread_mutex_unlock(&c->lock);
		struct snapshot *loaded = disk_cache_load(disk_of(c), key);
		pthread_mutex_lock(&c->lock);
		if (loaded) {
			now = clock_mono_ms();
			entry_adopt(c, e, loaded, now);
			from_disk = entry_fresh(c, e, now);
		}
	}
	if (from_disk) {
		c->stats.hits++;
		*out = snapshot_ref(e->value);
		rc = 0;
	} else {
		struct snapshot *fresh = NULL;
		c->stats.misses++;
		pthread_mutex_unlock(&c->lock);
		rc = c->cfg.fetch(c->cfg.fetch_ctx, key, &fresh);
		pthread_mutex_lock(&c->lock);
		now = clock_mono_ms();
		if (rc == 0) {
			replacement_take(c, told, e, fresh);
			entry_store(c, e, fresh, epoch, now);
			*out = snapshot_ref(e->value);
			if (disk_of(c))
				*persist = snapshot_ref(e->value);
		} else {
			rc = entry_fetch_failed(c, e, key, rc, epoch, now, out, told);
		}
	}
	e->fetching = false;
	e->last_result = rc; /* waiters share a stale value too: rc 0, e->value */
	e->fetches_done++;
	pthread_cond_broadcast(&c->fetched);
	return rc;
}

int cache_get(struct cache *c, const struct obj_key *key, struct snapshot **out)
{
	*out = NULL;
	if (c->cfg.prepare)
		c->cfg.prepare(c->cfg.ttl_ctx, key);
	struct snapshot *persist = NULL; /* written to disk once unlocked */
	struct replacement told = { .pending = false };
	pthread_mutex_lock(&c->lock);
	struct cache_entry *e = entry_get(c, key);
	if (!e) {
		pthread_mutex_unlock(&c->lock);
		return ENOMEM;
	}

	uint64_t now = clock_mono_ms();
	int rc;
	if (entry_fresh(c, e, now)) {
		c->stats.hits++;
		*out = snapshot_ref(e->value);
		rc = 0;
	} else if (entry_error_fresh(c, e, now)) {
		c->stats.hits++;
		rc = e->error;
	} else if (e->fetching) {
		/* Someone is already asking: wait for that answer and share it. */
		c->stats.shared++;
		e->users++;
		uint64_t seen = e->fetches_done;
		while (e->fetches_done == seen)
			pthread_cond_wait(&c->fetched, &c->lock);
		e->users--;
		rc = e->last_result;
		if (rc == 0)
			*out = snapshot_ref(e->value);
	} else {
		rc = entry_fetch(c, e, key, out, &persist, &told);
	}
	entry_drop_if_empty(c, e);
	evict(c);
	pthread_mutex_unlock(&c->lock);
	persist_unlocked(c, key, persist);
	replacement_tell(c, &told);
	return rc;
}

bool cache_fresh(struct cache *c, const struct obj_key *key)
{
	pthread_mutex_lock(&c->lock);
	struct cache_entry *e = entry_get(c, key);
	bool fresh = e && entry_fresh(c, e, clock_mono_ms());
	if (e && !fresh && !e->value && !e->fetching && disk_of(c)) {
		/* As cache_get would look: what an earlier mount kept on disk.
		 * The entry is held (users) but not claimed: a fetch that
		 * starts meanwhile goes on, and wins. */
		e->users++;
		pthread_mutex_unlock(&c->lock);
		struct snapshot *loaded = disk_cache_load(disk_of(c), key);
		pthread_mutex_lock(&c->lock);
		e->users--;
		if (loaded && !e->value && !e->fetching) {
			uint64_t now = clock_mono_ms();
			entry_adopt(c, e, loaded, now);
			fresh = entry_fresh(c, e, now);
		} else {
			snapshot_unref(loaded);
		}
	}
	if (e) {
		entry_drop_if_empty(c, e);
		evict(c);
	}
	pthread_mutex_unlock(&c->lock);
	return fresh;
}

/* With the lock held, an entry that remembers no version of its value
 * (nothing of it in memory since the mount) takes the version records of
 * its disk entry, so that a value stored without a fetch of its own (a
 * month of a range) keeps the times of the bytes seen before.  Unlocks
 * meanwhile: the caller holds the entry (users) and looks again. */
static void versions_from_disk(struct cache *c, struct cache_entry *e)
{
	if (e->versions || e->fetching || !disk_of(c))
		return;
	e->users++;
	pthread_mutex_unlock(&c->lock);
	struct snapshot *loaded = disk_cache_load(disk_of(c), &e->key);
	pthread_mutex_lock(&c->lock);
	e->users--;
	if (loaded && !e->versions) {
		e->versions = snapshot_versions_of(loaded);
		entry_recharge(c, e);
	}
	snapshot_unref(loaded);
}

void cache_put(struct cache *c, const struct obj_key *key, struct snapshot *value)
{
	struct snapshot *persist = NULL;
	struct replacement told = { .pending = false };
	pthread_mutex_lock(&c->lock);
	struct cache_entry *e = entry_get(c, key);
	if (e)
		versions_from_disk(c, e);
	/* A fetch of this key under way answers its own waiters; ours would
	 * only race it. */
	if (e && !e->fetching) {
		/* A value from before the last cache_expire_all() is stale. */
		uint64_t epoch = wall_ms_of(value->fetched) < c->expired_wall_ms ? c->epoch - 1
										 : c->epoch;
		replacement_take(c, &told, e, value);
		entry_store(c, e, snapshot_ref(value), epoch, clock_mono_ms());
		if (disk_of(c))
			persist = snapshot_ref(e->value);
		entry_drop_if_empty(c, e);
		evict(c);
	}
	pthread_mutex_unlock(&c->lock);
	persist_unlocked(c, key, persist);
	replacement_tell(c, &told);
}

struct snapshot *cache_peek(struct cache *c, const struct obj_key *key, bool fresh_only)
{
	struct snapshot *s = NULL;
	pthread_mutex_lock(&c->lock);
	struct cache_entry *e = (struct cache_entry *)htab_find(&c->entries, obj_key_hash(key),
								 entry_matches, key);
	uint64_t now = clock_mono_ms();
	if (e && e->value && !entry_refused(c, e, now) && (!fresh_only || entry_fresh(c, e, now)))
		s = snapshot_ref(e->value);
	pthread_mutex_unlock(&c->lock);
	return s;
}

int cache_refusal(struct cache *c, const struct obj_key *key)
{
	pthread_mutex_lock(&c->lock);
	struct cache_entry *e = (struct cache_entry *)htab_find(&c->entries, obj_key_hash(key),
								 entry_matches, key);
	int rc = e && entry_refused(c, e, clock_mono_ms()) ? e->error : 0;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void cache_expire_all(struct cache *c)
{
	pthread_mutex_lock(&c->lock);
	c->epoch++;
	uint64_t now = c->expired_wall_ms = clock_wall_ms();
	pthread_mutex_unlock(&c->lock);
	/* Stale after a remount too (the file I/O outside the lock). */
	if (disk_of(c))
		disk_cache_record_expiry(disk_of(c), now);
}

void cache_get_stats(struct cache *c, struct cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
}
