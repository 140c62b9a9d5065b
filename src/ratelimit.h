/* ratelimit.h - at most R requests a second, spaced evenly, and slower
 * while the server says 429.
 *
 * Each request reserves the next free slot and sleeps until it; slots are
 * 1/R seconds apart, so a burst is spread out instead of earning 429s.  A
 * 429 halves the rate (doubles the spacing) and holds every request until
 * its Retry-After, those already waiting for a slot too; then each quiet
 * second gives back a twentieth of R, up to R: additive increase,
 * multiplicative decrease, so a client sharing its address with others
 * settles under what the server allows instead of swinging back into
 * 429s.  With no rate configured (R = 0) a 429 starts a spacing of 50 ms,
 * halved again each quiet second. */
#ifndef SEPAYFS_RATELIMIT_H
#define SEPAYFS_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct rate_limit {
	pthread_mutex_t lock;
	uint64_t base_ns;     /* the configured spacing; 0: no limit */
	double step_per_s;    /* what each quiet second gives back of the rate */
	uint64_t interval_ns; /* the spacing now: base_ns, or wider after 429s */
	uint64_t next_ns;     /* the earliest free slot, CLOCK_MONOTONIC */
	uint64_t widened_ns;  /* until when the last 429 already widened the spacing */
	uint64_t calm_ns;     /* when the spacing last widened or narrowed */
	uint64_t held_ns;     /* the end of the last 429's hold: no slot before it */
	uint64_t holds;       /* 429s so far: a slot reserved before one is void */
};

void rate_limit_init(struct rate_limit *rl, double per_second);
void rate_limit_destroy(struct rate_limit *rl);
/* Reserves the next slot at or after now_ns and sets *start_ns to when it
 * starts; false, reserving nothing, when that is after deadline_ns. */
bool rate_limit_reserve(struct rate_limit *rl, uint64_t now_ns, uint64_t deadline_ns,
			uint64_t *start_ns);
/* Waits for a slot; false (without waiting) when the slot would come
 * after deadline_ns.  A 429 while it waits voids its slot: it reserves
 * another, after the hold and at the new spacing. */
bool rate_limit_wait(struct rate_limit *rl, uint64_t deadline_ns);
/* The server said 429: no request before now_ns + retry_after_ns, slots
 * reserved before it void, and wider spacing from now on. */
void rate_limit_slow_down(struct rate_limit *rl, uint64_t now_ns, uint64_t retry_after_ns);
/* Forgets every wait and widening the server asked for (SIGHUP: the user
 * says try now). */
void rate_limit_reset(struct rate_limit *rl);
/* A request went through at now_ns: for each quiet second since the
 * spacing last changed, bring the rate back a step toward the base. */
void rate_limit_speed_up(struct rate_limit *rl, uint64_t now_ns);

#endif
