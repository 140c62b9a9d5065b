/* fuzz_cache_entry.c - a disk cache entry, as a mount reads it back.
 *
 * The input is the bytes of one entry file.  disk_entry_decode() must turn
 * it into a snapshot or a miss, never crash; a snapshot it accepts must
 * encode back to the very same bytes (nothing is taken on trust that the
 * format cannot say again), but for the version word and the checksum of
 * an entry of the format before (outdated: written in this one). */
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
	size_t len;
	char *again = disk_entry_encode(&key, 77, s, &len);
	FUZZ_CHECK(again != NULL);
	FUZZ_CHECK(len == size);
	char *want = malloc(size);
	FUZZ_CHECK(want != NULL);
	memcpy(want, data, size);
	if (s->outdated) {
		FUZZ_CHECK(want[8] == 2);
		want[8] = 3;
		uint64_t sum = hash_bytes(want, size - 8);
		for (int i = 0; i < 8; i++)
			want[size - 8 + i] = (char)(sum >> (8 * i));
	}
	FUZZ_CHECK(memcmp(again, want, size) == 0);
	free(want);
	free(again);
	snapshot_unref(s);
	return 0;
}
