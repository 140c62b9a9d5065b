/* cache.h - API objects kept for a TTL, fetched once however many ask.
 *
 * Every object the tree shows (the account listing, an account, a
 * sub-account listing) comes through cache_get().  A fresh value is served
 * from memory; otherwise exactly one caller fetches while every other caller
 * of the same key waits and shares that result or that error (single-flight).
 * Time is clock.h's, which tests move by hand.
 *
 * Memory is bounded by max_bytes: past it, the least recently used values
 * are dropped first, keeping a small record of their versions so a refetch
 * of unchanged content keeps its mtime; past that, whole entries go. */
#ifndef SEPAYFS_CACHE_H
#define SEPAYFS_CACHE_H

#include "diskcache.h"
#include "keys.h"
#include "snapshot.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fetches the object a key names.  Returns 0 and a new snapshot, or an errno. */
typedef int (*cache_fetch_fn)(void *ctx, const struct obj_key *key, struct snapshot **out);

struct cache_config {
	uint64_t ttl_ms;          /* how long a value is served without asking again */
	/* A TTL per key and value (its fetch time, what it records),
	 * overriding ttl_ms where given (may be NULL; value may be NULL).
	 * Called with the cache's lock held: it must not call the cache. */
	uint64_t (*ttl_for)(void *ctx, const struct obj_key *key, const struct snapshot *value);
	void *ttl_ctx;
	/* Called at the start of each cache_get, unlocked (may be NULL): lets
	 * the owner first refresh what the key's freshness depends on (the
	 * account list its ttl_for follows).  It may call cache_get for other
	 * keys; ctx: ttl_ctx. */
	void (*prepare)(void *ctx, const struct obj_key *key);
	uint64_t negative_ttl_ms; /* how long an ENOENT is remembered; 0: not at all */
	/* How long a refusal (EPERM: a 403; EACCES: a 401 a new token did not
	 * cure) is remembered: the value held is not served meanwhile, and no
	 * request asks again.  0: not at all. */
	uint64_t refusal_ttl_ms;
	size_t max_bytes;         /* memory held at most, least recently used first out; 0: no cap */
	/* Values whose bytes are kept in files (busy months, snapshot.h):
	 * their bytes there, and their number (each holds a file open), at
	 * most; least recently used first out.  0: no cap. */
	uint64_t max_file_bytes;
	size_t max_file_values;
	uint64_t stale_if_error_ms; /* past the TTL, serve the last value this much longer
				     * when a refresh fails for a passing reason; 0: never */
	/* Names a key in log lines ("/bank-accounts/19"); may be NULL. */
	void (*describe)(const struct obj_key *key, char *buf, size_t size);
	/* A number that moves whenever the token does (NULL: never): a
	 * remembered 401 (EACCES) stands only while it has not moved. */
	uint64_t (*token_epoch)(void *ctx);
	void *token_epoch_ctx;
	cache_fetch_fn fetch;
	void *fetch_ctx;
	/* Values on disk, from earlier mounts too (may be NULL).  A value from
	 * disk is fresh when its fetch time, on the wall clock, is within its
	 * TTL and after the last cache_expire_all(), this mount's or, as the
	 * disk recorded it, an earlier one's. */
	struct disk_cache *disk;
};

struct cache_stats {
	uint64_t hits;     /* answered from memory */
	uint64_t misses;   /* started a fetch */
	uint64_t shared;   /* waited for another caller's fetch */
	uint64_t errors;   /* fetches that failed */
	uint64_t evictions;
	uint64_t stale_served; /* values served past their TTL after a failed refresh */
	uint64_t disk_hits;    /* fresh values read from disk */
	size_t bytes;      /* held by cached values and their bookkeeping */
	size_t entries;
	uint64_t file_bytes;  /* of values kept in files */
	size_t file_values;
};

struct cache;

struct cache *cache_new(const struct cache_config *cfg);
void cache_free(struct cache *c);

/* 0 and a reference the caller must snapshot_unref(), or an errno. */
int cache_get(struct cache *c, const struct obj_key *key, struct snapshot **out);

/* Whether key's value is fresh, in memory or (loaded into memory) on
 * disk; asks the API nothing. */
bool cache_fresh(struct cache *c, const struct obj_key *key);

/* Stores a value fetched along with another (a range of months): as if
 * cache_get had fetched it now, mtimes carried over and written to disk.
 * Takes a reference.  Skipped while a fetch of key is under way. */
void cache_put(struct cache *c, const struct obj_key *key, struct snapshot *value);

/* The value held for key without any request: a reference or NULL.  With
 * fresh_only, a value past its TTL counts as absent; a refused one always
 * does. */
struct snapshot *cache_peek(struct cache *c, const struct obj_key *key, bool fresh_only);
/* EPERM or EACCES while the API's refusal of key is remembered, else 0. */
int cache_refusal(struct cache *c, const struct obj_key *key);

/* Everything held becomes stale: the next cache_get of each key fetches.
 * A fetch already under way when this is called does not make its result
 * fresh again.  Recorded on disk: what the disk holds stays stale after a
 * remount. */
void cache_expire_all(struct cache *c);

void cache_get_stats(struct cache *c, struct cache_stats *out);

/* Told, outside the cache's lock and on the thread that stored it, that a
 * fetch or a put gave key a new value: fresh, and the value it replaced
 * (NULL when none was in memory); or, with fresh NULL, that the API now
 * refuses key (refusal_ttl_ms).  The tree uses it to drop what the kernel
 * caches of versions a refresh replaced or access took away.  Set before
 * any thread uses the cache (NULL: nobody is told). */
typedef void (*cache_replaced_fn)(void *ctx, const struct obj_key *key, struct snapshot *old,
				  struct snapshot *fresh);
void cache_on_replace(struct cache *c, cache_replaced_fn fn, void *ctx);

/* From now on values come from and go to this disk cache (NULL: none):
 * another user's, after a new log-in.  The old one stays open for the
 * caller to close once no thread can be using it (at unmount). */
void cache_set_disk(struct cache *c, struct disk_cache *disk);


#endif
