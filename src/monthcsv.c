/* monthcsv.c - a month's JSON Lines as CSV, read twice: once for the
 * columns, once for the rows, a line at a time. */
#include "monthcsv.h"

#include "csv.h"
#include "htab.h"
#include "monthbuild.h"
#include "numtext.h"
#include "strbuf.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const KNOWN[] = {
	"id", "transaction_date", "bank_account_id", "account_number", "amount_in",
	"amount_out", "accumulated", "transaction_content", "reference_number", "code",
	"sub_account", "bank_brand_name",
};
#define N_KNOWN (sizeof(KNOWN) / sizeof(KNOWN[0]))
/* Columns a month may add at most: a server sending a new field name in
 * every transaction would otherwise make a file of columns. */
#define EXTRA_MAX 64
#define CHUNK (64u << 10)

static bool is_money(const char *key)
{
	return !strcmp(key, "amount_in") || !strcmp(key, "amount_out") ||
	       !strcmp(key, "accumulated");
}

static bool is_known(const char *key)
{
	for (size_t i = 0; i < N_KNOWN; i++)
		if (!strcmp(KNOWN[i], key))
			return true;
	return false;
}

/* Calls line(ctx, obj) for each line of month, parsed; stops at the first
 * non-zero it returns. */
static int each_line(const struct blob *month, int (*line)(void *ctx, json_t *obj), void *ctx)
{
	char *buf = malloc(CHUNK);
	struct strbuf pending;
	strbuf_init(&pending, 0);
	int rc = buf ? 0 : ENOMEM;
	for (uint64_t off = 0; !rc && off < month->v.len;) {
		ssize_t n = blob_read(month, buf, CHUNK, off);
		if (n <= 0) {
			rc = EIO;
			break;
		}
		off += (uint64_t)n;
		size_t start = 0;
		for (size_t i = 0; !rc && i < (size_t)n; i++) {
			if (buf[i] != '\n')
				continue;
			strbuf_append(&pending, buf + start, i - start);
			start = i + 1;
			if (strbuf_failed(&pending)) {
				rc = ENOMEM;
				break;
			}
			char *owned = NULL;
			size_t len;
			const char *text = numtext_rewrite(pending.data ? pending.data : "", pending.len,
							   &owned, &len);
			json_t *obj = text ? json_loadb(text, len, JSON_ALLOW_NUL, NULL) : NULL;
			free(owned);
			rc = !text ? ENOMEM : json_is_object(obj) ? line(ctx, obj) : EBADMSG;
			json_decref(obj);
			pending.len = 0;
		}
		strbuf_append(&pending, buf + start, (size_t)n - start);
	}
	if (!rc && pending.len)
		rc = EBADMSG; /* sepayfs ends every line */
	strbuf_release(&pending);
	free(buf);
	return rc;
}

struct columns {
	char *extra[EXTRA_MAX];
	size_t n_extra;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int note_columns(void *ctx, json_t *obj)
{
	struct columns *cols = ctx;
	const char *key;
	json_t *value;
	json_object_foreach(obj, key, value) {
		(void)value;
		if (is_known(key))
			continue;
		bool seen = false;
		for (size_t i = 0; i < cols->n_extra && !seen; i++)
			seen = !strcmp(cols->extra[i], key);
		if (seen)
			continue;
		if (cols->n_extra == EXTRA_MAX)
			return EBADMSG;
		if (!(cols->extra[cols->n_extra] = strdup(key)))
			return ENOMEM;
		cols->n_extra++;
	}
	return 0;
}

/* Where rows go: memory, then a file once past BLOB_MEMORY_MAX. */
struct sink {
	struct strbuf sb;
	int spill_dir;
	int fd;
	uint64_t written;
	uint64_t hash;
};

static int flush(struct sink *k, bool at_end)
{
	if (strbuf_failed(&k->sb))
		return ENOMEM;
	if (k->fd < 0 && (at_end || k->sb.len <= BLOB_MEMORY_MAX || k->spill_dir < 0))
		return 0;
	if (k->fd < 0 && (k->fd = month_spill_file(k->spill_dir)) < 0)
		return EIO;
	for (size_t done = 0; done < k->sb.len;) {
		ssize_t n = write(k->fd, k->sb.data + done, k->sb.len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return EIO;
		done += (size_t)n;
	}
	k->hash = hash_bytes_more(k->hash, k->sb.data, k->sb.len);
	k->written += k->sb.len;
	k->sb.len = 0;
	return 0;
}

struct rows {
	struct sink *sink;
	const struct columns *cols;
};

static void put(struct strbuf *sb, const char *key, json_t *obj, bool *ok)
{
	json_t *v = json_object_get(obj, key);
	*ok = *ok && (is_money(key) ? csv_money(sb, v) : csv_value(sb, v));
}

static int write_row(void *ctx, json_t *obj)
{
	struct rows *r = ctx;
	struct strbuf *sb = &r->sink->sb;
	bool ok = true;
	for (size_t i = 0; i < N_KNOWN; i++) {
		if (i)
			strbuf_putc(sb, ',');
		put(sb, KNOWN[i], obj, &ok);
	}
	for (size_t i = 0; i < r->cols->n_extra; i++) {
		strbuf_putc(sb, ',');
		put(sb, r->cols->extra[i], obj, &ok);
	}
	csv_end_record(sb);
	return ok ? flush(r->sink, false) : ENOMEM;
}

static void write_header(struct strbuf *sb, const struct columns *cols)
{
	for (size_t i = 0; i < N_KNOWN; i++) {
		if (i)
			strbuf_putc(sb, ',');
		strbuf_puts(sb, KNOWN[i]);
	}
	for (size_t i = 0; i < cols->n_extra; i++) {
		strbuf_putc(sb, ',');
		csv_field(sb, cols->extra[i], strlen(cols->extra[i]));
	}
	csv_end_record(sb);
}

static int finish(struct sink *k, struct timespec mtime, struct blob **out)
{
	int rc = flush(k, true);
	if (rc)
		return rc;
	if (k->fd < 0) {
		*out = blob_new(k->sb.data ? k->sb.data : "", k->sb.len, mtime);
		return *out ? 0 : ENOMEM;
	}
	struct blob_file *file = blob_file_adopt(k->fd);
	k->fd = -1;
	*out = file ? blob_new_in_file(file, 0, (size_t)k->written, k->hash, mtime) : NULL;
	blob_file_unref(file);
	return *out ? 0 : ENOMEM;
}

int monthcsv_build(const struct blob *month, int spill_dir, struct timespec mtime,
		   struct blob **out)
{
	struct columns cols = { .n_extra = 0 };
	int rc = each_line(month, note_columns, &cols);
	qsort(cols.extra, cols.n_extra, sizeof(cols.extra[0]), cmp_str);
	struct sink sink = { .spill_dir = spill_dir, .fd = -1, .hash = HASH_BYTES_START };
	strbuf_init(&sink.sb, 0);
	if (!rc) {
		write_header(&sink.sb, &cols);
		struct rows rows = { &sink, &cols };
		rc = each_line(month, write_row, &rows);
	}
	if (!rc)
		rc = finish(&sink, mtime, out);
	if (sink.fd >= 0)
		close(sink.fd);
	strbuf_release(&sink.sb);
	for (size_t i = 0; i < cols.n_extra; i++)
		free(cols.extra[i]);
	return rc;
}

static int add_to_totals(void *ctx, json_t *obj)
{
	struct month_totals *t = ctx;
	t->count++;
	csv_sum_add(&t->in, json_object_get(obj, "amount_in"));
	csv_sum_add(&t->out, json_object_get(obj, "amount_out"));
	/* Lines are in date order: the last one's balance is the month's. */
	char buf[NUMTEXT_BUF];
	size_t len;
	const char *text = numtext_number(json_object_get(obj, "accumulated"), buf, &len);
	if (!text || !csv_money_text(text, len, t->balance))
		t->balance[0] = '\0';
	return 0;
}

int monthcsv_totals(const struct blob *month, struct month_totals *t)
{
	memset(t, 0, sizeof(*t));
	return each_line(month, add_to_totals, t);
}

bool monthcsv_totals_row(struct strbuf *sb, int32_t month, const struct month_totals *t,
			 bool with_balance)
{
	char in[CSV_MONEY_MAX], out[CSV_MONEY_MAX];
	if (!csv_sum_text(&t->in, in) || !csv_sum_text(&t->out, out))
		return false;
	strbuf_printf(sb, "%04d-%02d,%lld,%s,%s", (int)(month / 100), (int)(month % 100),
		      (long long)t->count, in, out);
	if (with_balance)
		strbuf_printf(sb, ",%s", t->balance);
	csv_end_record(sb);
	return true;
}
