/* cache.c - TTL cache with single-flight fetches. */
#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct cache_entry {
	struct hnode node;
	struct obj_key key;
	struct snapshot *value;   /* the newest good value, fresh or not */
	uint64_t fetched_ms;      /* when value was fetched */
	uint64_t epoch;           /* cache epoch value belongs to; older = stale */
	int error;                /* remembered ENOENT, or 0 */
	uint64_t error_until_ms;
	bool fetching;
	uint64_t fetches_done;    /* waiters watch this move */
	int last_result;          /* of the fetch that finished last */
};

struct cache {
	struct cache_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t fetched;   /* broadcast whenever any fetch finishes */
	struct htab entries;
	uint64_t epoch;           /* cache_expire_all() moves it */
	struct cache_stats stats;
};

uint64_t cache_clock_monotonic_ms(void *unused)
{
	(void)unused;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct cache *cache_new(const struct cache_config *cfg)
{
	struct cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	if (!c->cfg.clock)
		c->cfg.clock = cache_clock_monotonic_ms;
	if (htab_init(&c->entries) != 0) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->fetched, NULL);
	return c;
}

static void entry_free(struct hnode *node, void *arg)
{
	(void)arg;
	struct cache_entry *e = (struct cache_entry *)node;
	snapshot_unref(e->value);
	free(e);
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	htab_foreach(&c->entries, entry_free, NULL);
	htab_destroy(&c->entries);
	pthread_cond_destroy(&c->fetched);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static bool entry_matches(const struct hnode *node, const void *key)
{
	return obj_key_equal(&((const struct cache_entry *)node)->key, key);
}

static struct cache_entry *entry_find(struct cache *c, const struct obj_key *key)
{
	return (struct cache_entry *)htab_find(&c->entries, obj_key_hash(key), entry_matches, key);
}

static bool entry_fresh(const struct cache *c, const struct cache_entry *e, uint64_t now)
{
	return e->value && e->epoch == c->epoch && now - e->fetched_ms < c->cfg.ttl_ms;
}

static bool entry_error_fresh(const struct cache *c, const struct cache_entry *e, uint64_t now)
{
	return e->error && e->epoch == c->epoch && now < e->error_until_ms;
}

static void entry_store(struct cache *c, struct cache_entry *e, struct snapshot *fresh,
			uint64_t epoch, uint64_t now)
{
	snapshot_carry_over(fresh, e->value);
	if (e->value)
		c->stats.bytes -= snapshot_size(e->value);
	snapshot_unref(e->value);
	e->value = fresh;
	c->stats.bytes += snapshot_size(fresh);
	e->fetched_ms = now;
	e->epoch = epoch; /* from before an expire_all: stale on arrival */
	e->error = 0;
}

int cache_get(struct cache *c, const struct obj_key *key, struct snapshot **out)
{
	*out = NULL;
	pthread_mutex_lock(&c->lock);
	struct cache_entry *e = entry_find(c, key);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			pthread_mutex_unlock(&c->lock);
			return ENOMEM;
		}
		e->key = *key;
		htab_insert(&c->entries, &e->node, obj_key_hash(key));
		c->stats.entries++;
	}

	uint64_t now = c->cfg.clock(c->cfg.clock_ctx);
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
		uint64_t seen = e->fetches_done;
		while (e->fetches_done == seen)
			pthread_cond_wait(&c->fetched, &c->lock);
		rc = e->last_result;
		if (rc == 0)
			*out = snapshot_ref(e->value);
	} else {
		c->stats.misses++;
		e->fetching = true;
		uint64_t epoch = c->epoch;
		pthread_mutex_unlock(&c->lock);

		struct snapshot *fresh = NULL;
		rc = c->cfg.fetch(c->cfg.fetch_ctx, key, &fresh);

		pthread_mutex_lock(&c->lock);
		now = c->cfg.clock(c->cfg.clock_ctx);
		if (rc == 0) {
			entry_store(c, e, fresh, epoch, now);
			*out = snapshot_ref(e->value);
		} else {
			c->stats.errors++;
			if (rc == ENOENT && c->cfg.negative_ttl_ms) {
				e->error = rc;
				e->error_until_ms = now + c->cfg.negative_ttl_ms;
				e->epoch = epoch;
			}
		}
		e->fetching = false;
		e->last_result = rc;
		e->fetches_done++;
		pthread_cond_broadcast(&c->fetched);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

struct snapshot *cache_peek(struct cache *c, const struct obj_key *key, bool fresh_only)
{
	struct snapshot *s = NULL;
	pthread_mutex_lock(&c->lock);
	struct cache_entry *e = entry_find(c, key);
	if (e && e->value &&
	    (!fresh_only || entry_fresh(c, e, c->cfg.clock(c->cfg.clock_ctx))))
		s = snapshot_ref(e->value);
	pthread_mutex_unlock(&c->lock);
	return s;
}

void cache_expire_all(struct cache *c)
{
	pthread_mutex_lock(&c->lock);
	c->epoch++;
	pthread_mutex_unlock(&c->lock);
}

void cache_get_stats(struct cache *c, struct cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
}
