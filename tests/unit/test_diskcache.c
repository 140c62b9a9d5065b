/* test_diskcache.c - cache entries on disk: whole or a miss, private, bounded. */
#include "check.h"
#include "diskcache.h"
#include "diskformat.h"
#include "log.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct snapshot *listing_of(int n, const char *text)
{
	struct snapshot *s = snapshot_new_listing((struct timespec){ 1700000000, 5 });
	for (int i = 1; i <= n; i++) {
		struct blob *b = text ? blob_new(text, strlen(text), (struct timespec){ 1700000000 + i, 0 })
				      : NULL;
		CHECK(snapshot_listing_add(s, i * 10, b));
		s->entries[s->count - 1].since = 202401 + i % 12;
	}
	CHECK(snapshot_listing_finish(s));
	s->fetched = (struct timespec){ 1800000000, 123 };
	return s;
}

static bool same_snapshot(const struct snapshot *a, const struct snapshot *b)
{
	if (!a || !b || a->count != b->count || (a->file == NULL) != (b->file == NULL) ||
	    a->mtime.tv_sec != b->mtime.tv_sec || a->mtime.tv_nsec != b->mtime.tv_nsec ||
	    a->fetched.tv_sec != b->fetched.tv_sec || a->fetched.tv_nsec != b->fetched.tv_nsec ||
	    a->since != b->since)
		return false;
	const struct blob *fa = a->file, *fb = b->file;
	for (size_t i = 0; i <= a->count; i++) {
		if (i > 0) {
			if (a->entries[i - 1].id != b->entries[i - 1].id ||
			    a->entries[i - 1].since != b->entries[i - 1].since)
				return false;
			fa = a->entries[i - 1].file;
			fb = b->entries[i - 1].file;
		}
		if ((fa == NULL) != (fb == NULL))
			return false;
		if (fa && (!version_same_bytes(&fa->v, &fb->v) || fa->v.mtime.tv_sec != fb->v.mtime.tv_sec ||
			   memcmp(fa->bytes, fb->bytes, fa->v.len) != 0))
			return false;
	}
	return true;
}

/* Encodes s and decodes it back under the same key and identity. */
static void check_roundtrip(const struct obj_key *key, uint64_t identity, struct snapshot *s)
{
	size_t len;
	char *bytes = disk_entry_encode(key, identity, s, &len);
	CHECK(bytes != NULL);
	struct snapshot *back = disk_entry_decode(bytes, len, key, identity);
	CHECK(same_snapshot(s, back));
	snapshot_unref(back);
	free(bytes);
	snapshot_unref(s);
}

static void test_format(void)
{
	struct obj_key key = { 3, 19, 0 }, other = { 3, 20, 0 };
	struct snapshot *s = listing_of(5, "{\"id\": 1, \"label\": \"Cửa hàng\"}\n");
	size_t len;
	char *bytes = disk_entry_encode(&key, 77, s, &len);
	CHECK(bytes != NULL);
	struct snapshot *back = disk_entry_decode(bytes, len, &key, 77);
	CHECK(same_snapshot(s, back));
	snapshot_unref(back);
	/* Another key or identity: a miss. */
	CHECK(disk_entry_decode(bytes, len, &other, 77) == NULL);
	CHECK(disk_entry_decode(bytes, len, &key, 78) == NULL);
	/* Every truncation, and every flipped bit, is a miss. */
	size_t misses = 0, tries = 0;
	for (size_t cut = 0; cut < len; cut++, tries++)
		misses += disk_entry_decode(bytes, cut, &key, 77) == NULL;
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++, tries++) {
			bytes[i] ^= (char)(1 << bit);
			struct snapshot *d = disk_entry_decode(bytes, len, &key, 77);
			misses += d == NULL;
			snapshot_unref(d);
			bytes[i] ^= (char)(1 << bit);
		}
	}
	CHECK_INT(misses, tries);
	free(bytes);
	snapshot_unref(s);

	/* A file object, and a listing of names only. */
	struct blob *f = blob_new("{}\n", 3, (struct timespec){ 1600000000, 9 });
	s = snapshot_new_file(f);
	s->fetched = (struct timespec){ 1800000000, 0 };
	s->since = 202502;
	check_roundtrip(&key, 1, s);
	check_roundtrip(&key, 1, listing_of(3, NULL));
}

static size_t entries_in(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += de->d_name[0] >= '0' && de->d_name[0] <= '9';
	if (d)
		closedir(d);
	return n;
}

static void test_folder(void)
{
	char root[] = "/tmp/sepayfs-test-cache-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	char why[600];
	/* mkdtemp made it 0700: fine.  Open to others: refused, with a reason. */
	chmod(root, 0755);
	CHECK(disk_cache_open(root, "me", 1 << 20, why, sizeof(why)) == NULL);
	CHECK(strstr(why, "mode 755") != NULL);
	chmod(root, 0700);
	struct disk_cache *d = disk_cache_open(root, "https://api\njwt:a|1", 1 << 20, why, sizeof(why));
	CHECK(d != NULL);
	struct stat st;
	CHECK(stat(disk_cache_dir(d), &st) == 0 && (st.st_mode & 0777) == 0700);
	time_t born = disk_cache_born(d);
	CHECK(born > 0);

	struct obj_key key = { 3, 19, 0 };
	struct snapshot *s = listing_of(4, "x");
	CHECK(disk_cache_load(d, &key) == NULL);
	disk_cache_store(d, &key, s);
	struct snapshot *back = disk_cache_load(d, &key);
	CHECK(same_snapshot(s, back));
	snapshot_unref(back);
	char path[4200];
	snprintf(path, sizeof(path), "%s/3-19-0", disk_cache_dir(d));
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);

	/* Another identity sees nothing of it; the same one again sees it all,
	 * born when it was. */
	struct disk_cache *other = disk_cache_open(root, "https://api\njwt:b|2", 1 << 20, why,
						   sizeof(why));
	CHECK(other && disk_cache_load(other, &key) == NULL);
	disk_cache_close(other);
	disk_cache_close(d);
	d = disk_cache_open(root, "https://api\njwt:a|1", 1 << 20, why, sizeof(why));
	back = disk_cache_load(d, &key);
	CHECK(same_snapshot(s, back));
	snapshot_unref(back);
	CHECK_INT(disk_cache_born(d), born);

	/* Damaged on disk: a miss, never an error. */
	FILE *f = fopen(path, "r+");
	fseek(f, 40, SEEK_SET);
	fputc('!', f);
	fclose(f);
	CHECK(disk_cache_load(d, &key) == NULL);
	truncate(path, 10);
	CHECK(disk_cache_load(d, &key) == NULL);
	snapshot_unref(s);

	/* Past the budget, the least recently used go first. */
	disk_cache_close(d);
	d = disk_cache_open(root, "budget", 8192, why, sizeof(why));
	char big[1000];
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s = listing_of(1, big);
	struct obj_key first = { 2, 1, 0 };
	disk_cache_store(d, &first, s);
	for (int i = 2; i <= 20; i++) {
		struct obj_key k = { 2, i, 0 };
		/* File times tick coarsely (a few ms): apart by more, so the
		 * order of use is on disk whatever the machine's load. */
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
		disk_cache_store(d, &k, s);
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
		/* The first is used all the time: it stays. */
		struct snapshot *kept = disk_cache_load(d, &first);
		CHECK(kept != NULL);
		snapshot_unref(kept);
	}
	CHECK(disk_cache_bytes(d) <= 8192);
	CHECK(entries_in(disk_cache_dir(d)) < 20);
	struct snapshot *kept = disk_cache_load(d, &first);
	CHECK(kept != NULL);
	snapshot_unref(kept);
	snapshot_unref(s);
	disk_cache_wipe(d);
	CHECK_INT(entries_in(disk_cache_dir(d)), 0);
	disk_cache_close(d);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	test_format();
	test_folder();
	return check_report("diskcache");
}
