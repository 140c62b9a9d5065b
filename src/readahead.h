/* readahead.h - fetch ahead of a reader walking the accounts in order.
 *
 * grep -r, tar and find visit /accounts/<id> in listing order, rsync in
 * name order, one account after another.  Once two visits in a row are
 * neighbours in either order, the next accounts' info.json and
 * sub-account listings (and, once the walk goes into transactions folders,
 * their histories as one range each) are fetched in the background, a
 * bounded window ahead, through the cache (so nothing is fetched twice and
 * readers share what is in flight).  A single visit (cat, ls of one
 * account) or a listing alone (ls -l /accounts) triggers nothing.
 *
 * Read-ahead belongs to the walk: a visit that continues no walk starts a
 * new one with its own mode (files, months) and drops what the old one had
 * queued, and when visits stop for a second (Ctrl-C) the queue
 * is dropped, so only the requests already in flight still go out. */
#ifndef SEPAYFS_READAHEAD_H
#define SEPAYFS_READAHEAD_H

#include "activity.h"
#include "cache.h"

#include <stdint.h>

struct readahead;

/* Starts `threads` background fetchers; window = accounts ahead.  The
 * walk's steps are told to activity (may be NULL). */
struct readahead *readahead_start(struct cache *cache, unsigned threads, unsigned window,
				  struct activity *activity);
/* Stops the fetchers (waiting for those under way) and frees everything. */
void readahead_stop(struct readahead *ra);

/* What a visit to an account reads: its own files (info.json,
 * sub-accounts), its transactions, or both. */
enum readahead_want { READAHEAD_FILES = 1, READAHEAD_MONTHS = 2 };

/* A reader entered account id (listed in the cached account listing) for
 * what `want` says: its own files, or (READAHEAD_MONTHS) its transactions
 * folder, after which this walk reads ahead the next accounts' months too. */
void readahead_visit(struct readahead *ra, int64_t account_id, int want);
/* Queued work dropped because the reader stopped, for statistics. */
uint64_t readahead_dropped(struct readahead *ra);


#endif
