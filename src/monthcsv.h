/* monthcsv.h - a month's JSON Lines as CSV, for -o csv.
 *
 * A header always (an empty month is the header alone), then a row per
 * transaction in the month's order.  The columns: id, transaction_date,
 * bank_account_id, account_number, amount_in, amount_out, accumulated,
 * transaction_content, reference_number, code, sub_account,
 * bank_brand_name, then the fields this program does not know, in byte
 * order of their names (the same month always has the same columns).
 * Money as plain decimals with two places (csv.h), text as the API sent
 * it, RFC 4180 quoting.  The same bytes in give the same bytes out: a CSV
 * changes exactly when its month does. */
#ifndef SEPAYFS_MONTHCSV_H
#define SEPAYFS_MONTHCSV_H

#include "csv.h"
#include "snapshot.h"

#include <stdint.h>
#include <time.h>

/* The CSV of month (a blob of JSON Lines), dated mtime: in memory, or
 * past BLOB_MEMORY_MAX in an unlinked file in spill_dir (-1: memory only).
 * 0, ENOMEM, EIO (the month or the file could not be read or written), or
 * EBADMSG (a line that is no JSON object, never one sepayfs wrote, or more
 * than 64 fields of names this program does not know: a CSV that left
 * some out would be a silent gap). */
int monthcsv_build(const struct blob *month, int spill_dir, struct timespec mtime,
		   struct blob **out);

/* What totals.csv shows of a month: its transactions, money in and out,
 * and the balance after its last transaction (its accumulated). */
struct month_totals {
	int64_t count;
	struct csv_sum in, out;
	char balance[CSV_MONEY_MAX];    /* "": no transaction, or none readable */
};
/* 0, or as monthcsv_build. */
int monthcsv_totals(const struct blob *month, struct month_totals *t);

#define MONTHCSV_TOTALS_HEADER "month,count,amount_in,amount_out"
/* One row of totals.csv; with_balance: the balance column too (an
 * account's; the company's has none).  false when a sum is no number. */
bool monthcsv_totals_row(struct strbuf *sb, int32_t month, const struct month_totals *t,
			 bool with_balance);

#endif
