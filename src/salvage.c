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

/* The items of the top-level object's "data" array, as byte spans, found
 * without decoding anything (the bytes may be invalid UTF-8, the numbers
 * too big).  false when there is no such array, or it is not closed. */
static bool data_items(const char *s, size_t len, struct span **items, size_t *count)
{
	size_t depth = 0, cap = 0, key_start = 0, key_end = 0;
	bool in_string = false, escaped = false, want_value = false, in_data = false;
	size_t item_start = 0, n = 0;
	struct span *out = NULL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"') {
				in_string = false;
				key_end = i;
			}
			continue;
		}
		if (in_data && depth == 2 && item_start == 0 && c != ' ' && c != '\t' &&
		    c != '\n' && c != '\r' && c != ',' && c != ']')
			item_start = i + 1; /* +1: 0 means none */
		switch (c) {
		case '"':
			in_string = true;
			key_start = i + 1;
			break;
		case ':':
			want_value = depth == 1 && key_end - key_start == 4 &&
				     memcmp(s + key_start, "data", 4) == 0;
			break;
		case '{':
		case '[':
			if (want_value && depth == 1 && c == '[')
				in_data = true;
			want_value = false;
			depth++;
			break;
		case '}':
		case ']':
			/* A '}' closing nothing inside the array: not a page to
			 * repair. */
			if (depth == 0 || (in_data && depth == 2 && c == '}'))
				goto fail;
			if (in_data && depth == 2 && item_start && c == ']') {
				/* the last item ends at the array's end */
				goto close_item;
			}
			if (in_data && depth == 2 && c == ']') {
				*items = out;
				*count = n;
				return true;
			}
			depth--;
			break;
		case ',':
			if (in_data && depth == 2 && item_start)
				goto close_item;
			break;
		default:
			break;
		}
		continue;
close_item:
		if (n == cap) {
			size_t c2 = cap ? cap * 2 : 64;
			struct span *p = realloc(out, c2 * sizeof(*p));
			if (!p)
				goto fail;
			out = p;
			cap = c2;
		}
		out[n++] = (struct span){ item_start - 1, i };
		item_start = 0;
		if (c == ']') {
			*items = out;
			*count = n;
			return true;
		}
	}
fail:
	free(out);
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
