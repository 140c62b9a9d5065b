/* salvage.c - leave out the items of a page jansson cannot read. */
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

/* The body with item [start, end) and the comma joining it to a neighbour
 * taken out (malloc'ed, *out_len set). */
static char *without(const char *s, size_t len, struct span item, size_t *out_len)
{
	size_t from = item.start, to = item.end;
	size_t j = to;
	while (j < len && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r'))
		j++;
	if (j < len && s[j] == ',') {
		to = j + 1; /* "a, BAD, c" -> "a, c" */
	} else {
		size_t k = from;
		while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t' || s[k - 1] == '\n' ||
				 s[k - 1] == '\r'))
			k--;
		if (k > 0 && s[k - 1] == ',')
			from = k - 1; /* "a, BAD]" -> "a]" */
	}
	char *out = malloc(len - (to - from) + 1);
	if (!out)
		return NULL;
	memcpy(out, s, from);
	memcpy(out + from, s + to, len - to);
	*out_len = len - (to - from);
	out[*out_len] = '\0';
	return out;
}

json_t *salvage_list(const char *body, size_t len, size_t flags, const char *op,
		     const char *path, size_t *dropped, json_error_t *error)
{
	*dropped = 0;
	json_t *root = json_loadb(body, len, flags, error);
	char *copy = NULL;
	const char *text = body;
	/* Only a value jansson cannot hold is an item's fault; broken syntax
	 * is a body damaged on the way, not a page to repair. */
	while (!root && *dropped < SALVAGE_MAX_DROPPED &&
	       (json_error_code(error) == json_error_numeric_overflow ||
		json_error_code(error) == json_error_invalid_utf8)) {
		struct span *items = NULL;
		size_t count = 0, at = (size_t)error->position, bad = (size_t)-1;
		if (!data_items(text, len, &items, &count))
			break;
		for (size_t i = 0; i < count; i++)
			if (at >= items[i].start && at <= items[i].end)
				bad = i;
		if (bad == (size_t)-1) {
			free(items);
			break;
		}
		size_t new_len;
		char *next = without(text, len, items[bad], &new_len);
		free(items);
		if (!next)
			break;
		log_warn("%s: GET %s: skipped an item jansson cannot hold (%s at byte %zu)", op, path,
			 error->text, at);
		free(copy);
		copy = next;
		text = copy;
		len = new_len;
		(*dropped)++;
		root = json_loadb(text, len, flags, error);
	}
	if (copy) {
		explicit_bzero(copy, len);
		free(copy);
	}
	return root;
}
