/* fs.h - the tree: which names exist, their attributes and their bytes.
 *
 * This is the whole filesystem minus FUSE: the adapter (fuse_ops.c) turns
 * kernel requests into these calls and their results into replies, and
 * unit tests call them directly.  Every function returns 0 or an errno. */
#ifndef SEPAYFS_FS_H
#define SEPAYFS_FS_H

#include "cache.h"
#include "inodeindex.h"
#include "inodes.h"
#include "names.h"
#include "objects.h"
#include "readahead.h"
#include "snapshot.h"
#include "viewtree.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

struct fs_config {
	uid_t uid;
	gid_t gid;
	mode_t file_mode; /* 0444 */
	mode_t dir_mode;  /* 0555 */
	struct objects_source *objects; /* what the cache fetches through: knows when
					 * an account's history starts and a 403 on
					 * transactions */
	/* The mtime of directories whose names never change (the root, an
	 * account): kept with the disk cache so it survives remounts; 0: the
	 * mount's start. */
	struct timespec base_time;
	/* Bytes of replaced versions kept for files open across a refresh. */
	size_t keep_bytes;
	bool csv;       /* each month also as YYYY-MM.csv */
};

/* How the tree tells the kernel to forget a name it may have cached (the
 * FUSE adapter sends it from a thread of its own: a notification must not
 * come from inside a request on that directory).  Unset: nobody. */
struct fs_kernel {
	void (*forget_name)(void *ctx, uint64_t parent, const char *name);
	void *ctx;
};

/* Transactions folders remembered as read lately, and for how long: a walk
 * looks at a folder's files right after reading it. */
#define FS_WALKED_SLOTS 16
#define FS_WALK_MS 10000

struct fs {
	struct fs_config cfg;
	struct cache *cache;       /* borrowed */
	struct inode_table *inodes;
	struct readahead *readahead; /* borrowed; NULL: none */
	/* Numbers handed out, for handles the kernel forgot (borrowed; set
	 * before serving; NULL: a handle outlives only the kernel's memory). */
	struct inode_index *index;
	struct fs_kernel kernel;     /* set before serving; may stay unset */
	pthread_mutex_t walk_lock;
	struct { int64_t account; uint64_t at_ms; } walked[FS_WALKED_SLOTS];
	size_t walked_next;
	struct viewtree views;
};

int fs_init(struct fs *fs, const struct fs_config *cfg, struct cache *cache);
void fs_destroy(struct fs *fs);

/* Resolves name in parent; on success the kernel holds one more
 * reference to st->st_ino (release with fs_forget).  "." and ".." are a
 * handle's: the node numbered parent (found by its number even after the
 * kernel forgot it, ESTALE when its content changed), and its parent. */
int fs_lookup(struct fs *fs, uint64_t parent, const char *name, struct stat *st);
void fs_forget(struct fs *fs, uint64_t ino, uint64_t nlookup);
/* The generation a reply gives inode ino (a file handle carries it): a
 * function of the node and its content, so a number that came back for
 * another node never opens it through an old handle. */
uint32_t fs_generation(struct fs *fs, uint64_t ino);
int fs_getattr(struct fs *fs, uint64_t ino, struct stat *st);

/* The longest name in the tree, and its NUL: by-number's. */
#define FS_NAME_MAX VIEWS_NAME_MAX

struct fs_dirent {
	char name[FS_NAME_MAX];
	struct stat st;  /* st_ino and st_mode always; the rest when has_attr */
	bool has_attr;   /* attributes known without a request */
	/* What the entry names, for fs_dirent_ref. */
	struct obj_key key;
	bool has_content;
	struct version content;
};

/* Takes one entry and the cookie that follows it; false when full (the
 * entry was not taken). */
typedef bool (*fs_fill_fn)(void *ctx, const struct fs_dirent *entry, off_t next_cookie);

/* Hands a directory's entries, from cookie on, to fill.  Needs no open
 * directory: cookies are stable across refreshes of the listing. */
int fs_readdir(struct fs *fs, uint64_t ino, off_t cookie, fs_fill_fn fill, void *ctx);
/* The kernel took a reference to an entry handed out with its attributes
 * (readdirplus).  Returns false when the entry is no longer known. */
bool fs_dirent_ref(struct fs *fs, const struct fs_dirent *entry);

/* The bytes of the version a file inode shows (a reference to release with
 * blob_unref).  Needs no open file: an inode's bytes never change. */
int fs_read(struct fs *fs, uint64_t ino, struct blob **out);

/* A symlink's target (by-number's; a function of its inode's key): 0,
 * ESTALE for an inode not known, EINVAL when ino is no symlink. */
int fs_readlink(struct fs *fs, uint64_t ino, char *buf, size_t size);

/* A name the kernel may have cached: parent directory, name, inode. */
struct fs_entry {
	uint64_t parent;  /* 0 for the root */
	uint64_t ino;
	bool is_dir;      /* a file inode's bytes and attributes never change */
	char name[FS_NAME_MAX];
};
/* Every entry the kernel may hold, to invalidate them all (malloc'ed). */
struct fs_entry *fs_known_entries(struct fs *fs, size_t *count);

/* The extended attributes every node has but the root:
 * user.sepayfs.source, the API path it comes from, and
 * user.sepayfs.fetched, when that was last fetched (ISO 8601, UTC; empty
 * when not in memory).  Returns 0, ENODATA (the root) or ESTALE. */
#define FS_XATTR_SOURCE "user.sepayfs.source"
#define FS_XATTR_FETCHED "user.sepayfs.fetched"
int fs_xattrs(struct fs *fs, uint64_t ino, char source[128], char fetched[32]);

#endif
