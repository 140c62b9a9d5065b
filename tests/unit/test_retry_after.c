/* test_retry_after.c - every header form a 429 names its wait in. */
#include "check.h"
#include "retry_after.h"

static double wait_of(const char *const *lines, time_t now)
{
	struct retry_hints h;
	retry_hints_init(&h, now);
	for (; *lines; lines++)
		retry_hints_header(&h, *lines, strlen(*lines));
	return retry_hints_seconds(&h);
}

#define WAIT(now, ...) wait_of((const char *const[]){ __VA_ARGS__, NULL }, now)

int main(void)
{
	const time_t now = 1784000000; /* 2026-07-14 03:33:20 UTC */
	CHECK(WAIT(now, "Content-Type: application/json\r\n") == -1);
	CHECK(WAIT(now, "Retry-After: 2\r\n") == 2);
	CHECK(WAIT(now, "retry-after:1.5\r\n") == 1.5);
	CHECK(WAIT(now, "x-sepay-userapi-retry-after: 3\r\n") == 3);
	/* Retry-After first when both are sent. */
	CHECK(WAIT(now, "x-sepay-userapi-retry-after: 3\r\n", "Retry-After: 7\r\n") == 7);
	/* An HTTP date: the seconds until it; a date gone by: no wait. */
	CHECK(WAIT(now, "Retry-After: Tue, 14 Jul 2026 03:33:30 GMT\r\n") == 10);
	CHECK(WAIT(now, "Retry-After: Tue, 14 Jul 2026 03:00:00 GMT\r\n") == 0);
	/* v2's window: a reset as seconds from now, or as a Unix time, once
	 * nothing is left of it; while requests remain, no wait. */
	CHECK(WAIT(now, "X-RateLimit-Remaining: 0\r\n", "X-RateLimit-Reset: 2\r\n") == 2);
	CHECK(WAIT(now, "X-RateLimit-Remaining: 0\r\n", "X-RateLimit-Reset: 1784000004\r\n") == 4);
	CHECK(WAIT(now, "X-RateLimit-Remaining: 5\r\n", "X-RateLimit-Reset: 2\r\n") == -1);
	CHECK(WAIT(now, "X-RateLimit-Reset: 2\r\n") == -1);
	/* What is not a plain number or a date names no wait. */
	CHECK(WAIT(now, "Retry-After: 1e400\r\n") == -1);
	CHECK(WAIT(now, "Retry-After: -5\r\n") == -1);
	CHECK(WAIT(now, "Retry-After: inf\r\n") == -1);
	CHECK(WAIT(now, "Retry-After: nan\r\n") == -1);
	CHECK(WAIT(now, "Retry-After: 5 seconds\r\n") == -1);
	CHECK(WAIT(now, "Retry-After:\r\n") == -1);
	CHECK(WAIT(now, "Retry-After-Extra: 5\r\n") == -1);
	/* A huge number is a number: sepay.c bounds what it believes. */
	CHECK(WAIT(now, "Retry-After: 1000000000\r\n") == 1e9);
	return check_report("retry_after");
}
