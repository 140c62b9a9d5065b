/* test_ratelimit.c - slots 1/R apart, no limit when R is 0; a 429 halves
 * the rate and holds every request, quiet seconds give it back a step at a
 * time.  On a fake clock: nothing here sleeps. */
#include "check.h"
#include "clock.h"
#include "ratelimit.h"

static const uint64_t ms = 1000000;
static struct fake_clock fake;

/* The slot a request with no deadline gets. */
static uint64_t reserve(struct rate_limit *rl, uint64_t now_ns)
{
	uint64_t start = 0;
	CHECK(rate_limit_reserve(rl, now_ns, UINT64_MAX, &start));
	return start;
}

/* A 429 at 2.5 a second halves the rate; each quiet second after its
 * hold gives back a twentieth of 2.5, up to 2.5 and no further. */
static void test_additive_increase(void)
{
	struct rate_limit rl;
	rate_limit_init(&rl, 2.5); /* 400 ms apart */
	CHECK_INT(rl.interval_ns, 400 * ms);
	rate_limit_slow_down(&rl, 10000 * ms, 1000 * ms);
	CHECK_INT(rl.interval_ns, 800 * ms); /* 1.25 a second */
	CHECK_INT(reserve(&rl, 10000 * ms), 11000 * ms);
	CHECK_INT(reserve(&rl, 10000 * ms), 11800 * ms);
	/* The quiet seconds count from the end of the hold. */
	rate_limit_speed_up(&rl, 11900 * ms);
	CHECK_INT(rl.interval_ns, 800 * ms);
	rate_limit_speed_up(&rl, 12000 * ms);
	CHECK_INT(rl.interval_ns, 727272727); /* 1.375 a second */
	rate_limit_speed_up(&rl, 12900 * ms);
	CHECK_INT(rl.interval_ns, 727272727);
	/* Seconds without a success to count them are quiet too: three. */
	rate_limit_speed_up(&rl, 15200 * ms);
	CHECK_INT(rl.interval_ns, 571428571); /* 1.75 */
	rate_limit_speed_up(&rl, 20100 * ms);
	CHECK(rl.interval_ns > 400 * ms); /* 2.375 after nine steps */
	rate_limit_speed_up(&rl, 21000 * ms);
	CHECK_INT(rl.interval_ns, 400 * ms); /* ten: the configured rate */
	rate_limit_speed_up(&rl, 60000 * ms);
	CHECK_INT(rl.interval_ns, 400 * ms); /* and never faster */

	/* Two 429s a burst apart: a quarter of the rate, fifteen steps back. */
	rate_limit_slow_down(&rl, 100000 * ms, 1000 * ms);
	rate_limit_slow_down(&rl, 100500 * ms, 1000 * ms); /* the same burst */
	CHECK_INT(rl.interval_ns, 800 * ms);
	rate_limit_slow_down(&rl, 102000 * ms, 1000 * ms);
	CHECK_INT(rl.interval_ns, 1600 * ms); /* 0.625 a second */
	for (uint64_t t = 104000; t <= 117000; t += 1000)
		rate_limit_speed_up(&rl, t * ms);
	CHECK(rl.interval_ns > 400 * ms); /* 14 steps: 2.375 */
	rate_limit_speed_up(&rl, 118000 * ms);
	CHECK_INT(rl.interval_ns, 400 * ms);
	rate_limit_destroy(&rl);

	/* The step is a twentieth of the configured rate, whatever it is. */
	rate_limit_init(&rl, 10);
	rate_limit_slow_down(&rl, 0, 1000 * ms);
	CHECK_INT(rl.interval_ns, 200 * ms);
	rate_limit_speed_up(&rl, 2000 * ms);
	CHECK_INT(rl.interval_ns, 181818181); /* 5.5 a second */
	rate_limit_destroy(&rl);

	/* A configured rate slower than the cap on widening stays as slow. */
	rate_limit_init(&rl, 0.1);
	rate_limit_slow_down(&rl, 0, 1000 * ms);
	CHECK_INT(rl.interval_ns, 10000 * ms);
	rate_limit_destroy(&rl);
}

/* what a second thread does while the test's request waits for its slot */
static void a_429_meanwhile(void *ctx)
{
	fake.during_wait = NULL;
	rate_limit_slow_down(ctx, 100 * ms, 1000 * ms);
}

/* A slot reserved before a 429 is not used inside its hold: the request
 * waiting for it takes the first slot after the hold instead. */
static void test_hold_voids_waiting_slots(void)
{
	struct rate_limit rl;
	rate_limit_init(&rl, 2.5);
	atomic_store(&fake.mono_ns, 0);
	CHECK_INT(reserve(&rl, 0), 0); /* A goes at once */
	fake.during_wait = a_429_meanwhile;
	fake.during_wait_ctx = &rl;
	CHECK(rate_limit_wait(&rl, UINT64_MAX)); /* B: its slot was at 400 ms */
	CHECK_INT(clock_mono_ns(), 1100 * ms);
	CHECK_INT(reserve(&rl, 1100 * ms), 1900 * ms); /* the new spacing */
	/* A shorter hold does not cut a longer one short. */
	rate_limit_slow_down(&rl, 5000 * ms, 60000 * ms);
	rate_limit_slow_down(&rl, 5050 * ms, 1000 * ms);
	CHECK_INT(reserve(&rl, 5100 * ms), 65000 * ms);
	rate_limit_destroy(&rl);
}

int main(void)
{
	clock_use_fake(&fake);
	atomic_store(&fake.mono_ns, 1000000 * ms);
	test_additive_increase();
	test_hold_voids_waiting_slots();

	struct rate_limit rl;
	rate_limit_init(&rl, 4); /* 250 ms apart */
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
	for (uint64_t t = 1100; t < 20000; t += 1100)
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
