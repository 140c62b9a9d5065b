/* monthrefresh.h - the current month refreshed with what is new.
 *
 * A busy account's current month is thousands of transactions, and most of
 * a refresh would bring the same ones again.  So a refresh of a month that
 * is not settled, held with more than two pages of transactions (fewer
 * cost no more asked whole), asks only from a day before the newest held
 * (MONTHREFRESH_OVERLAP_DAYS: a bank posts late, mostly overnight), merges
 * what comes by id with what is held, and checks the merged count against
 * the month's total, asked with a page of one item.  On any doubt (the
 * count differs, a transaction held changed or went, no total is said) it
 * answers ESTALE and the caller fetches the month whole.  Where nothing was
 * deleted upstream the bytes are those of a whole fetch: the same lines,
 * in the same order. */
#ifndef SEPAYFS_MONTHREFRESH_H
#define SEPAYFS_MONTHREFRESH_H

#include "monthbuild.h"
#include "sepay.h"
#include "snapshot.h"

#include <stdint.h>
#include <time.h>

#define MONTHREFRESH_OVERLAP_DAYS 1

/* Refreshes account's month (YYYYMM) whose held bytes are held: 0 and
 * *out (a new blob dated now; the caller unrefs), ESTALE when in doubt
 * (why says it, for a log line; empty when the month is simply small), or
 * the errno of a request (EPERM, ...). */
int monthrefresh(struct sepay_api *api, struct month_room *room, int64_t account, int32_t month,
		 const struct blob *held, struct timespec now, struct blob **out, char *why,
		 size_t why_size);

#endif
