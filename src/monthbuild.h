/* monthbuild.h - month files built from transactions as they arrive.
 *
 * A range of a busy account's history is hundreds of thousands of
 * transactions, more than the memory the daemon may use.  So each one is
 * rendered into its JSON line the moment its page arrives, and the line
 * put aside: in memory while the room shared by every build allows, then
 * in an unlinked file.  What stays in memory is a small record per
 * transaction (its month, date, id, arrival, where its line is), for the
 * order the files need.  When the walk is over, each month is assembled in
 * that order: into memory when it is small, into an unlinked file of its
 * own (a blob kept in a file, snapshot.h) when it is larger than
 * BLOB_MEMORY_MAX.  A build that the room cannot take fails with EFBIG,
 * never takes more. */
#ifndef SEPAYFS_MONTHBUILD_H
#define SEPAYFS_MONTHBUILD_H

#include "snapshot.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* What every build under way shares. */
struct month_room {
	atomic_size_t used; /* bytes of memory the builds hold */
	size_t max;
	int spill_dir;      /* a folder for unlinked files (the disk cache's, or
			     * $TMPDIR's); -1: none, only memory */
};

/* spill_dir is borrowed: it outlives every build. */
void month_room_init(struct month_room *room, size_t max_bytes, int spill_dir);

/* An unlinked file to write in dir, or -1 with errno set. */
int month_spill_file(int dir);

struct month_build;

/* A build of the months from..to (YYYYMM).  NULL on ENOMEM. */
struct month_build *month_build_new(struct month_room *room, int32_t from, int32_t to);
void month_build_free(struct month_build *b);

/* One transaction of month (within from..to), dated date, with id, from
 * page page (the first of a repeated id in the order of pages and of
 * arrival is kept): its JSON line, newline included.  Safe to call from
 * several threads.  0, ENOMEM, or EFBIG when the room cannot take it. */
int month_build_add(struct month_build *b, int32_t month, const char *date, int64_t id,
		    int64_t page, const char *line, size_t len);

/* Forgets what was added (the walk starts again). */
void month_build_reset(struct month_build *b);

/* Each month from..to as a blob dated now, ordered by date then id, each
 * id once: months[0..to-from] (the caller unrefs them).  0, ENOMEM, or
 * EFBIG when a month larger than memory may hold has no file to go to. */
int month_build_finish(struct month_build *b, struct timespec now, struct blob **months);

/* What was added, for log lines. */
size_t month_build_count(struct month_build *b);
uint64_t month_build_bytes(struct month_build *b);

#endif
