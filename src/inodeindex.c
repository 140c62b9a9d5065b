/* inodeindex.c - inode number -> node and version, in memory and a file. */
#include "inodeindex.h"

#include "htab.h"
#include "inodes.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The file: this header, then one record per number handed out, the
 * later record of a node winning. */
static const char HEADER[16] = "sepayfs-inodes1\n";

struct record {
	uint64_t ino;
	int32_t kind;
	uint32_t has_content;
	int64_t a, b;
	uint64_t hash, len;
};

struct entry {
	struct hnode by_ino, by_key;
	struct entry *older, *newer;
	uint64_t ino;
	struct obj_key key;
	bool has_content;
	uint64_t hash, len;
};

#define ENTRY_OF(ptr, member) ((struct entry *)((char *)(ptr) - offsetof(struct entry, member)))

struct inode_index {
	pthread_mutex_t lock;
	struct htab by_ino, by_key;
	struct entry *oldest, *newest;
	size_t count, max;
	int dir_fd, fd;          /* the folder and the file; -1: memory only */
	size_t file_records;     /* records in the file, outdated ones too */
	bool write_failed;       /* logged once; memory goes on */
};

static bool match_ino(const struct hnode *n, const void *ino)
{
	return ENTRY_OF(n, by_ino)->ino == *(const uint64_t *)ino;
}

static bool match_key(const struct hnode *n, const void *key)
{
	return obj_key_equal(&ENTRY_OF(n, by_key)->key, key);
}

static struct entry *find_ino(struct inode_index *x, uint64_t ino)
{
	struct hnode *n = htab_find(&x->by_ino, hash_mix(ino), match_ino, &ino);
	return n ? ENTRY_OF(n, by_ino) : NULL;
}

static struct entry *find_key(struct inode_index *x, const struct obj_key *key)
{
	struct hnode *n = htab_find(&x->by_key, obj_key_hash(key), match_key, key);
	return n ? ENTRY_OF(n, by_key) : NULL;
}

static void unlink_entry(struct inode_index *x, struct entry *e)
{
	htab_remove(&x->by_ino, &e->by_ino);
	htab_remove(&x->by_key, &e->by_key);
	if (e->older)
		e->older->newer = e->newer;
	else
		x->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		x->newest = e->older;
	x->count--;
	free(e);
}

/* With the lock held: (ino, key, content) becomes what ino and key name,
 * replacing what either named before.  false when it already was. */
static bool put(struct inode_index *x, const struct record *r)
{
	struct obj_key key = { r->kind, r->a, r->b };
	struct entry *same = find_key(x, &key);
	if (same && same->ino == r->ino && same->has_content == (r->has_content != 0) &&
	    same->hash == r->hash && same->len == r->len)
		return false;
	if (same)
		unlink_entry(x, same);
	struct entry *taken = find_ino(x, r->ino);
	if (taken)
		unlink_entry(x, taken);
	struct entry *e = calloc(1, sizeof(*e));
	if (!e)
		return false;
	*e = (struct entry){ .ino = r->ino, .key = key, .has_content = r->has_content != 0,
			     .hash = r->hash, .len = r->len, .older = x->newest };
	if (x->newest)
		x->newest->newer = e;
	else
		x->oldest = e;
	x->newest = e;
	htab_insert(&x->by_ino, &e->by_ino, hash_mix(e->ino));
	htab_insert(&x->by_key, &e->by_key, obj_key_hash(&key));
	x->count++;
	while (x->count > x->max)
		unlink_entry(x, x->oldest);
	return true;
}

/* A record as the tree could have handed it out; anything else in the
 * file (damage, another version's format) is skipped. */
static bool record_valid(const struct record *r)
{
	return r->ino > INODE_ROOT && r->ino != 0xffffffffULL && r->kind > NODE_ROOT &&
	       r->kind <= NODE_TOTALS && r->has_content <= 1 &&
	       (r->has_content || (r->hash == 0 && r->len == 0));
}

size_t inode_index_load(struct inode_index *x, const unsigned char *bytes, size_t len)
{
	if (len < sizeof(HEADER) || memcmp(bytes, HEADER, sizeof(HEADER)) != 0)
		return 0;
	size_t taken = 0;
	pthread_mutex_lock(&x->lock);
	for (size_t off = sizeof(HEADER); off + sizeof(struct record) <= len;
	     off += sizeof(struct record)) {
		struct record r;
		memcpy(&r, bytes + off, sizeof(r));
		if (record_valid(&r)) {
			put(x, &r);
			taken++;
		}
	}
	pthread_mutex_unlock(&x->lock);
	return taken;
}

static void write_failed(struct inode_index *x, const char *what, int err)
{
	if (!x->write_failed)
		log_warn("inode index: cannot %s %s: %s; NFS handles of this mount will not "
			 "outlive it", what, INODE_INDEX_FILE, strerror(err));
	x->write_failed = true;
}

static bool write_all(int fd, const void *bytes, size_t len)
{
	const char *p = bytes;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void record_of(const struct entry *e, struct record *r)
{
	*r = (struct record){ e->ino, e->key.kind, e->has_content, e->key.a, e->key.b, e->hash,
			      e->len };
}

/* With the lock held: the file again, live records only, renamed over the
 * old one. */
static void rewrite(struct inode_index *x)
{
	char tmp[64];
	snprintf(tmp, sizeof(tmp), ".tmp-inodes-%ld", (long)getpid());
	int fd = openat(x->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
			0600);
	if (fd < 0) {
		write_failed(x, "rewrite", errno);
		return;
	}
	bool ok = write_all(fd, HEADER, sizeof(HEADER));
	for (struct entry *e = x->oldest; ok && e; e = e->newer) {
		struct record r;
		record_of(e, &r);
		ok = write_all(fd, &r, sizeof(r));
	}
	int err = errno;
	if (close(fd) != 0 && ok) {
		ok = false;
		err = errno;
	}
	if (!ok || renameat(x->dir_fd, tmp, x->dir_fd, INODE_INDEX_FILE) != 0) {
		write_failed(x, "rewrite", ok ? errno : err);
		unlinkat(x->dir_fd, tmp, 0);
		return;
	}
	int next = openat(x->dir_fd, INODE_INDEX_FILE,
			  O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (next < 0) {
		write_failed(x, "open", errno);
		return;
	}
	close(x->fd);
	x->fd = next;
	x->file_records = x->count;
}

/* The file's bytes, if it is one this index could have written. */
static void read_file(struct inode_index *x)
{
	struct stat st;
	size_t most = sizeof(HEADER) + 4 * x->max * sizeof(struct record);
	if (fstat(x->fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > most ||
	    st.st_size == 0)
		return;
	unsigned char *bytes = malloc((size_t)st.st_size);
	if (!bytes)
		return;
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(x->fd, bytes + got, (size_t)st.st_size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	/* Not ours (another header, damage at the start): 0, so it is
	 * written anew. */
	if (inode_index_load(x, bytes, got))
		x->file_records = (got - sizeof(HEADER)) / sizeof(struct record);
	/* A torn last record: appends must not follow it out of step. */
	if (got < sizeof(HEADER) || (got - sizeof(HEADER)) % sizeof(struct record))
		x->file_records = 0;
	free(bytes);
}

struct inode_index *inode_index_open(int dir_fd, size_t max_nodes)
{
	struct inode_index *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->max = max_nodes ? max_nodes : INODE_INDEX_MAX;
	x->dir_fd = dir_fd;
	x->fd = -1;
	if (htab_init(&x->by_ino) || htab_init(&x->by_key)) {
		htab_destroy(&x->by_ino);
		free(x);
		return NULL;
	}
	pthread_mutex_init(&x->lock, NULL);
	if (dir_fd < 0)
		return x;
	x->fd = openat(dir_fd, INODE_INDEX_FILE, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
		       0600);
	if (x->fd < 0) {
		write_failed(x, "open", errno);
		return x;
	}
	read_file(x);
	/* A file that is no index of ours (or mostly outdated) starts over. */
	if (x->file_records == 0 || x->file_records > 2 * x->count + 1024) {
		pthread_mutex_lock(&x->lock);
		rewrite(x);
		pthread_mutex_unlock(&x->lock);
	}
	return x;
}

static void entry_free(struct hnode *n, void *arg)
{
	(void)arg;
	free(ENTRY_OF(n, by_ino));
}

void inode_index_close(struct inode_index *x)
{
	if (!x)
		return;
	if (x->fd >= 0)
		close(x->fd);
	htab_foreach(&x->by_ino, entry_free, NULL);
	htab_destroy(&x->by_ino);
	htab_destroy(&x->by_key);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

void inode_index_note(struct inode_index *x, uint64_t ino, const struct obj_key *key,
		      const struct version *content)
{
	if (!x || key->kind == NODE_ROOT)
		return;
	struct record r = { ino, key->kind, content != NULL, key->a, key->b,
			    content ? content->hash : 0, content ? (uint64_t)content->len : 0 };
	if (!record_valid(&r))
		return;
	pthread_mutex_lock(&x->lock);
	if (put(x, &r) && x->fd >= 0 && !x->write_failed) {
		if (!write_all(x->fd, &r, sizeof(r)))
			write_failed(x, "append to", errno);
		else if (++x->file_records > 2 * x->count + 1024)
			rewrite(x);
	}
	pthread_mutex_unlock(&x->lock);
}

bool inode_index_find(struct inode_index *x, uint64_t ino, struct obj_key *key,
		      bool *has_content, struct version *content)
{
	if (!x)
		return false;
	pthread_mutex_lock(&x->lock);
	struct entry *e = find_ino(x, ino);
	if (e) {
		*key = e->key;
		*has_content = e->has_content;
		memset(content, 0, sizeof(*content));
		content->hash = e->hash;
		content->len = (size_t)e->len;
	}
	pthread_mutex_unlock(&x->lock);
	return e != NULL;
}

size_t inode_index_count(struct inode_index *x)
{
	pthread_mutex_lock(&x->lock);
	size_t n = x->count;
	pthread_mutex_unlock(&x->lock);
	return n;
}
