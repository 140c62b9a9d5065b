/* readahead.h - fetch ahead of a reader walking the accounts in order.
 *
 * grep -r, tar and find visit /accounts/<id> in listing order, rsync in
 * name order, one account after another.  Once two visits in a row are
 * neighbours in either order, the next accounts' info.json and
 * sub-account listings are fetched in the background, a bounded window
 * ahead, through the cache (so nothing is fetched twice and readers share
 * what is in flight).  A single visit (cat, ls of one account) or a listing
 * alone (ls -l /accounts) triggers nothing. */
#ifndef SEPAYFS_READAHEAD_H
#define SEPAYFS_READAHEAD_H

#include "cache.h"

#include <stdint.h>

struct readahead;

/* Starts `threads` background fetchers; window = accounts ahead. */
struct readahead *readahead_start(struct cache *cache, unsigned threads, unsigned window);
/* Stops the fetchers (waiting for those under way) and frees everything. */
void readahead_stop(struct readahead *ra);

/* What a visit to an account reads: its own files (info.json,
 * sub-accounts), its transactions, or both. */
enum readahead_want { READAHEAD_FILES = 1, READAHEAD_MONTHS = 2 };

/* A reader entered account id (listed in the cached account listing) for
 * what `want` says; a walk reads ahead that much of the next accounts. */
void readahead_visit(struct readahead *ra, int64_t account_id, int want);
/* A reader entered an account's transactions folder, whose months run
 * from since to now: they are fetched ahead, and from now on so are the
 * months of the accounts a walk goes on to. */
void readahead_visit_months(struct readahead *ra, int64_t account_id, int32_t since, int32_t now);


#endif
