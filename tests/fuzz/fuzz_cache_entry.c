/* fuzz_cache_entry.c - a disk cache entry, as a mount reads it back.
 *
 * The input is the bytes of one entry file.  disk_entry_decode() must turn
 * it into a snapshot or a miss, never crash; a snapshot it accepts must
 * encode back to the very same bytes in the format it was read from
 * (nothing is taken on trust that the format cannot say again), an entry
 * of format 2 (outdated) as the layout of 3 under its own version word;
 * a listing of 4 or older without any file is outdated as well. */
#include "fuzz_common.h"

#include "diskformat.h"
#include "htab.h"
#include "log.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct obj_key key = { 3, 19, 0 };
	struct snapshot *s = disk_entry_decode((const char *)data, size, &key, 77);
	if (!s)
		return 0;
	FUZZ_CHECK(!s->file || s->count == 0);
	for (size_t i = 1; i < s->count; i++)
		FUZZ_CHECK(s->entries[i - 1].id < s->entries[i].id);
	unsigned version = (unsigned char)data[8];
	FUZZ_CHECK(version >= 2 && version <= 5);
	/* Before 5, a listing with entries and no file among them is an
	 * account listing without its rows: outdated too. */
	bool any_file = false;
	for (size_t i = 0; i < s->count; i++)
		any_file = any_file || s->entries[i].file != NULL;
	bool rowless = version < 5 && s->count && !any_file;
	size_t len;
	char *again = disk_entry_encode_as(&key, 77, s, version == 2 ? 3 : version, &len);
	FUZZ_CHECK(again != NULL);
	FUZZ_CHECK(len == size);
	FUZZ_CHECK(s->outdated == (version == 2 || rowless));
	if (version == 2) {
		again[8] = 2;
		uint64_t sum = hash_bytes(again, len - 8);
		for (int i = 0; i < 8; i++)
			again[len - 8 + i] = (char)(sum >> (8 * i));
	}
	FUZZ_CHECK(memcmp(again, data, size) == 0);
	free(again);
	snapshot_unref(s);
	return 0;
}
