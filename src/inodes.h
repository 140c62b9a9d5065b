/* inodes.h - inode numbers for tree nodes, with the kernel's lookup counts.
 *
 * A directory keeps one inode number while the kernel knows it, so find, du
 * and tar see stable numbers.  A file's inode is one version of its content:
 * when the content changes, its path gets a new inode at the next lookup,
 * while files already open keep the old inode with its size and its cached
 * pages.  The kernel's page cache belongs to an inode, not to an open file,
 * so this is what keeps one open file from ever mixing two versions, and it
 * lets the kernel keep cached pages across opens.  A node the kernel has
 * forgotten (lookup count back to zero) is dropped; numbers are never
 * reused. */
#ifndef SEPAYFS_INODES_H
#define SEPAYFS_INODES_H

#include "keys.h"
#include "snapshot.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum node_kind {
	NODE_ROOT = 1,  /* /                                  */
	NODE_ACCOUNTS,  /* /accounts                          */
	NODE_ACCOUNT,   /* /accounts/<a>                      */
	NODE_INFO,      /* /accounts/<a>/info.json            */
	NODE_SUBS,      /* /accounts/<a>/sub-accounts         */
	NODE_SUB_FILE,  /* /accounts/<a>/sub-accounts/<b>.json */
	NODE_TX_DIR,    /* /accounts/<a>/transactions          */
	NODE_TX_MONTH,  /* /accounts/<a>/transactions/<b: YYYYMM>.jsonl */
};

#define INODE_ROOT 1 /* FUSE_ROOT_ID */

struct inode_table;

struct inode_table *inodes_new(void);
void inodes_free(struct inode_table *t);

/* The inode number of key, made if needed; 0 on ENOMEM.  For a file,
 * content is the version to show (NULL: whichever is current); a version
 * with other bytes than the current one makes a new inode.  With
 * count_lookup, the kernel now holds one more reference to it. */
uint64_t inodes_get(struct inode_table *t, const struct obj_key *key,
		    const struct version *content, bool count_lookup);
/* The kernel took one more reference to a known inode (readdirplus). */
bool inodes_ref(struct inode_table *t, uint64_t ino);
/* The key of a known inode number. */
bool inodes_key(struct inode_table *t, uint64_t ino, struct obj_key *key);
/* The content version a file inode shows; false when not known. */
bool inodes_content(struct inode_table *t, uint64_t ino, struct version *out);
/* The kernel dropped n references. */
void inodes_forget(struct inode_table *t, uint64_t ino, uint64_t n);
size_t inodes_count(struct inode_table *t);

/* The inode number of the current node for key, or 0; makes nothing. */
uint64_t inodes_find(struct inode_table *t, const struct obj_key *key);

struct inode_ref {
	uint64_t ino;
	struct obj_key key;
};
/* Every inode the kernel may know, as a malloc'ed array (NULL on ENOMEM). */
struct inode_ref *inodes_list(struct inode_table *t, size_t *count);

#endif
