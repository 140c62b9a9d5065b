/* test_inodeindex.c - numbers handed out, found again after a reopen; the
 * newest version of a node only; a bound; damage skipped. */
#include "check.h"
#include "inodeindex.h"
#include "inodes.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static bool found(struct inode_index *x, uint64_t ino, struct obj_key *key, struct version *v)
{
	bool has_content;
	return inode_index_find(x, ino, key, &has_content, v);
}

int main(void)
{
	char dir[] = "/tmp/sepayfs-test-index-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
	struct inode_index *x = inode_index_open(dir_fd, 0);
	struct obj_key account = { NODE_ACCOUNT, 19, 0 }, info = { NODE_INFO, 19, 0 }, key;
	struct version v1 = { .hash = 111, .len = 10 }, v2 = { .hash = 222, .len = 12 }, got;
	inode_index_note(x, 500, &account, NULL);
	inode_index_note(x, 600, &info, &v1);
	inode_index_note(x, 600, &info, &v1); /* again: nothing new */
	CHECK(found(x, 600, &key, &got) && obj_key_equal(&key, &info) && got.hash == 111);
	/* A new version: the old number is no longer known (its handle is stale). */
	inode_index_note(x, 700, &info, &v2);
	CHECK(!found(x, 600, &key, &got));
	CHECK(found(x, 700, &key, &got) && got.len == 12);
	CHECK_INT(inode_index_count(x), 2);
	/* The root and impossible records are not kept. */
	struct obj_key root = { NODE_ROOT, 0, 0 }, bad = { 99, 0, 0 };
	inode_index_note(x, 1, &root, NULL);
	inode_index_note(x, 800, &bad, NULL);
	CHECK_INT(inode_index_count(x), 2);
	inode_index_close(x);

	/* Reopened (a remount): the same answers. */
	x = inode_index_open(dir_fd, 0);
	CHECK_INT(inode_index_count(x), 2);
	CHECK(found(x, 500, &key, &got) && obj_key_equal(&key, &account));
	CHECK(found(x, 700, &key, &got) && got.hash == 222);
	CHECK(!found(x, 600, &key, &got));
	/* Many versions of one file: the file is rewritten, not grown without
	 * bound. */
	for (uint64_t i = 0; i < 5000; i++) {
		struct version v = { .hash = 1000 + i, .len = 5 };
		inode_index_note(x, 10000 + i, &info, &v);
	}
	inode_index_close(x);
	struct stat st;
	CHECK(fstatat(dir_fd, INODE_INDEX_FILE, &st, 0) == 0);
	CHECK(st.st_size <= 16 + (2 * 2 + 1024 + 1) * 48);
	x = inode_index_open(dir_fd, 0);
	CHECK(found(x, 14999, &key, &got) && got.hash == 5999);
	CHECK_INT(inode_index_count(x), 2);
	inode_index_close(x);

	/* Past its bound, the oldest go. */
	x = inode_index_open(-1, 3);
	for (int64_t id = 1; id <= 5; id++) {
		struct obj_key k = { NODE_ACCOUNT, id, 0 };
		inode_index_note(x, (uint64_t)(100 + id), &k, NULL);
	}
	CHECK_INT(inode_index_count(x), 3);
	CHECK(!found(x, 101, &key, &got) && found(x, 105, &key, &got));
	inode_index_close(x);

	/* A damaged file: another header is started over; a torn last record
	 * is skipped. */
	int fd = openat(dir_fd, INODE_INDEX_FILE, O_WRONLY | O_TRUNC);
	CHECK(write(fd, "garbage, not an index at all......", 34) == 34);
	close(fd);
	x = inode_index_open(dir_fd, 0);
	CHECK_INT(inode_index_count(x), 0);
	inode_index_note(x, 500, &account, NULL);
	inode_index_close(x);
	fd = openat(dir_fd, INODE_INDEX_FILE, O_WRONLY | O_APPEND);
	CHECK(write(fd, "torn", 4) == 4);
	close(fd);
	x = inode_index_open(dir_fd, 0);
	CHECK(found(x, 500, &key, &got));
	inode_index_note(x, 700, &info, &v2); /* after the torn tail: in step */
	inode_index_close(x);
	x = inode_index_open(dir_fd, 0);
	CHECK(found(x, 500, &key, &got) && found(x, 700, &key, &got) && got.hash == 222);
	inode_index_close(x);

	/* A folder it cannot write in (a read-only or full cache disk): the
	 * mount goes on with the index in memory. */
	int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY);
	x = inode_index_open(proc_fd, 0);
	CHECK(x != NULL);
	inode_index_note(x, 500, &account, NULL);
	CHECK(found(x, 500, &key, &got) && obj_key_equal(&key, &account));
	inode_index_close(x);
	close(proc_fd);

	unlinkat(dir_fd, INODE_INDEX_FILE, 0);
	close(dir_fd);
	rmdir(dir);
	printf("inodeindex: %d checks, %d failed\n", check_total, check_failed);
	return check_failed ? 1 : 0;
}
