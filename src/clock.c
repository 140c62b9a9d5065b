/* clock.c - system clocks, or a test's. */
#include "clock.h"

#include <errno.h>
#include <stddef.h>

static struct fake_clock *_Atomic fake_in_use;

void clock_use_fake(struct fake_clock *fake)
{
	atomic_store(&fake_in_use, fake);
}

void fake_clock_advance_ms(struct fake_clock *fake, uint64_t ms)
{
	atomic_fetch_add(&fake->mono_ns, ms * 1000000u);
	atomic_fetch_add(&fake->wall_ns, (int64_t)ms * 1000000);
}

uint64_t clock_mono_ns(void)
{
	struct fake_clock *fake = atomic_load(&fake_in_use);
	if (fake)
		return atomic_load(&fake->mono_ns);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t clock_mono_ms(void)
{
	return clock_mono_ns() / 1000000u;
}

struct timespec clock_wall(void)
{
	struct fake_clock *fake = atomic_load(&fake_in_use);
	struct timespec ts;
	if (fake) {
		int64_t ns = atomic_fetch_add(&fake->wall_ns, atomic_load(&fake->wall_step_ns));
		ts.tv_sec = (time_t)(ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
	}
	return ts;
}

int64_t clock_wall_s(void)
{
	return (int64_t)clock_wall().tv_sec;
}

uint64_t clock_wall_ms(void)
{
	struct timespec ts = clock_wall();
	return ts.tv_sec > 0 ? (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 : 0;
}

void clock_sleep_until_ns(uint64_t mono_ns)
{
	struct fake_clock *fake = atomic_load(&fake_in_use);
	if (fake) {
		/* The wait is over at once: the fake time moves to its end. */
		if (fake->during_wait)
			fake->during_wait(fake->during_wait_ctx);
		uint64_t now = atomic_load(&fake->mono_ns);
		if (now < mono_ns)
			fake_clock_advance_ms(fake, (mono_ns - now + 999999) / 1000000u);
		return;
	}
	struct timespec at = { (time_t)(mono_ns / 1000000000u), (long)(mono_ns % 1000000000u) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
		;
}

void clock_sleep_ms(uint64_t ms)
{
	clock_sleep_until_ns(clock_mono_ns() + ms * 1000000u);
}
