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

/* The snapshot an entry holds (refs = 1), its fetched time included, or
 * NULL when the bytes are not a whole, intact entry for this key and
 * identity (or memory ran out).  An entry of the format before this one
 * comes back outdated (snapshot.h): its version records hold, its bytes
 * are not served as fresh. */
struct snapshot *disk_entry_decode(const char *bytes, size_t len, const struct obj_key *key,
				   uint64_t identity);

#endif
