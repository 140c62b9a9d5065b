/* txaccess.h - whose transactions this token may read, as SePay has answered.
 *
 * SePay checks a user's permission per account: one account's transactions
 * can be forbidden (403) while others read.  So a 403 makes that account's
 * months EPERM for a while, without asking again, and no other account's.
 * Every account at once only when the token plainly lacks transaction:read:
 * its JWT says so, or every listed account has answered 403.
 *
 * Once any account has answered 403, an account not yet heard from is asked
 * one request at a time until it answers: a walk reading ahead many months
 * of each account then costs one refused request per account, not one per
 * month in flight.  Accounts that answered are asked as usual. */
#ifndef SEPAYFS_TXACCESS_H
#define SEPAYFS_TXACCESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Accounts remembered at most; the oldest verdict makes room. */
#define TX_ACCESS_SLOTS 256

struct tx_access {
	pthread_mutex_t lock;
	pthread_cond_t answered;
	uint64_t window_ms;       /* how long a 403 is believed */
	bool no_scope;            /* the token's JWT lacks transaction:read */
	bool refusals_seen;       /* some account answered 403 */
	size_t accounts_listed;   /* in the newest account listing; 0: unknown */
	uint64_t all_until_ms;    /* every account refused: EPERM for all until then */
	struct tx_verdict {
		int64_t account;      /* 0: free */
		uint64_t forbidden_until_ms;
		bool allowed;         /* answered with transactions */
		bool probing;         /* a first request is out */
		uint64_t used_ms;
		uint64_t allowed_ms;  /* when it last answered with transactions */
	} slots[TX_ACCESS_SLOTS];
};

void tx_access_init(struct tx_access *t, uint64_t window_ms, bool no_scope);
void tx_access_destroy(struct tx_access *t);
/* The newest account listing named this many accounts. */
void tx_access_set_accounts(struct tx_access *t, size_t listed);
/* Whether the account's transactions are EPERM now, without asking. */
bool tx_access_forbidden(struct tx_access *t, int64_t account);
/* Before a request for the account's transactions: EPERM, or 0 to ask.
 * Waits while another request probes an account not heard from yet; *probe
 * says whether this request is that probe.  Pair with tx_access_end. */
int tx_access_begin(struct tx_access *t, int64_t account, bool *probe);
/* The request's result (0, EPERM, or another errno). */
void tx_access_end(struct tx_access *t, int64_t account, bool probe, int rc);
/* Whether the account's transactions were answered (not refused) within
 * the window a 403 is believed for: the cache's months need no new check. */
bool tx_access_recently_allowed(struct tx_access *t, int64_t account);

#endif
