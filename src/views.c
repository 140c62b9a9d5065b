/* views.c - balances.csv and by-number, from objects the cache holds. */
#include "views.h"

#include "csv.h"
#include "htab.h"
#include "log.h"
#include "numtext.h"
#include "render.h"
#include "strbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first of two places a field may be: "bank": {"short_name"} or the
 * flat "bank_short_name" other SePay APIs send. */
static json_t *nested_or_flat(const json_t *item, const char *inner, const char *flat)
{
	json_t *v = json_object_get(json_object_get(item, "bank"), inner);
	return v ? v : json_object_get(item, flat);
}

struct blob *views_account_row(const json_t *item, struct timespec now)
{
	json_t *row = json_object();
	struct {
		const char *name;
		json_t *value;
	} fields[] = {
		{ "account_number", json_object_get(item, "account_number") },
		{ "bank", nested_or_flat(item, "short_name", "bank_short_name") },
		{ "bank_code", nested_or_flat(item, "code", "bank_code") },
		{ "account_holder_name", json_object_get(item, "account_holder_name") },
		{ "label", json_object_get(item, "label") },
		{ "accumulated", json_object_get(item, "accumulated") },
		{ "active", json_object_get(item, "active") },
	};
	bool ok = row != NULL;
	for (size_t i = 0; ok && i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].value)
			ok = json_object_set(row, fields[i].name, fields[i].value) == 0;
	struct strbuf line;
	strbuf_init(&line, 0);
	ok = ok && render_json_line(&line, row);
	struct blob *b = ok ? blob_new(line.data, line.len, now) : NULL;
	strbuf_release(&line);
	json_decref(row);
	return b;
}

/* A row's JSON, read back as an API body is (numbers marked). */
static json_t *read_row(const struct blob *file)
{
	if (!file || file->file) /* rows are small, in memory */
		return NULL;
	char *owned = NULL;
	size_t n;
	const char *text = numtext_rewrite(file->bytes, file->v.len, &owned, &n);
	json_t *row = text ? json_loadb(text, n, JSON_ALLOW_NUL, NULL) : NULL;
	free(owned);
	return row;
}

static bool later(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

struct blob *views_balances(const struct snapshot *list)
{
	struct strbuf csv;
	strbuf_init(&csv, 0);
	strbuf_puts(&csv, VIEWS_BALANCES_HEADER);
	struct timespec mtime = list->mtime;
	bool ok = true;
	for (size_t i = 0; ok && i < list->count; i++) {
		const struct listing_entry *e = &list->entries[i];
		json_t *row = read_row(e->file);
		strbuf_printf(&csv, "%" PRId64 ",", e->id);
		static const char *const text_fields[] = { "account_number", "bank", "bank_code",
							   "account_holder_name", "label" };
		for (size_t f = 0; ok && f < sizeof(text_fields) / sizeof(text_fields[0]); f++) {
			ok = csv_value(&csv, json_object_get(row, text_fields[f]));
			strbuf_putc(&csv, ',');
		}
		ok = ok && csv_money(&csv, json_object_get(row, "accumulated"));
		strbuf_putc(&csv, ',');
		ok = ok && csv_value(&csv, json_object_get(row, "active"));
		csv_end_record(&csv);
		json_decref(row);
		if (e->file && later(e->file->v.mtime, mtime))
			mtime = e->file->v.mtime;
	}
	struct blob *b = ok && !strbuf_failed(&csv) ? blob_new(csv.data, csv.len, mtime) : NULL;
	strbuf_release(&csv);
	return b;
}

uint64_t views_name_cookie(const char *name)
{
	/* Past the fixed cookies (".", ".."), below INT64_MAX. */
	return (hash_mix(hash_text(name)) >> 2) + 3;
}

bool views_safe_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 40 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* A value's text (a string, or a number as written) into buf; false when
 * there is none or it does not fit. */
static bool value_text(const json_t *v, char *buf, size_t size)
{
	char num[NUMTEXT_BUF];
	size_t len;
	const char *text = numtext_string(v, &len);
	if (!text)
		text = numtext_number(v, num, &len);
	if (!text || len == 0 || len >= size || memchr(text, '\0', len))
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	return true;
}

struct candidate {
	char number[VIEWS_NAME_MAX];
	size_t code; /* the account's index: its bank code */
	int64_t account, sub;
	bool shared;
};

static int by_number(const void *a, const void *b)
{
	return strcmp(((const struct candidate *)a)->number, ((const struct candidate *)b)->number);
}

static int by_cookie(const void *a, const void *b)
{
	const struct number_link *x = a, *y = b;
	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

static void describe(const struct candidate *c, char *buf, size_t size)
{
	if (c->sub)
		snprintf(buf, size, "sub-account %" PRId64 " of account %" PRId64, c->sub,
			 c->account);
	else
		snprintf(buf, size, "account %" PRId64, c->account);
}

static bool room_for(struct number_builder *b, size_t more)
{
	if (b->count + more <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->count + more)
		cap *= 2;
	struct candidate *c = realloc(b->candidates, cap * sizeof(*c));
	if (!c)
		return false;
	b->candidates = c;
	b->cap = cap;
	return true;
}

bool views_links_begin(struct number_builder *b, const struct snapshot *list)
{
	memset(b, 0, sizeof(*b));
	b->codes = calloc(list->count ? list->count : 1, sizeof(*b->codes));
	if (!b->codes || !room_for(b, list->count)) {
		views_links_abort(b);
		return false;
	}
	b->accounts = list->count;
	for (size_t i = 0; i < list->count; i++) {
		json_t *row = read_row(list->entries[i].file);
		value_text(json_object_get(row, "bank_code"), b->codes[i], sizeof(b->codes[i]));
		struct candidate *c = &b->candidates[b->count];
		memset(c, 0, sizeof(*c));
		if (value_text(json_object_get(row, "account_number"), c->number,
			       sizeof(c->number))) {
			c->code = i;
			c->account = list->entries[i].id;
			b->count++;
		}
		json_decref(row);
	}
	return true;
}

bool views_links_add_subs(struct number_builder *b, size_t index, int64_t account,
			  const struct snapshot *subs)
{
	if (index >= b->accounts || !room_for(b, subs->count)) {
		views_links_abort(b);
		return false;
	}
	for (size_t s = 0; s < subs->count; s++) {
		json_t *sub = read_row(subs->entries[s].file);
		struct candidate *c = &b->candidates[b->count];
		memset(c, 0, sizeof(*c));
		if (value_text(json_object_get(sub, "account_number"), c->number,
			       sizeof(c->number))) {
			c->code = index;
			c->account = account;
			c->sub = subs->entries[s].id;
			b->count++;
		}
		json_decref(sub);
	}
	return true;
}

void views_links_abort(struct number_builder *b)
{
	free(b->candidates);
	free(b->codes);
	memset(b, 0, sizeof(*b));
}

bool views_number_links(const struct snapshot *list, struct snapshot *const *subs,
			struct number_links *out)
{
	struct number_builder b;
	if (!views_links_begin(&b, list))
		return false;
	for (size_t i = 0; i < list->count; i++)
		if (subs[i] && !views_links_add_subs(&b, i, list->entries[i].id, subs[i]))
			return false;
	return views_links_finish(&b, out);
}

bool views_links_finish(struct number_builder *b, struct number_links *out)
{
	memset(out, 0, sizeof(*out));
	struct candidate *c = b->candidates;
	size_t n = b->count;
	if (n)
		qsort(c, n, sizeof(*c), by_number);
	for (size_t i = 0; i + 1 < n; i++)
		if (strcmp(c[i].number, c[i + 1].number) == 0)
			c[i].shared = c[i + 1].shared = true;
	out->links = calloc(n ? n : 1, sizeof(*out->links));
	if (!out->links) {
		views_links_abort(b);
		return false;
	}
	char what[96];
	for (size_t i = 0; i < n; i++) {
		struct number_link *l = &out->links[out->count];
		const char *code = b->codes[c[i].code];
		int w = c[i].shared ? snprintf(l->name, sizeof(l->name), "%s-%s", code, c[i].number)
				    : snprintf(l->name, sizeof(l->name), "%s", c[i].number);
		if (w < 0 || (size_t)w >= sizeof(l->name))
			l->name[0] = '\0'; /* too long: no safe name */
		describe(&c[i], what, sizeof(what));
		if (c[i].shared && !code[0]) {
			log_warn("by-number: %s: its number is another's too, and no bank code "
				 "tells them apart; left out", what);
			continue;
		}
		if (!views_safe_name(l->name)) {
			log_warn("by-number: %s: its number is no safe file name; left out", what);
			continue;
		}
		l->account = c[i].account;
		l->sub = c[i].sub;
		l->cookie = views_name_cookie(l->name);
		out->count++;
	}
	views_links_abort(b);
	if (out->count)
		qsort(out->links, out->count, sizeof(*out->links), by_cookie);
	/* A name still shared (same bank, same number), or two names of one
	 * cookie: neither can be told apart by a reader, so both go. */
	size_t kept = 0;
	for (size_t i = 0; i < out->count; i++) {
		bool clash = (i > 0 && out->links[i - 1].cookie == out->links[i].cookie) ||
			     (i + 1 < out->count && out->links[i + 1].cookie == out->links[i].cookie);
		if (clash) {
			log_warn("by-number: %s: the name is another's too; left out",
				 out->links[i].name);
			continue;
		}
		out->links[kept++] = out->links[i];
	}
	out->count = kept;
	return true;
}

void views_number_links_release(struct number_links *links)
{
	free(links->links);
	links->links = NULL;
	links->count = 0;
}

const struct number_link *views_find_name(const struct number_links *links, const char *name)
{
	struct number_link key = { .cookie = views_name_cookie(name) };
	const struct number_link *l = links->count ? bsearch(&key, links->links, links->count,
							     sizeof(key), by_cookie) : NULL;
	return l && strcmp(l->name, name) == 0 ? l : NULL;
}

void views_link_target(const struct number_link *link, char *buf, size_t size)
{
	if (link->sub)
		snprintf(buf, size, "../accounts/%" PRId64 "/sub-accounts/%" PRId64 ".json",
			 link->account, link->sub);
	else
		snprintf(buf, size, "../accounts/%" PRId64, link->account);
}
