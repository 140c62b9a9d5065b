/* numtext.c - mark the numbers of an API body, read them back. */
#include "numtext.h"

#include "strbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jansson refuses bodies nested deeper than 2048 levels
 * (JSON_PARSER_MAX_DEPTH): past this many, nothing is rewritten, and the
 * body fails as it would have. */
#define MAX_DEPTH 4096

static const char MARK_ESCAPE[] = "\\u0001"; /* the marker, as JSON writes it */
#define MARK_ESCAPE_LEN 6

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool numtext_is_number(const char *s, size_t n)
{
	size_t i = 0;
	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && s[i] >= '1' && s[i] <= '9')
		while (i < n && is_digit(s[i]))
			i++;
	else
		return false;
	if (i < n && s[i] == '.') {
		size_t from = ++i;
		while (i < n && is_digit(s[i]))
			i++;
		if (i == from)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t from = i;
		while (i < n && is_digit(s[i]))
			i++;
		if (i == from)
			return false;
	}
	return i == n;
}

/* Whether jansson gives a JSON number back as it was written: only an
 * integer within int64 and not -0 (a fraction or an exponent becomes a
 * double, -0 the integer 0, a longer integer an error). */
static bool kept_as_written(const char *s, size_t n)
{
	bool negative = s[0] == '-';
	const char *digits = s + negative;
	size_t nd = n - negative;
	if (memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n))
		return false;
	if (negative && nd == 1 && digits[0] == '0')
		return false;
	if (nd != 19)
		return nd < 19;
	return memcmp(digits, negative ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

/* Where the scan stands: what may come next decides whether a number or a
 * string found there is a value. */
enum expect { VALUE, KEY, COLON, AFTER_VALUE };

struct rewrite {
	const char *in;
	size_t len, copied; /* in[0, copied) is in out already */
	struct strbuf out;
	bool changed;
};

/* Copies what is pending up to at, then inserts text. */
static void insert(struct rewrite *r, size_t at, const char *text, size_t n)
{
	r->changed = true;
	strbuf_append(&r->out, r->in + r->copied, at - r->copied);
	strbuf_append(&r->out, text, n);
	r->copied = at;
}

/* The end of the string that starts at in[i] (its closing quote), or len
 * when it is not closed. */
static size_t string_end(const char *in, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		const char *stop = in + i;
		/* Most bytes are neither: find the next of either fast. */
		while (stop < in + len && *stop != '"' && *stop != '\\')
			stop++;
		i = (size_t)(stop - in);
		if (i >= len || in[i] == '"')
			return i;
		i++; /* the escaped character */
	}
	return len;
}

const char *numtext_rewrite(const char *body, size_t len, char **owned, size_t *out_len)
{
	struct rewrite r = { .in = body, .len = len };
	strbuf_init(&r.out, 0);
	*owned = NULL;
	unsigned char objects[MAX_DEPTH / 8] = { 0 }; /* a bit per level: an object */
	size_t depth = 0;
	enum expect expect = VALUE;
	for (size_t i = 0; i < len; i++) {
		char c = body[i];
		switch (c) {
		case '"': {
			size_t end = string_end(body, len, i);
			if (expect == VALUE && len - (i + 1) >= MARK_ESCAPE_LEN &&
			    memcmp(body + i + 1, MARK_ESCAPE, MARK_ESCAPE_LEN) == 0)
				insert(&r, i + 1, MARK_ESCAPE, MARK_ESCAPE_LEN);
			expect = expect == KEY ? COLON : AFTER_VALUE;
			i = end;
			break;
		}
		case '{':
		case '[':
			if (depth == MAX_DEPTH)
				goto done; /* jansson refuses it */
			if (c == '{')
				objects[depth / 8] |= (unsigned char)(1u << (depth % 8));
			else
				objects[depth / 8] &= (unsigned char)~(1u << (depth % 8));
			depth++;
			expect = c == '{' ? KEY : VALUE;
			break;
		case '}':
		case ']':
			if (depth)
				depth--;
			expect = AFTER_VALUE;
			break;
		case ':':
			expect = VALUE;
			break;
		case ',':
			expect = depth && (objects[(depth - 1) / 8] >> ((depth - 1) % 8) & 1) ? KEY
											     : VALUE;
			break;
		case ' ': case '\t': case '\n': case '\r':
			break;
		default:
			if (c == '-' || is_digit(c)) {
				size_t end = i;
				while (end < len && (is_digit(body[end]) || body[end] == '.' ||
						     body[end] == 'e' || body[end] == 'E' ||
						     body[end] == '+' || body[end] == '-'))
					end++;
				if (expect == VALUE && numtext_is_number(body + i, end - i) &&
				    !kept_as_written(body + i, end - i)) {
					insert(&r, i, "\"\\u0001", 1 + MARK_ESCAPE_LEN);
					insert(&r, end, "\"", 1);
				}
				i = end - 1;
			}
			/* true, false, null, or what jansson refuses anyway */
			expect = AFTER_VALUE;
			break;
		}
	}
done:
	if (!r.changed) {
		*out_len = len;
		return body;
	}
	strbuf_append(&r.out, body + r.copied, len - r.copied);
	*owned = strbuf_take(&r.out, out_len); /* NULL: out of memory */
	return *owned;
}

const char *numtext_marked(const json_t *v, size_t *len)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (!s || n < 2 || s[0] != NUMTEXT_MARK || !numtext_is_number(s + 1, n - 1))
		return NULL;
	*len = n - 1;
	return s + 1;
}

const char *numtext_string(const json_t *v, size_t *len)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (!s || numtext_marked(v, len))
		return NULL;
	bool doubled = n >= 2 && s[0] == NUMTEXT_MARK && s[1] == NUMTEXT_MARK;
	*len = n - doubled;
	return s + doubled;
}

const char *numtext_number(const json_t *v, char buf[NUMTEXT_BUF], size_t *len)
{
	int n = -1;
	if (json_is_integer(v))
		n = snprintf(buf, NUMTEXT_BUF, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		n = snprintf(buf, NUMTEXT_BUF, "%.17g", json_real_value(v));
	if (n > 0 && n < NUMTEXT_BUF) {
		*len = (size_t)n;
		return buf;
	}
	const char *text = numtext_marked(v, len);
	if (text)
		return text;
	text = json_string_value(v);
	if (text && numtext_is_number(text, json_string_length(v))) {
		*len = json_string_length(v);
		return text;
	}
	return NULL;
}
