/* numtext.h - numbers as the API wrote them.
 *
 * jansson turns a number with a fraction or an exponent into a double and
 * forgets how it was written: 2705000.00 comes back as 2705000.0, 1E+2 as
 * 100.0, and 1e400 or an integer past 64 bits not at all (the whole body
 * is refused).  So before an API body is parsed, one pass over its bytes
 * (numtext_rewrite) turns every number jansson would not give back as
 * written (a fraction, an exponent, -0, an integer past int64) into a
 * string value: the marker U+0001, then the number's text
 * ("\u00012705000.00").
 *
 * No string the server sent can be taken for one: a server string whose
 * text begins with U+0001 can only be written "\u0001..." in JSON (a raw
 * control character is invalid), and the same pass doubles that marker.
 * So a string value that begins with exactly one U+0001 is a number's
 * text; one that begins with two is a server string that began with one.
 * Object keys are never rewritten: only values carry the convention.
 * Integers jansson holds stay integers, and print as they were written.
 *
 * Readers of values: render.c prints a marked number bare, as its text;
 * numtext_number() reads any value as number text; numtext_string() gives
 * a server string's text, a doubled marker undone.  A marked number is a
 * string to everyone else, so code that wants an integer (ids, page
 * numbers) sees what it saw when it was a real: not an integer. */
#ifndef SEPAYFS_NUMTEXT_H
#define SEPAYFS_NUMTEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define NUMTEXT_MARK '\001'

/* Room numtext_number() needs for a number it writes itself (an integer,
 * or a real that came from elsewhere, as %.17g). */
#define NUMTEXT_BUF 32

/* The body with its numbers marked, to parse instead of body: body itself
 * when nothing needed rewriting, else a buffer it stores in *owned (the
 * caller frees it; *owned is NULL otherwise).  *out_len its length.  NULL
 * when out of memory.  The result is at most 4 times as long as body, and
 * 8 bytes: a number ("-0" at the least, with a comma after it but for a
 * lone one) grows by 8 bytes, a marker (in a string of 8 at the least) by 6.  Rewriting never makes text
 * jansson refuses valid, nor the reverse, but for the numbers jansson
 * cannot hold: only number tokens that are whole JSON numbers, where a
 * value may stand, are rewritten.  (But for a raw NUL byte right after
 * such a number: no JSON, yet jansson skips it after a number, not after
 * the string the number became.  Such a body is refused now.) */
const char *numtext_rewrite(const char *body, size_t len, char **owned, size_t *out_len);

/* Whether s (len bytes) is one JSON number, as the grammar writes it. */
bool numtext_is_number(const char *s, size_t len);

/* A value's text as a number: a marked number's text, an integer's, a
 * string of a legacy API that is a JSON number ("2525493.00"), or a real
 * (from elsewhere: API values hold none) as %.17g in buf (NUMTEXT_BUF
 * bytes).  *len its length; NULL when v is no number. */
const char *numtext_number(const json_t *v, char buf[NUMTEXT_BUF], size_t *len);

/* If v is a marked number, its text (*len bytes, then the NUL that ends
 * the value); else NULL. */
const char *numtext_marked(const json_t *v, size_t *len);

/* A string value's text as the server sent it: a doubled marker undone.
 * NULL when v is no string or a marked number. */
const char *numtext_string(const json_t *v, size_t *len);

#endif
