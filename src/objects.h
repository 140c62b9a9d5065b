/* objects.h - the API objects the tree is made of, and how each is fetched.
 *
 * This is the cache's fetch function: it turns a key into requests and the
 * responses into a snapshot of rendered files, rendered at fetch time so
 * that st_size is exact before anyone reads. */
#ifndef SEPAYFS_OBJECTS_H
#define SEPAYFS_OBJECTS_H

#include "keys.h"
#include "sepay.h"
#include "snapshot.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum obj_kind {
	OBJ_ACCOUNT_LIST = 1, /* GET /bank-accounts, all pages: ids only */
	OBJ_ACCOUNT,          /* GET /bank-accounts/{a}: info.json */
	OBJ_SUB_LIST,         /* GET /bank-accounts/{a}/sub-accounts, all pages: a file each */
	OBJ_TX_MONTH,         /* GET /transactions for account a, month b (YYYYMM), all pages:
			       * one JSON Lines file */
};

/* How long an object stays fresh: past transaction months change rarely. */
struct objects_ttl {
	uint64_t ttl_ms;
	uint64_t history_ttl_ms;
};
uint64_t objects_ttl_ms(void *ctx, const struct obj_key *key); /* ctx: struct objects_ttl */

/* What objects_fetch asks through, and what it learnt: a 403 on one month
 * of transactions means the token lacks transaction:read, so for
 * forbidden_ms every month is EPERM without a request, whoever asks (a
 * reader or read-ahead). */
struct objects_source {
	struct sepay_api *api;
	uint64_t forbidden_ms;
	_Atomic uint64_t tx_forbidden_until; /* monotonic ms */
};
bool objects_tx_forbidden(struct objects_source *src);

/* A cache_fetch_fn; ctx is a struct objects_source. */
int objects_fetch(void *ctx, const struct obj_key *key, struct snapshot **out);

/* The API path a key is fetched from ("/bank-accounts/19"), for logs and xattrs. */
void objects_path(const struct obj_key *key, char *buf, size_t size);

#endif
