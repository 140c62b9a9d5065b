/* fuzz_dates.c - the dates SePay sends, as months read them.
 *
 * The input is a transaction_date or created_at as the API could send it
 * (NUL-terminated here, as jansson hands strings over).  month_of_date()
 * must give 0 or a real month, one whose first instant month_start() can
 * place, and whose neighbours month_add() finds. */
#include "fuzz_common.h"

#include "months.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	FUZZ_CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	int32_t m = month_of_date(text);
	free(text);
	if (!m)
		return 0;
	FUZZ_CHECK(m >= 197001 && m <= 999912 && m % 100 >= 1 && m % 100 <= 12);
	int32_t next = month_add(m, 1), prev = month_add(m, -1);
	FUZZ_CHECK(month_add(next, -1) == m && month_add(prev, 1) == m);
	FUZZ_CHECK(month_count(m, next) == 2 && month_count(next, m) == 0);
	FUZZ_CHECK(month_start(next) > month_start(m));
	FUZZ_CHECK(month_of_time(month_start(m)) == m);
	FUZZ_CHECK(month_of_time(month_start(next) - 1) == m);
	FUZZ_CHECK(month_last_day(m) >= 28 && month_last_day(m) <= 31);
	return 0;
}
