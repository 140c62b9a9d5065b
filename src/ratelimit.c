/* ratelimit.c - evenly spaced request slots. */
#include "ratelimit.h"

#include <time.h>

void rate_limit_init(struct rate_limit *rl, double per_second)
{
	pthread_mutex_init(&rl->lock, NULL);
	rl->interval_ns = per_second > 0 ? (uint64_t)(1e9 / per_second) : 0;
	rl->next_ns = 0;
}

void rate_limit_destroy(struct rate_limit *rl)
{
	pthread_mutex_destroy(&rl->lock);
}

uint64_t rate_limit_reserve(struct rate_limit *rl, uint64_t now_ns)
{
	if (!rl->interval_ns)
		return now_ns;
	pthread_mutex_lock(&rl->lock);
	uint64_t start = rl->next_ns > now_ns ? rl->next_ns : now_ns;
	rl->next_ns = start + rl->interval_ns;
	pthread_mutex_unlock(&rl->lock);
	return start;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void rate_limit_wait(struct rate_limit *rl)
{
	if (!rl->interval_ns)
		return;
	uint64_t start = rate_limit_reserve(rl, monotonic_ns());
	struct timespec at = { (time_t)(start / 1000000000u), (long)(start % 1000000000u) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) != 0)
		; /* EINTR: keep waiting for the slot */
}
