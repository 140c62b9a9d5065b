/* clock.h - the one place sepayfs reads the time, and waits.
 *
 * Monotonic time for deadlines, waits, TTLs and rate limits; wall time for
 * what a user sees (mtimes, fetch times, which month it is in Vietnam).
 * Unit tests swap in a clock of their own (clock_use_fake): it reads what
 * the test set, and a wait under it returns at once, moving its monotonic
 * time on, so a test of backoff or of a TTL never sleeps for real. */
#ifndef SEPAYFS_CLOCK_H
#define SEPAYFS_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

uint64_t clock_mono_ns(void);
uint64_t clock_mono_ms(void);
struct timespec clock_wall(void);
int64_t clock_wall_s(void);
uint64_t clock_wall_ms(void);

/* Waits until the monotonic clock reads mono_ns (now, if it already does). */
void clock_sleep_until_ns(uint64_t mono_ns);
void clock_sleep_ms(uint64_t ms);

/* A clock a test sets by hand.  Waits move mono_ns to their end. */
struct fake_clock {
	_Atomic uint64_t mono_ns;
	_Atomic int64_t wall_ns;
	/* Moves the wall clock on after each reading of it: time that passes
	 * while the code runs, for a second that ticks over between two
	 * readings. */
	_Atomic int64_t wall_step_ns;
	/* Called at the start of every wait, before the time moves on: what
	 * other threads do while this one waits (NULL: nothing). */
	void (*during_wait)(void *ctx);
	void *during_wait_ctx;
};
/* From now on every clock reading and wait goes through fake (NULL: the
 * system's clocks again).  Not for use while other threads read the time. */
void clock_use_fake(struct fake_clock *fake);
void fake_clock_advance_ms(struct fake_clock *fake, uint64_t ms);

#endif
