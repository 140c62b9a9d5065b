/* test_ratelimit.c - slots 1/R apart, no limit when R is 0. */
#include "check.h"
#include "clock.h"
#include "ratelimit.h"

/* The slot a request with no deadline gets. */
static uint64_t reserve(struct rate_limit *rl, uint64_t now_ns)
{
	uint64_t start = 0;
	CHECK(rate_limit_reserve(rl, now_ns, UINT64_MAX, &start));
	return start;
}

int main(void)
{
	struct rate_limit rl;
	rate_limit_init(&rl, 4); /* 250 ms apart */
	uint64_t ms = 1000000;
	CHECK_INT(reserve(&rl, 1000 * ms), 1000 * ms);
	CHECK_INT(reserve(&rl, 1000 * ms), 1250 * ms); /* a burst is spread */
	CHECK_INT(reserve(&rl, 1100 * ms), 1500 * ms);
	CHECK_INT(reserve(&rl, 3000 * ms), 3000 * ms); /* idle time is not saved up */
	CHECK_INT(reserve(&rl, 3000 * ms), 3250 * ms);
	rate_limit_destroy(&rl);

	rate_limit_init(&rl, 0);
	CHECK_INT(reserve(&rl, 5 * ms), 5 * ms);
	CHECK_INT(reserve(&rl, 5 * ms), 5 * ms);
	CHECK(rate_limit_wait(&rl, 0)); /* no limit: at once, whatever the deadline */
	rate_limit_destroy(&rl);
	rate_limit_init(&rl, 0);

	/* A 429 with Retry-After 1 s: nothing before it, then spaced 50 ms,
	 * wider with each further 429, back to no limit after successes. */
	rate_limit_slow_down(&rl, 10 * ms, 1000 * ms);
	CHECK_INT(reserve(&rl, 20 * ms), 1010 * ms);
	CHECK_INT(reserve(&rl, 20 * ms), 1060 * ms);
	rate_limit_slow_down(&rl, 1005 * ms, 0); /* the same burst: not wider again */
	CHECK_INT(rl.interval_ns, 50 * ms);
	rate_limit_slow_down(&rl, 1100 * ms, 0);
	CHECK_INT(rl.interval_ns, 100 * ms);
	/* Successes within a second of the last 429 change nothing; each quiet
	 * second after it halves the spacing, down to no limit. */
	rate_limit_speed_up(&rl, 1900 * ms);
	CHECK_INT(rl.interval_ns, 100 * ms);
	rate_limit_speed_up(&rl, 2100 * ms);
	CHECK_INT(rl.interval_ns, 50 * ms);
	rate_limit_speed_up(&rl, 2500 * ms);
	CHECK_INT(rl.interval_ns, 50 * ms);
	for (uint64_t t = 3200; t < 20000; t += 1100)
		rate_limit_speed_up(&rl, t * ms);
	CHECK_INT(rl.interval_ns, 0);
	/* A slot past the deadline is refused without waiting. */
	rate_limit_slow_down(&rl, clock_mono_ns(), 60000 * ms);
	CHECK(!rate_limit_wait(&rl, clock_mono_ns() + 1000 * ms));
	rate_limit_destroy(&rl);

	/* A slot past the deadline is not taken: the next request, with a
	 * later deadline, gets that same slot instead of one behind it. */
	rate_limit_init(&rl, 4);
	uint64_t start = 0;
	CHECK_INT(reserve(&rl, 1000 * ms), 1000 * ms);
	CHECK_INT(reserve(&rl, 1000 * ms), 1250 * ms);
	for (int i = 0; i < 100; i++)
		CHECK(!rate_limit_reserve(&rl, 1000 * ms, 1400 * ms, &start));
	CHECK_INT(start, 1500 * ms);
	CHECK(rate_limit_reserve(&rl, 1000 * ms, 1500 * ms, &start));
	CHECK_INT(start, 1500 * ms);
	CHECK_INT(reserve(&rl, 1000 * ms), 1750 * ms);
	rate_limit_destroy(&rl);

	/* Never narrower than the configured rate. */
	rate_limit_init(&rl, 4);
	rate_limit_slow_down(&rl, 0, 0);
	CHECK_INT(rl.interval_ns, 500 * ms);
	for (uint64_t t = 1100; t < 10000; t += 1100)
		rate_limit_speed_up(&rl, t * ms);
	CHECK_INT(rl.interval_ns, 250 * ms);
	rate_limit_destroy(&rl);

	/* SIGHUP forgets what the server asked: the next slot is now. */
	rate_limit_init(&rl, 4);
	uint64_t now = clock_mono_ns();
	rate_limit_slow_down(&rl, now, 3600000 * ms);
	CHECK(!rate_limit_reserve(&rl, now, now + 1000 * ms, &start));
	rate_limit_reset(&rl);
	now = clock_mono_ns();
	CHECK(rate_limit_reserve(&rl, now, now + 1000 * ms, &start));
	CHECK(start <= now + 250 * ms);
	CHECK_INT(rl.interval_ns, 250 * ms);
	rate_limit_destroy(&rl);
	return check_report("ratelimit");
}
