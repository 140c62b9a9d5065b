/* diskcache.h - the object cache on disk, so a remount or a reboot starts warm.
 *
 * One folder per cache identity (the API's base URL and who the token
 * belongs to) under the cache folder, one file per object (diskformat.h),
 * written to a private temporary file and renamed into place, so readers
 * see a whole old entry or a whole new one, never a mix.  Two mounts may
 * share a folder.
 *
 * Safe under a root daemon: the cache folder is opened once, from /, below
 * folders no other user could swap (safedir.h), and everything happens
 * below its descriptor and the identity folder's, never through a symbolic
 * link.  Private: folders 0700 and files 0600, owned by the user; a cache
 * folder others may enter is refused.
 *
 * Bounded: max_bytes is the disk the files in the whole cache folder take,
 * every identity's, counted in allocated blocks (what du shows; the
 * folders' own blocks aside).
 * Past it, the entries used least recently go first, at open and whenever
 * stores take the folder over it; an identity folder no mount has used for
 * longer than unused_s is removed at open.
 *
 * Every failure past opening is a miss, never an error the user sees. */
#ifndef SEPAYFS_DISKCACHE_H
#define SEPAYFS_DISKCACHE_H

#include "keys.h"
#include "snapshot.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/statvfs.h>
#include <time.h>

struct disk_cache;

/* Why disk_cache_open() gave no cache. */
enum disk_cache_failure {
	/* The disk's fault (read-only, full, no permission, a file that cannot
	 * be written), or a folder on the way that another user could swap:
	 * the mount goes on with memory only. */
	DISK_CACHE_OFF,
	/* The cache folder is another user's or open to others: bank data
	 * must not go there, and the mount is refused. */
	DISK_CACHE_NOT_PRIVATE,
};

/* Opens (making them 0700 if needed) root and root/<identity>, takes the
 * identity folder's time of first use (disk_cache_born) and last SIGHUP
 * (disk_cache_expired_ms), removes identity folders unused for longer than
 * unused_s (0: none), and trims the folder to max_bytes (0: no cap).  NULL
 * with why and *failure set when the cache cannot be used. */
struct disk_cache *disk_cache_open(const char *root, const char *identity, uint64_t max_bytes,
				   uint64_t unused_s, enum disk_cache_failure *failure, char *why,
				   size_t why_size);
void disk_cache_close(struct disk_cache *d);

/* What the file system says of the cache folder fd: fstatvfs(2), or a
 * test's answers. */
typedef int (*disk_cache_room_fn)(int fd, struct statvfs *st);
/* The budget disk_cache_open was given is a default, not the user's
 * choice: bounds it by the file system's room, at most a quarter of what
 * the cache could have (the space free to users, with what the whole
 * cache folder takes now), trims to it, and logs the budget and why.
 * room NULL: fstatvfs.  The budget now in force. */
uint64_t disk_cache_fit_room(struct disk_cache *d, disk_cache_room_fn room);

/* The stored snapshot of key (refs = 1, its fetched time set), or NULL: a
 * miss, whether absent, damaged, truncated or foreign. */
struct snapshot *disk_cache_load(struct disk_cache *d, const struct obj_key *key);
/* Stores s as key's entry.  A failure (disk full, read-only) is logged
 * once and otherwise ignored: memory still serves. */
void disk_cache_store(struct disk_cache *d, const struct obj_key *key, const struct snapshot *s);
/* Drops every entry (the folder turned out to hold another user's data). */
void disk_cache_wipe(struct disk_cache *d);

/* When this identity's folder was first used: the mtime of directories
 * whose names never change, the same across mounts. */
time_t disk_cache_born(const struct disk_cache *d);

/* The wall-clock time, in ms, of the last SIGHUP recorded by a mount of
 * this identity (0: none): an entry fetched before it is stale. */
uint64_t disk_cache_expired_ms(const struct disk_cache *d);
/* Records a SIGHUP at wall_ms, durably, for later mounts. */
void disk_cache_record_expiry(struct disk_cache *d, uint64_t wall_ms);

/* The folder entries live in, for messages. */
const char *disk_cache_dir(const struct disk_cache *d);
/* Its descriptor, for unlinked files beside the entries (monthbuild.h). */
int disk_cache_dir_fd(const struct disk_cache *d);
/* The disk the files in the whole cache folder take, as far as this
 * mount knows. */
uint64_t disk_cache_bytes(struct disk_cache *d);

#endif
