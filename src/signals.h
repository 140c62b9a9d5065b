/* signals.h - SIGHUP and SIGUSR1, handled on a thread of their own.
 *
 * SIGHUP drops every cached listing and file and invalidates what the
 * kernel cached (names, attributes, pages, listings), so the next look at
 * anything asks the API.  SIGUSR1 writes one line of statistics to the log,
 * ending with the status line systemctl status shows (activity.h).
 * The signals are blocked in every other thread and taken with sigwait(),
 * so the work runs in ordinary thread context, never in a signal handler. */
#ifndef SEPAYFS_SIGNALS_H
#define SEPAYFS_SIGNALS_H

#include "fuse_ops.h"
#include "sepay.h"

struct signal_targets {
	struct fuse_session *se;
	struct fs *fs;
	struct cache *cache;
	struct sepay_api *api;
	struct activity *activity; /* SIGUSR1's line ends with its status */
	/* SIGHUP's first step (credentials read again; NULL: none). */
	void (*reload)(void *ctx);
	void *reload_ctx;
};

struct signal_thread;

/* Blocks the signals in the calling thread (and so in every thread it
 * creates afterwards).  Call before any other thread is started. */
int signals_block(void);
struct signal_thread *signals_start(const struct signal_targets *targets);
void signals_stop(struct signal_thread *st);
/* Does what SIGHUP does, on the signal thread, from any thread. */
void signals_reload(struct signal_thread *st);

#endif
