/* diskformat.h - one cached object as bytes on disk, and back.
 *
 * An entry is one unit: what is served (every rendered file) and what says
 * it is valid (the key it belongs to, the cache identity, when it was
 * fetched, each file's version record) sit in one file under one checksum,
 * so a cron job, a full disk or a crash can damage an entry but never pair
 * good metadata with other bytes.  Decoding treats the bytes as hostile:
 * anything truncated, garbled, from another format version, another key or
 * another identity is a miss. */
#ifndef SEPAYFS_DISKFORMAT_H
#define SEPAYFS_DISKFORMAT_H

#include "keys.h"
#include "snapshot.h"

#include <stddef.h>
#include <stdint.h>

/* The encoded entry (malloc'ed) and its length, or NULL on ENOMEM. */
char *disk_entry_encode(const struct obj_key *key, uint64_t identity, const struct snapshot *s,
			size_t *len);
/* The same in an older format's layout (2 or 3; what an earlier sepayfs
 * wrote), for the tests of reading it. */
char *disk_entry_encode_as(const struct obj_key *key, uint64_t identity,
			   const struct snapshot *s, unsigned version, size_t *len);
/* The same, written to fd a piece at a time (a file kept in a file is
 * copied from it, not read into memory): 0 or an errno. */
int disk_entry_write(int fd, const struct obj_key *key, uint64_t identity,
		     const struct snapshot *s);

/* The snapshot an entry holds (refs = 1), its fetched time included, or
 * NULL when the bytes are not a whole, intact entry for this key and
 * identity (or memory ran out).  An entry of the format before this one
 * comes back outdated (snapshot.h): its version records hold, its bytes
 * are not served as fresh. */
struct snapshot *disk_entry_decode(const char *bytes, size_t len, const struct obj_key *key,
				   uint64_t identity);
/* The same from the len bytes of an open entry file, read a piece at a
 * time: a file of more than BLOB_MEMORY_MAX bytes becomes a blob of this
 * file (which the blob then holds), not a copy in memory. */
struct snapshot *disk_entry_read(struct blob_file *file, uint64_t len, const struct obj_key *key,
				 uint64_t identity);

#endif
