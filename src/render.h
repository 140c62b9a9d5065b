/* render.h - the JSON a user reads: an API object as file content.
 *
 * Pretty-printed with a 2-space indent, keys in the order the API sent them,
 * UTF-8 text written as UTF-8, numbers as the API wrote them (a marked
 * number, numtext.h, is printed bare: 2705000.00 stays 2705000.00, 1e400
 * stays 1e400), and a final newline.  A real that did not come through
 * numtext (none from the API) is printed in the shortest positional form
 * that reads back as the same double.  Jansson's own dumper prints %.17g
 * reals and knows no marked numbers, hence this file. */
#ifndef SEPAYFS_RENDER_H
#define SEPAYFS_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Returns malloc'ed NUL-terminated bytes and their length, or NULL when out
 * of memory or nested deeper than 64 levels (callers bound depth first:
 * see SEPAY_MAX_DEPTH). */
char *render_json(const json_t *value, size_t *len);

/* Appends value as one compact line (no spaces, then "\n"), with the same
 * string and number rules: a JSON Lines record.  false on failure. */
struct strbuf;
bool render_json_line(struct strbuf *sb, const json_t *value);

/* Writes the shortest exact positional form of a finite double ("0.1",
 * "1777283273.0", "-0.0").  Returns the length, or 0 if it does not fit. */
size_t render_real(double d, char *buf, size_t size);

#endif
