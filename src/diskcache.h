/* diskcache.h - the object cache on disk, so a remount or a reboot starts warm.
 *
 * One folder per cache identity (the API's base URL and who the token
 * belongs to) under the cache folder, one file per object (diskformat.h),
 * written to a private temporary file and renamed into place, so readers
 * see a whole old entry or a whole new one, never a mix.  Two mounts may
 * share a folder.  Bounded: past max_bytes, the entries used least recently
 * go first.  Private: folders 0700 and files 0600, owned by the user; a
 * folder others may read is refused.  Every failure is a miss, never an
 * error the user sees. */
#ifndef SEPAYFS_DISKCACHE_H
#define SEPAYFS_DISKCACHE_H

#include "keys.h"
#include "snapshot.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct disk_cache;

/* Opens (creating it 0700 if needed) root/<identity>.  NULL with why set
 * when the folder cannot be used: not ours, open to others, not a folder. */
struct disk_cache *disk_cache_open(const char *root, const char *identity, uint64_t max_bytes,
				   char *why, size_t why_size);
void disk_cache_close(struct disk_cache *d);

/* The stored snapshot of key (refs = 1, its fetched time set), or NULL: a
 * miss, whether absent, damaged, truncated or foreign. */
struct snapshot *disk_cache_load(struct disk_cache *d, const struct obj_key *key);
/* Stores s as key's entry.  A failure (disk full, read-only) is logged
 * once and otherwise ignored: memory still serves. */
void disk_cache_store(struct disk_cache *d, const struct obj_key *key, const struct snapshot *s);
/* Drops every entry (the folder turned out to hold another user's data). */
void disk_cache_wipe(struct disk_cache *d);

/* When this folder was first used (made on the first call): the mtime of
 * directories whose names never change, the same across mounts. */
time_t disk_cache_born(struct disk_cache *d);

/* The folder entries live in, for messages. */
const char *disk_cache_dir(const struct disk_cache *d);
uint64_t disk_cache_bytes(struct disk_cache *d);

#endif
