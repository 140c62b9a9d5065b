/* transactions.h - an account's transactions, month by month.
 *
 * One paged request for a range of months (GET /transactions with
 * bank_account_id, from_date the first month's 1st, to_date the 1st after
 * the last month: right whatever SePay's to_date means), rendered as one
 * JSON Lines file per month.  A month fetched alone is the range of one
 * month, so its bytes are the same whichever way it was asked. */
#ifndef SEPAYFS_TRANSACTIONS_H
#define SEPAYFS_TRANSACTIONS_H

#include "monthbuild.h"
#include "sepay.h"
#include "snapshot.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Months one range asks for at most: the API's documented history is far
 * shorter, and the rendered months are held in memory together. */
#define TX_RANGE_MAX_MONTHS 600

/* The company: every account's transactions, asked without
 * bank_account_id.  Never an account's id (those are positive). */
#define TX_COMPANY (-1)

/* Whether item, an answer to path (page page_no) for account, is another
 * account's: then it is dropped, and that is logged.  The company's
 * answers hold every account's. */
bool tx_item_foreign(const json_t *item, int64_t account, const char *path, int64_t page_no,
		     int64_t id);

/* The API path (with query) of account's months from..to. */
void tx_range_path(char *buf, size_t size, int64_t account, int32_t from, int32_t to);

/* Fetches account's months from..to (YYYYMM, at most TX_RANGE_MAX_MONTHS):
 * 0 and months[to - from] filled with a blob each (caller unrefs), dated
 * now; or an errno.  Each month holds exactly the items of that account
 * (of every account for TX_COMPANY) dated in it, each id once, ordered by transaction_date then id; items of
 * another account, or with no usable date, are dropped with a log line.
 * Built in room (monthbuild.h): a month larger than memory may hold comes
 * in a file.  EFBIG when the room and its folder cannot take what came:
 * for a range of months the caller asks them one at a time (logged as
 * information), for one month it is an error (logged, with its size). */
int tx_fetch_months(struct sepay_api *api, struct month_room *room, int64_t account,
		    int32_t from, int32_t to, struct timespec now, struct blob **months);

#endif
