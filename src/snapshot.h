/* snapshot.h - immutable, reference-counted results of API requests.
 *
 * A blob is one file's rendered bytes; a snapshot is what one request (or
 * one walk over pages) produced: a detail file, or a listing of ids, each
 * id with an optional file.  Nothing changes a blob or a snapshot after it
 * is built, so an open file can hold a blob while the cache moves on: a
 * refresh between stat and read never mixes two versions. */
#ifndef SEPAYFS_SNAPSHOT_H
#define SEPAYFS_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* What identifies one version of a file's content, without its bytes. */
struct version {
	uint64_t hash;         /* of the bytes */
	size_t len;
	struct timespec mtime; /* when these bytes were first seen */
};

/* An open file holding blobs' bytes: an unlinked temporary file, or a disk
 * cache entry (replacing or removing the entry leaves the open file as it
 * was).  Shared by the blobs in it; closed with the last. */
struct blob_file {
	atomic_uint refs;
	int fd;
};

struct blob {
	atomic_uint refs;
	struct version v;      /* v.mtime may be set until the blob is published */
	struct blob_file *file; /* where the bytes are; NULL: in memory, below */
	uint64_t offset;        /* in file */
	char bytes[];           /* in memory: v.len bytes and a NUL */
};

/* A blob larger than this is kept in a file, not in memory: the budget of
 * memory (cache_max_mb) holds many months, not one busy one. */
#define BLOB_MEMORY_MAX (1u << 20)

struct listing_entry {
	int64_t id;
	struct blob *file; /* NULL where the listing gives names only */
	int32_t since;     /* accounts: the YYYYMM month of created_at, or 0 */
	uint64_t item_hash; /* accounts: a hash of the list item, to tell a change */
};

struct snapshot {
	atomic_uint refs;
	struct blob *file;              /* a detail object, else NULL */
	size_t count;                   /* a listing: entries sorted by id, unique */
	size_t capacity;
	struct listing_entry *entries;
	struct timespec mtime;          /* a listing: when this set of ids was first seen */
	struct timespec fetched;        /* when the request was answered (wall clock) */
	int32_t since;                  /* an account's detail: the YYYYMM of created_at, or 0 */
	uint64_t follows;               /* an account's object: its list item's hash when
					 * it was fetched (0: none known) */
	bool outdated;                  /* read from an older disk format: its version
					 * records hold, but its bytes may be what this
					 * version no longer renders; never fresh */
};

/* Copies len bytes into a new blob with refs = 1.  NULL on ENOMEM. */
struct blob *blob_new(const char *bytes, size_t len, struct timespec mtime);
/* A blob of len bytes at offset in file, whose hash is known (computed as
 * they were written); takes a reference to file.  NULL on ENOMEM. */
struct blob *blob_new_in_file(struct blob_file *file, uint64_t offset, size_t len, uint64_t hash,
			      struct timespec mtime);
struct blob *blob_ref(struct blob *b);
void blob_unref(struct blob *b);
/* Copies up to size of the blob's bytes from off into buf: how many (0 at
 * the end), or -1 with errno set (a file that can no longer be read). */
ssize_t blob_read(const struct blob *b, void *buf, size_t size, uint64_t off);
/* The memory a blob takes, for the cache's budget. */
size_t blob_memory(const struct blob *b);

/* Takes fd (closed with the last reference, or now if memory runs out). */
struct blob_file *blob_file_adopt(int fd);
struct blob_file *blob_file_ref(struct blob_file *f);
void blob_file_unref(struct blob_file *f);

/* Takes ownership of file (may be NULL).  NULL on ENOMEM (file released). */
struct snapshot *snapshot_new_file(struct blob *file);
/* An empty listing to fill with snapshot_listing_add, then snapshot_listing_finish. */
struct snapshot *snapshot_new_listing(struct timespec mtime);
/* Takes ownership of file (may be NULL); returns false on ENOMEM (file released). */
bool snapshot_listing_add(struct snapshot *s, int64_t id, struct blob *file);
/* Sorts by id and drops repeated ids, keeping the first one seen.
 * Returns false on ENOMEM (the snapshot is then unusable: unref it). */
bool snapshot_listing_finish(struct snapshot *s);
const struct listing_entry *snapshot_find(const struct snapshot *s, int64_t id);

struct snapshot *snapshot_ref(struct snapshot *s);
void snapshot_unref(struct snapshot *s);

static inline bool version_same_bytes(const struct version *a, const struct version *b)
{
	return a->hash == b->hash && a->len == b->len;
}

/* What a snapshot was, without its bytes: kept by the cache after the bytes
 * themselves are evicted, so that mtimes survive eviction. */
struct entry_version {
	int64_t id;
	struct version v;
};

struct snapshot_versions {
	struct timespec mtime;   /* the snapshot's */
	uint64_t ids_hash;       /* a listing's set of ids */
	size_t ids_count;
	bool has_file;
	struct version file;
	size_t count;            /* listed files, sorted by id */
	struct entry_version entries[];
};

/* NULL on ENOMEM. */
struct snapshot_versions *snapshot_versions_of(const struct snapshot *s);
size_t snapshot_versions_size(const struct snapshot_versions *v);

/* Gives a fresh, not yet published snapshot the mtimes older had wherever
 * nothing changed: identical bytes keep their mtime, an identical set of ids
 * keeps the listing's mtime.  This is what makes mtime move when, and only
 * when, content changes. */
void snapshot_carry_over(struct snapshot *fresh, const struct snapshot_versions *older);

/* Bytes a snapshot holds in memory, for the cache's memory accounting. */
size_t snapshot_size(const struct snapshot *s);
/* Bytes of its blobs kept in files (0: none). */
size_t snapshot_file_bytes(const struct snapshot *s);

#endif
