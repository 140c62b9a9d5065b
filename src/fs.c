/* fs.c - the tree of accounts over the object cache. */
#include "fs.h"

#include "objects.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fs_init(struct fs *fs, const struct fs_config *cfg, struct cache *cache)
{
	memset(fs, 0, sizeof(*fs));
	fs->cfg = *cfg;
	fs->cache = cache;
	clock_gettime(CLOCK_REALTIME, &fs->started);
	fs->inodes = inodes_new();
	return fs->inodes ? 0 : ENOMEM;
}

void fs_destroy(struct fs *fs)
{
	inodes_free(fs->inodes);
	fs->inodes = NULL;
}

static bool is_dir_kind(int kind)
{
	return kind == NODE_ROOT || kind == NODE_ACCOUNTS || kind == NODE_ACCOUNT ||
	       kind == NODE_SUBS;
}

static void stat_fill(const struct fs *fs, struct stat *st, int kind, uint64_t ino,
		      const struct version *file, struct timespec dir_mtime, nlink_t dir_nlink)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = fs->cfg.uid;
	st->st_gid = fs->cfg.gid;
	st->st_blksize = 4096;
	if (is_dir_kind(kind)) {
		st->st_mode = S_IFDIR | fs->cfg.dir_mode;
		st->st_nlink = dir_nlink;
		st->st_mtim = dir_mtime;
	} else {
		st->st_mode = S_IFREG | fs->cfg.file_mode;
		st->st_nlink = 1;
		st->st_size = (off_t)file->len;
		st->st_blocks = (blkcnt_t)((file->len + 511) / 512);
		st->st_mtim = file->mtime;
	}
	st->st_atim = st->st_mtim;
	st->st_ctim = st->st_mtim;
}

/* A directory's mtime and link count from what is cached, asking nothing:
 * a listing's mtime moves when its set of names does. */
static void dir_attrs(struct fs *fs, const struct obj_key *node, struct timespec *mtime,
		      nlink_t *nlink)
{
	*mtime = fs->started;
	*nlink = 2;
	struct obj_key listing;
	switch (node->kind) {
	case NODE_ROOT:
	case NODE_ACCOUNT:
		*nlink = 3; /* one subdirectory each */
		return;
	case NODE_ACCOUNTS:
		listing = (struct obj_key){ OBJ_ACCOUNT_LIST, 0, 0 };
		break;
	case NODE_SUBS:
		listing = (struct obj_key){ OBJ_SUB_LIST, node->a, 0 };
		break;
	default:
		return;
	}
	struct snapshot *s = cache_peek(fs->cache, &listing, false);
	if (s) {
		*mtime = s->mtime;
		if (node->kind == NODE_ACCOUNTS)
			*nlink = 2 + (nlink_t)s->count;
		snapshot_unref(s);
	} else if (node->kind == NODE_ACCOUNTS) {
		*nlink = 1; /* unknown: tells find not to count subdirectories */
	}
}

/* The bytes of a file node, fetched if needed. */
static int file_content(struct fs *fs, const struct obj_key *node, struct blob **out)
{
	struct snapshot *s;
	struct obj_key obj = { node->kind == NODE_INFO ? OBJ_ACCOUNT : OBJ_SUB_LIST, node->a, 0 };
	int rc = cache_get(fs->cache, &obj, &s);
	if (rc)
		return rc;
	if (node->kind == NODE_INFO) {
		*out = blob_ref(s->file);
	} else {
		const struct listing_entry *e = snapshot_find(s, node->b);
		rc = e && e->file ? 0 : ENOENT;
		if (!rc)
			*out = blob_ref(e->file);
	}
	snapshot_unref(s);
	return rc;
}

/* Attributes of a directory node, from what is cached: no request. */
static void dir_stat(struct fs *fs, const struct obj_key *node, uint64_t ino, struct stat *st)
{
	struct timespec mtime;
	nlink_t nlink;
	dir_attrs(fs, node, &mtime, &nlink);
	stat_fill(fs, st, node->kind, ino, NULL, mtime, nlink);
}

/* Does account id exist?  The listing answers without a request when it is
 * fresh and names it; otherwise the account's own detail request decides,
 * which also finds accounts a listing does not show.  A 403 on the detail
 * still proves the account exists: its info.json will say EPERM. */
static int account_exists(struct fs *fs, int64_t id)
{
	struct obj_key list_key = { OBJ_ACCOUNT_LIST, 0, 0 };
	struct snapshot *list = cache_peek(fs->cache, &list_key, true);
	bool listed = list && snapshot_find(list, id);
	snapshot_unref(list);
	if (listed)
		return 0;
	struct obj_key detail_key = { OBJ_ACCOUNT, id, 0 };
	struct snapshot *detail;
	int rc = cache_get(fs->cache, &detail_key, &detail);
	if (rc == 0)
		snapshot_unref(detail);
	return rc == EPERM ? 0 : rc;
}

/* Which node name is in parent, decided from the name alone where the name
 * settles it, so impossible names never cost a request. */
static int child_key(struct fs *fs, const struct obj_key *parent, const char *name,
		     struct obj_key *child)
{
	int64_t id;
	switch (parent->kind) {
	case NODE_ROOT:
		if (strcmp(name, "accounts") != 0)
			return ENOENT;
		*child = (struct obj_key){ NODE_ACCOUNTS, 0, 0 };
		return 0;
	case NODE_ACCOUNTS:
		if (!name_parse_id(name, &id))
			return ENOENT;
		*child = (struct obj_key){ NODE_ACCOUNT, id, 0 };
		return account_exists(fs, id);
	case NODE_ACCOUNT:
		readahead_visit(fs->readahead, parent->a);
		if (strcmp(name, "info.json") == 0)
			*child = (struct obj_key){ NODE_INFO, parent->a, 0 };
		else if (strcmp(name, "sub-accounts") == 0)
			*child = (struct obj_key){ NODE_SUBS, parent->a, 0 };
		else
			return ENOENT;
		return 0;
	case NODE_SUBS:
		if (!name_parse_id_file(name, &id))
			return ENOENT;
		*child = (struct obj_key){ NODE_SUB_FILE, parent->a, id };
		return 0;
	default:
		return ENOTDIR;
	}
}

int fs_lookup(struct fs *fs, uint64_t parent, const char *name, struct stat *st)
{
	struct obj_key parent_key, child;
	if (!inodes_key(fs->inodes, parent, &parent_key))
		return ESTALE;
	int rc = child_key(fs, &parent_key, name, &child);
	if (rc)
		return rc;
	if (is_dir_kind(child.kind)) {
		uint64_t ino = inodes_get(fs->inodes, &child, NULL, true);
		dir_stat(fs, &child, ino, st);
		return ino ? 0 : ENOMEM;
	}
	/* A lookup is where a file's freshness is decided: it fetches when the
	 * cache is stale, and changed content gets a new inode. */
	struct blob *file;
	if ((rc = file_content(fs, &child, &file)))
		return rc;
	uint64_t ino = inodes_get(fs->inodes, &child, &file->v, true);
	stat_fill(fs, st, child.kind, ino, &file->v, fs->started, 0);
	blob_unref(file);
	return ino ? 0 : ENOMEM;
}

void fs_forget(struct fs *fs, uint64_t ino, uint64_t nlookup)
{
	inodes_forget(fs->inodes, ino, nlookup);
}

int fs_getattr(struct fs *fs, uint64_t ino, struct stat *st)
{
	struct obj_key node;
	if (!inodes_key(fs->inodes, ino, &node))
		return ESTALE;
	if (is_dir_kind(node.kind)) {
		dir_stat(fs, &node, ino, st);
		return 0;
	}
	/* A file inode is one version of the content: its attributes never
	 * change, and a newer version arrives through lookup as a new inode. */
	struct version v;
	if (!inodes_content(fs->inodes, ino, &v)) {
		struct blob *file;
		int rc = file_content(fs, &node, &file);
		if (rc)
			return rc;
		v = file->v;
		blob_unref(file);
	}
	stat_fill(fs, st, node.kind, ino, &v, fs->started, 0);
	return 0;
}

struct dir_build {
	struct fs *fs;
	struct fs_dir *dir;
	size_t capacity;
};

static struct fs_dirent *dir_add(struct dir_build *b, const char *name, const struct obj_key *key,
				  struct blob *file)
{
	struct fs_dir *dir = b->dir;
	if (dir->count == b->capacity) {
		size_t cap = b->capacity ? b->capacity * 2 : 8;
		struct fs_dirent *e = realloc(dir->entries, cap * sizeof(*e));
		if (!e)
			return NULL;
		dir->entries = e;
		b->capacity = cap;
	}
	uint64_t ino = inodes_get(b->fs->inodes, key, file ? &file->v : NULL, false);
	if (!ino)
		return NULL;
	struct fs_dirent *e = &dir->entries[dir->count++];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->st.st_ino = ino;
	e->st.st_mode = is_dir_kind(key->kind) ? S_IFDIR : S_IFREG;
	return e;
}

/* An entry whose attributes come with it, without a request. */
static bool dir_add_known(struct dir_build *b, const char *name, const struct obj_key *key,
			  struct blob *file)
{
	struct fs_dirent *e = dir_add(b, name, key, file);
	if (!e)
		return false;
	if (file)
		stat_fill(b->fs, &e->st, key->kind, e->st.st_ino, &file->v, b->fs->started, 0);
	else
		dir_stat(b->fs, key, e->st.st_ino, &e->st);
	e->has_attr = true;
	return true;
}

static struct obj_key parent_of(const struct obj_key *node)
{
	switch (node->kind) {
	case NODE_ACCOUNT:
		return (struct obj_key){ NODE_ACCOUNTS, 0, 0 };
	case NODE_INFO:
	case NODE_SUBS:
		return (struct obj_key){ NODE_ACCOUNT, node->a, 0 };
	case NODE_SUB_FILE:
		return (struct obj_key){ NODE_SUBS, node->a, 0 };
	default:
		return (struct obj_key){ NODE_ROOT, 0, 0 };
	}
}

/* The entries of node; *version identifies the content for `unchanged`. */
static int dir_fill(struct dir_build *b, const struct obj_key *node, struct timespec *version)
{
	struct obj_key parent = parent_of(node);
	if (!dir_add(b, ".", node, NULL) || !dir_add(b, "..", &parent, NULL))
		return ENOMEM;
	*version = b->fs->started;
	char name[NAME_MAX_ID_FILE];
	struct snapshot *s = NULL;
	int rc = 0;
	switch (node->kind) {
	case NODE_ROOT: {
		struct obj_key k = { NODE_ACCOUNTS, 0, 0 };
		return dir_add_known(b, "accounts", &k, NULL) ? 0 : ENOMEM;
	}
	case NODE_ACCOUNT: {
		struct obj_key info = { NODE_INFO, node->a, 0 };
		struct obj_key subs = { NODE_SUBS, node->a, 0 };
		struct obj_key detail = { OBJ_ACCOUNT, node->a, 0 };
		/* info.json's size is known only once it was fetched: without it
		 * the entry goes out bare and a stat will fetch it. */
		s = cache_peek(b->fs->cache, &detail, true);
		bool ok = s ? dir_add_known(b, "info.json", &info, s->file)
			    : dir_add(b, "info.json", &info, NULL) != NULL;
		snapshot_unref(s);
		if (!ok || !dir_add_known(b, "sub-accounts", &subs, NULL))
			return ENOMEM;
		return 0;
	}
	case NODE_ACCOUNTS: {
		struct obj_key k = { OBJ_ACCOUNT_LIST, 0, 0 };
		if ((rc = cache_get(b->fs->cache, &k, &s)))
			return rc;
		for (size_t i = 0; i < s->count && !rc; i++) {
			struct obj_key child = { NODE_ACCOUNT, s->entries[i].id, 0 };
			name_format_id(name, s->entries[i].id, false);
			if (!dir_add_known(b, name, &child, NULL))
				rc = ENOMEM;
		}
		break;
	}
	case NODE_SUBS: {
		struct obj_key k = { OBJ_SUB_LIST, node->a, 0 };
		if ((rc = cache_get(b->fs->cache, &k, &s)))
			return rc;
		for (size_t i = 0; i < s->count && !rc; i++) {
			struct obj_key child = { NODE_SUB_FILE, node->a, s->entries[i].id };
			name_format_id(name, s->entries[i].id, true);
			if (!dir_add_known(b, name, &child, s->entries[i].file))
				rc = ENOMEM;
		}
		break;
	}
	default:
		return ENOTDIR;
	}
	*version = s->mtime;
	snapshot_unref(s);
	return rc;
}

int fs_opendir(struct fs *fs, uint64_t ino, struct fs_dir **out)
{
	struct obj_key node;
	if (!inodes_key(fs->inodes, ino, &node))
		return ESTALE;
	if (!is_dir_kind(node.kind))
		return ENOTDIR;
	if (node.kind == NODE_ACCOUNT)
		readahead_visit(fs->readahead, node.a);
	struct dir_build b = { fs, calloc(1, sizeof(struct fs_dir)), 0 };
	if (!b.dir)
		return ENOMEM;
	struct timespec version;
	int rc = dir_fill(&b, &node, &version);
	if (rc) {
		fs_dir_free(b.dir);
		return rc;
	}
	b.dir->unchanged = inodes_note_version(fs->inodes, ino, version);
	*out = b.dir;
	return 0;
}

void fs_dir_free(struct fs_dir *dir)
{
	if (dir) {
		free(dir->entries);
		free(dir);
	}
}

bool fs_dirent_ref(struct fs *fs, const struct fs_dirent *entry)
{
	return inodes_ref(fs->inodes, entry->st.st_ino);
}

int fs_open(struct fs *fs, uint64_t ino, struct blob **out)
{
	struct obj_key node;
	if (!inodes_key(fs->inodes, ino, &node))
		return ESTALE;
	if (is_dir_kind(node.kind))
		return EISDIR;
	int rc = file_content(fs, &node, out);
	if (rc)
		return rc;
	/* The bytes must be the version this inode shows (its size, its cached
	 * pages).  If the content moved on, ESTALE makes the kernel look the
	 * path up again, which gives the new version its own inode. */
	struct version v;
	if (inodes_content(fs->inodes, ino, &v) && !version_same_bytes(&v, &(*out)->v)) {
		blob_unref(*out);
		*out = NULL;
		return ESTALE;
	}
	return 0;
}
