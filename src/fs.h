/* fs.h - the tree: which names exist, their attributes and their bytes.
 *
 * This is the whole filesystem minus FUSE: the adapter (fuse_ops.c) turns
 * kernel requests into these calls and their results into replies, and
 * unit tests call them directly.  Every function returns 0 or an errno. */
#ifndef SEPAYFS_FS_H
#define SEPAYFS_FS_H

#include "cache.h"
#include "inodes.h"
#include "names.h"
#include "readahead.h"
#include "snapshot.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

struct fs_config {
	uid_t uid;
	gid_t gid;
	mode_t file_mode; /* 0444 */
	mode_t dir_mode;  /* 0555 */
};

struct fs {
	struct fs_config cfg;
	struct cache *cache;       /* borrowed */
	struct inode_table *inodes;
	struct readahead *readahead; /* borrowed; NULL: none */
	struct timespec started;   /* mtime of what has no content of its own */
};

int fs_init(struct fs *fs, const struct fs_config *cfg, struct cache *cache);
void fs_destroy(struct fs *fs);

/* Resolves name in parent; on success the kernel holds one more
 * reference to st->st_ino (release with fs_forget). */
int fs_lookup(struct fs *fs, uint64_t parent, const char *name, struct stat *st);
void fs_forget(struct fs *fs, uint64_t ino, uint64_t nlookup);
int fs_getattr(struct fs *fs, uint64_t ino, struct stat *st);

struct fs_dirent {
	char name[NAME_MAX_ID_FILE];
	struct stat st;  /* st_ino and st_mode always; the rest when has_attr */
	bool has_attr;   /* attributes known without a request */
};

/* A directory's entries, taken once at opendir so a listing is read whole
 * from one snapshot however the cache moves meanwhile. */
struct fs_dir {
	size_t count;
	struct fs_dirent *entries; /* "." and ".." first */
	bool unchanged;            /* same entries as the previous opendir */
};

int fs_opendir(struct fs *fs, uint64_t ino, struct fs_dir **out);
void fs_dir_free(struct fs_dir *dir);
/* The kernel took a reference to an entry handed out with its attributes
 * (readdirplus).  Returns false when the entry is no longer known. */
bool fs_dirent_ref(struct fs *fs, const struct fs_dirent *entry);

/* The bytes of a file inode, pinned for as long as the caller holds the
 * reference (blob_unref when the file is closed).  They are the same bytes
 * for every open of the inode, so the kernel may keep its cached pages. */
int fs_open(struct fs *fs, uint64_t ino, struct blob **out);

#endif
