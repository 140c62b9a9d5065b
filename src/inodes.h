/* inodes.h - inode numbers for tree nodes, with the kernel's lookup counts.
 *
 * An inode number is a function of what the node shows: a directory's of
 * its path alone, a file's of its path and the bytes of the version it
 * shows.  So the same content has the same number after the kernel forgets
 * it, after a refresh, after a remount and after a reboot, which is what
 * lets rsync, restic, borg and tar see an unchanged tree as unchanged.  A
 * file's inode is one version of its content: new bytes get a new number at
 * the next lookup, while files already open keep the old inode with its
 * size and its cached pages (the kernel's page cache belongs to an inode,
 * not to an open file).  A node the kernel has forgotten (lookup count back
 * to zero) leaves the table; its number comes back if the same content
 * does.  Two nodes hashing to one number (about one chance in 10^12 for a
 * million nodes) are told apart here, and the second gets the next free
 * number, with a log line. */
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
	NODE_BALANCES,  /* /balances.csv                      */
	NODE_BY_NUMBER, /* /by-number                         */
	NODE_NUMBER_LINK, /* /by-number/<number>: a symlink to account a (b: 0)
			   * or to its sub-account b */
	NODE_TX_CSV,    /* .../transactions/<b: YYYYMM>.csv (-o csv) */
	NODE_TOTALS,    /* .../transactions/totals.csv */
};

#define INODE_ROOT 1 /* FUSE_ROOT_ID */

struct inode_table;

struct inode_table *inodes_new(void);
/* With another numbering than inodes_number: tests use one that collides. */
typedef uint64_t (*inodes_number_fn)(const struct obj_key *key, const struct version *content);
struct inode_table *inodes_new_numbered(inodes_number_fn number);
void inodes_free(struct inode_table *t);

/* The number (key, content) has wherever it is computed: content is the
 * version a file shows (NULL for a directory, or a file whose content is not
 * known yet: a number for directory entries only). */
uint64_t inodes_number(const struct obj_key *key, const struct version *content);
/* The generation of (key, content) in a file handle: another function of
 * the same, never 0 (the root's). */
uint32_t inodes_generation(const struct obj_key *key, const struct version *content);
/* The kernel now holds one more reference to (key, content): its inode
 * number, the node made if needed; 0 on ENOMEM. */
uint64_t inodes_get(struct inode_table *t, const struct obj_key *key,
		    const struct version *content);
/* The number (key, content) has or would have in this table; makes nothing. */
uint64_t inodes_peek(struct inode_table *t, const struct obj_key *key,
		     const struct version *content);
/* The key of a known inode number. */
bool inodes_key(struct inode_table *t, uint64_t ino, struct obj_key *key);
/* The key of a known inode number and, for a file whose content is known,
 * the version it shows (*has_content false otherwise): one look. */
bool inodes_node(struct inode_table *t, uint64_t ino, struct obj_key *key, bool *has_content,
		 struct version *content);
/* The content version a file inode shows; false when not known. */
bool inodes_content(struct inode_table *t, uint64_t ino, struct version *out);
/* The kernel dropped n references. */
void inodes_forget(struct inode_table *t, uint64_t ino, uint64_t n);
size_t inodes_count(struct inode_table *t);

/* The inode number of a directory node the kernel holds, or 0. */
uint64_t inodes_find(struct inode_table *t, const struct obj_key *key);

/* A refresh gave a file node the content `current` (NULL: the file is
 * gone).  True when the kernel holds an inode of key showing another
 * version: its name must be dropped from the kernel's cache, so the next
 * open by path looks it up and finds the new inode.  Such an inode whose
 * version is `previous`'s bytes keeps them (a reference), so a file open
 * across the refresh reads the version it opened even once the cache has
 * let go of it; what is kept this way is bounded (inodes_set_keep_budget),
 * and released when the kernel forgets the inode. */
bool inodes_outdated(struct inode_table *t, const struct obj_key *key,
		     const struct version *current, struct blob *previous);
/* The bytes an inode kept by inodes_outdated (a reference), or NULL. */
struct blob *inodes_kept(struct inode_table *t, uint64_t ino);
/* Bytes inodes_outdated may keep at most (0: none). */
void inodes_set_keep_budget(struct inode_table *t, size_t bytes);

struct inode_ref {
	uint64_t ino;
	struct obj_key key;
};
/* Every inode the kernel may know, as a malloc'ed array (NULL on ENOMEM). */
struct inode_ref *inodes_list(struct inode_table *t, size_t *count);

#endif
