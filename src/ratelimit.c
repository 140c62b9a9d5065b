/* ratelimit.c - evenly spaced request slots, halved by 429s and given back
 * a step a second. */
#include "ratelimit.h"

#include "clock.h"

/* The spacing after a first 429 when no rate was configured: 20 a second. */
#define FIRST_BACKOFF_NS 50000000ull
/* Never slower than one request every 5 s, whatever the server says (or
 * the configured spacing, if that is slower). */
#define MAX_INTERVAL_NS 5000000000ull
/* Recovery is by time, not by successes: a slowed-down client has few
 * successes, and counting them would keep it slow long after the server
 * calmed down. */
#define QUIET_NS 1000000000ull
/* Each quiet second gives back this fraction of the configured rate: from
 * half of it, ten seconds back to the whole.  Slowly, because the server's
 * budget is shared by every client behind the address, and one that
 * jumped back to its full rate would meet the same 429 again; steadily,
 * because a walk of a hundred requests at 2.5 a second lasts under a
 * minute, and a halving that lingered would cost more than the 429 did. */
#define RECOVERY_STEPS 20
/* Spacings this close to the base are the base (rates are doubles). */
#define SLACK_NS 1000u

void rate_limit_init(struct rate_limit *rl, double per_second)
{
	pthread_mutex_init(&rl->lock, NULL);
	rl->base_ns = per_second > 0 ? (uint64_t)(1e9 / per_second) : 0;
	rl->step_per_s = per_second > 0 ? per_second / RECOVERY_STEPS : 0;
	rl->interval_ns = rl->base_ns;
	rl->next_ns = 0;
	rl->widened_ns = 0;
	rl->calm_ns = 0;
	rl->held_ns = 0;
	rl->holds = 0;
}

void rate_limit_destroy(struct rate_limit *rl)
{
	pthread_mutex_destroy(&rl->lock);
}

/* rate_limit_reserve, also giving the 429s counted so far.  With the lock. */
static bool reserve_locked(struct rate_limit *rl, uint64_t now_ns, uint64_t deadline_ns,
			   uint64_t *start_ns, uint64_t *holds)
{
	uint64_t start = rl->next_ns > now_ns ? rl->next_ns : now_ns;
	/* A request that gives up must not hold a slot: under demand above
	 * the rate, abandoned slots would push every later one past its
	 * deadline, and the client would fail all requests, not some. */
	bool fits = start <= now_ns || start <= deadline_ns;
	if (fits)
		rl->next_ns = start + rl->interval_ns;
	*start_ns = start;
	*holds = rl->holds;
	return fits;
}

bool rate_limit_reserve(struct rate_limit *rl, uint64_t now_ns, uint64_t deadline_ns,
			uint64_t *start_ns)
{
	uint64_t holds;
	pthread_mutex_lock(&rl->lock);
	bool fits = reserve_locked(rl, now_ns, deadline_ns, start_ns, &holds);
	pthread_mutex_unlock(&rl->lock);
	return fits;
}

bool rate_limit_wait(struct rate_limit *rl, uint64_t deadline_ns)
{
	for (;;) {
		uint64_t now = clock_mono_ns(), start, holds;
		pthread_mutex_lock(&rl->lock);
		bool fits = reserve_locked(rl, now, deadline_ns, &start, &holds);
		pthread_mutex_unlock(&rl->lock);
		if (!fits)
			return false;
		if (start <= now)
			return true;
		clock_sleep_until_ns(start);
		/* A 429 meanwhile was an answer to requests sent at the pace
		 * this slot was reserved at: sent now, it would land inside
		 * the hold the server asked for. */
		pthread_mutex_lock(&rl->lock);
		bool stands = rl->holds == holds;
		pthread_mutex_unlock(&rl->lock);
		if (stands)
			return true;
	}
}

void rate_limit_slow_down(struct rate_limit *rl, uint64_t now_ns, uint64_t retry_after_ns)
{
	pthread_mutex_lock(&rl->lock);
	if (now_ns >= rl->widened_ns) {
		uint64_t wider = rl->interval_ns ? rl->interval_ns * 2 : FIRST_BACKOFF_NS;
		uint64_t most = rl->base_ns > MAX_INTERVAL_NS ? rl->base_ns : MAX_INTERVAL_NS;
		rl->interval_ns = wider < most ? wider : most;
		uint64_t window = retry_after_ns > rl->interval_ns ? retry_after_ns : rl->interval_ns;
		rl->widened_ns = now_ns + window;
	}
	if (rl->held_ns < now_ns + retry_after_ns)
		rl->held_ns = now_ns + retry_after_ns;
	if (rl->calm_ns < rl->held_ns)
		rl->calm_ns = rl->held_ns;
	/* Every slot reserved so far is void (rate_limit_wait reserves again),
	 * so the schedule starts over at the end of the hold. */
	rl->next_ns = rl->held_ns;
	rl->holds++;
	pthread_mutex_unlock(&rl->lock);
}

void rate_limit_reset(struct rate_limit *rl)
{
	pthread_mutex_lock(&rl->lock);
	uint64_t now = clock_mono_ns();
	rl->interval_ns = rl->base_ns;
	if (rl->next_ns > now)
		rl->next_ns = now;
	rl->widened_ns = rl->calm_ns = rl->held_ns = now;
	pthread_mutex_unlock(&rl->lock);
}

void rate_limit_speed_up(struct rate_limit *rl, uint64_t now_ns)
{
	pthread_mutex_lock(&rl->lock);
	if (rl->interval_ns > rl->base_ns && now_ns >= rl->calm_ns + QUIET_NS) {
		uint64_t narrower;
		if (rl->base_ns) {
			/* A step for every quiet second, those without a
			 * success to count them too. */
			uint64_t quiet = (now_ns - rl->calm_ns) / QUIET_NS;
			double rate = 1e9 / (double)rl->interval_ns + (double)quiet * rl->step_per_s;
			narrower = (uint64_t)(1e9 / rate);
			rl->calm_ns += quiet * QUIET_NS;
		} else {
			/* No rate to step toward: halve the spacing, and below
			 * a millisecond, none. */
			narrower = rl->interval_ns / 2 > 1000000 ? rl->interval_ns / 2 : 0;
			rl->calm_ns = now_ns;
		}
		rl->interval_ns = narrower > rl->base_ns + SLACK_NS ? narrower : rl->base_ns;
	}
	pthread_mutex_unlock(&rl->lock);
}
