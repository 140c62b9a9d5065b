/* objects.h - the API objects the tree is made of, and how each is fetched.
 *
 * This is the cache's fetch function: it turns a key into requests and the
 * responses into a snapshot of rendered files, rendered at fetch time so
 * that st_size is exact before anyone reads. */
#ifndef SEPAYFS_OBJECTS_H
#define SEPAYFS_OBJECTS_H

#include "cache.h"
#include "keys.h"
#include "monthbuild.h"
#include "sepay.h"
#include "snapshot.h"
#include "txaccess.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum obj_kind {
	OBJ_ACCOUNT_LIST = 1, /* GET /bank-accounts, all pages: ids only */
	OBJ_ACCOUNT,          /* GET /bank-accounts/{a}: info.json */
	OBJ_SUB_LIST,         /* GET /bank-accounts/{a}/sub-accounts, all pages: a file each */
	OBJ_TX_MONTH,         /* GET /transactions for account a, month b (YYYYMM), all pages:
			       * one JSON Lines file */
	OBJ_TX_RANGE,         /* GET /transactions for account a, every month not fresh
			       * in the cache, in one range: fills OBJ_TX_MONTH entries */
};

/* How long an object stays fresh.  A past month that had been over for
 * settle_ms when it was fetched is settled: banks do not rewrite history,
 * so it is not asked again for history_ttl_ms.  A month still within that
 * window (a late booking, a correction) is as fresh as anything else.
 *
 * Freshness follows the list.  One page of the account list shows every
 * account's balance, so a new transaction shows there.  An account's
 * detail, its sub-account list and its current month record the hash of
 * the account's list item when they were fetched (snapshot.follows);
 * while the newest list (fetched within ttl_ms) shows the same item, they
 * are kept up to follow_ms without asking; once it shows another, they are
 * stale at once. */
struct objects_source;
struct objects_ttl {
	uint64_t ttl_ms;
	uint64_t history_ttl_ms;
	uint64_t settle_ms;
	uint64_t follow_ms;          /* 0: nothing follows the list */
	struct objects_source *src;  /* its newest account list */
};
/* A cache ttl_for; ctx: struct objects_ttl. */
uint64_t objects_ttl_ms(void *ctx, const struct obj_key *key, const struct snapshot *value);
/* A cache prepare; ctx: struct objects_ttl.  Before an object that follows
 * the list is looked up with the list older than ttl_ms, the list is asked
 * again (one request for every account): an
 * object whose list item did not change then stays fresh, where it would
 * otherwise be asked again itself.  A list that fails to come is not
 * asked this way again for ttl_ms. */
void objects_prepare(void *ctx, const struct obj_key *key);

/* What objects_fetch asks through, and what it learnt of which accounts'
 * transactions the token may read (txaccess.h), so readers and read-ahead
 * alike ask nothing for an account that answered 403. */
struct objects_source {
	struct sepay_api *api;
	struct cache *cache;   /* the cache fetching through this: ranges fill months in it */
	int history_months;    /* months shown when an account has no created_at */
	struct tx_access tx;
	struct month_room room; /* what month builds share: memory, a folder */
	pthread_mutex_t list_lock;
	struct snapshot *list;  /* the newest account list fetched, or NULL */
	uint64_t list_noted_wall_ms; /* when it came (its fetched: when it was asked) */
	uint64_t list_failed_wall_ms; /* when objects_prepare last failed to get it */
	uint64_t settle_ms;     /* as objects_ttl's: a month fetched this long after
				 * its end settles (0: no line when it does) */
};
/* build_memory: what every month build under way may hold together;
 * spill_dir: a folder for the months and lines that do not fit (-1: none;
 * borrowed). */
void objects_source_init(struct objects_source *src, struct sepay_api *api,
			 uint64_t forbidden_ms, bool no_tx_scope, int history_months,
			 size_t build_memory, int spill_dir);
/* The first month of an account's transactions: its created_at, from the
 * account listing or its detail, whichever is in memory (asking nothing),
 * else history_months back from now. */
int32_t objects_account_since(struct objects_source *src, int64_t account, int32_t now);
void objects_source_destroy(struct objects_source *src);
/* The account's item in the newest account list fetched: its hash, when
 * the list was asked and when its answer came (wall ms; either pointer may
 * be NULL).  false when there is none. */
bool objects_list_item(struct objects_source *src, int64_t account, uint64_t *hash,
		       uint64_t *fetched_wall_ms, uint64_t *noted_wall_ms);
bool objects_tx_forbidden(struct objects_source *src, int64_t account);
/* Whether the account's month, about to be served, may be.  EPERM while a
 * 403 on its transactions holds.  A month not fresh in the cache is
 * fetched by its reader, which asks the API anyway: 0.  A month held (a
 * settled one is held for weeks) when the API has not answered for the
 * account's transactions within the TTL costs one request: the range of
 * the account's months that are not fresh (the current one at least),
 * which refreshes them too.  Its 403 gives EPERM, a 401 a new token did
 * not cure EACCES, a 404 ENOENT; network or server trouble 0 (the cache
 * serves what it holds, as before). */
int objects_tx_access(struct objects_source *src, int64_t account, int32_t month);

/* A cache_fetch_fn; ctx is a struct objects_source. */
int objects_fetch(void *ctx, const struct obj_key *key, struct snapshot **out);

/* Whether a first page of the account list fits a cached account listing:
 * true when they share an account, or either is empty.  A cache folder whose
 * listing shares no account with the API's answer holds someone else's data. */
bool objects_listing_matches_page(const struct snapshot *listing, json_t *page_root);

/* The API path a key is fetched from ("/bank-accounts/19"), for logs and xattrs. */
void objects_path(const struct obj_key *key, char *buf, size_t size);

#endif
