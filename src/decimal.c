/* decimal.c - numbers in options. */
#include "decimal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

bool decimal_parse(const char *text, unsigned long min, unsigned long max, unsigned long *out)
{
	/* strtoul alone would take " 5", "+5" and "-1" (as ULONG_MAX). */
	if (!text || *text < '0' || *text > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool decimal_parse_fraction(const char *text, unsigned places, unsigned long min,
			    unsigned long max, unsigned long *out)
{
	/* By hand, not strtod: that takes "inf", "nan", "1e3", "0x1p1", and a
	 * comma for the point in some locales. */
	if (!text || *text < '0' || *text > '9')
		return false;
	unsigned long v = 0;
	unsigned decimals = 0;
	bool point = false;
	for (const char *p = text; *p; p++) {
		if (*p == '.' && !point && p[1]) {
			point = true;
			continue;
		}
		if (*p < '0' || *p > '9' || (point && ++decimals > places) ||
		    v > (ULONG_MAX - 9) / 10)
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	for (; decimals < places; decimals++) {
		if (v > ULONG_MAX / 10)
			return false;
		v *= 10;
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}
