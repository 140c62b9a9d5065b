/* fuzz_common.h - helpers shared by the libFuzzer targets in this directory.
 *
 * Everything here is static: each target is one translation unit compiled
 * together with the project sources it exercises (see contrib/fuzz.sh). */
#ifndef SEPAYFS_FUZZ_COMMON_H
#define SEPAYFS_FUZZ_COMMON_H

#include "numtext.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken invariant: say which one and abort, so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                              \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,   \
				__LINE__, #cond);                                     \
			abort();                                                      \
		}                                                                     \
	} while (0)

/* The renderer refuses values nested deeper than this (RENDER_MAX_DEPTH in
 * src/render.c): depth 0 is the value itself, its members are depth 1.  A
 * value no deeper than this must render. */
#define FUZZ_RENDER_MAX_DEPTH 64

/* The deepest level any value inside v sits at (v itself is 0). */
static inline size_t fuzz_json_depth(const json_t *v)
{
	size_t deepest = 0;
	if (json_is_object(v)) {
		const char *key;
		json_t *member;
		json_object_foreach((json_t *)v, key, member) {
			size_t d = 1 + fuzz_json_depth(member);
			if (d > deepest)
				deepest = d;
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			size_t d = 1 + fuzz_json_depth(json_array_get(v, i));
			if (d > deepest)
				deepest = d;
		}
	}
	return deepest;
}

/* Calls fn on every real inside v; returns how many there were. */
static inline size_t fuzz_json_reals(const json_t *v, void (*fn)(double d))
{
	size_t n = 0;
	if (json_is_object(v)) {
		const char *key;
		json_t *member;
		json_object_foreach((json_t *)v, key, member)
			n += fuzz_json_reals(member, fn);
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			n += fuzz_json_reals(json_array_get(v, i), fn);
	} else if (json_is_real(v)) {
		if (fn)
			fn(json_real_value(v));
		n = 1;
	}
	return n;
}

/* A string value as numtext reads it: a marked number's text (*number),
 * else the server's text. */
static inline const char *fuzz_string_text(const json_t *v, size_t *len, bool *number)
{
	const char *text = numtext_marked(v, len);
	*number = text != NULL;
	return text ? text : numtext_string(v, len);
}

/* Like json_equal, but stricter on reals (the rendered text promises the
 * same double back: equal, and the same sign for -0.0), and read as
 * numtext reads values: b may come from a text rewritten by numtext, where
 * a real is a marked number that reads back as it, and a string the same
 * text (a marked number the same number text). */
static inline bool fuzz_json_same(const json_t *a, const json_t *b)
{
	if (a && b && json_is_real(a) && json_is_string(b)) {
		size_t len;
		const char *text = numtext_marked(b, &len);
		double back = text ? strtod(text, NULL) : NAN;
		return back == json_real_value(a) && signbit(back) == signbit(json_real_value(a));
	}
	if (a && b && json_is_string(a) && json_is_integer(b)) {
		/* A string that was a marked number with an integer's text
		 * (numtext never marks one jansson holds): printed bare, it
		 * reads back as that integer. */
		size_t len;
		char buf[NUMTEXT_BUF];
		const char *text = numtext_marked(a, &len);
		int n = snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(b));
		return text && n > 0 && (size_t)n == len && memcmp(text, buf, len) == 0;
	}
	if (!a || !b || json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_OBJECT: {
		if (json_object_size(a) != json_object_size(b))
			return false;
		const char *key;
		json_t *member;
		json_object_foreach((json_t *)a, key, member)
			if (!fuzz_json_same(member, json_object_get(b, key)))
				return false;
		return true;
	}
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!fuzz_json_same(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	case JSON_STRING: {
		size_t na, nb;
		bool number_a, number_b;
		const char *sa = fuzz_string_text(a, &na, &number_a);
		const char *sb = fuzz_string_text(b, &nb, &number_b);
		return number_a == number_b && na == nb && memcmp(sa, sb, na) == 0;
	}
	case JSON_INTEGER:
		return json_integer_value(a) == json_integer_value(b);
	case JSON_REAL: {
		double x = json_real_value(a), y = json_real_value(b);
		return x == y && signbit(x) == signbit(y);
	}
	default: /* true, false, null: the type is the value */
		return true;
	}
}

/* Checks the text render_json gave for v (NULL allowed only past the depth
 * limit): one trailing newline, no NUL inside, and read as the daemon reads
 * a body (numtext_rewrite, then jansson) it is v again: every number as
 * the same text. */
static inline void fuzz_check_rendered(const json_t *v, const char *text, size_t len)
{
	if (!text) {
		FUZZ_CHECK(fuzz_json_depth(v) > FUZZ_RENDER_MAX_DEPTH);
		return;
	}
	FUZZ_CHECK(len > 0);
	FUZZ_CHECK(text[len - 1] == '\n');
	FUZZ_CHECK(text[len] == '\0');
	FUZZ_CHECK(memchr(text, '\0', len) == NULL);
	/* Only the final newline ends the text: no other trailing whitespace. */
	FUZZ_CHECK(len == 1 || (text[len - 2] != '\n' && text[len - 2] != ' '));

	json_error_t err;
	/* Values may hold \u0000 (the API's bodies are read with JSON_ALLOW_NUL). */
	json_t *plain = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (!plain && json_error_code(&err) != json_error_numeric_overflow) {
		fprintf(stderr, "rendered text does not parse: %s (line %d col %d)\n", err.text,
			err.line, err.column);
		FUZZ_CHECK(plain != NULL);
	}
	json_decref(plain);
	char *owned;
	size_t marked_len;
	const char *marked = numtext_rewrite(text, len, &owned, &marked_len);
	FUZZ_CHECK(marked != NULL);
	json_t *back = json_loadb(marked, marked_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	FUZZ_CHECK(back != NULL);
	FUZZ_CHECK(fuzz_json_same(v, back));
	json_decref(back);
	free(owned);
}

#endif
