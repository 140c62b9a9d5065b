/* fs.c - the tree of accounts over the object cache. */
#include "fs.h"

#include "clock.h"
#include "log.h"
#include "months.h"
#include "objects.h"
#include "transactions.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void content_replaced(void *ctx, const struct obj_key *key, struct snapshot *old,
			     struct snapshot *fresh);

int fs_init(struct fs *fs, const struct fs_config *cfg, struct cache *cache)
{
	memset(fs, 0, sizeof(*fs));
	fs->cfg = *cfg;
	fs->cache = cache;
	if (!fs->cfg.base_time.tv_sec)
		fs->cfg.base_time = clock_wall();
	pthread_mutex_init(&fs->walk_lock, NULL);
	viewtree_init(&fs->views, cache, cfg->objects ? cfg->objects->room.spill_dir : -1);
	fs->inodes = inodes_new();
	if (!fs->inodes)
		return ENOMEM;
	inodes_set_keep_budget(fs->inodes, fs->cfg.keep_bytes);
	cache_on_replace(cache, content_replaced, fs);
	return 0;
}

void fs_destroy(struct fs *fs)
{
	cache_on_replace(fs->cache, NULL, NULL);
	inodes_free(fs->inodes);
	fs->inodes = NULL;
	viewtree_destroy(&fs->views);
	pthread_mutex_destroy(&fs->walk_lock);
}

static bool is_dir_kind(int kind)
{
	return kind == NODE_ROOT || kind == NODE_ACCOUNTS || kind == NODE_ACCOUNT ||
	       kind == NODE_SUBS || kind == NODE_TX_DIR || kind == NODE_BY_NUMBER;
}

/* A symlink shows its target: its size, and a number from its key alone
 * (the key is the target). */
static void link_target(const struct obj_key *node, char *buf, size_t size)
{
	struct number_link l = { .account = node->a, .sub = node->b };
	views_link_target(&l, buf, size);
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
	} else if (kind == NODE_NUMBER_LINK) {
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_size = (off_t)file->len;
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

/* A directory's mtime and link count: 0, ENODATA when they are not known
 * without a request, or ENOENT when its listing is gone (404).  A directory's mtime moves when, and only when, its
 * set of names does: the fixed ones (the root, an account) keep the cache's
 * base time, a transactions folder gains a month at the start of each
 * month (Vietnam time), and a listing's mtime is when its set of ids was
 * first seen, kept on disk across mounts.  With refresh, a listing past its
 * TTL is fetched again first (the kernel compares a directory's mtime to
 * decide whether the listing it cached still holds); otherwise only what is
 * cached is used. */
static int dir_attrs(struct fs *fs, const struct obj_key *node, bool refresh,
		     struct timespec *mtime, nlink_t *nlink)
{
	*mtime = fs->cfg.base_time;
	*nlink = 2;
	struct obj_key listing;
	switch (node->kind) {
	case NODE_ROOT:
		*nlink = 5; /* accounts, by-number, transactions */
		return 0;
	case NODE_ACCOUNT:
		*nlink = 4; /* sub-accounts, transactions */
		return 0;
	case NODE_TX_DIR:
		*mtime = (struct timespec){ month_start(month_of_time((time_t)clock_wall_s())), 0 };
		return 0;
	case NODE_ACCOUNTS:
	case NODE_BY_NUMBER:
		/* by-number's mtime is the listing's: what the folder shows of
		 * sub-accounts depends on which listings are held, and a
		 * backup must see the same folder whatever was read before. */
		listing = (struct obj_key){ OBJ_ACCOUNT_LIST, 0, 0 };
		break;
	case NODE_SUBS:
		listing = (struct obj_key){ OBJ_SUB_LIST, node->a, 0 };
		break;
	default:
		return 0;
	}
	struct snapshot *s = NULL;
	/* A failed refresh is not the stat's failure: the listing's own
	 * request reports it when the directory is read.  Only a listing the
	 * API says is gone takes the directory with it. */
	int rc = refresh ? cache_get(fs->cache, &listing, &s) : ENODATA;
	if (rc == ENOENT)
		return rc;
	if (rc)
		s = cache_peek(fs->cache, &listing, !refresh);
	if (!s) {
		if (node->kind == NODE_ACCOUNTS)
			*nlink = 1; /* unknown: tells find not to count subdirectories */
		return ENODATA;
	}
	*mtime = s->mtime;
	if (node->kind == NODE_ACCOUNTS)
		*nlink = 2 + (nlink_t)s->count;
	snapshot_unref(s);
	return 0;
}

static struct obj_key object_of(const struct obj_key *file_node)
{
	switch (file_node->kind) {
	case NODE_BALANCES:
		return (struct obj_key){ OBJ_ACCOUNT_LIST, 0, 0 };
	case NODE_TX_CSV:
		return (struct obj_key){ OBJ_TX_MONTH, file_node->a, file_node->b };
	case NODE_TOTALS:
		return (struct obj_key){ OBJ_TX_RANGE, file_node->a, 0 };
	case NODE_INFO:
		return (struct obj_key){ OBJ_ACCOUNT, file_node->a, 0 };
	case NODE_TX_MONTH:
		return (struct obj_key){ OBJ_TX_MONTH, file_node->a, file_node->b };
	default:
		return (struct obj_key){ OBJ_SUB_LIST, file_node->a, 0 };
	}
}

/* The blob a file node shows from a snapshot of its object (a reference),
 * or NULL. */
static struct blob *file_in(struct fs *fs, struct snapshot *s, const struct obj_key *node)
{
	if (node->kind == NODE_BALANCES)
		return viewtree_balances_of(&fs->views, s);
	if (node->kind == NODE_TOTALS)
		return NULL; /* made of many months: totals_content */
	if (node->kind == NODE_TX_CSV) {
		int rc;
		return s->file ? viewtree_month_csv(&fs->views, node->a, (int32_t)node->b, s->file,
						    &rc) : NULL;
	}
	if (node->kind != NODE_SUB_FILE)
		return s->file ? blob_ref(s->file) : NULL;
	const struct listing_entry *e = snapshot_find(s, node->b);
	return e && e->file ? blob_ref(e->file) : NULL;
}

static int32_t account_since(struct fs *fs, int64_t account, int32_t now);

/* totals.csv: every month of the account shown, asked as one range where
 * not fresh, summed. */
static int totals_content(struct fs *fs, int64_t account, struct blob **out)
{
	int32_t now = month_of_time((time_t)clock_wall_s());
	int32_t since = account_since(fs, account, now);
	if (month_count(since, now) > TX_RANGE_MAX_MONTHS)
		since = month_add(now, 1 - TX_RANGE_MAX_MONTHS);
	struct obj_key range = { OBJ_TX_RANGE, account, 0 };
	struct snapshot *s;
	if (cache_get(fs->cache, &range, &s) == 0) /* else each month asks alone */
		snapshot_unref(s);
	size_t n = (size_t)month_count(since, now);
	struct blob **months = calloc(n, sizeof(*months));
	int rc = months ? 0 : ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		struct obj_key key = { OBJ_TX_MONTH, account, month_add(since, (int32_t)i) };
		if ((rc = cache_get(fs->cache, &key, &s)))
			break;
		months[i] = s->file ? blob_ref(s->file) : NULL;
		rc = months[i] ? 0 : EIO;
		snapshot_unref(s);
	}
	if (!rc && !(*out = viewtree_totals(&fs->views, account, since, months, n, &rc)))
		rc = rc ? rc : ENOMEM;
	for (size_t i = 0; months && i < n; i++)
		blob_unref(months[i]);
	free(months);
	return rc;
}

/* The bytes of a file node, fetched if needed. */
static int file_content(struct fs *fs, const struct obj_key *node, struct blob **out)
{
	if (node->kind == NODE_TOTALS)
		return totals_content(fs, node->a, out);
	struct snapshot *s;
	struct obj_key obj = object_of(node);
	int rc = cache_get(fs->cache, &obj, &s);
	if (rc)
		return rc;
	*out = file_in(fs, s, node);
	snapshot_unref(s);
	return *out ? 0 : node->kind == NODE_BALANCES ? ENOMEM : node->kind == NODE_TX_CSV ? EIO
							       : ENOENT;
}

static int dir_stat(struct fs *fs, const struct obj_key *node, uint64_t ino, bool refresh,
		    struct stat *st)
{
	struct timespec mtime;
	nlink_t nlink;
	int rc = dir_attrs(fs, node, refresh, &mtime, &nlink);
	stat_fill(fs, st, node->kind, ino, NULL, mtime, nlink);
	return rc;
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

static int32_t account_since(struct fs *fs, int64_t account, int32_t now)
{
	if (account == TX_COMPANY) {
		/* The company's first month is its oldest account's: the
		 * listing says, asked when not held. */
		struct obj_key list_key = { OBJ_ACCOUNT_LIST, 0, 0 };
		struct snapshot *list;
		if (cache_get(fs->cache, &list_key, &list) == 0)
			snapshot_unref(list);
	}
	return objects_account_since(fs->cfg.objects, account, now);
}

/* A transactions folder read lately is being walked (ls -l, grep -r, tar,
 * rsync all read a folder, then look at its files); a month looked up
 * alone (cat) is not. */
static void tx_note_listed(struct fs *fs, int64_t account)
{
	uint64_t now = clock_mono_ms();
	pthread_mutex_lock(&fs->walk_lock);
	size_t slot = fs->walked_next;
	for (size_t i = 0; i < FS_WALKED_SLOTS; i++)
		if (fs->walked[i].account == account)
			slot = i;
	if (slot == fs->walked_next)
		fs->walked_next = (fs->walked_next + 1) % FS_WALKED_SLOTS;
	fs->walked[slot].account = account;
	fs->walked[slot].at_ms = now;
	pthread_mutex_unlock(&fs->walk_lock);
}

static bool tx_walked(struct fs *fs, int64_t account)
{
	uint64_t now = clock_mono_ms();
	bool walked = false;
	pthread_mutex_lock(&fs->walk_lock);
	for (size_t i = 0; i < FS_WALKED_SLOTS; i++)
		if (fs->walked[i].account == account && now - fs->walked[i].at_ms < FS_WALK_MS)
			walked = true;
	pthread_mutex_unlock(&fs->walk_lock);
	return walked;
}

/* The account's transactions were refused: its whole folder says so for a while. */
static bool tx_forbidden(struct fs *fs, int64_t account)
{
	return fs->cfg.objects && objects_tx_forbidden(fs->cfg.objects, account);
}

/* Which node name is in parent, decided from the name alone where the name
 * settles it, so impossible names never cost a request. */
static int child_key(struct fs *fs, const struct obj_key *parent, const char *name,
		     struct obj_key *child)
{
	int64_t id;
	switch (parent->kind) {
	case NODE_ROOT:
		if (strcmp(name, "accounts") == 0)
			*child = (struct obj_key){ NODE_ACCOUNTS, 0, 0 };
		else if (strcmp(name, "balances.csv") == 0)
			*child = (struct obj_key){ NODE_BALANCES, 0, 0 };
		else if (strcmp(name, "by-number") == 0)
			*child = (struct obj_key){ NODE_BY_NUMBER, 0, 0 };
		else if (strcmp(name, "transactions") == 0)
			*child = (struct obj_key){ NODE_TX_DIR, TX_COMPANY, 0 };
		else
			return ENOENT;
		/* The company's months follow the company range's own verdict. */
		return child->kind == NODE_TX_DIR && tx_forbidden(fs, TX_COMPANY) ? EPERM : 0;
	case NODE_BY_NUMBER: {
		if (!views_safe_name(name))
			return ENOENT; /* never one of its names: no request */
		struct number_link link;
		int rc = viewtree_find(&fs->views, name, &link);
		if (rc == 0)
			*child = (struct obj_key){ NODE_NUMBER_LINK, link.account, link.sub };
		return rc;
	}
	case NODE_ACCOUNTS:
		if (!name_parse_id(name, &id))
			return ENOENT;
		*child = (struct obj_key){ NODE_ACCOUNT, id, 0 };
		return account_exists(fs, id);
	case NODE_ACCOUNT:
		if (strcmp(name, "info.json") == 0)
			*child = (struct obj_key){ NODE_INFO, parent->a, 0 };
		else if (strcmp(name, "sub-accounts") == 0)
			*child = (struct obj_key){ NODE_SUBS, parent->a, 0 };
		else if (strcmp(name, "transactions") == 0)
			*child = (struct obj_key){ NODE_TX_DIR, parent->a, 0 };
		else
			return ENOENT; /* a probe (.git, .hidden) is no step of a walk */
		if (child->kind == NODE_TX_DIR && tx_forbidden(fs, parent->a))
			return EPERM;
		/* Looking transactions/ up says nothing of a walk (grep
		 * --exclude-dir stats it too): reading it does, below. */
		if (child->kind != NODE_TX_DIR)
			readahead_visit(fs->readahead, parent->a, READAHEAD_FILES);
		return 0;
	case NODE_TX_DIR: {
		int32_t month, now = month_of_time((time_t)clock_wall_s());
		bool csv = false;
		if (strcmp(name, "totals.csv") == 0) {
			*child = (struct obj_key){ NODE_TOTALS, parent->a, 0 };
			return tx_forbidden(fs, parent->a) ? EPERM : 0;
		}
		if (!name_parse_month_file(name, &month) &&
		    !(fs->cfg.csv && (csv = name_parse_month_csv(name, &month))))
			return ENOENT;
		if (month > now)
			return ENOENT;
		int32_t since = account_since(fs, parent->a, now);
		if (month < since)
			return ENOENT;
		*child = (struct obj_key){ csv ? NODE_TX_CSV : NODE_TX_MONTH, parent->a, month };
		if (tx_walked(fs, parent->a)) {
			/* A walk through the folder: its whole history in one
			 * range (a few pages), instead of a request a month.
			 * A failure leaves the month to its own request. */
			struct obj_key range = { OBJ_TX_RANGE, parent->a, 0 };
			struct snapshot *s;
			if (cache_get(fs->cache, &range, &s) == 0)
				snapshot_unref(s);
			readahead_visit(fs->readahead, parent->a, READAHEAD_MONTHS);
		}
		/* A settled month is held for weeks: whether the account's
		 * transactions may still be read is asked again once per TTL
		 * (after a range, that costs nothing). */
		return fs->cfg.objects ? objects_tx_access(fs->cfg.objects, parent->a, month) : 0;
	}
	case NODE_SUBS:
		if (!name_parse_id_file(name, &id))
			return ENOENT;
		*child = (struct obj_key){ NODE_SUB_FILE, parent->a, id };
		return 0;
	default:
		return ENOTDIR;
	}
}

static void link_stat(struct fs *fs, const struct obj_key *node, uint64_t ino, struct stat *st)
{
	char target[128];
	link_target(node, target, sizeof(target));
	struct version v = { .len = strlen(target) };
	stat_fill(fs, st, node->kind, ino, &v, fs->cfg.base_time, 1);
}

static struct obj_key parent_of(const struct obj_key *node);
static void node_name(struct fs *fs, const struct obj_key *node, char name[FS_NAME_MAX]);

/* The kernel now holds (key, content): its number, entered in the table
 * and in the index a handle is found by after the kernel forgot it. */
static uint64_t number_held(struct fs *fs, const struct obj_key *key,
			    const struct version *content)
{
	uint64_t ino = inodes_get(fs->inodes, key, content);
	if (ino)
		inode_index_note(fs->index, ino, key, content);
	return ino;
}

/* The node called name in the directory parent_key, looked up as a path
 * would be (with its fetches and checks). */
static int lookup_in(struct fs *fs, const struct obj_key *parent_key, const char *name,
		     struct stat *st)
{
	struct obj_key child;
	int rc = child_key(fs, parent_key, name, &child);
	if (rc)
		return rc;
	if (child.kind == NODE_NUMBER_LINK) {
		uint64_t ino = number_held(fs, &child, NULL);
		link_stat(fs, &child, ino, st);
		return ino ? 0 : ENOMEM;
	}
	if (is_dir_kind(child.kind)) {
		/* The reply carries the directory's attributes, and the kernel
		 * trusts them for a TTL: a listing past its TTL is asked again
		 * first, or the kernel would keep a stale listing valid. */
		if (dir_stat(fs, &child, inodes_number(&child, NULL), true, st) == ENOENT)
			return ENOENT;
		uint64_t ino = number_held(fs, &child, NULL);
		st->st_ino = ino;
		return ino ? 0 : ENOMEM;
	}
	/* A lookup is where a file's freshness is decided: it fetches when the
	 * cache is stale, and changed content gets a new inode. */
	struct blob *file;
	if ((rc = file_content(fs, &child, &file)))
		return rc;
	uint64_t ino = number_held(fs, &child, &file->v);
	stat_fill(fs, st, child.kind, ino, &file->v, fs->cfg.base_time, 0);
	blob_unref(file);
	return ino ? 0 : ENOMEM;
}

/* What inode ino shows: from the table while the kernel holds it, else
 * from the index (a handle the kernel asks about by number). */
static bool node_of_number(struct fs *fs, uint64_t ino, struct obj_key *key, bool *has_content,
			   struct version *content)
{
	return inodes_node(fs->inodes, ino, key, has_content, content) ||
	       inode_index_find(fs->index, ino, key, has_content, content);
}

/* The node a file handle names by number (lookup of "." in it): looked
 * up again by its path, and served only if that gives the same number,
 * the number of the same node with the same bytes.  Changed content, a
 * node gone, or a number taken by another node since: ESTALE, as NFS
 * expects of a replaced file. */
static int lookup_number(struct fs *fs, uint64_t ino, struct stat *st)
{
	struct obj_key key;
	bool has_content;
	struct version content;
	if (ino == INODE_ROOT)
		return fs_getattr(fs, INODE_ROOT, st);
	if (!node_of_number(fs, ino, &key, &has_content, &content))
		return ESTALE;
	struct obj_key parent = parent_of(&key);
	char name[FS_NAME_MAX];
	node_name(fs, &key, name);
	int rc;
	if (key.kind == NODE_NUMBER_LINK && !name[0]) {
		/* A link whose name is not in memory: its target is its key. */
		uint64_t n = number_held(fs, &key, NULL);
		link_stat(fs, &key, n, st);
		rc = n ? 0 : ENOMEM;
	} else {
		rc = lookup_in(fs, &parent, name, st);
	}
	if (rc == ENOENT)
		return ESTALE;
	if (rc == 0 && st->st_ino != ino) {
		inodes_forget(fs->inodes, st->st_ino, 1); /* not the one asked for */
		return ESTALE;
	}
	return rc;
}

/* The parent of the node a handle names (lookup of ".." in it), which
 * the kernel asks to connect a directory found by handle to the tree. */
static int lookup_parent(struct fs *fs, uint64_t ino, struct stat *st)
{
	struct obj_key key;
	bool has_content;
	struct version content;
	if (!node_of_number(fs, ino, &key, &has_content, &content))
		return ESTALE;
	struct obj_key parent = parent_of(&key);
	if (parent.kind == NODE_ROOT)
		return fs_getattr(fs, INODE_ROOT, st);
	struct obj_key grandparent = parent_of(&parent);
	char name[FS_NAME_MAX];
	node_name(fs, &parent, name);
	int rc = lookup_in(fs, &grandparent, name, st);
	return rc == ENOENT ? ESTALE : rc;
}

int fs_lookup(struct fs *fs, uint64_t parent, const char *name, struct stat *st)
{
	/* The kernel asks these only of a handle (export support): a path
	 * never reaches a file system with them. */
	if (strcmp(name, ".") == 0)
		return lookup_number(fs, parent, st);
	if (strcmp(name, "..") == 0)
		return lookup_parent(fs, parent, st);
	struct obj_key parent_key;
	if (!inodes_key(fs->inodes, parent, &parent_key))
		return ESTALE;
	return lookup_in(fs, &parent_key, name, st);
}

uint32_t fs_generation(struct fs *fs, uint64_t ino)
{
	struct obj_key key;
	bool has_content;
	struct version content;
	if (ino == INODE_ROOT || !inodes_node(fs->inodes, ino, &key, &has_content, &content))
		return 0;
	return inodes_generation(&key, has_content ? &content : NULL);
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
	if (node.kind == NODE_NUMBER_LINK) {
		link_stat(fs, &node, ino, st);
		return 0;
	}
	if (is_dir_kind(node.kind)) {
		if (node.kind == NODE_TX_DIR && tx_forbidden(fs, node.a))
			return EPERM; /* as its lookup says: the kernel's listing goes */
		dir_stat(fs, &node, ino, true, st);
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
	stat_fill(fs, st, node.kind, ino, &v, fs->cfg.base_time, 0);
	return 0;
}

/* Directory offsets are cookies, not positions, so a listing refreshed
 * between two readdir calls neither repeats nor skips names: 1 and 2 follow
 * "." and "..", fixed names take 3 and 4, and a listed id X is followed by
 * cookie X + 3, from which reading resumes at the first id above X.
 *
 * Every id from 1 to INT64_MAX needs a cookie of its own, and the positive
 * off_t values are three too few for that: the three largest ids, which no
 * sane server sends but any may, are followed by -3, -2 and -1.  The
 * kernel passes a directory offset through as it was given (only lseek
 * refuses negative ones). */
#define COOKIE_FIXED 3

static off_t cookie_after_id(int64_t id)
{
	if (id <= INT64_MAX - COOKIE_FIXED)
		return (off_t)(id + COOKIE_FIXED);
	return -(off_t)(INT64_MAX - id) - 1; /* INT64_MAX - 2 .. INT64_MAX: -3 .. -1 */
}

/* The id a cookie follows: false for the start and the fixed names. */
static bool cookie_follows_id(off_t cookie, int64_t *id)
{
	if (cookie < 0) {
		*id = INT64_MAX + (int64_t)cookie + 1;
		return true;
	}
	if (cookie < COOKIE_FIXED)
		return false;
	*id = (int64_t)cookie - COOKIE_FIXED;
	return true;
}

static size_t first_entry_from(const struct snapshot *s, off_t cookie)
{
	int64_t after;
	if (!cookie_follows_id(cookie, &after))
		return 0;
	size_t lo = 0, hi = s->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->entries[mid].id <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Whether a directory read from cookie still shows its fixed name whose
 * own cookie is `fixed` (".", "..", or an account's three names). */
static bool before_fixed(off_t cookie, off_t fixed)
{
	return cookie >= 0 && cookie < fixed;
}

struct emitter {
	struct fs *fs;
	fs_fill_fn fill;
	void *ctx;
	bool stop;
};

/* Hands one entry to the filler; false once the filler is full.  Its
 * attributes go along when known without a request (want_attrs): a file's
 * with its content, a directory's when dir_attrs knows them. */
static bool emit(struct emitter *em, const char *name, const struct obj_key *key,
		 struct blob *file, bool want_attrs, off_t next)
{
	if (em->stop)
		return false;
	struct fs_dirent d;
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", name);
	d.key = *key;
	if (file) {
		d.content = file->v;
		d.has_content = true;
	}
	d.st.st_ino = inodes_peek(em->fs->inodes, key, file ? &file->v : NULL);
	d.st.st_mode = is_dir_kind(key->kind) ? S_IFDIR
		       : key->kind == NODE_NUMBER_LINK ? S_IFLNK : S_IFREG;
	if (want_attrs && key->kind == NODE_NUMBER_LINK) {
		link_stat(em->fs, key, d.st.st_ino, &d.st);
		d.has_attr = true;
	} else if (want_attrs && file) {
		stat_fill(em->fs, &d.st, key->kind, d.st.st_ino, &file->v, em->fs->cfg.base_time, 0);
		d.has_attr = true;
	} else if (want_attrs && is_dir_kind(key->kind)) {
		d.has_attr = dir_stat(em->fs, key, d.st.st_ino, false, &d.st) == 0;
	}
	if (!em->fill(em->ctx, &d, next))
		em->stop = true;
	return !em->stop;
}

static struct obj_key parent_of(const struct obj_key *node)
{
	switch (node->kind) {
	case NODE_ACCOUNT:
		return (struct obj_key){ NODE_ACCOUNTS, 0, 0 };
	case NODE_TX_DIR:
		if (node->a == TX_COMPANY)
			return (struct obj_key){ NODE_ROOT, 0, 0 };
		return (struct obj_key){ NODE_ACCOUNT, node->a, 0 };
	case NODE_INFO:
	case NODE_SUBS:
		return (struct obj_key){ NODE_ACCOUNT, node->a, 0 };
	case NODE_SUB_FILE:
		return (struct obj_key){ NODE_SUBS, node->a, 0 };
	case NODE_TX_MONTH:
	case NODE_TX_CSV:
	case NODE_TOTALS:
		return (struct obj_key){ NODE_TX_DIR, node->a, 0 };
	case NODE_NUMBER_LINK:
		return (struct obj_key){ NODE_BY_NUMBER, 0, 0 };
	default:
		return (struct obj_key){ NODE_ROOT, 0, 0 };
	}
}

/* The name a node has in its parent ("" for the root, or a link no longer
 * named). */
static void node_name(struct fs *fs, const struct obj_key *node, char name[FS_NAME_MAX])
{
	switch (node->kind) {
	case NODE_BALANCES: snprintf(name, FS_NAME_MAX, "balances.csv"); break;
	case NODE_BY_NUMBER: snprintf(name, FS_NAME_MAX, "by-number"); break;
	case NODE_NUMBER_LINK:
		if (!viewtree_name_of(&fs->views, node->a, node->b, name))
			name[0] = '\0';
		break;
	case NODE_ACCOUNTS: snprintf(name, FS_NAME_MAX, "accounts"); break;
	case NODE_ACCOUNT: name_format_id(name, node->a, false); break;
	case NODE_INFO: snprintf(name, FS_NAME_MAX, "info.json"); break;
	case NODE_SUBS: snprintf(name, FS_NAME_MAX, "sub-accounts"); break;
	case NODE_SUB_FILE: name_format_id(name, node->b, true); break;
	case NODE_TX_DIR: snprintf(name, FS_NAME_MAX, "transactions"); break;
	case NODE_TX_MONTH: name_format_month_file(name, (int32_t)node->b); break;
	case NODE_TX_CSV: name_format_month_csv(name, (int32_t)node->b); break;
	case NODE_TOTALS: snprintf(name, FS_NAME_MAX, "totals.csv"); break;
	default: name[0] = '\0';
	}
}

/* The entries of a listing directory from cookie on. */
static int emit_listing(struct emitter *em, const struct obj_key *node, off_t cookie)
{
	bool subs = node->kind == NODE_SUBS;
	struct obj_key key = { subs ? OBJ_SUB_LIST : OBJ_ACCOUNT_LIST, node->a, 0 };
	struct snapshot *s;
	int rc = cache_get(em->fs->cache, &key, &s);
	if (rc)
		return rc;
	char name[FS_NAME_MAX];
	for (size_t i = first_entry_from(s, cookie); i < s->count; i++) {
		const struct listing_entry *e = &s->entries[i];
		struct obj_key child = { subs ? NODE_SUB_FILE : NODE_ACCOUNT,
					 subs ? node->a : e->id, subs ? e->id : 0 };
		name_format_id(name, e->id, subs);
		/* An account's row is the views', not the directory's content. */
		if (!emit(em, name, &child, subs ? e->file : NULL, true, cookie_after_id(e->id)))
			break;
	}
	snapshot_unref(s);
	return 0;
}

/* A transactions folder: a month a file, cookies by month like ids.  A
 * month's attributes come along when it is in memory. */
static int emit_months(struct emitter *em, const struct obj_key *node, off_t cookie)
{
	if (tx_forbidden(em->fs, node->a))
		return EPERM;
	tx_note_listed(em->fs, node->a);
	readahead_visit(em->fs->readahead, node->a, READAHEAD_MONTHS);
	int32_t now = month_of_time((time_t)clock_wall_s());
	int32_t month = account_since(em->fs, node->a, now);
	/* Cookies: totals.csv follows id 0 (cookie 3), a month's .jsonl id
	 * 2 * month, its .csv 2 * month + 1. */
	struct obj_key totals = { NODE_TOTALS, node->a, 0 };
	if (before_fixed(cookie, 3) && !emit(em, "totals.csv", &totals, NULL, false, 3))
		return 0;
	int64_t after = -1;
	cookie_follows_id(cookie, &after);
	char name[FS_NAME_MAX];
	for (; month <= now; month = month_add(month, 1)) {
		int64_t slot = (int64_t)month * 2;
		if (slot + 1 <= after)
			continue;
		if (slot > after) {
			struct obj_key child = { NODE_TX_MONTH, node->a, month };
			struct obj_key obj = { OBJ_TX_MONTH, node->a, month };
			struct snapshot *s = cache_peek(em->fs->cache, &obj, true);
			name_format_month_file(name, month);
			bool more = emit(em, name, &child, s ? s->file : NULL, s != NULL,
					 cookie_after_id(slot));
			snapshot_unref(s);
			if (!more)
				break;
		}
		if (em->fs->cfg.csv) {
			/* Its size is known once made: looked up, it is. */
			struct obj_key csv = { NODE_TX_CSV, node->a, month };
			name_format_month_csv(name, month);
			if (!emit(em, name, &csv, NULL, false, cookie_after_id(slot + 1)))
				break;
		}
	}
	return 0;
}

static void emit_root(struct emitter *em, off_t cookie)
{
	struct obj_key accounts = { NODE_ACCOUNTS, 0, 0 };
	struct obj_key balances = { NODE_BALANCES, 0, 0 };
	struct obj_key by_number = { NODE_BY_NUMBER, 0, 0 };
	if (before_fixed(cookie, 3) && !emit(em, "accounts", &accounts, NULL, true, 3))
		return;
	if (before_fixed(cookie, 4)) {
		/* Its size is known when the listing is in memory. */
		struct obj_key list_key = { OBJ_ACCOUNT_LIST, 0, 0 };
		struct snapshot *s = cache_peek(em->fs->cache, &list_key, true);
		struct blob *csv = s ? viewtree_balances_of(&em->fs->views, s) : NULL;
		bool more = emit(em, "balances.csv", &balances, csv, csv != NULL, 4);
		blob_unref(csv);
		snapshot_unref(s);
		if (!more)
			return;
	}
	if (before_fixed(cookie, 5) && !emit(em, "by-number", &by_number, NULL, true, 5))
		return;
	struct obj_key company = { NODE_TX_DIR, TX_COMPANY, 0 };
	if (before_fixed(cookie, 6))
		emit(em, "transactions", &company, NULL, true, 6);
}

/* by-number: every account's sub-accounts are read (a request each where
 * not fresh), so its names never depend on what was read before.  Cookies
 * are hashes of the names, entries in their order. */
static int emit_links(struct emitter *em, off_t cookie)
{
	/* Read on from a cookie: the names the listing began with, not every
	 * account's sub-accounts again (some may have left memory since).  A
	 * call fills one buffer: a few hundred names at most. */
	struct number_links links;
	uint64_t after = cookie > 0 ? (uint64_t)cookie : 0;
	int rc = viewtree_links(&em->fs->views, cookie < 3 ? VIEW_LINKS_EVERY : VIEW_LINKS_LAST,
				after, 512, &links);
	if (rc)
		return rc;
	for (size_t i = 0; i < links.count; i++) {
		const struct number_link *l = &links.links[i];
		struct obj_key child = { NODE_NUMBER_LINK, l->account, l->sub };
		if (!emit(em, l->name, &child, NULL, true, (off_t)l->cookie))
			break;
	}
	views_number_links_release(&links);
	return 0;
}

int fs_readdir(struct fs *fs, uint64_t ino, off_t cookie, fs_fill_fn fill, void *ctx)
{
	struct obj_key node;
	if (!inodes_key(fs->inodes, ino, &node))
		return ESTALE;
	if (!is_dir_kind(node.kind))
		return ENOTDIR;
	struct emitter em = { fs, fill, ctx, false };
	struct obj_key parent = parent_of(&node);
	if (before_fixed(cookie, 1) && !emit(&em, ".", &node, NULL, false, 1))
		return 0;
	if (before_fixed(cookie, 2) && !emit(&em, "..", &parent, NULL, false, 2))
		return 0;
	switch (node.kind) {
	case NODE_ROOT:
		emit_root(&em, cookie);
		return 0;
	case NODE_BY_NUMBER:
		return emit_links(&em, cookie);
	case NODE_ACCOUNT: {
		readahead_visit(fs->readahead, node.a, READAHEAD_FILES);
		struct obj_key info = { NODE_INFO, node.a, 0 };
		struct obj_key subs = { NODE_SUBS, node.a, 0 };
		struct obj_key detail = { OBJ_ACCOUNT, node.a, 0 };
		if (before_fixed(cookie, 3)) {
			/* info.json's size is known only once it was fetched:
			 * without it the entry goes out bare and a stat fetches. */
			struct snapshot *s = cache_peek(fs->cache, &detail, true);
			bool more = emit(&em, "info.json", &info, s ? s->file : NULL, s != NULL, 3);
			snapshot_unref(s);
			if (!more)
				return 0;
		}
		if (before_fixed(cookie, 4) && !emit(&em, "sub-accounts", &subs, NULL, true, 4))
			return 0;
		struct obj_key tx = { NODE_TX_DIR, node.a, 0 };
		if (before_fixed(cookie, 5))
			emit(&em, "transactions", &tx, NULL, true, 5);
		return 0;
	}
	case NODE_TX_DIR:
		return emit_months(&em, &node, cookie);
	default:
		return emit_listing(&em, &node, cookie);
	}
}

bool fs_dirent_ref(struct fs *fs, const struct fs_dirent *entry)
{
	uint64_t ino = number_held(fs, &entry->key, entry->has_content ? &entry->content : NULL);
	if (ino && ino != entry->st.st_ino) {
		/* Placed elsewhere meanwhile (a collision): not the entry's. */
		inodes_forget(fs->inodes, ino, 1);
		return false;
	}
	return ino != 0;
}

/* The kernel may keep a file's name pointing at an inode of a version a
 * refresh replaced, for up to the entry timeout: an open by that name
 * would then read a version the cache no longer has.  The name goes from
 * the kernel's cache now, so the next open looks it up and gets the new
 * inode; a file already open keeps the old one (and its bytes, kept by the
 * inode table). */
static void forget_outdated(struct fs *fs, const struct obj_key *node, const struct blob *current,
			    struct blob *previous)
{
	if (!inodes_outdated(fs->inodes, node, current ? &current->v : NULL, previous))
		return;
	struct obj_key parent = parent_of(node);
	uint64_t parent_ino = inodes_find(fs->inodes, &parent);
	char name[FS_NAME_MAX];
	node_name(fs, node, name);
	if (parent_ino && fs->kernel.forget_name)
		fs->kernel.forget_name(fs->kernel.ctx, parent_ino, name);
}

static struct blob *listed_file(const struct snapshot *s, int64_t id)
{
	const struct listing_entry *e = s ? snapshot_find(s, id) : NULL;
	return e ? e->file : NULL;
}

/* The API now refuses key: the kernel forgets the name that leads to what
 * it showed, so the next look asks the tree, which says EPERM (or EACCES)
 * instead of serving cached pages until the entry timeout. */
static void forget_refused(struct fs *fs, const struct obj_key *key)
{
	struct obj_key account = key->a == TX_COMPANY ? (struct obj_key){ NODE_ROOT, 0, 0 }
						       : (struct obj_key){ NODE_ACCOUNT, key->a, 0 };
	const char *name = key->kind == OBJ_ACCOUNT ? "info.json"
			   : key->kind == OBJ_SUB_LIST ? "sub-accounts"
			   : key->kind == OBJ_TX_MONTH || key->kind == OBJ_TX_RANGE ? "transactions"
			   : NULL;
	uint64_t parent = name ? inodes_find(fs->inodes, &account) : 0;
	if (parent && fs->kernel.forget_name)
		fs->kernel.forget_name(fs->kernel.ctx, parent, name);
}

static void content_replaced(void *ctx, const struct obj_key *key, struct snapshot *old,
			     struct snapshot *fresh)
{
	struct fs *fs = ctx;
	if (!fresh) {
		forget_refused(fs, key);
		return;
	}
	switch (key->kind) {
	case OBJ_ACCOUNT_LIST: {
		/* balances.csv is made of the listing's rows. */
		struct blob *before = old ? viewtree_balances_of(&fs->views, old) : NULL;
		struct blob *now = viewtree_balances_of(&fs->views, fresh);
		forget_outdated(fs, &(struct obj_key){ NODE_BALANCES, 0, 0 }, now, before);
		blob_unref(now);
		blob_unref(before);
		break;
	}
	case OBJ_ACCOUNT:
		forget_outdated(fs, &(struct obj_key){ NODE_INFO, key->a, 0 }, fresh->file,
				old ? old->file : NULL);
		break;
	case OBJ_TX_MONTH: {
		forget_outdated(fs, &(struct obj_key){ NODE_TX_MONTH, key->a, key->b }, fresh->file,
				old ? old->file : NULL);
		/* totals.csv sums it: the kernel forgets the name (the next
		 * look sums again; a file open keeps the bytes it opened). */
		struct blob *totals = viewtree_totals_latest(&fs->views, key->a);
		if (totals)
			forget_outdated(fs, &(struct obj_key){ NODE_TOTALS, key->a, 0 }, NULL, totals);
		blob_unref(totals);
		/* Its CSV, where one was read lately. */
		struct blob *csv_before = viewtree_csv_kept(&fs->views, key->a, (int32_t)key->b);
		if (csv_before && fresh->file) {
			int rc;
			struct blob *csv_now = viewtree_month_csv(&fs->views, key->a, (int32_t)key->b,
								  fresh->file, &rc);
			forget_outdated(fs, &(struct obj_key){ NODE_TX_CSV, key->a, key->b }, csv_now,
					csv_before);
			blob_unref(csv_now);
		}
		blob_unref(csv_before);
		break;
	}
	case OBJ_SUB_LIST:
		/* The files the kernel may hold: those of the old listing (gone
		 * or changed) and those of the new (changed since an older one
		 * evicted from memory). */
		for (size_t i = 0; old && i < old->count; i++) {
			int64_t id = old->entries[i].id;
			forget_outdated(fs, &(struct obj_key){ NODE_SUB_FILE, key->a, id },
					listed_file(fresh, id), old->entries[i].file);
		}
		for (size_t i = 0; !old && i < fresh->count; i++)
			forget_outdated(fs, &(struct obj_key){ NODE_SUB_FILE, key->a,
							       fresh->entries[i].id },
					fresh->entries[i].file, NULL);
		break;
	default:
		break;
	}
}

int fs_read(struct fs *fs, uint64_t ino, struct blob **out)
{
	struct obj_key node;
	if (!inodes_key(fs->inodes, ino, &node))
		return ESTALE;
	if (is_dir_kind(node.kind))
		return EISDIR;
	if (node.kind == NODE_NUMBER_LINK)
		return EINVAL;
	/* Access taken away holds for what is held too: an open file is no
	 * way around a 403 (or a token refused for good). */
	struct obj_key obj = object_of(&node);
	int refused = (node.kind == NODE_TX_MONTH || node.kind == NODE_TX_CSV ||
		       node.kind == NODE_TOTALS) &&
		      tx_forbidden(fs, node.a)
		      ? EPERM : cache_refusal(fs->cache, &obj);
	if (refused)
		return refused;
	/* A version a refresh replaced while the kernel held it. */
	if ((*out = inodes_kept(fs->inodes, ino)))
		return 0;
	struct version v;
	bool versioned = inodes_content(fs->inodes, ino, &v);
	/* A view made from many objects, or made again at every look: the
	 * version this inode shows, when it is kept. */
	if (versioned && node.kind == NODE_TOTALS &&
	    (*out = viewtree_totals_kept(&fs->views, node.a, &v)))
		return 0;
	if (versioned && node.kind == NODE_TX_CSV &&
	    (*out = viewtree_csv_kept_as(&fs->views, node.a, (int32_t)node.b, &v)))
		return 0;
	/* What is in memory first, fresh or not: a read belongs to the version
	 * its inode was looked up with, not to whatever is newest. */
	struct snapshot *s = cache_peek(fs->cache, &obj, false);
	struct blob *b = s ? file_in(fs, s, &node) : NULL;
	snapshot_unref(s);
	if (b && (!versioned || version_same_bytes(&v, &b->v))) {
		*out = b;
		return 0;
	}
	blob_unref(b);
	int rc = file_content(fs, &node, out);
	if (rc)
		return rc;
	if (versioned && !version_same_bytes(&v, &(*out)->v)) {
		/* The version this inode shows is gone from memory (evicted,
		 * then replaced by the API's new one): reading on would mix two
		 * versions.  Its name goes from the kernel's cache, so opening
		 * it again by name reads the new one. */
		char path[128];
		objects_path(&obj, path, sizeof(path));
		log_error("read: GET %s: the version this file was opened with is no longer held "
			  "and the API now has another; opening it again reads the new one (%s)",
			  path, strerror(ESTALE));
		forget_outdated(fs, &node, *out, NULL);
		blob_unref(*out);
		*out = NULL;
		return ESTALE;
	}
	return 0;
}

int fs_readlink(struct fs *fs, uint64_t ino, char *buf, size_t size)
{
	struct obj_key node;
	if (!inodes_key(fs->inodes, ino, &node))
		return ESTALE;
	if (node.kind != NODE_NUMBER_LINK)
		return EINVAL;
	link_target(&node, buf, size);
	return 0;
}

struct fs_entry *fs_known_entries(struct fs *fs, size_t *count)
{
	size_t n;
	struct inode_ref *refs = inodes_list(fs->inodes, &n);
	struct fs_entry *out = refs ? malloc((n + 1) * sizeof(*out)) : NULL;
	*count = 0;
	for (size_t i = 0; out && i < n; i++) {
		struct fs_entry *e = &out[(*count)++];
		struct obj_key parent = parent_of(&refs[i].key);
		e->ino = refs[i].ino;
		e->is_dir = is_dir_kind(refs[i].key.kind);
		e->parent = refs[i].key.kind == NODE_ROOT ? 0 : inodes_find(fs->inodes, &parent);
		node_name(fs, &refs[i].key, e->name);
	}
	free(refs);
	return out;
}

/* The API object a node comes from: its file's object, or the listing
 * that names a directory. */
static bool source_of(const struct obj_key *node, struct obj_key *obj)
{
	switch (node->kind) {
	case NODE_ACCOUNTS:
	case NODE_ACCOUNT:
	case NODE_BALANCES:
	case NODE_BY_NUMBER:
		*obj = (struct obj_key){ OBJ_ACCOUNT_LIST, 0, 0 };
		return true;
	case NODE_NUMBER_LINK:
		*obj = node->b ? (struct obj_key){ OBJ_SUB_LIST, node->a, 0 }
			       : (struct obj_key){ OBJ_ACCOUNT_LIST, 0, 0 };
		return true;
	case NODE_SUBS:
		*obj = (struct obj_key){ OBJ_SUB_LIST, node->a, 0 };
		return true;
	case NODE_INFO:
	case NODE_SUB_FILE:
	case NODE_TX_MONTH:
	case NODE_TX_CSV:
	case NODE_TOTALS:
		*obj = object_of(node);
		return true;
	case NODE_TX_DIR: /* the current month stands for the folder */
		*obj = (struct obj_key){ OBJ_TX_MONTH, node->a, month_of_time((time_t)clock_wall_s()) };
		return true;
	default:
		return false;
	}
}

int fs_xattrs(struct fs *fs, uint64_t ino, char source[128], char fetched[32])
{
	struct obj_key node, obj;
	if (!inodes_key(fs->inodes, ino, &node))
		return ESTALE;
	if (!source_of(&node, &obj))
		return ENODATA;
	/* An account directory is named by the listing, but it stands for
	 * the account: show that. */
	struct obj_key shown = node.kind == NODE_ACCOUNT ? (struct obj_key){ OBJ_ACCOUNT, node.a, 0 }
							 : obj;
	objects_path(&shown, source, 128);
	fetched[0] = '\0';
	struct snapshot *s = cache_peek(fs->cache, &obj, false);
	if (!s && node.kind == NODE_ACCOUNT) /* found by its detail, not listed yet */
		s = cache_peek(fs->cache, &shown, false);
	if (s) {
		struct tm tm;
		time_t t = s->fetched.tv_sec;
		if (gmtime_r(&t, &tm))
			strftime(fetched, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
		snapshot_unref(s);
	}
	return 0;
}
