/* decimal.c - whole numbers in options. */
#include "decimal.h"

#include <errno.h>
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
