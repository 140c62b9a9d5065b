/* viewtree.h - the views' content over the cache: balances.csv and the
 * names of by-number, built from what the cache holds and kept while
 * what they were built from is the cache's newest. */
#ifndef SEPAYFS_VIEWTREE_H
#define SEPAYFS_VIEWTREE_H

#include "cache.h"
#include "snapshot.h"
#include "views.h"

#include <pthread.h>
#include <stdbool.h>

/* Which fetch of a listing a view was built from: its fetched time and
 * size (a refetch is a new time; the same entry read back from disk is the
 * same fetch).  Kept instead of a reference, so a view never holds a
 * listing the cache let go of. */
struct view_source {
	struct timespec fetched;
	size_t count;
};

/* Months as CSV kept at most (each in memory up to BLOB_MEMORY_MAX,
 * beyond it in a file): the ones being read. */
#define VIEWTREE_CSV_SLOTS 8

struct csv_slot {
	int64_t account;
	int32_t month;
	struct version from; /* the month's JSON Lines it was made from */
	struct blob *csv;    /* NULL: a free slot */
	uint64_t used;
};

struct totals_slot {
	int64_t account;
	uint64_t from;       /* a hash of the months' versions it was made from */
	struct blob *csv;    /* NULL: a free slot */
	uint64_t used;
};

struct viewtree {
	struct cache *cache; /* borrowed */
	struct totals_slot totals[VIEWTREE_CSV_SLOTS];
	int spill_dir;       /* for large CSV months; -1: memory only */
	struct csv_slot csv[VIEWTREE_CSV_SLOTS];
	uint64_t csv_clock;
	pthread_mutex_t lock;
	struct view_source balances_from;
	struct blob *balances;
	struct view_source links_list;  /* the account listing, and the */
	struct view_source *links_subs; /* sub-account listings, by entry */
	struct number_links links;      /* built from them */
	bool links_every;               /* with every account's sub-accounts */
};

void viewtree_init(struct viewtree *vt, struct cache *cache, int spill_dir);
void viewtree_destroy(struct viewtree *vt);

/* balances.csv from the listing s (a reference to release with blob_unref);
 * NULL on ENOMEM. */
struct blob *viewtree_balances_of(struct viewtree *vt, struct snapshot *s);
/* balances.csv now: the listing fetched if it is not fresh.  An errno of
 * the listing's. */
int viewtree_balances(struct viewtree *vt, struct blob **out);

/* Which sub-account listings by-number's names are made of. */
enum view_links_from {
	VIEW_LINKS_HELD,  /* as last built from this account listing, else those
			   * held now, fresh or not: nothing asked but the listing */
	VIEW_LINKS_EVERY, /* every account's, each asked where not fresh */
	VIEW_LINKS_LAST,  /* as last built (a listing read on), else EVERY */
};
/* Up to max of by-number's names with a cookie past `after`, in cookie
 * order, copied (release with views_number_links_release).  The account
 * listing is asked where not fresh (but for LAST when built); a
 * sub-account listing that fails leaves that account's sub-accounts out
 * (its request logs why).  0, or the account listing's errno. */
int viewtree_links(struct viewtree *vt, enum view_links_from from, uint64_t after, size_t max,
		   struct number_links *out);
/* The link named name: 0, ENOENT, or the account listing's errno.  Looked
 * for among the listings held, and when not found there among every
 * account's. */
int viewtree_find(struct viewtree *vt, const char *name, struct number_link *out);
/* The month's CSV (monthcsv.h), made from its JSON Lines jsonl, dated as
 * it (a reference), or NULL with *rc set (logged). */
struct blob *viewtree_month_csv(struct viewtree *vt, int64_t account, int32_t month,
				const struct blob *jsonl, int *rc);
/* The CSV kept for the month, whatever it was made from (a reference), or
 * NULL: whether anyone read it lately. */
struct blob *viewtree_csv_kept(struct viewtree *vt, int64_t account, int32_t month);

/* totals.csv of the account (or TX_COMPANY, without the balance column)
 * from its months since `since`, one blob each (n of them), dated as the
 * newest month: a reference, or NULL with *rc set (logged).  A month with
 * no transaction shows the balance the month before it ended with. */
struct blob *viewtree_totals(struct viewtree *vt, int64_t account, int32_t since,
			     struct blob *const *months, size_t n, int *rc);

/* The totals.csv made last for the account (a reference), or NULL. */
struct blob *viewtree_totals_latest(struct viewtree *vt, int64_t account);
/* A month's CSV kept with these bytes (a reference), or NULL. */
struct blob *viewtree_csv_kept_as(struct viewtree *vt, int64_t account, int32_t month,
				  const struct version *v);
/* A totals.csv kept with these bytes (a reference), or NULL: an open file
 * reads the version it opened while a newer one is made. */
struct blob *viewtree_totals_kept(struct viewtree *vt, int64_t account, const struct version *v);

/* The name (account, sub) has in by-number as last built; false if none. */
bool viewtree_name_of(struct viewtree *vt, int64_t account, int64_t sub,
		      char name[VIEWS_NAME_MAX]);

#endif
