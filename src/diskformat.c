/* diskformat.c - cache entries as bytes, written and read as a stream.
 *
 * Layout, all integers little-endian:
 *   "SEPAYFS\n" magic, u32 format version, u32 flags (1: a file object),
 *   i64 kind, i64 a, i64 b, u64 identity,
 *   i64 fetched s, i64 fetched ns, i64 mtime s, i64 mtime ns, i64 since,
 *   [4: u64 follows], u64 count,
 *   [a file object: its file]
 *   count x (i64 id, i64 since, [4: u64 item hash], u64 has file, [its file]),
 *   u64 checksum of everything before it.
 * A file is u64 hash, u64 length, i64 mtime s, i64 mtime ns, then its bytes.
 *
 * An entry is written and read piece by piece, never whole in memory: a
 * busy account's month can be larger than the memory the cache may use.
 * Read from a file, a file of more than BLOB_MEMORY_MAX bytes stays there
 * (a blob of the entry's open file); its bytes are still read once, for
 * the checksum and their own hash. */
#include "diskformat.h"

#include "htab.h"
#include "strbuf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "SEPAYFS\n"
/* 5: an account listing holds each account's row (views.h).  A listing of
 * 4 or older with entries and no file among them is an account listing
 * without rows: outdated, as below, so the views are never empty for it.
 * 4: an account's objects carry their list item's hash (follows) and an
 * account listing each item's, so freshness can follow the list.
 * 3: numbers as the API wrote them (numtext.h).  An entry of 3 has good
 * bytes and version records, without those hashes.  An entry of 2 has the
 * same layout as 3 and its version records are good, but its files' bytes
 * may be what this version no longer renders (2705000.0 for 2705000.00):
 * it is read as outdated, never fresh, so the next look fetches again and
 * unchanged files keep their mtime and inode. */
#define FORMAT_VERSION 5u
#define FIRST_ACCOUNT_ROWS 5u
#define FIRST_CURRENT_BYTES 3u
#define OLDEST_VERSION 2u
#define FLAG_FILE 1u
/* No object has more listed entries than this (a million accounts). */
#define MAX_ENTRIES 1000000u
/* Bytes moved at a time between a file and an entry. */
#define CHUNK (64u << 10)

/* Where an entry goes: a file, or memory; the checksum of all so far. */
struct writer {
	int fd;                /* -1: into sb */
	struct strbuf *sb;
	char buf[CHUNK];
	size_t used;
	uint64_t sum;
	int err;
};

static void flush_writer(struct writer *w)
{
	size_t done = 0;
	while (!w->err && done < w->used) {
		ssize_t n = write(w->fd, w->buf + done, w->used - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			w->err = n < 0 ? errno : EIO;
		else
			done += (size_t)n;
	}
	w->used = 0;
}

static void put_bytes(struct writer *w, const void *bytes, size_t len)
{
	w->sum = hash_bytes_more(w->sum, bytes, len);
	if (w->fd < 0) {
		strbuf_append(w->sb, bytes, len);
		if (strbuf_failed(w->sb))
			w->err = ENOMEM;
		return;
	}
	const char *p = bytes;
	while (len && !w->err) {
		size_t n = len < CHUNK - w->used ? len : CHUNK - w->used;
		memcpy(w->buf + w->used, p, n);
		w->used += n;
		p += n;
		len -= n;
		if (w->used == CHUNK)
			flush_writer(w);
	}
}

static void put_u64(struct writer *w, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put_bytes(w, b, 8);
}

static void put_file(struct writer *w, const struct blob *f)
{
	put_u64(w, f->v.hash);
	put_u64(w, f->v.len);
	put_u64(w, (uint64_t)f->v.mtime.tv_sec);
	put_u64(w, (uint64_t)f->v.mtime.tv_nsec);
	if (!f->file) {
		put_bytes(w, f->bytes, f->v.len);
		return;
	}
	char chunk[CHUNK];
	for (uint64_t off = 0; off < f->v.len && !w->err;) {
		ssize_t n = blob_read(f, chunk, sizeof(chunk), off);
		if (n <= 0) {
			w->err = n < 0 ? errno : EIO;
			break;
		}
		put_bytes(w, chunk, (size_t)n);
		off += (uint64_t)n;
	}
}

static void write_entry(struct writer *w, const struct obj_key *key, uint64_t identity,
			const struct snapshot *s, uint32_t version)
{
	bool hashes = version >= 4;
	w->sum = HASH_BYTES_START;
	put_bytes(w, MAGIC, 8);
	put_u64(w, version | (uint64_t)(s->file ? FLAG_FILE : 0) << 32);
	put_u64(w, (uint64_t)key->kind);
	put_u64(w, (uint64_t)key->a);
	put_u64(w, (uint64_t)key->b);
	put_u64(w, identity);
	put_u64(w, (uint64_t)s->fetched.tv_sec);
	put_u64(w, (uint64_t)s->fetched.tv_nsec);
	put_u64(w, (uint64_t)s->mtime.tv_sec);
	put_u64(w, (uint64_t)s->mtime.tv_nsec);
	put_u64(w, (uint64_t)(int64_t)s->since);
	if (hashes)
		put_u64(w, s->follows);
	put_u64(w, s->count);
	if (s->file)
		put_file(w, s->file);
	for (size_t i = 0; i < s->count && !w->err; i++) {
		const struct listing_entry *e = &s->entries[i];
		put_u64(w, (uint64_t)e->id);
		put_u64(w, (uint64_t)(int64_t)e->since);
		if (hashes)
			put_u64(w, e->item_hash);
		put_u64(w, e->file != NULL);
		if (e->file)
			put_file(w, e->file);
	}
	put_u64(w, w->sum);
	if (w->fd >= 0)
		flush_writer(w);
}

char *disk_entry_encode(const struct obj_key *key, uint64_t identity, const struct snapshot *s,
			size_t *len)
{
	return disk_entry_encode_as(key, identity, s, FORMAT_VERSION, len);
}

char *disk_entry_encode_as(const struct obj_key *key, uint64_t identity,
			   const struct snapshot *s, unsigned version, size_t *len)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	struct writer *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->fd = -1;
	w->sb = &sb;
	write_entry(w, key, identity, s, version);
	int err = w->err;
	free(w);
	if (err) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_take(&sb, len);
}

int disk_entry_write(int fd, const struct obj_key *key, uint64_t identity,
		     const struct snapshot *s)
{
	struct writer *w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->fd = fd;
	write_entry(w, key, identity, s, FORMAT_VERSION);
	int err = w->err;
	free(w);
	return err;
}

/* An entry read from memory or a file, every take bounded by what is left
 * before the checksum, and summed as it goes. */
struct reader {
	const unsigned char *mem;  /* or NULL: from fd */
	int fd;
	struct blob_file *file;    /* fd as the blobs kept in it hold it */
	uint64_t pos, end;         /* end: where the checksum starts */
	unsigned char buf[CHUNK];  /* from fd: bytes buf_at.. are buf[0..buf_len) */
	uint64_t buf_at;
	size_t buf_len;
	uint64_t sum;
	bool bad;
};

/* Up to n bytes at r->pos (at most what is buffered or mapped): a pointer
 * to them and their count, or 0 (r->bad) when there are none. */
static size_t peek(struct reader *r, size_t n, const unsigned char **p)
{
	if (r->bad || r->pos >= r->end) {
		r->bad = true;
		return 0;
	}
	if (n > r->end - r->pos)
		n = (size_t)(r->end - r->pos);
	if (r->mem) {
		*p = r->mem + r->pos;
		return n;
	}
	if (r->pos < r->buf_at || r->pos >= r->buf_at + r->buf_len) {
		uint64_t want = r->end - r->pos < CHUNK ? r->end - r->pos : CHUNK;
		ssize_t got;
		do
			got = pread(r->fd, r->buf, (size_t)want, (off_t)r->pos);
		while (got < 0 && errno == EINTR);
		if (got <= 0) {
			r->bad = true;
			return 0;
		}
		r->buf_at = r->pos;
		r->buf_len = (size_t)got;
	}
	size_t here = (size_t)(r->buf_at + r->buf_len - r->pos);
	*p = r->buf + (r->pos - r->buf_at);
	return n < here ? n : here;
}

/* Takes exactly n bytes into out (NULL: only summed, and into *hash when
 * given): false when the entry ends first. */
static bool take(struct reader *r, void *out, uint64_t n, uint64_t *hash)
{
	while (n) {
		const unsigned char *p;
		size_t got = peek(r, n < CHUNK ? (size_t)n : CHUNK, &p);
		if (!got)
			return false;
		r->sum = hash_bytes_more(r->sum, p, got);
		if (hash)
			*hash = hash_bytes_more(*hash, p, got);
		if (out) {
			memcpy(out, p, got);
			out = (char *)out + got;
		}
		r->pos += got;
		n -= got;
	}
	return true;
}

static uint64_t take_u64(struct reader *r)
{
	unsigned char b[8];
	if (!take(r, b, 8, NULL))
		return 0;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

/* A YYYYMM month, or 0 for none. */
static bool valid_month(int64_t m)
{
	return m == 0 || (m >= 100001 && m <= 999912 && m % 100 >= 1 && m % 100 <= 12);
}

static bool valid_time(int64_t sec, int64_t nsec)
{
	return sec >= 0 && nsec >= 0 && nsec < 1000000000;
}

/* A file of the entry, in memory or (a large one, read from a file) left
 * there; its bytes must be the ones its version record names. */
static struct blob *take_file(struct reader *r)
{
	uint64_t hash = take_u64(r), len = take_u64(r);
	int64_t sec = (int64_t)take_u64(r), nsec = (int64_t)take_u64(r);
	if (r->bad || len > r->end - r->pos || !valid_time(sec, nsec)) {
		r->bad = true;
		return NULL;
	}
	struct timespec mtime = { sec, nsec };
	struct blob *b = NULL;
	uint64_t seen = HASH_BYTES_START;
	if (r->file && len > BLOB_MEMORY_MAX) {
		uint64_t at = r->pos;
		if (take(r, NULL, len, &seen))
			b = blob_new_in_file(r->file, at, (size_t)len, hash, mtime);
	} else {
		char *bytes = malloc(len ? (size_t)len : 1);
		if (bytes && take(r, bytes, len, &seen))
			b = blob_new(bytes, (size_t)len, mtime);
		free(bytes);
	}
	if (b && seen != hash) {
		blob_unref(b);
		b = NULL;
	}
	if (!b)
		r->bad = true;
	return b;
}

static bool any_file(const struct snapshot *s)
{
	for (size_t i = 0; i < s->count; i++)
		if (s->entries[i].file)
			return true;
	return false;
}

static struct snapshot *read_entry(struct reader *r, const struct obj_key *key, uint64_t identity)
{
	r->sum = HASH_BYTES_START;
	char magic[8];
	if (!take(r, magic, 8, NULL) || memcmp(magic, MAGIC, 8) != 0)
		return NULL;
	uint64_t word = take_u64(r);
	bool has_file = (word >> 32) & FLAG_FILE;
	uint32_t version = (uint32_t)word;
	bool hashes = version >= 4;
	int64_t kind = (int64_t)take_u64(r), a = (int64_t)take_u64(r), b = (int64_t)take_u64(r);
	uint64_t who = take_u64(r);
	int64_t fsec = (int64_t)take_u64(r), fnsec = (int64_t)take_u64(r);
	int64_t msec = (int64_t)take_u64(r), mnsec = (int64_t)take_u64(r);
	int64_t since = (int64_t)take_u64(r);
	uint64_t follows = hashes ? take_u64(r) : 0;
	uint64_t count = take_u64(r);
	if (r->bad || version < OLDEST_VERSION || version > FORMAT_VERSION || kind != key->kind ||
	    a != key->a || b != key->b || who != identity || !valid_time(fsec, fnsec) ||
	    !valid_time(msec, mnsec) || !valid_month(since) || count > MAX_ENTRIES ||
	    (has_file && count))
		return NULL;
	struct snapshot *s;
	bool rowless = false;
	if (has_file) {
		struct blob *f = take_file(r);
		s = f ? snapshot_new_file(f) : NULL;
	} else {
		s = snapshot_new_listing((struct timespec){ msec, mnsec });
		int64_t previous = 0;
		for (uint64_t i = 0; s && i < count; i++) {
			int64_t id = (int64_t)take_u64(r), entry_since = (int64_t)take_u64(r);
			uint64_t item_hash = hashes ? take_u64(r) : 0;
			uint64_t with_file = take_u64(r);
			struct blob *f = with_file == 1 ? take_file(r) : NULL;
			/* Stored sorted and unique, as snapshot_listing_finish left it. */
			bool ok = !r->bad && id > previous && valid_month(entry_since) && with_file <= 1;
			if (!ok)
				blob_unref(f);
			/* A failed add releases f itself. */
			if (!ok || !snapshot_listing_add(s, id, f)) {
				snapshot_unref(s);
				return NULL;
			}
			s->entries[s->count - 1].since = (int32_t)entry_since;
			s->entries[s->count - 1].item_hash = item_hash;
			previous = id;
		}
		if (s && version < FIRST_ACCOUNT_ROWS && s->count && !any_file(s))
			rowless = true;
		if (s && !snapshot_listing_finish(s)) {
			snapshot_unref(s);
			s = NULL;
		}
	}
	/* Everything was read, and the checksum after it is of exactly that. */
	uint64_t sum = r->sum;
	r->end += 8;
	if (s && (r->bad || r->pos != r->end - 8 || take_u64(r) != sum)) {
		snapshot_unref(s);
		return NULL;
	}
	if (s) {
		s->mtime = (struct timespec){ msec, mnsec };
		s->fetched = (struct timespec){ fsec, fnsec };
		s->since = (int32_t)since;
		s->follows = follows;
		s->outdated = version < FIRST_CURRENT_BYTES || rowless;
	}
	return s;
}

/* An entry of len bytes read from memory (mem), else from fd. */
static struct snapshot *read_from(const unsigned char *mem, struct blob_file *file, uint64_t len,
				  const struct obj_key *key, uint64_t identity)
{
	if (len < 16)
		return NULL;
	struct reader *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->mem = mem;
	r->fd = file ? file->fd : -1;
	r->file = file;
	r->end = len - 8;
	struct snapshot *s = read_entry(r, key, identity);
	free(r);
	return s;
}

struct snapshot *disk_entry_decode(const char *bytes, size_t len, const struct obj_key *key,
				   uint64_t identity)
{
	return read_from((const unsigned char *)bytes, NULL, len, key, identity);
}

struct snapshot *disk_entry_read(struct blob_file *file, uint64_t len, const struct obj_key *key,
				 uint64_t identity)
{
	return read_from(NULL, file, len, key, identity);
}
