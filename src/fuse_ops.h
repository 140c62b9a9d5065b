/* fuse_ops.h - the libfuse low-level operations table over struct fs. */
#ifndef SEPAYFS_FUSE_OPS_H
#define SEPAYFS_FUSE_OPS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "fs.h"

/* The userdata given to fuse_session_new(). */
struct fuse_adapter {
	struct fs *fs;
	double timeout_s;          /* the kernel's entry and attribute cache: the cache TTL */
	double negative_timeout_s; /* how long the kernel may remember a name is absent */
	bool no_open;              /* the kernel opens files without asking us */
	bool no_opendir;           /* ... and directories */
};

extern const struct fuse_lowlevel_ops sepayfs_ll_ops;

#endif
