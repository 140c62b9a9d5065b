/* fuzz_inode_index.c - the inode index file (inodeindex.c) on any bytes.
 *
 * The file lives in the cache folder, where damage, another version's
 * format or a torn write may leave anything.  Whatever it holds, loading
 * must not crash or leak, must keep at most its bound of nodes, and every
 * number it then knows must name a node the tree could have: a valid kind,
 * never the root, a directory without content; one number per node. */
#include "fuzz_common.h"

#include "inodeindex.h"
#include "inodes.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inode_index *x = inode_index_open(-1, 64);
	FUZZ_CHECK(x != NULL);
	size_t taken = inode_index_load(x, data, size);
	FUZZ_CHECK(taken <= size / 48);
	FUZZ_CHECK(inode_index_count(x) <= 64 && inode_index_count(x) <= taken);
	/* Every number a record names, looked up again. */
	for (size_t off = 16; off + 48 <= size; off += 48) {
		uint64_t ino;
		memcpy(&ino, data + off, sizeof(ino));
		struct obj_key key;
		bool has_content;
		struct version v;
		if (!inode_index_find(x, ino, &key, &has_content, &v))
			continue;
		FUZZ_CHECK(ino > INODE_ROOT && ino != 0xffffffffULL);
		FUZZ_CHECK(key.kind > NODE_ROOT && key.kind <= NODE_TOTALS);
		FUZZ_CHECK(has_content || (v.hash == 0 && v.len == 0));
		/* Noting what was found changes nothing. */
		size_t before = inode_index_count(x);
		inode_index_note(x, ino, &key, has_content ? &v : NULL);
		FUZZ_CHECK(inode_index_count(x) == before);
	}
	inode_index_close(x);
	return 0;
}
