/* ratelimit.c - evenly spaced request slots, widened by 429s. */
#include "ratelimit.h"

#include "clock.h"

/* The spacing after a first 429 when no rate was configured: 20 a second. */
#define FIRST_BACKOFF_NS 50000000ull
/* Never slower than one request every 5 s, whatever the server says. */
#define MAX_INTERVAL_NS 5000000000ull
/* Recovery is by time, not by successes: a slowed-down client has few
 * successes, and counting them would keep it slow long after the server
 * calmed down. */
#define QUIET_NS 1000000000ull

void rate_limit_init(struct rate_limit *rl, double per_second)
{
	pthread_mutex_init(&rl->lock, NULL);
	rl->base_ns = per_second > 0 ? (uint64_t)(1e9 / per_second) : 0;
	rl->interval_ns = rl->base_ns;
	rl->next_ns = 0;
	rl->widened_ns = 0;
	rl->calm_ns = 0;
}

void rate_limit_destroy(struct rate_limit *rl)
{
	pthread_mutex_destroy(&rl->lock);
}

bool rate_limit_reserve(struct rate_limit *rl, uint64_t now_ns, uint64_t deadline_ns,
			uint64_t *start_ns)
{
	pthread_mutex_lock(&rl->lock);
	uint64_t start = rl->next_ns > now_ns ? rl->next_ns : now_ns;
	/* A request that gives up must not hold a slot: under demand above
	 * the rate, abandoned slots would push every later one past its
	 * deadline, and the client would fail all requests, not some. */
	bool fits = start <= now_ns || start <= deadline_ns;
	if (fits)
		rl->next_ns = start + rl->interval_ns;
	pthread_mutex_unlock(&rl->lock);
	*start_ns = start;
	return fits;
}

bool rate_limit_wait(struct rate_limit *rl, uint64_t deadline_ns)
{
	uint64_t now = clock_mono_ns(), start;
	if (!rate_limit_reserve(rl, now, deadline_ns, &start))
		return false;
	if (start <= now)
		return true;
	clock_sleep_until_ns(start);
	return true;
}

void rate_limit_slow_down(struct rate_limit *rl, uint64_t now_ns, uint64_t retry_after_ns)
{
	pthread_mutex_lock(&rl->lock);
	if (now_ns >= rl->widened_ns) {
		uint64_t wider = rl->interval_ns ? rl->interval_ns * 2 : FIRST_BACKOFF_NS;
		rl->interval_ns = wider < MAX_INTERVAL_NS ? wider : MAX_INTERVAL_NS;
		uint64_t window = retry_after_ns > rl->interval_ns ? retry_after_ns : rl->interval_ns;
		rl->widened_ns = now_ns + window;
	}
	rl->calm_ns = now_ns + retry_after_ns;
	if (rl->next_ns < now_ns + retry_after_ns)
		rl->next_ns = now_ns + retry_after_ns;
	pthread_mutex_unlock(&rl->lock);
}

void rate_limit_reset(struct rate_limit *rl)
{
	pthread_mutex_lock(&rl->lock);
	uint64_t now = clock_mono_ns();
	rl->interval_ns = rl->base_ns;
	if (rl->next_ns > now)
		rl->next_ns = now;
	rl->widened_ns = rl->calm_ns = now;
	pthread_mutex_unlock(&rl->lock);
}

void rate_limit_speed_up(struct rate_limit *rl, uint64_t now_ns)
{
	pthread_mutex_lock(&rl->lock);
	if (rl->interval_ns > rl->base_ns && now_ns >= rl->calm_ns + QUIET_NS) {
		uint64_t narrower = rl->interval_ns / 2;
		rl->interval_ns = narrower > rl->base_ns + 1000000 ? narrower : rl->base_ns;
		rl->calm_ns = now_ns;
	}
	pthread_mutex_unlock(&rl->lock);
}
