/* test_fs.c - the tree over a fake API: names, attributes, bytes, and
 * how many requests each operation costs. */
#include "cache.h"
#include "check.h"
#include "clock.h"
#include "fake_http.h"
#include "fs.h"
#include "months.h"
#include "objects.h"
#include "strbuf.h"
#include "transactions.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

static const char list_page[] =
	"{\"status\":\"success\",\"data\":[{\"id\":19,\"label\":\"Cty Demo\"},{\"id\":21}],"
	"\"meta\":{\"pagination\":{\"total\":2,\"per_page\":100,\"current_page\":1,\"last_page\":1}}}";
static const char detail_19[] =
	"{\"status\":\"success\",\"data\":{\"id\":19,\"label\":\"Cty Demo\",\"accumulated\":1777283273.00}}";
static const char detail_99[] = "{\"status\":\"success\",\"data\":{\"id\":99}}";
static const char subs_19[] =
	"{\"status\":\"success\",\"data\":[{\"id\":25,\"label\":\"Cửa hàng 1\"},{\"id\":26,\"label\":null}],"
	"\"meta\":{\"pagination\":{\"current_page\":1,\"last_page\":1}}}";

static const char info_19_text[] =
	"{\n  \"id\": 19,\n  \"label\": \"Cty Demo\",\n  \"accumulated\": 1777283273.00\n}\n";

struct world {
	struct fake_http *http;
	struct auth *auth;
	struct sepay_api api;
	struct objects_source source;
	struct cache *cache;
	struct fs fs;
};

/* ttls: freshness by object, and following the account list (NULL: one
 * TTL of 60 s for everything). */
static void world_init_ttls(struct world *w, struct objects_ttl *ttls)
{
	w->http = fake_http_new();
	fake_http_set(w->http, "/bank-accounts?page=1&limit=100", 200, list_page);
	fake_http_set(w->http, "/bank-accounts/19", 200, detail_19);
	fake_http_set(w->http, "/bank-accounts/21", 403, "{\"error\":\"forbidden\"}");
	fake_http_set(w->http, "/bank-accounts/99", 200, detail_99);
	fake_http_set(w->http, "/bank-accounts/19/sub-accounts?page=1&limit=100", 200, subs_19);
	w->auth = auth_new_fixed("test-token");
	struct sepay_api_config ac = { .http = fake_http_transport(w->http), .auth = w->auth,
				       .page_size = 100, .parallel = 4, .timeout_ms = 300 };
	sepay_api_init(&w->api, &ac);
	objects_source_init(&w->source, &w->api, 60000, false, 24, 16u << 20, -1);
	struct cache_config cc = { .ttl_ms = 60000, .fetch = objects_fetch,
				   .fetch_ctx = &w->source };
	if (ttls) {
		ttls->src = &w->source;
		cc.ttl_for = objects_ttl_ms;
		cc.prepare = objects_prepare;
		cc.ttl_ctx = ttls;
	}
	w->cache = cache_new(&cc);
	w->source.cache = w->cache;
	struct fs_config fc = { .uid = 1234, .gid = 5678, .file_mode = 0444, .dir_mode = 0555,
				.objects = &w->source };
	CHECK_INT(fs_init(&w->fs, &fc, w->cache), 0);
}

static void world_init(struct world *w)
{
	world_init_ttls(w, NULL);
}

static void world_free(struct world *w)
{
	fs_destroy(&w->fs);
	cache_free(w->cache);
	objects_source_destroy(&w->source);
	sepay_api_destroy(&w->api);
	auth_free(w->auth);
	fake_http_free(w->http);
}

/* Collects readdir output; takes at most `room` entries a call, like a
 * small kernel buffer. */
struct dir_out {
	struct fs_dirent entries[64];
	off_t cookies[64];
	size_t count;
	size_t room;
};

static bool collect_entry(void *ctx, const struct fs_dirent *d, off_t next)
{
	struct dir_out *out = ctx;
	if (!out->room || out->count == 64)
		return false;
	out->room--;
	out->entries[out->count] = *d;
	out->cookies[out->count++] = next;
	return true;
}

/* The whole directory, in batches of `batch` entries. */
static int read_dir(struct world *w, uint64_t ino, size_t batch, struct dir_out *out)
{
	memset(out, 0, sizeof(*out));
	off_t cookie = 0;
	for (;;) {
		size_t before = out->count;
		out->room = batch;
		int rc = fs_readdir(&w->fs, ino, cookie, collect_entry, out);
		if (rc)
			return rc;
		if (out->count == before)
			return 0;
		cookie = out->cookies[out->count - 1];
	}
}

static uint64_t lookup_ok(struct world *w, uint64_t parent, const char *name, struct stat *st)
{
	int rc = fs_lookup(&w->fs, parent, name, st);
	CHECK_INT(rc, 0);
	return rc ? 0 : st->st_ino;
}

static void test_impossible_names_cost_nothing(void)
{
	struct world w;
	world_init(&w);
	struct stat st;
	CHECK_INT(fs_lookup(&w.fs, INODE_ROOT, ".git", &st), ENOENT);
	CHECK_INT(fake_http_count(w.http, NULL), 0);
	/* A listing directory's lookup carries its attributes (its mtime
	 * says whether the kernel's cached listing holds): its listing. */
	uint64_t accounts = lookup_ok(&w, INODE_ROOT, "accounts", &st);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0555);
	CHECK_INT(st.st_nlink, 4);
	CHECK_INT(fake_http_count(w.http, NULL), 1);
	static const char *const bad[] = { "foo", ".git", "12abc", "-5", "0", "007",
					   "99999999999999999999", "autorun.inf" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(fs_lookup(&w.fs, accounts, bad[i], &st), ENOENT);
	CHECK_INT(fake_http_count(w.http, NULL), 1);

	/* An account path not listed is resolved through its detail. */
	uint64_t acct = lookup_ok(&w, accounts, "99", &st);
	CHECK_INT(fake_http_count(w.http, "/bank-accounts/99"), 1);
	CHECK_INT(fake_http_count(w.http, NULL), 2);
	CHECK_INT(fs_lookup(&w.fs, acct, "info.txt", &st), ENOENT);
	CHECK_INT(fs_lookup(&w.fs, acct, "INFO.JSON", &st), ENOENT);
	CHECK_INT(fake_http_count(w.http, NULL), 2);
	acct = lookup_ok(&w, accounts, "19", &st);
	uint64_t subs = lookup_ok(&w, acct, "sub-accounts", &st);
	CHECK_INT(fake_http_count(w.http, NULL), 3);
	CHECK_INT(fs_lookup(&w.fs, subs, "x.json", &st), ENOENT);
	CHECK_INT(fs_lookup(&w.fs, subs, "025.json", &st), ENOENT);
	CHECK_INT(fs_lookup(&w.fs, subs, "25", &st), ENOENT);
	CHECK_INT(fake_http_count(w.http, NULL), 3);
	world_free(&w);
}

static void test_tree(void)
{
	struct world w;
	world_init(&w);
	struct stat st;
	uint64_t accounts = lookup_ok(&w, INODE_ROOT, "accounts", &st);

	/* Listing /accounts costs the list page and nothing more. */
	struct dir_out dir;
	CHECK_INT(read_dir(&w, accounts, 64, &dir), 0);
	CHECK_INT(dir.count, 4);
	CHECK_STR(dir.entries[0].name, ".");
	CHECK_STR(dir.entries[1].name, "..");
	CHECK_STR(dir.entries[2].name, "19");
	CHECK_STR(dir.entries[3].name, "21");
	CHECK(dir.entries[2].has_attr && S_ISDIR(dir.entries[2].st.st_mode));
	CHECK(!dir.entries[0].has_attr);
	CHECK(fs_dirent_ref(&w.fs, &dir.entries[2]));
	uint64_t listed_19 = dir.entries[2].st.st_ino;
	CHECK_INT(fake_http_count(w.http, NULL), 1);

	/* Again within the TTL, one entry per call: no request. */
	CHECK_INT(read_dir(&w, accounts, 1, &dir), 0);
	CHECK_INT(dir.count, 4);
	CHECK_STR(dir.entries[3].name, "21");
	CHECK_INT(fake_http_count(w.http, NULL), 1);
	CHECK_INT(fs_getattr(&w.fs, accounts, &st), 0);
	CHECK_INT(st.st_nlink, 4);

	/* Listed accounts resolve without a request, with the listed inode. */
	uint64_t acct = lookup_ok(&w, accounts, "19", &st);
	CHECK_INT(acct, listed_19);
	CHECK_INT(st.st_uid, 1234);
	CHECK_INT(st.st_gid, 5678);
	CHECK_INT(fake_http_count(w.http, NULL), 1);

	/* info.json: exact size before any read; bytes pinned to the open. */
	uint64_t info = lookup_ok(&w, acct, "info.json", &st);
	CHECK(S_ISREG(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0444);
	CHECK_INT(st.st_size, strlen(info_19_text));
	CHECK_INT(st.st_blocks, 1);
	struct blob *b;
	CHECK_INT(fs_read(&w.fs, info, &b), 0);
	CHECK_STR(b->bytes, info_19_text);
	blob_unref(b);
	CHECK_INT(fake_http_count(w.http, "/bank-accounts/19"), 1);

	/* The account directory lists info.json with its attributes now. */
	CHECK_INT(read_dir(&w, acct, 64, &dir), 0);
	CHECK_INT(dir.count, 5);
	CHECK_STR(dir.entries[4].name, "transactions");
	CHECK_STR(dir.entries[2].name, "info.json");
	CHECK(dir.entries[2].has_attr);
	CHECK_INT(dir.entries[2].st.st_size, strlen(info_19_text));
	CHECK_INT(dir.entries[2].st.st_ino, info);
	CHECK_STR(dir.entries[3].name, "sub-accounts");

	/* Sub-accounts: one listing gives every file and its size. */
	uint64_t subs = lookup_ok(&w, acct, "sub-accounts", &st);
	CHECK_INT(read_dir(&w, subs, 2, &dir), 0);
	CHECK_INT(dir.count, 4);
	CHECK_STR(dir.entries[2].name, "25.json");
	CHECK_STR(dir.entries[3].name, "26.json");
	CHECK(dir.entries[3].has_attr);
	CHECK_INT(dir.entries[3].st.st_size, strlen("{\n  \"id\": 26,\n  \"label\": null\n}\n"));
	uint64_t sub = lookup_ok(&w, subs, "25.json", &st);
	CHECK_INT(fs_read(&w.fs, sub, &b), 0);
	CHECK_STR(b->bytes, "{\n  \"id\": 25,\n  \"label\": \"Cửa hàng 1\"\n}\n");
	blob_unref(b);
	CHECK_INT(fs_lookup(&w.fs, subs, "27.json", &st), ENOENT);
	CHECK_INT(fake_http_count(w.http, "/bank-accounts/19/sub-accounts?page=1&limit=100"), 1);

	/* Listed but forbidden in detail: the directory is there, info.json is EPERM. */
	uint64_t forbidden = lookup_ok(&w, accounts, "21", &st);
	CHECK_INT(fs_lookup(&w.fs, forbidden, "info.json", &st), EPERM);
	/* Not listed but there: found through its detail; absent: ENOENT. */
	lookup_ok(&w, accounts, "99", &st);
	CHECK_INT(fs_lookup(&w.fs, accounts, "98", &st), ENOENT);

	/* A directory is not a file and the reverse. */
	CHECK_INT(fs_read(&w.fs, acct, &b), EISDIR);
	CHECK_INT(fs_readdir(&w.fs, info, 0, collect_entry, &dir), ENOTDIR);

	/* Forgotten inodes are gone; the root never is. */
	fs_forget(&w.fs, sub, 1);
	CHECK_INT(fs_getattr(&w.fs, sub, &st), ESTALE);
	fs_forget(&w.fs, INODE_ROOT, 1);
	CHECK_INT(fs_getattr(&w.fs, INODE_ROOT, &st), 0);
	world_free(&w);
}

static void test_api_errors(void)
{
	struct world w;
	world_init(&w);
	struct stat st;
	fake_http_set(w.http, "/bank-accounts?page=1&limit=100", 401, "{\"error\":\"unauthorized\"}");
	/* The listing's failure is not the lookup's: reading it reports it. */
	uint64_t accounts = lookup_ok(&w, INODE_ROOT, "accounts", &st);
	struct dir_out dir;
	CHECK_INT(read_dir(&w, accounts, 64, &dir), EACCES);
	fake_http_set(w.http, "/bank-accounts/50", 500, "");
	CHECK_INT(fs_lookup(&w.fs, accounts, "50", &st), EIO);
	fake_http_set(w.http, "/bank-accounts/51", 200, "{\"status\":\"success\",\"data\":{\"id\":51}");
	CHECK_INT(fs_lookup(&w.fs, accounts, "51", &st), EIO);
	world_free(&w);
}

/* A file inode is one version: new content comes as a new inode at the
 * next lookup, while the old inode keeps showing (and sizing) the old. */
static void test_versions(void)
{
	struct world w;
	world_init(&w);
	struct stat st, old_st;
	uint64_t accounts = lookup_ok(&w, INODE_ROOT, "accounts", &st);
	uint64_t acct = lookup_ok(&w, accounts, "19", &st);
	uint64_t v1 = lookup_ok(&w, acct, "info.json", &old_st);
	struct blob *opened;
	CHECK_INT(fs_read(&w.fs, v1, &opened), 0);

	/* Refreshed with the same bytes: same inode, same mtime. */
	cache_expire_all(w.cache);
	CHECK_INT(lookup_ok(&w, acct, "info.json", &st), v1);
	CHECK_INT(st.st_mtim.tv_nsec, old_st.st_mtim.tv_nsec);
	CHECK_INT(fake_http_count(w.http, "/bank-accounts/19"), 2);

	/* Refreshed with new bytes: a new inode with the new size. */
	fake_http_set(w.http, "/bank-accounts/19", 200,
		      "{\"status\":\"success\",\"data\":{\"id\":19,\"label\":\"Đổi tên\"}}");
	cache_expire_all(w.cache);
	uint64_t v2 = lookup_ok(&w, acct, "info.json", &st);
	CHECK(v2 != v1);
	CHECK(st.st_size != old_st.st_size);
	struct blob *b;
	CHECK_INT(fs_read(&w.fs, v2, &b), 0);
	CHECK_STR(b->bytes, "{\n  \"id\": 19,\n  \"label\": \"Đổi tên\"\n}\n");
	blob_unref(b);

	/* The old inode, still held by the kernel, keeps its attributes; its
	 * bytes are gone from the API and from memory, so reading it (which
	 * the kernel does only when it dropped its cached pages) is ESTALE. */
	CHECK_INT(fs_getattr(&w.fs, v1, &st), 0);
	CHECK_INT(st.st_size, old_st.st_size);
	CHECK_STR(opened->bytes, info_19_text);
	CHECK_INT(fs_read(&w.fs, v1, &b), ESTALE);
	blob_unref(opened);
	fs_forget(&w.fs, v1, 2);
	CHECK_INT(fs_getattr(&w.fs, v1, &st), ESTALE);
	CHECK_INT(fs_getattr(&w.fs, v2, &st), 0);
	world_free(&w);
}

/* A file handle names a node by number: after the kernel forgot it,
 * "." of that number finds it again through the index, the same bytes
 * only; ".." gives its parent. */
static void test_handles(void)
{
	struct world w;
	world_init(&w);
	struct inode_index *index = inode_index_open(-1, 0);
	w.fs.index = index;
	struct stat st;
	uint64_t accounts = lookup_ok(&w, INODE_ROOT, "accounts", &st);
	uint64_t acct = lookup_ok(&w, accounts, "19", &st);
	uint64_t subs = lookup_ok(&w, acct, "sub-accounts", &st);
	uint64_t info = lookup_ok(&w, acct, "info.json", &st);
	uint32_t generation = fs_generation(&w.fs, info);
	CHECK(generation != 0 && generation != fs_generation(&w.fs, acct));
	CHECK_INT(fs_generation(&w.fs, INODE_ROOT), 0);
	/* The kernel forgets them all. */
	fs_forget(&w.fs, info, 1);
	fs_forget(&w.fs, subs, 1);
	fs_forget(&w.fs, acct, 1);
	fs_forget(&w.fs, accounts, 1);
	CHECK_INT(fs_getattr(&w.fs, info, &st), ESTALE);
	CHECK_INT(lookup_ok(&w, info, ".", &st), info);
	CHECK(S_ISREG(st.st_mode) && st.st_size == (off_t)strlen(info_19_text));
	CHECK_INT(fs_generation(&w.fs, info), generation);
	CHECK_INT(lookup_ok(&w, subs, ".", &st), subs);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(lookup_ok(&w, subs, "..", &st), acct);
	CHECK_INT(lookup_ok(&w, acct, "..", &st), accounts);
	CHECK_INT(lookup_ok(&w, accounts, "..", &st), INODE_ROOT);
	CHECK_INT(lookup_ok(&w, INODE_ROOT, ".", &st), INODE_ROOT);
	/* A number never handed out, or one whose content changed: stale. */
	CHECK_INT(fs_lookup(&w.fs, info ^ 0x5a5a0000, ".", &st), ESTALE);
	fs_forget(&w.fs, info, 1);
	fake_http_set(w.http, "/bank-accounts/19", 200,
		      "{\"status\":\"success\",\"data\":{\"id\":19,\"label\":\"Other\"}}");
	cache_expire_all(w.cache);
	CHECK_INT(fs_lookup(&w.fs, info, ".", &st), ESTALE);
	CHECK_INT(fs_getattr(&w.fs, info, &st), ESTALE); /* nothing held for it */
	/* An account gone: its folder's handle is stale too. */
	fs_forget(&w.fs, acct, 3);
	fake_http_set(w.http, "/bank-accounts?page=1&limit=100", 200,
		      "{\"status\":\"success\",\"data\":[],"
		      "\"meta\":{\"pagination\":{\"current_page\":1,\"last_page\":1}}}");
	fake_http_set(w.http, "/bank-accounts/19", 404, "{\"error\":\"resource_not_found\"}");
	cache_expire_all(w.cache);
	CHECK_INT(fs_lookup(&w.fs, acct, ".", &st), ESTALE);
	world_free(&w);
	inode_index_close(index);
}

/* The names the tree asked the kernel to forget. */
struct forgotten {
	uint64_t parent[16];
	char name[16][NAME_MAX_ID_FILE];
	size_t n;
};

static void record_forget(void *ctx, uint64_t parent, const char *name)
{
	struct forgotten *f = ctx;
	if (f->n < 16) {
		f->parent[f->n] = parent;
		snprintf(f->name[f->n++], NAME_MAX_ID_FILE, "%s", name);
	}
}

/* A refresh that brings a file new bytes makes the kernel forget its name
 * (the next open by path looks it up and finds the new inode: no ESTALE),
 * and the inode it held keeps the bytes it showed, for a file open across
 * the refresh.  Unchanged bytes cost the kernel nothing. */
static void test_replaced_versions(void)
{
	struct world w;
	world_init(&w);
	struct forgotten told = { .n = 0 };
	w.fs.kernel = (struct fs_kernel){ record_forget, &told };
	inodes_set_keep_budget(w.fs.inodes, 1 << 20);
	struct stat st, old_st;
	uint64_t accounts = lookup_ok(&w, INODE_ROOT, "accounts", &st);
	uint64_t acct = lookup_ok(&w, accounts, "19", &st);
	uint64_t subs = lookup_ok(&w, acct, "sub-accounts", &st);
	uint64_t v1 = lookup_ok(&w, subs, "25.json", &old_st);
	lookup_ok(&w, subs, "26.json", &st);
	struct blob *before;
	CHECK_INT(fs_read(&w.fs, v1, &before), 0);

	/* The same bytes again: nothing to forget. */
	cache_expire_all(w.cache);
	CHECK_INT(fs_getattr(&w.fs, subs, &st), 0);
	CHECK_INT(told.n, 0);

	/* 25 changes (26 does not): stat of the folder refreshes the
	 * listing, and 25's name alone is forgotten. */
	fake_http_set(w.http, "/bank-accounts/19/sub-accounts?page=1&limit=100", 200,
		      "{\"status\":\"success\",\"data\":[{\"id\":25,\"label\":\"Đổi\"},"
		      "{\"id\":26,\"label\":null}],\"meta\":{\"pagination\":{\"last_page\":1}}}");
	cache_expire_all(w.cache);
	CHECK_INT(fs_getattr(&w.fs, subs, &st), 0);
	CHECK_INT(told.n, 1);
	CHECK_INT(told.parent[0], subs);
	CHECK_STR(told.name[0], "25.json");
	/* The old inode reads the bytes it showed; a new lookup, the new. */
	struct blob *b;
	CHECK_INT(fs_read(&w.fs, v1, &b), 0);
	CHECK(b && b->v.len == before->v.len && memcmp(b->bytes, before->bytes, b->v.len) == 0);
	blob_unref(b);
	uint64_t v2 = lookup_ok(&w, subs, "25.json", &st);
	CHECK(v2 != v1);
	CHECK_INT(fs_read(&w.fs, v2, &b), 0);
	CHECK(b && strstr(b->bytes, "Đổi") != NULL);
	blob_unref(b);
	blob_unref(before);
	fs_forget(&w.fs, v1, 1); /* the kernel let the old inode go */

	/* A file gone from the listing: its name goes too. */
	fake_http_set(w.http, "/bank-accounts/19/sub-accounts?page=1&limit=100", 200,
		      "{\"status\":\"success\",\"data\":[{\"id\":25,\"label\":\"Đổi\"}],"
		      "\"meta\":{\"pagination\":{\"last_page\":1}}}");
	cache_expire_all(w.cache);
	CHECK_INT(fs_getattr(&w.fs, subs, &st), 0);
	CHECK_INT(told.n, 2);
	CHECK_STR(told.name[1], "26.json");
	world_free(&w);
}

/* Cookies name the next id, so a listing that changes between two readdir
 * calls neither repeats nor skips the names both versions share. */
static void test_cookies_survive_refresh(void)
{
	struct world w;
	world_init(&w);
	struct stat st;
	uint64_t accounts = lookup_ok(&w, INODE_ROOT, "accounts", &st);
	struct dir_out dir;
	memset(&dir, 0, sizeof(dir));
	dir.room = 3; /* ".", "..", "19" */
	CHECK_INT(fs_readdir(&w.fs, accounts, 0, collect_entry, &dir), 0);
	CHECK_INT(dir.count, 3);
	CHECK_STR(dir.entries[2].name, "19");
	/* 20 appears before 21, 19 goes: the next batch resumes after 19. */
	fake_http_set(w.http, "/bank-accounts?page=1&limit=100", 200,
		      "{\"data\":[{\"id\":20},{\"id\":21},{\"id\":30}],"
		      "\"meta\":{\"pagination\":{\"last_page\":1}}}");
	cache_expire_all(w.cache);
	dir.room = 64;
	CHECK_INT(fs_readdir(&w.fs, accounts, dir.cookies[2], collect_entry, &dir), 0);
	CHECK_INT(dir.count, 6);
	CHECK_STR(dir.entries[3].name, "20");
	CHECK_STR(dir.entries[4].name, "21");
	CHECK_STR(dir.entries[5].name, "30");
	world_free(&w);
}

/* Ids up to INT64_MAX, the largest sepay_parse_id accepts, each list
 * once, whatever the batch size: their cookies do not saturate. */
static void test_cookies_of_the_largest_ids(void)
{
	struct world w;
	world_init(&w);
	fake_http_set(w.http, "/bank-accounts?page=1&limit=100", 200,
		      "{\"data\":[{\"id\":7},{\"id\":9223372036854775804},"
		      "{\"id\":9223372036854775805},{\"id\":9223372036854775806},"
		      "{\"id\":9223372036854775807}],\"meta\":{\"pagination\":{\"last_page\":1}}}");
	struct stat st;
	uint64_t accounts = lookup_ok(&w, INODE_ROOT, "accounts", &st);
	for (size_t batch = 1; batch <= 3; batch++) {
		struct dir_out dir;
		CHECK_INT(read_dir(&w, accounts, batch, &dir), 0);
		CHECK_INT(dir.count, 7);
		CHECK_STR(dir.entries[2].name, "7");
		CHECK_STR(dir.entries[3].name, "9223372036854775804");
		CHECK_STR(dir.entries[6].name, "9223372036854775807");
		for (size_t i = 0; i < dir.count; i++)
			for (size_t j = i + 1; j < dir.count; j++)
				CHECK(dir.cookies[i] != dir.cookies[j]);
	}
	world_free(&w);
}

/* The request for account 19's month m: up to the 1st of the next month,
 * whatever SePay's to_date means. */
static void month_path(char *buf, size_t size, int32_t m)
{
	int32_t next = month_add(m, 1);
	snprintf(buf, size, "/transactions?bank_account_id=19&from_date=%04d-%02d-01&"
		 "to_date=%04d-%02d-01&page=1&limit=100", (int)(m / 100), (int)(m % 100),
		 (int)(next / 100), (int)(next % 100));
}

/* transactions/: a month a file from created_at to now, asking nothing to
 * list; a month is one request, ordered lines; a 403 makes the folder EPERM. */
static void test_transactions(void)
{
	struct world w;
	world_init(&w);
	int32_t now = month_of_time(time(NULL));
	int32_t start = month_add(now, -2);
	char body[512], path[256];
	snprintf(body, sizeof(body), "{\"data\":[{\"id\":19,\"created_at\":\"%04d-%02d-15 10:00:00\"}],"
		 "\"meta\":{\"pagination\":{\"last_page\":1}}}",
		 (int)(start / 100), (int)(start % 100));
	fake_http_set(w.http, "/bank-accounts?page=1&limit=100", 200, body);
	struct stat st;
	uint64_t accounts = lookup_ok(&w, INODE_ROOT, "accounts", &st);
	struct dir_out dir;
	CHECK_INT(read_dir(&w, accounts, 64, &dir), 0);
	uint64_t acct = lookup_ok(&w, accounts, "19", &st);
	uint64_t tx = lookup_ok(&w, acct, "transactions", &st);
	unsigned before = fake_http_count(w.http, NULL);
	CHECK_INT(read_dir(&w, tx, 2, &dir), 0);
	CHECK_INT(dir.count, 6); /* . .. totals.csv and three months */
	char name[NAME_MAX_ID_FILE];
	CHECK_STR(dir.entries[2].name, "totals.csv");
	name_format_month_file(name, start);
	CHECK_STR(dir.entries[3].name, name);
	name_format_month_file(name, now);
	CHECK_STR(dir.entries[5].name, name);
	CHECK_INT(fake_http_count(w.http, NULL), before);
	CHECK_INT(fs_lookup(&w.fs, tx, "1999-01.jsonl", &st), ENOENT);
	CHECK_INT(fs_lookup(&w.fs, tx, "2025-13.jsonl", &st), ENOENT);

	/* A month: all pages, ordered by date then id, one compact line each;
	 * its first and last second kept, what the range asked past its end
	 * (the next month's 1st), another account's item and a repeated id
	 * dropped; ids as strings stay strings. */
	int32_t after = month_add(now, 1);
	int y = (int)(now / 100), m = (int)(now % 100), last = month_last_day(now);
	month_path(path, sizeof(path), now);
	char page[1024];
	snprintf(page, sizeof(page),
		 "{\"data\":[{\"id\":7,\"bank_account_id\":19,\"transaction_date\":\"%04d-%02d-02 00:00:00\",\"amount_in\":5.00},"
		 "{\"id\":3,\"transaction_date\":\"%04d-%02d-02 00:00:00\",\"code\":null},"
		 "{\"id\":9,\"transaction_date\":\"%04d-%02d-01 00:00:00\",\"note\":\"Thanh toán\"},"
		 "{\"id\":3,\"transaction_date\":\"%04d-%02d-02 00:00:00\",\"code\":\"second\"},"
		 "{\"id\":\"12\",\"bank_account_id\":\"19\",\"transaction_date\":\"%04d-%02d-%02d 23:59:59\"},"
		 "{\"id\":13,\"transaction_date\":\"%04d-%02d-01 00:00:00\"},"
		 "{\"id\":14,\"bank_account_id\":20,\"transaction_date\":\"%04d-%02d-05 10:00:00\"},"
		 "{\"id\":15,\"transaction_date\":null}],"
		 "\"meta\":{\"pagination\":{\"current_page\":1,\"last_page\":1}}}",
		 y, m, y, m, y, m, y, m, y, m, last, (int)(after / 100), (int)(after % 100), y, m);
	fake_http_set(w.http, path, 200, page);
	uint64_t month = lookup_ok(&w, tx, name, &st);
	struct blob *b;
	CHECK_INT(fs_read(&w.fs, month, &b), 0);
	char expected[1024];
	snprintf(expected, sizeof(expected),
		 "{\"id\":9,\"transaction_date\":\"%04d-%02d-01 00:00:00\",\"note\":\"Thanh toán\"}\n"
		 "{\"id\":3,\"transaction_date\":\"%04d-%02d-02 00:00:00\",\"code\":null}\n"
		 "{\"id\":7,\"bank_account_id\":19,\"transaction_date\":\"%04d-%02d-02 00:00:00\",\"amount_in\":5.00}\n"
		 "{\"id\":\"12\",\"bank_account_id\":\"19\",\"transaction_date\":\"%04d-%02d-%02d 23:59:59\"}\n",
		 y, m, y, m, y, m, y, m, last);
	CHECK_STR(b->bytes, expected);
	CHECK_INT(st.st_size, b->v.len);
	CHECK_INT(fake_http_count(w.http, path), 1);
	blob_unref(b);

	/* No transaction:read: a month is EPERM, then the folder too. */
	name_format_month_file(name, start);
	fake_http_set(w.http, "x", 0, NULL);
	month_path(path, sizeof(path), start);
	fake_http_set(w.http, path, 403, "{\"error\":\"forbidden\"}");
	CHECK_INT(fs_lookup(&w.fs, tx, name, &st), EPERM);
	/* Another month of the same folder, or of any account, asks nothing. */
	int32_t next = month_add(start, 1);
	name_format_month_file(name, next);
	month_path(path, sizeof(path), next);
	fake_http_set(w.http, path, 403, "{\"error\":\"forbidden\"}");
	CHECK_INT(fs_lookup(&w.fs, tx, name, &st), EPERM);
	CHECK_INT(fake_http_count(w.http, path), 0);
	CHECK_INT(read_dir(&w, tx, 64, &dir), EPERM);
	CHECK_INT(fs_lookup(&w.fs, acct, "transactions", &st), EPERM);
	lookup_ok(&w, acct, "info.json", &st);
	world_free(&w);
}

/* A walk through transactions/ asks one range for the account's history
 * and fills every month from it; a month alone asks for itself; both give
 * the same bytes. */
static void test_transaction_ranges(void)
{
	int32_t now = month_of_time(time(NULL));
	int32_t start = month_add(now, -2), after = month_add(now, 1);
	char list[512], range[256], items[1024];
	snprintf(list, sizeof(list), "{\"data\":[{\"id\":19,\"created_at\":\"%04d-%02d-15 10:00:00\"}],"
		 "\"meta\":{\"pagination\":{\"last_page\":1}}}", (int)(start / 100), (int)(start % 100));
	snprintf(range, sizeof(range), "/transactions?bank_account_id=19&from_date=%04d-%02d-01&"
		 "to_date=%04d-%02d-01&page=1&limit=100", (int)(start / 100), (int)(start % 100),
		 (int)(after / 100), (int)(after % 100));
	int32_t mid = month_add(start, 1);
	snprintf(items, sizeof(items),
		 "{\"data\":[{\"id\":1,\"transaction_date\":\"%04d-%02d-01 00:00:00\"},"
		 "{\"id\":3,\"transaction_date\":\"%04d-%02d-05 10:00:00\"},"
		 "{\"id\":2,\"transaction_date\":\"%04d-%02d-05 10:00:00\"},"
		 "{\"id\":4,\"transaction_date\":\"%04d-%02d-01 00:00:00\"}],"
		 "\"meta\":{\"pagination\":{\"last_page\":1}}}",
		 (int)(start / 100), (int)(start % 100), (int)(mid / 100), (int)(mid % 100),
		 (int)(mid / 100), (int)(mid % 100), (int)(after / 100), (int)(after % 100));
	struct world w;
	world_init(&w);
	fake_http_set(w.http, "/bank-accounts?page=1&limit=100", 200, list);
	fake_http_set(w.http, range, 200, items);
	struct stat st;
	uint64_t accounts = lookup_ok(&w, INODE_ROOT, "accounts", &st);
	uint64_t acct = lookup_ok(&w, accounts, "19", &st);
	uint64_t tx = lookup_ok(&w, acct, "transactions", &st);
	struct dir_out dir;
	CHECK_INT(read_dir(&w, tx, 64, &dir), 0);
	unsigned before = fake_http_count(w.http, NULL);
	struct blob *walked[3];
	char name[NAME_MAX_ID_FILE];
	for (int i = 0; i < 3; i++) {
		name_format_month_file(name, month_add(start, i));
		uint64_t ino = lookup_ok(&w, tx, name, &st);
		CHECK_INT(fs_read(&w.fs, ino, &walked[i]), 0);
	}
	CHECK_INT(fake_http_count(w.http, NULL) - before, 1);
	CHECK_INT(fake_http_count(w.http, range), 1);
	/* The next month's 1st (asked past the end) is in no file. */
	CHECK(strstr(walked[1]->bytes, "\"id\":2") < strstr(walked[1]->bytes, "\"id\":3"));
	CHECK_INT(walked[2]->v.len, 0);
	world_free(&w);

	/* Each month alone, in a mount that walks nothing. */
	world_init(&w);
	fake_http_set(w.http, "/bank-accounts?page=1&limit=100", 200, list);
	fake_http_set(w.http, range, 200, items); /* not asked */
	for (int i = 0; i < 3; i++) {
		int32_t m = month_add(start, i), next = month_add(m, 1);
		char one[256];
		snprintf(one, sizeof(one), "/transactions?bank_account_id=19&from_date=%04d-%02d-01&"
			 "to_date=%04d-%02d-01&page=1&limit=100", (int)(m / 100), (int)(m % 100),
			 (int)(next / 100), (int)(next % 100));
		fake_http_set(w.http, one, 200, items);
	}
	accounts = lookup_ok(&w, INODE_ROOT, "accounts", &st);
	acct = lookup_ok(&w, accounts, "19", &st);
	tx = lookup_ok(&w, acct, "transactions", &st);
	for (int i = 0; i < 3; i++) {
		name_format_month_file(name, month_add(start, i));
		uint64_t ino = lookup_ok(&w, tx, name, &st);
		struct blob *alone;
		CHECK_INT(fs_read(&w.fs, ino, &alone), 0);
		CHECK_INT(alone->v.len, walked[i]->v.len);
		CHECK(memcmp(alone->bytes, walked[i]->bytes, alone->v.len) == 0);
		blob_unref(alone);
		blob_unref(walked[i]);
	}
	CHECK_INT(fake_http_count(w.http, range), 0);
	world_free(&w);
}

/* A page of 50,000 transactions on one date, each id twice: O(n log n)
 * work (it took 75 s of CPU, quadratic, past any deadline). */
static void test_big_month(void)
{
	struct world w;
	world_init(&w);
	int32_t m = month_of_time(time(NULL));
	char path[256];
	tx_range_path(path, sizeof(path), 19, m, m);
	strcat(path, "&page=1&limit=100");
	enum { N = 50000 };
	struct strbuf body;
	strbuf_init(&body, 0);
	strbuf_puts(&body, "{\"data\":[");
	for (int i = 0; i < 2 * N; i++)
		strbuf_printf(&body, "%s{\"id\":%d,\"transaction_date\":\"%04d-%02d-15 10:00:00\"}",
			      i ? "," : "", N - i % N, (int)(m / 100), (int)(m % 100));
	strbuf_puts(&body, "],\"meta\":{\"pagination\":{\"last_page\":1}}}");
	fake_http_set(w.http, path, 200, body.data);
	strbuf_release(&body);
	struct blob *month;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	CHECK_INT(tx_fetch_months(&w.api, &w.source.room, 19, m, m, now, &month), 0);
	size_t lines = 0;
	for (size_t i = 0; i < month->v.len; i++)
		lines += month->bytes[i] == '\n';
	CHECK_INT(lines, N);
	CHECK(strncmp(month->bytes, "{\"id\":1,", 8) == 0);
	blob_unref(month);
	world_free(&w);
}

/* Past the TTL, an account whose list item did not change keeps its
 * detail: the list is asked again (one request for every account), not
 * the detail.  A changed item makes the detail stale at once. */
static void test_objects_follow_the_list(void)
{
	struct fake_clock fake = { .mono_ns = 1000000000u,
				   .wall_ns = 1781500000LL * 1000000000LL }; /* mid-June 2026 */
	clock_use_fake(&fake);
	struct objects_ttl ttls = { .ttl_ms = 60000, .history_ttl_ms = 86400000,
				    .settle_ms = 5 * 86400000ull, .follow_ms = 900000 };
	struct world w;
	world_init_ttls(&w, &ttls);
	struct stat st;
	uint64_t accounts = lookup_ok(&w, INODE_ROOT, "accounts", &st);
	struct dir_out dir;
	CHECK_INT(read_dir(&w, accounts, 64, &dir), 0);
	uint64_t acct = lookup_ok(&w, accounts, "19", &st);
	uint64_t info = lookup_ok(&w, acct, "info.json", &st);
	struct blob *b;
	CHECK_INT(fs_read(&w.fs, info, &b), 0);
	blob_unref(b);
	CHECK_INT(fake_http_count(w.http, "/bank-accounts/19"), 1);
	CHECK_INT(fake_http_count(w.http, "/bank-accounts?page=1&limit=100"), 1);

	/* Past the TTL, nothing changed: the list, not the detail. */
	fake_clock_advance_ms(&fake, 61000);
	CHECK_INT(lookup_ok(&w, acct, "info.json", &st), info);
	CHECK_INT(fs_read(&w.fs, info, &b), 0);
	blob_unref(b);
	CHECK_INT(fake_http_count(w.http, "/bank-accounts?page=1&limit=100"), 2);
	CHECK_INT(fake_http_count(w.http, "/bank-accounts/19"), 1);

	/* The list shows a new balance: the detail is asked at once. */
	fake_http_set(w.http, "/bank-accounts?page=1&limit=100", 200,
		      "{\"status\":\"success\",\"data\":[{\"id\":19,\"label\":\"Cty Demo\","
		      "\"accumulated\":5},{\"id\":21}],\"meta\":{\"pagination\":{\"total\":2,"
		      "\"per_page\":100,\"current_page\":1,\"last_page\":1}}}");
	fake_clock_advance_ms(&fake, 61000);
	uint64_t info2 = lookup_ok(&w, acct, "info.json", &st);
	CHECK_INT(fs_read(&w.fs, info2, &b), 0);
	blob_unref(b);
	CHECK_INT(fake_http_count(w.http, "/bank-accounts?page=1&limit=100"), 3);
	CHECK_INT(fake_http_count(w.http, "/bank-accounts/19"), 2);

	/* Past follow_ttl the detail is asked however the list looks. */
	for (int i = 0; i < 16; i++) {
		fake_clock_advance_ms(&fake, 61000);
		CHECK_INT(fs_read(&w.fs, lookup_ok(&w, acct, "info.json", &st), &b), 0);
		blob_unref(b);
	}
	CHECK_INT(fake_http_count(w.http, "/bank-accounts/19"), 3);
	world_free(&w);
	clock_use_fake(NULL);
}

int main(void)
{
	test_big_month();
	test_transactions();
	test_transaction_ranges();
	test_versions();
	test_handles();
	test_replaced_versions();
	test_cookies_survive_refresh();
	test_cookies_of_the_largest_ids();
	test_impossible_names_cost_nothing();
	test_tree();
	test_api_errors();
	test_objects_follow_the_list();
	return check_report("fs");
}
