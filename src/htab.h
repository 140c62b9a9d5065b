/* htab.h - an intrusive chained hash table.
 *
 * Callers embed a struct hnode in their own records and own the records;
 * the table owns only its bucket array.  Not thread-safe: callers lock. */
#ifndef SEPAYFS_HTAB_H
#define SEPAYFS_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct hnode {
	struct hnode *next;
	uint64_t hash;
};

struct htab {
	struct hnode **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
};

typedef bool (*htab_match_fn)(const struct hnode *node, const void *arg);

int htab_init(struct htab *t);
void htab_destroy(struct htab *t);
/* Inserting never fails: when the table cannot grow it just gets longer chains. */
void htab_insert(struct htab *t, struct hnode *node, uint64_t hash);
struct hnode *htab_find(const struct htab *t, uint64_t hash, htab_match_fn match,
			const void *arg);
/* The next node after `after` (found by htab_find or this) that matches:
 * every node of a key, where a key may have several. */
struct hnode *htab_find_next(const struct htab *t, const struct hnode *after, htab_match_fn match,
			     const void *arg);
void htab_remove(struct htab *t, struct hnode *node);
/* Visits every node; fn may remove the node it is given. */
void htab_foreach(struct htab *t, void (*fn)(struct hnode *node, void *arg), void *arg);

/* A 64-bit mixer (splitmix64's finalizer) for building hashes from integers.
 * Inode numbers are made with it (inodes.c): changing it renumbers every
 * file a backup has seen. */
static inline uint64_t hash_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* FNV-1a over bytes: content identity and damage checks, not security.
 * Stored on disk (cache entries, folder names): it must not change. */
#define HASH_BYTES_START 0xcbf29ce484222325ULL

/* The hash of what came before (h, HASH_BYTES_START at first) and these
 * bytes: a file hashed piece by piece as it is written or read. */
static inline uint64_t hash_bytes_more(uint64_t h, const void *bytes, size_t len)
{
	const unsigned char *p = bytes;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static inline uint64_t hash_bytes(const void *bytes, size_t len)
{
	return hash_bytes_more(HASH_BYTES_START, bytes, len);
}

static inline uint64_t hash_text(const char *s)
{
	return hash_bytes(s, strlen(s));
}

#endif
