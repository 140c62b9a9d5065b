/* test_diskformat.c - entries of the format before this one: read, their
 * version records kept, never fresh. */
#include "check.h"
#include "diskformat.h"
#include "htab.h"

#include <stdlib.h>

/* The entry rewritten as format version `version`: the version word after
 * the magic, and the checksum over everything before it. */
static void as_version(char *bytes, size_t len, uint32_t version)
{
	for (int i = 0; i < 4; i++)
		bytes[8 + i] = (char)(version >> (8 * i));
	uint64_t sum = hash_bytes(bytes, len - 8);
	for (int i = 0; i < 8; i++)
		bytes[len - 8 + i] = (char)(sum >> (8 * i));
}

static void test_older_format(void)
{
	const struct obj_key key = { 3, 19, 0 };
	struct snapshot *s = snapshot_new_listing((struct timespec){ 1700000000, 5 });
	const char *text = "{\n  \"id\": 25,\n  \"accumulated\": 2705000.0\n}\n";
	CHECK(snapshot_listing_add(s, 25, blob_new(text, strlen(text),
						      (struct timespec){ 1700000100, 7 })));
	CHECK(snapshot_listing_add(s, 26, NULL));
	CHECK(snapshot_listing_finish(s));
	s->fetched = (struct timespec){ 1800000000, 0 };
	size_t len;
	char *bytes = disk_entry_encode(&key, 77, s, &len);
	CHECK(bytes != NULL);

	struct snapshot *now = disk_entry_decode(bytes, len, &key, 77);
	CHECK(now && !now->outdated);
	snapshot_unref(now);

	/* Version 3 (before list item hashes): read, current. */
	size_t len3;
	char *bytes3 = disk_entry_encode_as(&key, 77, s, 3, &len3);
	struct snapshot *three = disk_entry_decode(bytes3, len3, &key, 77);
	CHECK(three && !three->outdated && three->count == 2);
	snapshot_unref(three);
	/* Version 2 (before numbers kept their text): read, outdated, with
	 * every version record it had, so unchanged bytes keep their mtime. */
	as_version(bytes3, len3, 2);
	struct snapshot *old = disk_entry_decode(bytes3, len3, &key, 77);
	CHECK(old != NULL);
	CHECK(old && old->outdated);
	struct snapshot_versions *v = old ? snapshot_versions_of(old) : NULL;
	struct snapshot_versions *want = snapshot_versions_of(s);
	CHECK(v && want && v->count == want->count && v->ids_hash == want->ids_hash &&
	      v->mtime.tv_sec == 1700000000 && v->mtime.tv_nsec == 5);
	for (size_t i = 0; v && want && i < v->count && i < want->count; i++) {
		CHECK_INT(v->entries[i].id, want->entries[i].id);
		CHECK(version_same_bytes(&v->entries[i].v, &want->entries[i].v));
		CHECK_INT(v->entries[i].v.mtime.tv_sec, want->entries[i].v.mtime.tv_sec);
		CHECK_INT(v->entries[i].v.mtime.tv_nsec, want->entries[i].v.mtime.tv_nsec);
	}
	CHECK(old && old->fetched.tv_sec == 1800000000);
	free(v);
	free(want);
	snapshot_unref(old);

	/* Older still, or newer than this program knows: a miss. */
	as_version(bytes3, len3, 1);
	CHECK(disk_entry_decode(bytes3, len3, &key, 77) == NULL);
	as_version(bytes, len, 6);
	CHECK(disk_entry_decode(bytes, len, &key, 77) == NULL);
	free(bytes);
	free(bytes3);
	snapshot_unref(s);
}

/* An account listing of format 4 holds ids and item hashes, no rows for
 * the views: outdated (asked again at the next look), its listing's mtime
 * kept.  One of 5 holds rows: current. */
static void test_account_listing_without_rows(void)
{
	const struct obj_key key = { 1, 0, 0 };
	struct snapshot *s = snapshot_new_listing((struct timespec){ 1700000000, 5 });
	CHECK(snapshot_listing_add(s, 19, NULL));
	CHECK(snapshot_listing_add(s, 20, NULL));
	CHECK(snapshot_listing_finish(s));
	size_t len;
	char *four = disk_entry_encode_as(&key, 77, s, 4, &len);
	struct snapshot *old = four ? disk_entry_decode(four, len, &key, 77) : NULL;
	CHECK(old && old->outdated && old->count == 2);
	CHECK(old && old->mtime.tv_sec == 1700000000);
	snapshot_unref(old);
	free(four);

	const char *row = "{\"account_number\":\"0071000888888\"}\n";
	struct snapshot *rows = snapshot_new_listing((struct timespec){ 1700000000, 5 });
	CHECK(snapshot_listing_add(rows, 19, blob_new(row, strlen(row), (struct timespec){ 1, 0 })));
	CHECK(snapshot_listing_finish(rows));
	char *five = disk_entry_encode(&key, 77, rows, &len);
	struct snapshot *now = five ? disk_entry_decode(five, len, &key, 77) : NULL;
	CHECK(now && !now->outdated && now->entries[0].file &&
	      now->entries[0].file->v.len == strlen(row));
	snapshot_unref(now);
	free(five);
	snapshot_unref(rows);
	snapshot_unref(s);
}

int main(void)
{
	test_older_format();
	test_account_listing_without_rows();
	return check_report("diskformat");
}
