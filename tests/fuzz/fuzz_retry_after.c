/* fuzz_retry_after.c - a 429's headers, as the transport hands them over.
 *
 * The input is a block of header lines, split at '\n' as libcurl delivers
 * them; each goes through retry_hints_header(), and the wait that comes out
 * must be -1 (none named) or a finite number of seconds >= 0. */
#include "fuzz_common.h"

#include "retry_after.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct retry_hints h;
	retry_hints_init(&h, 1784000000);
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl + 1 : end;
		/* libcurl's lines are not NUL-terminated: a copy exactly as long,
		 * so ASan sees any read past it. */
		size_t n = (size_t)(stop - p);
		char *line = malloc(n ? n : 1);
		FUZZ_CHECK(line != NULL);
		memcpy(line, p, n);
		retry_hints_header(&h, line, n);
		free(line);
		p = stop;
	}
	double wait = retry_hints_seconds(&h);
	FUZZ_CHECK(wait == -1 || (isfinite(wait) && wait >= 0));
	return 0;
}
