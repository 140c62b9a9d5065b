/* notify.c - the kernel told to forget names, from a thread of its own. */
#include "notify.h"

#include "fs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names waiting at most: a refresh of a listing of a few thousand files
 * queues at most the ones the kernel holds and that changed. */
#define NOTIFY_QUEUE 1024

struct forget {
	uint64_t parent;
	char name[FS_NAME_MAX];
};

struct kernel_notify {
	struct fuse_session *se;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	struct forget queue[NOTIFY_QUEUE];
	size_t head, len;
	uint64_t dropped;
};

static void *notify_loop(void *arg)
{
	struct kernel_notify *kn = arg;
	pthread_mutex_lock(&kn->lock);
	for (;;) {
		while (!kn->len && !kn->stopping)
			pthread_cond_wait(&kn->wake, &kn->lock);
		if (!kn->len)
			break; /* stopping, and nothing left to send */
		struct forget f = kn->queue[kn->head];
		kn->head = (kn->head + 1) % NOTIFY_QUEUE;
		kn->len--;
		pthread_mutex_unlock(&kn->lock);
		/* ENOENT: the kernel had already let the name go. */
		fuse_lowlevel_notify_inval_entry(kn->se, f.parent, f.name, strlen(f.name));
		pthread_mutex_lock(&kn->lock);
	}
	pthread_mutex_unlock(&kn->lock);
	return NULL;
}

struct kernel_notify *kernel_notify_start(struct fuse_session *se)
{
	struct kernel_notify *kn = calloc(1, sizeof(*kn));
	if (!kn)
		return NULL;
	kn->se = se;
	pthread_mutex_init(&kn->lock, NULL);
	pthread_cond_init(&kn->wake, NULL);
	if (pthread_create(&kn->thread, NULL, notify_loop, kn) != 0) {
		pthread_cond_destroy(&kn->wake);
		pthread_mutex_destroy(&kn->lock);
		free(kn);
		return NULL;
	}
	return kn;
}

void kernel_notify_stop(struct kernel_notify *kn)
{
	if (!kn)
		return;
	pthread_mutex_lock(&kn->lock);
	kn->stopping = true;
	pthread_cond_signal(&kn->wake);
	pthread_mutex_unlock(&kn->lock);
	pthread_join(kn->thread, NULL);
	pthread_cond_destroy(&kn->wake);
	pthread_mutex_destroy(&kn->lock);
	free(kn);
}

void kernel_notify_forget_name(void *ctx, uint64_t parent, const char *name)
{
	struct kernel_notify *kn = ctx;
	if (!kn)
		return;
	pthread_mutex_lock(&kn->lock);
	if (kn->len == NOTIFY_QUEUE || kn->stopping) {
		kn->dropped++;
	} else {
		struct forget *f = &kn->queue[(kn->head + kn->len) % NOTIFY_QUEUE];
		f->parent = parent;
		snprintf(f->name, sizeof(f->name), "%s", name);
		kn->len++;
		pthread_cond_signal(&kn->wake);
	}
	pthread_mutex_unlock(&kn->lock);
}

uint64_t kernel_notify_dropped(struct kernel_notify *kn)
{
	if (!kn)
		return 0;
	pthread_mutex_lock(&kn->lock);
	uint64_t n = kn->dropped;
	pthread_mutex_unlock(&kn->lock);
	return n;
}
