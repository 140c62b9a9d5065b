/* fuzz_csv.c - the CSV writer on hostile values.
 *
 * The first byte picks what the rest is:
 *   0: one field's bytes: written with csv_field and read back by an
 *      RFC 4180 reader, it is one field holding exactly those bytes;
 *   1: a number's text: csv_money_text either refuses it or writes a plain
 *      decimal with at least two places and the same value;
 *   2: a month's JSON Lines: monthcsv_build refuses it or writes a header
 *      and a record a line, every record of the header's width;
 *   else: an account list item (JSON, an API body): balances.csv of a
 *      listing of that one account is two records of eight fields, the
 *      first the account's id, whatever the item holds. */
#include "fuzz_common.h"

#include "csv.h"
#include "monthcsv.h"
#include "strbuf.h"
#include "views.h"

#include <stdint.h>

/* Reads one field from s at *pos (RFC 4180); *end_record when the record
 * ended after it.  false on text no writer of RFC 4180 makes. */
static bool read_field(const char *s, size_t len, size_t *pos, struct strbuf *out,
		       bool *end_record)
{
	size_t i = *pos;
	if (i < len && s[i] == '"') {
		for (i++;; i++) {
			if (i >= len)
				return false;
			if (s[i] == '"') {
				if (i + 1 < len && s[i + 1] == '"') {
					strbuf_putc(out, '"');
					i++;
					continue;
				}
				i++;
				break;
			}
			strbuf_putc(out, s[i]);
		}
	} else {
		for (; i < len && s[i] != ',' && s[i] != '\r' && s[i] != '\n'; i++) {
			if (s[i] == '"')
				return false;
			strbuf_putc(out, s[i]);
		}
	}
	*end_record = true;
	if (i < len && s[i] == ',') {
		*end_record = false;
		i++;
	} else if (i + 1 < len && s[i] == '\r' && s[i + 1] == '\n') {
		i += 2;
	} else if (i != len) {
		return false;
	}
	*pos = i;
	return true;
}

static void field_round_trip(const char *data, size_t size)
{
	struct strbuf sb, back;
	strbuf_init(&sb, 0);
	strbuf_init(&back, 0);
	csv_field(&sb, data, size);
	size_t pos = 0;
	bool end = false;
	FUZZ_CHECK(!strbuf_failed(&sb));
	FUZZ_CHECK(read_field(sb.data ? sb.data : "", sb.len, &pos, &back, &end));
	FUZZ_CHECK(end && pos == sb.len);
	FUZZ_CHECK(back.len == size && (size == 0 || memcmp(back.data, data, size) == 0));
	strbuf_release(&sb);
	strbuf_release(&back);
}

static void money(const char *data, size_t size)
{
	char out[CSV_MONEY_MAX];
	if (!csv_money_text(data, size, out))
		return;
	size_t n = strlen(out), i = out[0] == '-';
	FUZZ_CHECK(n < CSV_MONEY_MAX);
	size_t digits_before = 0;
	for (; i < n && out[i] >= '0' && out[i] <= '9'; i++)
		digits_before++;
	FUZZ_CHECK(digits_before > 0 && i < n && out[i] == '.');
	size_t places = n - i - 1;
	FUZZ_CHECK(places >= 2);
	for (i++; i < n; i++)
		FUZZ_CHECK(out[i] >= '0' && out[i] <= '9');
	/* The same value, as far as a double tells. */
	char *text = strndup(data, size);
	FUZZ_CHECK(text != NULL);
	double a = strtod(text, NULL), b = strtod(out, NULL);
	free(text);
	FUZZ_CHECK(a == b || fabs(a - b) <= fabs(a) * 1e-12);
}

/* How many records csv holds and how many fields the first has: false
 * when a record is not the first's width. */
static bool records(const struct blob *csv, size_t *count, size_t *width)
{
	size_t pos = 0;
	*count = 0;
	*width = 0;
	while (pos < csv->v.len) {
		size_t fields = 0;
		bool end = false;
		while (!end) {
			struct strbuf f;
			strbuf_init(&f, 0);
			FUZZ_CHECK(read_field(csv->bytes, csv->v.len, &pos, &f, &end));
			strbuf_release(&f);
			fields++;
		}
		if (*count == 0)
			*width = fields;
		else if (fields != *width)
			return false;
		(*count)++;
	}
	return true;
}

static void month_of_lines(const char *data, size_t size)
{
	struct blob *month = blob_new(data, size, (struct timespec){ 1, 0 });
	FUZZ_CHECK(month != NULL);
	struct blob *csv = NULL;
	if (monthcsv_build(month, -1, month->v.mtime, &csv) == 0) {
		size_t lines = 0, n = 0, width = 0;
		for (size_t i = 0; i < size; i++)
			lines += data[i] == '\n';
		FUZZ_CHECK(records(csv, &n, &width));
		FUZZ_CHECK(n == lines + 1);
		FUZZ_CHECK(csv->v.mtime.tv_sec == 1);
		blob_unref(csv);
	}
	blob_unref(month);
}

static void balances_of_item(const char *data, size_t size)
{
	char *owned = NULL;
	size_t n;
	const char *text = numtext_rewrite(data, size, &owned, &n);
	json_t *item = text ? json_loadb(text, n, 0, NULL) : NULL;
	free(owned);
	if (!json_is_object(item)) {
		json_decref(item);
		return;
	}
	struct blob *row = views_account_row(item, (struct timespec){ 1, 0 });
	json_decref(item);
	if (!row)
		return;
	struct snapshot *list = snapshot_new_listing((struct timespec){ 1, 0 });
	FUZZ_CHECK(list && snapshot_listing_add(list, 4242, row) && snapshot_listing_finish(list));
	struct blob *csv = views_balances(list);
	FUZZ_CHECK(csv != NULL);
	size_t count = 0, width = 0;
	FUZZ_CHECK(records(csv, &count, &width));
	FUZZ_CHECK(count == 2 && width == 8);
	size_t header = strlen(VIEWS_BALANCES_HEADER);
	FUZZ_CHECK(csv->v.len > header + 5 && memcmp(csv->bytes + header, "4242,", 5) == 0);
	blob_unref(csv);
	snapshot_unref(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *rest = (const char *)data + 1;
	switch (data[0]) {
	case 0:
		field_round_trip(rest, size - 1);
		break;
	case 1:
		money(rest, size - 1);
		break;
	case 2:
		month_of_lines(rest, size - 1);
		break;
	default:
		balances_of_item(rest, size - 1);
	}
	return 0;
}
