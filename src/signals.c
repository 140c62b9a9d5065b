/* signals.c - the flush and statistics signals. */
#include "signals.h"

#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Sent by signals_stop() to end the thread. */
#define STOP_SIGNAL SIGUSR2

struct signal_thread {
	pthread_t thread;
	struct signal_targets t;
};

static void signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, STOP_SIGNAL);
}

int signals_block(void)
{
	sigset_t set;
	signal_set(&set);
	return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void flush(const struct signal_targets *t)
{
	if (t->reload)
		t->reload(t->reload_ctx);
	cache_expire_all(t->cache);
	sepay_api_forget(t->api);
	size_t n, invalidated = 0;
	struct fs_entry *entries = fs_known_entries(t->fs, &n);
	for (size_t i = 0; entries && i < n; i++) {
		const struct fs_entry *e = &entries[i];
		/* The kernel may long have forgotten some: ENOENT is fine. */
		if (e->parent && fuse_lowlevel_notify_inval_entry(t->se, e->parent, e->name,
								  strlen(e->name)) == 0)
			invalidated++;
		/* A directory's listing changes under the same inode.  A file's
		 * new content comes as a new inode at the next lookup; the old
		 * one keeps its pages, so a file open across the flush goes on
		 * reading the version it opened. */
		if (e->is_dir)
			fuse_lowlevel_notify_inval_inode(t->se, e->ino, 0, 0);
	}
	free(entries);
	log_notice("SIGHUP: dropped every cached listing and file; %zu kernel entries "
		   "invalidated", invalidated);
}

static void report(const struct signal_targets *t)
{
	struct cache_stats cs;
	cache_get_stats(t->cache, &cs);
	char status[ACTIVITY_LINE_MAX] = "";
	if (t->activity)
		activity_line(t->activity, status, sizeof(status));
	log_notice("stats: requests %lu, retries %lu, in flight %ld, token refreshes %lu, "
		   "cache hits %lu, misses %lu, shared %lu, errors %lu, evictions %lu, "
		   "stale served %lu, cached bytes %zu, cached objects %zu, inodes %zu, "
		   "indexed %zu; status: %s",
		   (unsigned long)atomic_load(&t->api->requests),
		   (unsigned long)atomic_load(&t->api->retries),
		   (long)atomic_load(&t->api->in_flight),
		   (unsigned long)auth_refreshes(t->api->cfg.auth), (unsigned long)cs.hits,
		   (unsigned long)cs.misses, (unsigned long)cs.shared, (unsigned long)cs.errors,
		   (unsigned long)cs.evictions, (unsigned long)cs.stale_served, cs.bytes,
		   cs.entries, inodes_count(t->fs->inodes),
		   t->fs->index ? inode_index_count(t->fs->index) : 0, status);
}

static void *signal_loop(void *arg)
{
	struct signal_thread *st = arg;
	sigset_t set;
	signal_set(&set);
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			flush(&st->t);
		else if (sig == SIGUSR1)
			report(&st->t);
		else if (sig == STOP_SIGNAL)
			return NULL;
	}
}

struct signal_thread *signals_start(const struct signal_targets *targets)
{
	struct signal_thread *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->t = *targets;
	if (pthread_create(&st->thread, NULL, signal_loop, st) != 0) {
		free(st);
		return NULL;
	}
	return st;
}

void signals_reload(struct signal_thread *st)
{
	pthread_kill(st->thread, SIGHUP);
}

void signals_stop(struct signal_thread *st)
{
	if (!st)
		return;
	pthread_kill(st->thread, STOP_SIGNAL);
	pthread_join(st->thread, NULL);
	free(st);
}
