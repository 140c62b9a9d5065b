/* inodeindex.h - what each inode number was handed out for, kept on disk.
 *
 * An NFS server (or anything using open_by_handle_at) names a file by its
 * inode number long after the kernel forgot it, and after a remount.  The
 * number is a function of the node and its content (inodes.h), so it
 * cannot be turned back into a node: this index remembers, for each
 * number handed out, the node (its key) and the content version (hash and
 * length; none for directories and links).  Only the newest number of each
 * node is kept: a handle to an older version is stale, which is what NFS
 * expects of a replaced file.  Everything found here is checked against
 * the tree before it is served (fs.c), so an index that is old, torn or
 * damaged can only make a handle stale, never open another node.
 *
 * With a folder (the disk cache's identity folder) it lives in the file
 * "inodes" there, appended to as numbers are handed out and rewritten
 * when mostly outdated, so it survives remounts and reboots; without one
 * it lives in memory for the mount.  At most INODE_INDEX_MAX nodes: past
 * that, the oldest are forgotten (their handles turn stale). */
#ifndef SEPAYFS_INODEINDEX_H
#define SEPAYFS_INODEINDEX_H

#include "keys.h"
#include "snapshot.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A company of 200 accounts with ten years of months, as JSON Lines and
 * CSV, is some 50,000 nodes; each takes about 100 bytes here. */
#define INODE_INDEX_MAX 65536
/* The file's name in the folder. */
#define INODE_INDEX_FILE "inodes"

struct inode_index;

/* dir_fd: the folder to keep it in (borrowed, must outlive the index), or
 * -1 for memory only.  max_nodes 0: INODE_INDEX_MAX.  NULL on ENOMEM. */
struct inode_index *inode_index_open(int dir_fd, size_t max_nodes);
void inode_index_close(struct inode_index *x);

/* ino was handed out for key showing content (NULL: a directory or a
 * link).  Costs a write only when the node is new or its content is. */
void inode_index_note(struct inode_index *x, uint64_t ino, const struct obj_key *key,
		      const struct version *content);
/* What ino was last handed out for: false when it is not known. */
bool inode_index_find(struct inode_index *x, uint64_t ino, struct obj_key *key,
		      bool *has_content, struct version *content);
size_t inode_index_count(struct inode_index *x);

/* Takes the records of a file's bytes (as inode_index_open reads them):
 * how many were taken.  For tests and the fuzz target. */
size_t inode_index_load(struct inode_index *x, const unsigned char *bytes, size_t len);

#endif
