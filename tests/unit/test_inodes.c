/* test_inodes.c - inode numbers as a function of what a node shows. */
#include "check.h"
#include "inodes.h"
#include "log.h"

static struct version version_of(uint64_t hash, size_t len)
{
	return (struct version){ hash, len, { 1700000000, 0 } };
}

/* Every node on one number: each must still get a number of its own. */
static uint64_t all_collide(const struct obj_key *key, const struct version *content)
{
	(void)key;
	(void)content;
	return 42;
}

static void test_numbers_are_functions_of_content(void)
{
	struct obj_key dir = { NODE_SUBS, 19, 0 }, file = { NODE_SUB_FILE, 19, 25 };
	struct version v1 = version_of(0x1234, 10), v2 = version_of(0x5678, 10);
	struct version v1_later = v1;
	v1_later.mtime.tv_sec += 3600; /* same bytes, seen later: same inode */

	/* The same in two tables: as in two mounts. */
	struct inode_table *a = inodes_new(), *b = inodes_new();
	uint64_t dir_a = inodes_get(a, &dir, NULL), dir_b = inodes_get(b, &dir, NULL);
	CHECK_INT(dir_a, dir_b);
	CHECK_INT(dir_a, inodes_number(&dir, NULL));
	uint64_t f1 = inodes_get(a, &file, &v1);
	CHECK_INT(f1, inodes_get(b, &file, &v1_later));
	CHECK(f1 > INODE_ROOT && f1 != dir_a);
	/* New bytes, new number; the old one stays while the kernel holds it. */
	uint64_t f2 = inodes_get(a, &file, &v2);
	CHECK(f2 != f1);
	struct version shown;
	CHECK(inodes_content(a, f1, &shown) && shown.hash == v1.hash);
	CHECK(inodes_content(a, f2, &shown) && shown.hash == v2.hash);
	/* Forgotten by the kernel and looked up again: the same number. */
	inodes_forget(a, f1, 1);
	CHECK(!inodes_content(a, f1, &shown));
	CHECK_INT(inodes_get(a, &file, &v1), f1);
	/* Peeking makes nothing. */
	size_t n = inodes_count(a);
	struct obj_key other = { NODE_INFO, 77, 0 };
	CHECK_INT(inodes_peek(a, &other, &v1), inodes_number(&other, &v1));
	CHECK_INT(inodes_count(a), n);
	/* Directories are found by key for the kernel's parent links. */
	CHECK_INT(inodes_find(a, &dir), dir_a);
	CHECK_INT(inodes_get(a, &(struct obj_key){ NODE_ROOT, 0, 0 }, NULL), INODE_ROOT);
	/* Numbers avoid what FUSE reserves. */
	for (int64_t i = 0; i < 100000; i++) {
		struct obj_key k = { NODE_ACCOUNT, i, 0 };
		uint64_t ino = inodes_number(&k, NULL);
		if (ino <= INODE_ROOT || ino == 0xffffffffULL)
			CHECK(!"a reserved number");
	}
	inodes_free(a);
	inodes_free(b);
}

static void test_collisions_are_told_apart(void)
{
	log_set_level(LOG_LEVEL_ERROR + 0);
	struct inode_table *t = inodes_new_numbered(all_collide);
	struct obj_key x = { NODE_INFO, 1, 0 }, y = { NODE_INFO, 2, 0 }, d = { NODE_SUBS, 1, 0 };
	struct version v = version_of(7, 3);
	uint64_t ix = inodes_get(t, &x, &v), iy = inodes_get(t, &y, &v), id = inodes_get(t, &d, NULL);
	CHECK_INT(ix, 42);
	CHECK(iy != ix && id != ix && id != iy);
	struct obj_key key;
	CHECK(inodes_key(t, ix, &key) && key.a == 1);
	CHECK(inodes_key(t, iy, &key) && key.a == 2);
	CHECK(inodes_key(t, id, &key) && key.kind == NODE_SUBS);
	/* Each lookup finds its own node again, not the first holder's. */
	CHECK_INT(inodes_get(t, &y, &v), iy);
	CHECK_INT(inodes_peek(t, &d, NULL), id);
	inodes_free(t);
}

int main(void)
{
	test_numbers_are_functions_of_content();
	test_collisions_are_told_apart();
	return check_report("inodes");
}
