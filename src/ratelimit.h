/* ratelimit.h - at most R requests a second, spaced evenly.
 *
 * Each request reserves the next free slot and sleeps until it; slots are
 * 1/R seconds apart, so a burst is spread out instead of earning 429s. */
#ifndef SEPAYFS_RATELIMIT_H
#define SEPAYFS_RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

struct rate_limit {
	pthread_mutex_t lock;
	uint64_t interval_ns; /* 0: no limit */
	uint64_t next_ns;     /* the earliest free slot, CLOCK_MONOTONIC */
};

void rate_limit_init(struct rate_limit *rl, double per_second);
void rate_limit_destroy(struct rate_limit *rl);
/* Reserves a slot at or after now_ns and returns when it starts. */
uint64_t rate_limit_reserve(struct rate_limit *rl, uint64_t now_ns);
/* Waits for a slot. */
void rate_limit_wait(struct rate_limit *rl);

#endif
