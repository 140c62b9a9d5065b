/* decimal.h - numbers as people type them in options: decimal digits
 * only (no sign, no space, no 0x, no exponent), within a range. */
#ifndef SEPAYFS_DECIMAL_H
#define SEPAYFS_DECIMAL_H

#include <stdbool.h>

/* *out = the number text writes, when it is all digits and in [min, max]. */
bool decimal_parse(const char *text, unsigned long min, unsigned long max, unsigned long *out);
/* *out = the number text writes times 10^places, when it is digits with at
 * most places of them after a point ("2.5", "3"), and in [min, max] (which
 * are scaled alike: 250 is 2.5 with two places). */
bool decimal_parse_fraction(const char *text, unsigned places, unsigned long min,
			    unsigned long max, unsigned long *out);

#endif
