/* test_snapshot.c - listings: order, repeats, carried-over mtimes. */
#include "check.h"
#include "snapshot.h"

#include <stdlib.h>

static struct blob *text(const char *s, long sec)
{
	return blob_new(s, strlen(s), (struct timespec){ sec, 0 });
}

int main(void)
{
	struct timespec t1 = { 100, 0 }, t2 = { 200, 0 };

	/* Unsorted with a repeat: sorted, and the first one seen kept. */
	struct snapshot *s = snapshot_new_listing(t1);
	CHECK(snapshot_listing_add(s, 30, text("thirty", 100)));
	CHECK(snapshot_listing_add(s, 10, text("ten-first", 100)));
	CHECK(snapshot_listing_add(s, 20, text("twenty", 100)));
	CHECK(snapshot_listing_add(s, 10, text("ten-again", 100)));
	CHECK(snapshot_listing_finish(s));
	CHECK_INT(s->count, 3);
	CHECK_INT(s->entries[0].id, 10);
	CHECK_INT(s->entries[1].id, 20);
	CHECK_INT(s->entries[2].id, 30);
	CHECK_STR(s->entries[0].file->bytes, "ten-first");
	CHECK(snapshot_find(s, 20) == &s->entries[1]);
	CHECK(snapshot_find(s, 15) == NULL);

	/* A refresh with one file changed: the others keep their blobs and
	 * mtimes; the listing keeps its mtime since the ids are the same. */
	struct snapshot *fresh = snapshot_new_listing(t2);
	CHECK(snapshot_listing_add(fresh, 10, text("ten-first", 200)));
	CHECK(snapshot_listing_add(fresh, 20, text("twenty!", 200)));
	CHECK(snapshot_listing_add(fresh, 30, text("thirty", 200)));
	CHECK(snapshot_listing_finish(fresh));
	struct snapshot_versions *old_versions = snapshot_versions_of(s);
	snapshot_unref(s); /* the bytes may be gone: the versions record is enough */
	CHECK_INT(old_versions->count, 3);
	snapshot_carry_over(fresh, old_versions);
	free(old_versions);
	CHECK_INT(fresh->entries[0].file->v.mtime.tv_sec, 100);
	CHECK_INT(fresh->entries[1].file->v.mtime.tv_sec, 200);
	CHECK_INT(fresh->entries[2].file->v.mtime.tv_sec, 100);
	CHECK_INT(fresh->mtime.tv_sec, 100);

	/* An id gone: the listing's mtime moves. */
	struct snapshot *fewer = snapshot_new_listing(t2);
	CHECK(snapshot_listing_add(fewer, 10, NULL));
	CHECK(snapshot_listing_finish(fewer));
	struct snapshot_versions *fresh_versions = snapshot_versions_of(fresh);
	snapshot_carry_over(fewer, fresh_versions);
	free(fresh_versions);
	CHECK_INT(fewer->mtime.tv_sec, 200);

	/* A detail file: same bytes keep the mtime, other bytes do not. */
	struct snapshot *d1 = snapshot_new_file(text("{\"a\": 1}", 100));
	struct snapshot_versions *d1v = snapshot_versions_of(d1);
	struct snapshot *d2 = snapshot_new_file(text("{\"a\": 1}", 200));
	struct snapshot *d3 = snapshot_new_file(text("{\"a\": 2}", 300));
	snapshot_carry_over(d2, d1v);
	snapshot_carry_over(d3, d1v);
	CHECK_INT(d2->file->v.mtime.tv_sec, 100);
	CHECK_INT(d2->mtime.tv_sec, 100);
	CHECK_INT(d3->file->v.mtime.tv_sec, 300);
	CHECK(d2->file->v.hash == d1->file->v.hash);
	CHECK(d3->file->v.hash != d1->file->v.hash);
	free(d1v);
	snapshot_unref(d1);
	snapshot_unref(d2);
	snapshot_unref(d3);

	CHECK(snapshot_size(fresh) > 3 * strlen("thirty"));
	snapshot_unref(fresh);
	snapshot_unref(fewer);
	return check_report("snapshot");
}
