/* transactions.c - month files from paged transaction ranges. */
#include "transactions.h"

#include "log.h"
#include "monthbuild.h"
#include "months.h"
#include "pages.h"
#include "render.h"
#include "strbuf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tx_range_path(char *buf, size_t size, int64_t account, int32_t from, int32_t to)
{
	int32_t after = month_add(to, 1);
	char which[48] = "";
	if (account != TX_COMPANY)
		snprintf(which, sizeof(which), "bank_account_id=%" PRId64 "&", account);
	snprintf(buf, size, "/transactions?%sfrom_date=%04d-%02d-01&to_date=%04d-%02d-01", which,
		 (int)(from / 100), (int)(from % 100), (int)(after / 100), (int)(after % 100));
}

struct tx_build {
	int64_t account;
	int32_t from, to;
	const char *path;
	struct month_build *months;
};

/* Keeps the items of the account and months asked for: the range asked
 * reaches into the next month, and a server may answer with more.  Each is
 * rendered into its line at once: the page's JSON goes with the page. */
bool tx_item_foreign(const json_t *item, int64_t account, const char *path, int64_t page_no,
		     int64_t id)
{
	int64_t of;
	if (account == TX_COMPANY || !sepay_parse_id(json_object_get(item, "bank_account_id"), &of) ||
	    of == account)
		return false;
	log_warn("list transactions: GET %s (page %" PRId64 "): dropped transaction %" PRId64
		 " of account %" PRId64 ", not of the account asked for", path, page_no, id, of);
	return true;
}

static int add_tx(void *ctx, int64_t page_no, int64_t id, json_t *item)
{
	struct tx_build *tb = ctx;
	const char *date = json_string_value(json_object_get(item, "transaction_date"));
	if (tx_item_foreign(item, tb->account, tb->path, page_no, id))
		return 0;
	int32_t month = month_of_date(date);
	if (!month) {
		log_warn("list transactions: GET %s (page %" PRId64 "): dropped transaction %"
			 PRId64 ": no transaction_date of the form YYYY-MM-DD", tb->path, page_no, id);
		return 0;
	}
	if (month < tb->from || month > tb->to)
		return 0;
	struct strbuf line;
	strbuf_init(&line, 0);
	int rc = render_json_line(&line, item) ? month_build_add(tb->months, month, date, id, page_no,
								line.data, line.len)
					       : ENOMEM;
	strbuf_release(&line);
	return rc;
}

/* The walk starts again from page 1: the items so far go. */
static void drop_tx_items(void *ctx)
{
	struct tx_build *tb = ctx;
	month_build_reset(tb->months);
}

int tx_fetch_months(struct sepay_api *api, struct month_room *room, int64_t account,
		    int32_t from, int32_t to, struct timespec now, struct blob **months)
{
	int32_t n = month_count(from, to);
	if (n <= 0 || n > TX_RANGE_MAX_MONTHS)
		return EINVAL;
	char path[192];
	tx_range_path(path, sizeof(path), account, from, to);
	struct tx_build tb = { .account = account, .from = from, .to = to, .path = path,
			       .months = month_build_new(room, from, to) };
	memset(months, 0, (size_t)n * sizeof(*months));
	if (!tb.months)
		return ENOMEM;
	int rc = sepay_walk_pages(api, "list transactions", path, add_tx, drop_tx_items, &tb);
	if (rc == 0)
		rc = month_build_finish(tb.months, now, months);
	if (rc == EFBIG && n > 1)
		log_info("list transactions: GET %s: %zu transactions and more (%.1f MiB) are "
			 "more than one build may order: asked a month at a time", path,
			 month_build_count(tb.months),
			 (double)month_build_bytes(tb.months) / (1 << 20));
	else if (rc == EFBIG)
		log_error("list transactions: GET %s: %zu transactions and more (%.1f MiB) are "
			  "more than memory may hold to put them in order, and no file could take "
			  "the rest (%s)", path, month_build_count(tb.months),
			  (double)month_build_bytes(tb.months) / (1 << 20), strerror(EIO));
	month_build_free(tb.months);
	return rc;
}
