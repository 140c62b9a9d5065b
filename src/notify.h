/* notify.h - names the kernel must forget, sent from a thread of their own.
 *
 * When a refresh replaces a file's version, the kernel may still map its
 * name to the old inode for up to the entry timeout; fs.c asks for the name
 * to be forgotten (struct fs_kernel).  fuse_lowlevel_notify_inval_entry
 * takes the directory's lock in the kernel, which a lookup in that
 * directory holds while it waits for our answer: sent from the request
 * that did the refresh, it would wait for itself.  So names are queued
 * here and sent by this thread.  The queue is bounded: when it is full a
 * name is dropped (counted), and the kernel forgets that name at its entry
 * timeout instead, reading the version its inode kept until then. */
#ifndef SEPAYFS_NOTIFY_H
#define SEPAYFS_NOTIFY_H

#include "fuse_ops.h"

#include <stdint.h>

struct kernel_notify;

struct kernel_notify *kernel_notify_start(struct fuse_session *se);
/* Sends what is queued, then stops the thread and frees everything. */
void kernel_notify_stop(struct kernel_notify *kn);
/* Queues a name of parent for the kernel to forget (an fs_kernel hook;
 * ctx is the struct kernel_notify, NULL: nothing). */
void kernel_notify_forget_name(void *ctx, uint64_t parent, const char *name);
/* Names dropped because the queue was full, for statistics. */
uint64_t kernel_notify_dropped(struct kernel_notify *kn);

#endif
