/* salvage.c - leave out the items of a page jansson cannot read.
 *
 * A constant number of passes over the body however many items are bad:
 * the whole parse that failed, a scan for the items, each item from the
 * failed one on parsed alone, one copy without the bad ones, one last
 * parse.  (It parsed the whole body again after each item left out: 62
 * times the CPU of a clean parse for a 14.6 MB page with 100 of them
 * spread through it, tests/bench/bench_cpu.py; now 2 times.) */
#include "salvage.h"

#include "log.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct span {
	size_t start, end; /* [start, end) of one item, commas excluded */
};

struct span_list {
	struct span *items;
	size_t count, cap;
};

static bool span_list_add(struct span_list *l, size_t start, size_t end)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct span *grown = realloc(l->items, cap * sizeof(*grown));
		if (!grown)
			return false;
		l->items = grown;
		l->cap = cap;
	}
	l->items[l->count++] = (struct span){ start, end };
	return true;
}

/* The index of the quote that closes the string opened at s[open], or len
 * when it is not closed. */
static size_t string_end(const char *s, size_t len, size_t open)
{
	for (size_t i = open + 1; i < len; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i;
	}
	return len;
}

static bool between_items(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']';
}

/* The items of the top-level object's "data" array, as byte spans, found
 * without decoding anything (the bytes may be invalid UTF-8, the numbers
 * too big).  false when there is no such array, or it is not closed. */
static bool data_items(const char *s, size_t len, struct span **items, size_t *count)
{
	struct span_list found = { .items = NULL };
	size_t depth = 0, key_start = 0, key_end = 0;
	size_t item_start = 0; /* one past the current item's start; 0: none */
	bool want_value = false, in_data = false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool at_items = in_data && depth == 2;
		if (at_items && item_start == 0 && !between_items(c))
			item_start = i + 1;
		if (c == '"') {
			key_start = i + 1;
			key_end = string_end(s, len, i);
			if (key_end == len)
				break;
			i = key_end;
		} else if (c == ':') {
			want_value = depth == 1 && key_end - key_start == 4 &&
				     memcmp(s + key_start, "data", 4) == 0;
		} else if (c == '{' || c == '[') {
			if (want_value && depth == 1 && c == '[')
				in_data = true;
			want_value = false;
			depth++;
		} else if (c == '}' || c == ']') {
			/* A '}' closing nothing inside the array: not a page to
			 * repair. */
			if (depth == 0 || (at_items && c == '}'))
				break;
			if (!at_items) {
				depth--;
				continue;
			}
			if (item_start && !span_list_add(&found, item_start - 1, i))
				break;
			*items = found.items;
			*count = found.count;
			return true;
		} else if (c == ',' && at_items && item_start) {
			if (!span_list_add(&found, item_start - 1, i))
				break;
			item_start = 0;
		}
	}
	free(found.items);
	return false;
}

/* Whether a failed parse is a value jansson cannot hold, which makes an
 * item unreadable, rather than broken syntax, which is a body damaged on
 * the way and not a page to repair. */
static bool unholdable(const json_error_t *error)
{
	return json_error_code(error) == json_error_numeric_overflow ||
	       json_error_code(error) == json_error_invalid_utf8;
}

/* The body without the items marked bad, in one copy: everything before
 * the first item, the good items joined by commas, everything from the
 * last item's end on (malloc'ed, *out_len set). */
static char *without(const char *s, size_t len, const struct span *items, size_t count,
		     const bool *bad, size_t *out_len)
{
	char *out = malloc(len + 1);
	if (!out)
		return NULL;
	size_t n = items[0].start;
	memcpy(out, s, n);
	bool first = true;
	for (size_t i = 0; i < count; i++) {
		if (bad[i])
			continue;
		if (!first)
			out[n++] = ',';
		first = false;
		memcpy(out + n, s + items[i].start, items[i].end - items[i].start);
		n += items[i].end - items[i].start;
	}
	memcpy(out + n, s + items[count - 1].end, len - items[count - 1].end);
	n += len - items[count - 1].end;
	out[n] = '\0';
	*out_len = n;
	return out;
}

/* Marks the items jansson cannot hold, from the one the whole parse failed
 * in on: each parsed alone, so together at most the body once more.  The
 * number marked, each one's error (its position made the body's) in
 * errors; it stops at SALVAGE_MAX_DROPPED + 1, past the bound. */
static size_t mark_unholdable(const char *s, const struct span *items, size_t count,
			      size_t from, size_t flags, bool *bad, json_error_t *errors)
{
	size_t marked = 0;
	for (size_t i = from; i < count && marked <= SALVAGE_MAX_DROPPED; i++) {
		json_error_t error;
		json_t *item = json_loadb(s + items[i].start, items[i].end - items[i].start,
					  flags | JSON_DECODE_ANY, &error);
		if (item) {
			json_decref(item);
		} else if (unholdable(&error)) {
			bad[i] = true;
			errors[marked++] = error;
			errors[marked - 1].position += (int)items[i].start;
		}
		/* Broken syntax inside an item stays: the last parse fails on it. */
	}
	return marked;
}

json_t *salvage_list(const char *body, size_t len, size_t flags, const char *op,
		     const char *path, size_t *dropped, json_error_t *error)
{
	*dropped = 0;
	json_t *root = json_loadb(body, len, flags, error);
	if (root || !unholdable(error))
		return root;
	struct span *items = NULL;
	size_t count = 0, at = (size_t)error->position, from = (size_t)-1;
	if (!data_items(body, len, &items, &count))
		return NULL;
	for (size_t i = 0; i < count && from == (size_t)-1; i++)
		if (at >= items[i].start && at <= items[i].end)
			from = i;
	bool *bad = from != (size_t)-1 ? calloc(count, sizeof(*bad)) : NULL;
	json_error_t *errors = bad ? malloc((SALVAGE_MAX_DROPPED + 1) * sizeof(*errors)) : NULL;
	size_t marked = errors ? mark_unholdable(body, items, count, from, flags, bad, errors) : 0;
	char *rest = NULL;
	size_t rest_len = 0;
	/* Past the bound, the body is not a page with a few bad items but a
	 * bad page: refused, with the whole parse's error. */
	if (marked && marked <= SALVAGE_MAX_DROPPED &&
	    (rest = without(body, len, items, count, bad, &rest_len)))
		root = json_loadb(rest, rest_len, flags, error);
	if (root) {
		for (size_t i = 0; i < marked; i++)
			log_warn("%s: GET %s: skipped an item jansson cannot hold (%s at byte %d)", op,
				 path, errors[i].text, errors[i].position);
		*dropped = marked;
	}
	if (rest) {
		explicit_bzero(rest, rest_len);
		free(rest);
	}
	free(errors);
	free(bad);
	free(items);
	return root;
}
