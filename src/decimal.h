/* decimal.h - whole numbers as people type them in options: decimal
 * digits only (no sign, no space, no 0x), within a range. */
#ifndef SEPAYFS_DECIMAL_H
#define SEPAYFS_DECIMAL_H

#include <stdbool.h>

/* *out = the number text writes, when it is all digits and in [min, max]. */
bool decimal_parse(const char *text, unsigned long min, unsigned long max, unsigned long *out);

#endif
