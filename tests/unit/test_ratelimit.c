/* test_ratelimit.c - slots 1/R apart, no limit when R is 0. */
#include "check.h"
#include "ratelimit.h"

int main(void)
{
	struct rate_limit rl;
	rate_limit_init(&rl, 4); /* 250 ms apart */
	uint64_t ms = 1000000;
	CHECK_INT(rate_limit_reserve(&rl, 1000 * ms), 1000 * ms);
	CHECK_INT(rate_limit_reserve(&rl, 1000 * ms), 1250 * ms); /* a burst is spread */
	CHECK_INT(rate_limit_reserve(&rl, 1100 * ms), 1500 * ms);
	CHECK_INT(rate_limit_reserve(&rl, 3000 * ms), 3000 * ms); /* idle time is not saved up */
	CHECK_INT(rate_limit_reserve(&rl, 3000 * ms), 3250 * ms);
	rate_limit_destroy(&rl);

	rate_limit_init(&rl, 0);
	CHECK_INT(rate_limit_reserve(&rl, 5 * ms), 5 * ms);
	CHECK_INT(rate_limit_reserve(&rl, 5 * ms), 5 * ms);
	rate_limit_wait(&rl); /* returns at once */
	rate_limit_destroy(&rl);
	return check_report("ratelimit");
}
