/* test_diskcache.c - cache entries on disk: whole or a miss, private, bounded. */
#include "check.h"
#include "diskcache.h"
#include "diskformat.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Linked with --wrap=fsync,--wrap=renameat2: every sync and rename into
 * place, in order, to check what reaches the disk before what. */
enum call_kind { SYNC_FILE, SYNC_FOLDER, RENAME };
struct call {
	enum call_kind what;
	ino_t ino;       /* of what was synced */
	char name[32];   /* what was renamed into place */
};
static struct call calls[32];
static int ncalls;

static void record(enum call_kind what, ino_t ino, const char *name)
{
	if (ncalls < (int)(sizeof(calls) / sizeof(calls[0]))) {
		calls[ncalls] = (struct call){ .what = what, .ino = ino };
		snprintf(calls[ncalls].name, sizeof(calls[ncalls].name), "%s", name);
		ncalls++;
	}
}

int __real_fsync(int fd);
int __wrap_fsync(int fd)
{
	struct stat st;
	if (fstat(fd, &st) == 0)
		record(S_ISDIR(st.st_mode) ? SYNC_FOLDER : SYNC_FILE, st.st_ino, "");
	return __real_fsync(fd);
}

int __real_renameat2(int from_dir, const char *from, int to_dir, const char *to, unsigned flags);
int __wrap_renameat2(int from_dir, const char *from, int to_dir, const char *to, unsigned flags)
{
	record(RENAME, 0, to);
	return __real_renameat2(from_dir, from, to_dir, to, flags);
}

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

/* What du counts, the folders' own blocks aside: the allocated blocks of
 * every file under a path. */
static uint64_t du_total;
static int du_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path, (void)ftw;
	if (flag != FTW_D && flag != FTW_DP)
		du_total += (uint64_t)st->st_blocks * 512;
	return 0;
}

static uint64_t du(const char *path)
{
	du_total = 0;
	CHECK(nftw(path, du_add, 16, FTW_PHYS) == 0);
	return du_total;
}

static void remove_tree(const char *path)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	CHECK(system(cmd) == 0);
}

static struct disk_cache *open_cache(const char *root, const char *identity, uint64_t max_bytes,
				     uint64_t unused_s)
{
	char why[1200];
	enum disk_cache_failure failure;
	struct disk_cache *d = disk_cache_open(root, identity, max_bytes, unused_s, &failure, why,
					       sizeof(why));
	if (!d)
		fprintf(stderr, "disk_cache_open %s: %s\n", root, why);
	return d;
}

/* The identity folder's name (its hash) and path. */
static const char *folder_name(struct disk_cache *d)
{
	return strrchr(disk_cache_dir(d), '/') + 1;
}

static void set_used(const char *path, time_t when)
{
	struct timespec times[2] = { { when, 0 }, { when, 0 } };
	CHECK(utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) == 0);
}

/* Stores n entries of about 1000 bytes (a block each), keys kind 2, ids
 * from first on, each used a second after the one before, from when on. */
static void store_entries(struct disk_cache *d, int first, int n, time_t when)
{
	char big[1000];
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct snapshot *s = listing_of(1, big);
	for (int i = first; i < first + n; i++) {
		struct obj_key k = { 2, i, 0 };
		disk_cache_store(d, &k, s);
		char path[4200];
		snprintf(path, sizeof(path), "%s/2-%d-0", disk_cache_dir(d), i);
		/* Its time of use set, not slept for: the order is on disk
		 * whatever the machine's load.  (A trim may already have
		 * taken it.) */
		struct timespec times[2] = { { when + i, 0 }, { when + i, 0 } };
		utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW);
	}
	snapshot_unref(s);
}

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_folder(void)
{
	char root[] = "/tmp/sepayfs-test-cache-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	char why[1200];
	enum disk_cache_failure failure;
	/* mkdtemp made it 0700: fine.  Open to others: refused, with a
	 * reason, and the mount with it (bank data must not go there). */
	chmod(root, 0755);
	CHECK(disk_cache_open(root, "me", 1 << 20, 0, &failure, why, sizeof(why)) == NULL);
	CHECK(strstr(why, "mode 755") != NULL);
	CHECK_INT(failure, DISK_CACHE_NOT_PRIVATE);
	chmod(root, 0700);
	struct disk_cache *d = open_cache(root, "https://api\njwt:a|1", 1 << 20, 0);
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
	struct disk_cache *other = open_cache(root, "https://api\njwt:b|2", 1 << 20, 0);
	CHECK(other && disk_cache_load(other, &key) == NULL);
	disk_cache_close(other);
	disk_cache_close(d);
	d = open_cache(root, "https://api\njwt:a|1", 1 << 20, 0);
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
	disk_cache_close(d);
	remove_tree(root);
}

/* The budget is the disk the files in the whole folder take (what du
 * shows, the folders aside), and past it the entries used least recently
 * go first. */
static void test_budget(void)
{
	char root[] = "/tmp/sepayfs-test-budget-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	const uint64_t budget = 64 << 10;
	struct disk_cache *d = open_cache(root, "budget", budget, 0);
	CHECK(d != NULL);
	CHECK_INT(disk_cache_bytes(d), du(root));
	time_t past = time(NULL) - 86400;
	store_entries(d, 1, 5, past);
	/* The first is used now: it stays. */
	struct obj_key first = { 2, 1, 0 };
	struct snapshot *kept = disk_cache_load(d, &first);
	CHECK(kept != NULL);
	snapshot_unref(kept);
	store_entries(d, 6, 20, past);
	CHECK(disk_cache_bytes(d) <= budget);
	CHECK(du(root) <= budget);
	CHECK(entries_in(disk_cache_dir(d)) < 25);
	CHECK(entries_in(disk_cache_dir(d)) > 5);
	kept = disk_cache_load(d, &first);
	CHECK(kept != NULL);
	snapshot_unref(kept);
	/* The second was used least recently of all. */
	struct obj_key second = { 2, 2, 0 };
	CHECK(disk_cache_load(d, &second) == NULL);
	disk_cache_wipe(d);
	CHECK_INT(entries_in(disk_cache_dir(d)), 0);
	disk_cache_close(d);

	/* Over the budget from an earlier mount with a larger one: trimmed at
	 * open, before anything is stored. */
	d = open_cache(root, "budget", 1 << 20, 0);
	store_entries(d, 1, 30, past);
	disk_cache_close(d);
	CHECK(du(root) > budget);
	d = open_cache(root, "budget", budget, 0);
	CHECK(du(root) <= budget);
	CHECK_INT(disk_cache_bytes(d), du(root));

	/* More entries to remove than one pass of a trim holds (4096); the
	 * folder that held them, grown, is not the budget's to trim. */
	char path[4200];
	for (int i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "%s/2-%d-0", disk_cache_dir(d), 1000 + i);
		put_file(path, "x");
	}
	disk_cache_close(d);
	CHECK(du(root) > 5000 * 512);
	d = open_cache(root, "budget", budget, 0);
	CHECK(du(root) <= budget);
	disk_cache_close(d);
	remove_tree(root);
}

/* A file system that says it has fake_free bytes free to users, in 4 KiB
 * blocks, or fails with fake_errno, or answers all zeros. */
static uint64_t fake_free;
static int fake_errno;
static bool fake_says_nothing;
static int fake_room(int fd, struct statvfs *st)
{
	(void)fd;
	if (fake_errno) {
		errno = fake_errno;
		return -1;
	}
	memset(st, 0, sizeof(*st));
	if (fake_says_nothing)
		return 0;
	st->f_bsize = st->f_frsize = 4096;
	st->f_bavail = fake_free / 4096;
	st->f_bfree = st->f_bavail + 100;
	st->f_blocks = st->f_bfree * 4;
	return 0;
}

/* A default budget is bounded by the room: a quarter of what is free with
 * what the cache already takes.  Where room is plenty, or unknown (an
 * error, or a file system that answers zeros), the default stands. */
static void test_budget_fits_the_room(void)
{
	char root[] = "/tmp/sepayfs-test-room-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	const uint64_t budget = 1 << 20;
	struct disk_cache *d = open_cache(root, "room", budget, 0);
	store_entries(d, 1, 40, time(NULL) - 86400);
	uint64_t held = disk_cache_bytes(d);
	CHECK(held >= 40 * 4096);
	fake_free = 64ull << 30;
	CHECK_INT(disk_cache_fit_room(d, fake_room), budget);
	fake_errno = EIO;
	CHECK_INT(disk_cache_fit_room(d, fake_room), budget);
	fake_errno = 0;
	fake_says_nothing = true; /* all zeros: no size, so no room known */
	CHECK_INT(disk_cache_fit_room(d, fake_room), budget);
	fake_says_nothing = false;
	CHECK_INT(entries_in(disk_cache_dir(d)), 40);
	/* 256 KiB free: the budget falls to a quarter of that and of what the
	 * cache takes, and the cache is trimmed to it at once... */
	fake_free = 256 << 10;
	const uint64_t quarter = ((256 << 10) + held) / 4;
	CHECK_INT(disk_cache_fit_room(d, fake_room), quarter);
	CHECK(du(root) <= quarter);
	CHECK(entries_in(disk_cache_dir(d)) > 0);
	/* ...and stays within it as it stores. */
	store_entries(d, 100, 40, time(NULL) - 3600);
	CHECK(du(root) <= quarter);
	disk_cache_close(d);
	remove_tree(root);
}

/* Every identity in the folder counts toward one budget, and the least
 * recently used entries go first, whoever stored them. */
static void test_identities_share_the_budget(void)
{
	char root[] = "/tmp/sepayfs-test-shared-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	const uint64_t budget = 64 << 10;
	time_t past = time(NULL) - 86400;
	struct disk_cache *a = open_cache(root, "token a", 1 << 20, 0);
	store_entries(a, 1, 16, past);
	char a_dir[4200];
	snprintf(a_dir, sizeof(a_dir), "%s", disk_cache_dir(a));
	disk_cache_close(a);
	CHECK(du(root) > budget);
	struct disk_cache *b = open_cache(root, "token b", budget, 0);
	CHECK(du(root) <= budget);
	store_entries(b, 100, 10, past + 1000);
	CHECK(du(root) <= budget);
	CHECK(entries_in(a_dir) < 16);
	CHECK(entries_in(disk_cache_dir(b)) > 0);
	disk_cache_close(b);
	remove_tree(root);
}

/* An identity folder no mount has used for longer than the time given is
 * removed whole at open; one used recently, or held by a running mount,
 * stays. */
static void test_unused_folders_go(void)
{
	char root[] = "/tmp/sepayfs-test-unused-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	char old[4200], recent[4200], held_dir[4200];
	struct disk_cache *d = open_cache(root, "old token", 1 << 20, 0);
	store_entries(d, 1, 2, time(NULL));
	snprintf(old, sizeof(old), "%s", disk_cache_dir(d));
	disk_cache_close(d);
	d = open_cache(root, "recent token", 1 << 20, 0);
	store_entries(d, 1, 2, time(NULL));
	snprintf(recent, sizeof(recent), "%s", disk_cache_dir(d));
	disk_cache_close(d);
	struct disk_cache *held = open_cache(root, "running mount", 1 << 20, 0);
	snprintf(held_dir, sizeof(held_dir), "%s", disk_cache_dir(held));
	time_t two_hours_ago = time(NULL) - 7200;
	set_used(old, two_hours_ago);
	set_used(held_dir, two_hours_ago);
	set_used(recent, time(NULL) - 600);

	d = open_cache(root, "new token", 1 << 20, 3600);
	struct stat st;
	CHECK(stat(old, &st) != 0 && errno == ENOENT);
	CHECK(stat(recent, &st) == 0 && entries_in(recent) == 2);
	CHECK(stat(held_dir, &st) == 0);
	CHECK(stat(disk_cache_dir(d), &st) == 0);
	disk_cache_close(d);
	disk_cache_close(held);
	/* Its own folder, however old, is the one a mount uses. */
	set_used(recent, two_hours_ago);
	d = open_cache(root, "recent token", 1 << 20, 3600);
	CHECK(stat(recent, &st) == 0 && entries_in(recent) == 2);
	disk_cache_close(d);
	remove_tree(root);
}

/* Names and contents of a folder's files, one "name=content;" each, sorted
 * by name (readdir's order is the file system's). */
static int not_dots(const struct dirent *e)
{
	return strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
}

static void folder_text(const char *dir, char *out, size_t size)
{
	struct dirent **names;
	int n = scandir(dir, &names, not_dots, alphasort);
	size_t used = 0;
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		char path[4400], text[64] = "";
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		FILE *f = names[i]->d_name[0] == '.' ? NULL : fopen(path, "r");
		if (f) {
			size_t got = fread(text, 1, sizeof(text) - 1, f);
			text[got] = '\0';
			fclose(f);
		}
		if (used < size)
			used += (size_t)snprintf(out + used, size - used, "%s=%s;", names[i]->d_name,
						 text);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

/* The cache folder swapped for a link to another folder after it was
 * opened (what another user who may write its parent could do): stores,
 * trims and a wipe go on in the folder opened, and nothing lands in or
 * disappears from the other one. */
static void test_swapped_for_a_link(void)
{
	char root[] = "/tmp/sepayfs-test-swap-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	char cache[200], moved[200], other[200], planted[300], path[400];
	snprintf(cache, sizeof(cache), "%s/cache", root);
	snprintf(moved, sizeof(moved), "%s/moved", root);
	snprintf(other, sizeof(other), "%s/other", root);
	struct disk_cache *d = open_cache(cache, "swap", 64 << 10, 0);
	CHECK(d != NULL);
	time_t past = time(NULL) - 86400;
	store_entries(d, 1, 3, past);

	CHECK(rename(cache, moved) == 0);
	CHECK(mkdir(other, 0700) == 0);
	snprintf(planted, sizeof(planted), "%s/%s", other, folder_name(d));
	CHECK(mkdir(planted, 0700) == 0);
	static const char *const victims[] = { "2-1-0", "2-2-0", "2-40-0", "born", "victim" };
	for (size_t i = 0; i < sizeof(victims) / sizeof(victims[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", planted, victims[i]);
		put_file(path, "precious");
		set_used(path, past - 86400);
	}
	CHECK(symlink("other", cache) == 0);
	char before[4096], after[4096], moved_dir[300], name[32];
	folder_text(planted, before, sizeof(before));
	snprintf(name, sizeof(name), "%s", folder_name(d));

	store_entries(d, 4, 30, past); /* past the budget: trims */
	struct obj_key k = { 2, 33, 0 };
	struct snapshot *s = disk_cache_load(d, &k);
	CHECK(s != NULL);
	snapshot_unref(s);
	snprintf(moved_dir, sizeof(moved_dir), "%s/%s", moved, name);
	CHECK(entries_in(moved_dir) > 3);
	disk_cache_wipe(d);
	CHECK_INT(entries_in(moved_dir), 0);
	disk_cache_close(d);

	folder_text(planted, after, sizeof(after));
	CHECK_STR(after, before);
	folder_text(other, after, sizeof(after));
	snprintf(before, sizeof(before), "%s=;", name);
	CHECK_STR(after, before);
	remove_tree(root);
}

/* A folder above the cache folder that another user may write (not
 * sticky and root's, as /tmp is): the disk cache is off, nothing is made
 * below it, and the message names the folder. */
static void test_loose_parent(void)
{
	char root[] = "/tmp/sepayfs-test-loose-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	char loose[200], cache[300], why[1200];
	snprintf(loose, sizeof(loose), "%s/shared", root);
	snprintf(cache, sizeof(cache), "%s/cache", loose);
	CHECK(mkdir(loose, 0700) == 0 && chmod(loose, 0777) == 0);
	enum disk_cache_failure failure = DISK_CACHE_NOT_PRIVATE;
	CHECK(disk_cache_open(cache, "me", 1 << 20, 0, &failure, why, sizeof(why)) == NULL);
	CHECK_INT(failure, DISK_CACHE_OFF);
	CHECK(strstr(why, loose) && strstr(why, "mode 777"));
	struct stat st;
	CHECK(stat(cache, &st) != 0 && errno == ENOENT);
	/* Sticky but ours, not root's: still another user's to fill with
	 * names of their choosing (root's own sticky folders pass: every
	 * test here runs below /tmp). */
	CHECK(chmod(loose, 01777) == 0);
	if (geteuid() != 0) {
		CHECK(disk_cache_open(cache, "me", 1 << 20, 0, &failure, why, sizeof(why)) == NULL);
		CHECK_INT(failure, DISK_CACHE_OFF);
	}
	remove_tree(root);
}

/* A symbolic link where the identity folder or an entry should be is never
 * followed: the folder makes the disk cache off; the entry is a miss, and
 * a store replaces the link, not what it points to. */
static void test_links_are_not_followed(void)
{
	char root[] = "/tmp/sepayfs-test-links-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	char cache[200], target[200], link[300], outside[200], why[1200];
	snprintf(cache, sizeof(cache), "%s/cache", root);
	snprintf(target, sizeof(target), "%s/target", root);
	snprintf(outside, sizeof(outside), "%s/outside", root);
	struct disk_cache *d = open_cache(cache, "links", 1 << 20, 0);
	CHECK(d != NULL);
	char dir[300];
	snprintf(dir, sizeof(dir), "%s", disk_cache_dir(d));
	disk_cache_close(d);
	remove_tree(dir);
	CHECK(mkdir(target, 0700) == 0);
	CHECK(symlink(target, dir) == 0);
	enum disk_cache_failure failure = DISK_CACHE_NOT_PRIVATE;
	CHECK(disk_cache_open(cache, "links", 1 << 20, 0, &failure, why, sizeof(why)) == NULL);
	CHECK_INT(failure, DISK_CACHE_OFF);
	CHECK(strstr(why, "symbolic link") != NULL);
	CHECK_INT(entries_in(target), 0);
	struct stat st;
	snprintf(link, sizeof(link), "%s/born", target);
	CHECK(stat(link, &st) != 0);

	CHECK(unlink(dir) == 0);
	d = open_cache(cache, "links", 1 << 20, 0);
	CHECK(d != NULL);
	put_file(outside, "secret");
	snprintf(link, sizeof(link), "%s/3-19-0", disk_cache_dir(d));
	CHECK(symlink(outside, link) == 0);
	struct obj_key key = { 3, 19, 0 };
	CHECK(disk_cache_load(d, &key) == NULL);
	struct snapshot *s = listing_of(2, "x");
	disk_cache_store(d, &key, s);
	CHECK(lstat(link, &st) == 0 && S_ISREG(st.st_mode));
	char text[32] = "";
	FILE *f = fopen(outside, "r");
	CHECK(f && fgets(text, sizeof(text), f));
	if (f)
		fclose(f);
	CHECK_STR(text, "secret");
	struct snapshot *back = disk_cache_load(d, &key);
	CHECK(same_snapshot(s, back));
	snapshot_unref(back);
	snapshot_unref(s);
	disk_cache_close(d);
	remove_tree(root);
}

/* Synced, renamed into place, and the folder synced, as a secret is: the
 * calls recorded since ncalls was 0, for the file name. */
static void check_written_durably(const char *name, const char *folder)
{
	struct stat st;
	CHECK(stat(folder, &st) == 0);
	CHECK_INT(ncalls, 3);
	CHECK_INT(calls[0].what, SYNC_FILE);
	CHECK_INT(calls[1].what, RENAME);
	CHECK_STR(calls[1].name, name);
	CHECK_INT(calls[2].what, SYNC_FOLDER);
	CHECK(calls[2].ino == st.st_ino);
}

/* born and the SIGHUP stamp survive a power cut whole or not at all (a
 * born lost moves every folder's time; a stamp lost serves, after a
 * remount, what the SIGHUP made stale); the stamp is there for the next
 * mount, and one from a clock set back does not reach into the future. */
static void test_durable_files(void)
{
	char root[] = "/tmp/sepayfs-test-durable-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	ncalls = 0;
	struct disk_cache *d = open_cache(root, "durable", 1 << 20, 0);
	CHECK(d != NULL);
	check_written_durably("born", disk_cache_dir(d));
	CHECK_INT(disk_cache_expired_ms(d), 0);
	ncalls = 0;
	disk_cache_record_expiry(d, 1700000000123u);
	check_written_durably("expired", disk_cache_dir(d));
	disk_cache_close(d);
	d = open_cache(root, "durable", 1 << 20, 0);
	CHECK_INT(disk_cache_expired_ms(d), 1700000000123u);
	uint64_t later = ((uint64_t)time(NULL) + 86400) * 1000;
	disk_cache_record_expiry(d, later);
	disk_cache_close(d);
	d = open_cache(root, "durable", 1 << 20, 0);
	CHECK(disk_cache_expired_ms(d) < later);
	CHECK(disk_cache_expired_ms(d) >= 1700000000123u);
	disk_cache_close(d);
	remove_tree(root);
}

/* A month larger than memory may hold goes to disk and comes back a piece
 * at a time: a blob kept in a file is copied into its entry, and a large
 * file of an entry read back stays in the entry's file, byte for byte. */
static void test_large_files_stay_on_disk(void)
{
	char root[] = "/tmp/sepayfs-test-disk-large-XXXXXX";
	CHECK(mkdtemp(root) != NULL);
	struct disk_cache *d = open_cache(root, "large", 64u << 20, 0);
	CHECK(d != NULL);
	size_t len = 3 * BLOB_MEMORY_MAX + 12345;
	char *bytes = malloc(len);
	for (size_t i = 0; i < len; i++)
		bytes[i] = (char)('a' + (i * 7 + i / 1000) % 26);
	/* The month as the build leaves it: in an unlinked file of its own. */
	char tmp[] = "/tmp/sepayfs-test-disk-large-month-XXXXXX";
	int fd = mkstemp(tmp);
	CHECK(fd >= 0 && write(fd, "head", 4) == 4 && write(fd, bytes, len) == (ssize_t)len);
	unlink(tmp);
	struct blob_file *file = blob_file_adopt(fd);
	struct blob *b = blob_new_in_file(file, 4, len, hash_bytes(bytes, len),
					  (struct timespec){ 1700000000, 0 });
	blob_file_unref(file);
	struct snapshot *s = snapshot_new_file(b);
	s->fetched = (struct timespec){ 1800000000, 0 };
	const struct obj_key key = { 4, 19, 202611 };
	disk_cache_store(d, &key, s);
	snapshot_unref(s);
	struct snapshot *back = disk_cache_load(d, &key);
	CHECK(back && back->file && back->file->file != NULL); /* not read into memory */
	CHECK(back && back->file->v.len == len && back->file->v.hash == hash_bytes(bytes, len));
	char *again = malloc(len);
	size_t got = 0;
	while (back && got < len) {
		ssize_t n = blob_read(back->file, again + got, 100000, got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	CHECK(got == len && memcmp(again, bytes, len) == 0);
	/* A later store over the entry leaves what is open as it was. */
	struct snapshot *small = snapshot_new_file(blob_new("{}", 2, (struct timespec){ 1, 0 }));
	small->fetched = (struct timespec){ 1800000000, 0 };
	disk_cache_store(d, &key, small);
	snapshot_unref(small);
	char head[16];
	CHECK(back && blob_read(back->file, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
	      memcmp(head, bytes, sizeof(head)) == 0);
	snapshot_unref(back);
	free(again);
	free(bytes);
	disk_cache_close(d);
	remove_tree(root);
}

int main(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	test_format();
	test_folder();
	test_budget();
	test_budget_fits_the_room();
	test_identities_share_the_budget();
	test_unused_folders_go();
	test_swapped_for_a_link();
	test_loose_parent();
	test_links_are_not_followed();
	test_durable_files();
	test_large_files_stay_on_disk();
	return check_report("diskcache");
}
