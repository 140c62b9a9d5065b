/* diskformat.c - cache entries as bytes.
 *
 * Layout, all integers little-endian:
 *   "SEPAYFS\n" magic, u32 format version, u32 flags (1: a file object),
 *   i64 kind, i64 a, i64 b, u64 identity,
 *   i64 fetched s, i64 fetched ns, i64 mtime s, i64 mtime ns, i64 since, u64 count,
 *   [a file object: its file]
 *   count x (i64 id, i64 since, u64 has file, [its file]),
 *   u64 checksum of everything before it.
 * A file is u64 hash, u64 length, i64 mtime s, i64 mtime ns, then its bytes. */
#include "diskformat.h"

#include "htab.h"
#include "strbuf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "SEPAYFS\n"
/* 3: numbers as the API wrote them (numtext.h).  An entry of 2 has the
 * same layout and its version records are good, but its files' bytes may
 * be what this version no longer renders (2705000.0 for 2705000.00): it
 * is read as outdated, never fresh, so the next look fetches again and
 * unchanged files keep their mtime and inode. */
#define FORMAT_VERSION 3u
#define OLDEST_VERSION 2u
#define FLAG_FILE 1u
/* No object has more listed entries than this (a million accounts). */
#define MAX_ENTRIES 1000000u

static void put_u64(struct strbuf *sb, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	strbuf_append(sb, (const char *)b, 8);
}

static void put_file(struct strbuf *sb, const struct blob *f)
{
	put_u64(sb, f->v.hash);
	put_u64(sb, f->v.len);
	put_u64(sb, (uint64_t)f->v.mtime.tv_sec);
	put_u64(sb, (uint64_t)f->v.mtime.tv_nsec);
	strbuf_append(sb, f->bytes, f->v.len);
}

char *disk_entry_encode(const struct obj_key *key, uint64_t identity, const struct snapshot *s,
			size_t *len)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	strbuf_append(&sb, MAGIC, 8);
	put_u64(&sb, FORMAT_VERSION | (uint64_t)(s->file ? FLAG_FILE : 0) << 32);
	put_u64(&sb, (uint64_t)key->kind);
	put_u64(&sb, (uint64_t)key->a);
	put_u64(&sb, (uint64_t)key->b);
	put_u64(&sb, identity);
	put_u64(&sb, (uint64_t)s->fetched.tv_sec);
	put_u64(&sb, (uint64_t)s->fetched.tv_nsec);
	put_u64(&sb, (uint64_t)s->mtime.tv_sec);
	put_u64(&sb, (uint64_t)s->mtime.tv_nsec);
	put_u64(&sb, (uint64_t)(int64_t)s->since);
	put_u64(&sb, s->count);
	if (s->file)
		put_file(&sb, s->file);
	for (size_t i = 0; i < s->count; i++) {
		const struct listing_entry *e = &s->entries[i];
		put_u64(&sb, (uint64_t)e->id);
		put_u64(&sb, (uint64_t)(int64_t)e->since);
		put_u64(&sb, e->file != NULL);
		if (e->file)
			put_file(&sb, e->file);
	}
	if (strbuf_failed(&sb)) {
		strbuf_release(&sb);
		return NULL;
	}
	put_u64(&sb, hash_bytes(sb.data, sb.len));
	return strbuf_take(&sb, len);
}

/* A bounded reader: every take checks what is left. */
struct reader {
	const unsigned char *p;
	size_t left;
	bool bad;
};

static uint64_t take_u64(struct reader *r)
{
	if (r->bad || r->left < 8) {
		r->bad = true;
		return 0;
	}
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	r->left -= 8;
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

static struct blob *take_file(struct reader *r)
{
	uint64_t hash = take_u64(r), len = take_u64(r);
	int64_t sec = (int64_t)take_u64(r), nsec = (int64_t)take_u64(r);
	if (r->bad || len > r->left || !valid_time(sec, nsec)) {
		r->bad = true;
		return NULL;
	}
	struct blob *b = blob_new((const char *)r->p, len, (struct timespec){ sec, nsec });
	r->p += len;
	r->left -= len;
	/* The bytes must be the ones the version record names. */
	if (b && b->v.hash != hash) {
		blob_unref(b);
		b = NULL;
	}
	if (!b)
		r->bad = true;
	return b;
}

struct snapshot *disk_entry_decode(const char *bytes, size_t len, const struct obj_key *key,
				   uint64_t identity)
{
	if (len < 8 + 8 || memcmp(bytes, MAGIC, 8) != 0)
		return NULL;
	struct reader sum = { (const unsigned char *)bytes + len - 8, 8, false };
	if (take_u64(&sum) != hash_bytes(bytes, len - 8))
		return NULL;
	struct reader r = { (const unsigned char *)bytes + 8, len - 16, false };
	uint64_t word = take_u64(&r);
	bool has_file = (word >> 32) & FLAG_FILE;
	int64_t kind = (int64_t)take_u64(&r), a = (int64_t)take_u64(&r), b = (int64_t)take_u64(&r);
	uint64_t who = take_u64(&r);
	int64_t fsec = (int64_t)take_u64(&r), fnsec = (int64_t)take_u64(&r);
	int64_t msec = (int64_t)take_u64(&r), mnsec = (int64_t)take_u64(&r);
	int64_t since = (int64_t)take_u64(&r);
	uint64_t count = take_u64(&r);
	uint32_t version = (uint32_t)word;
	if (r.bad || version < OLDEST_VERSION || version > FORMAT_VERSION || kind != key->kind ||
	    a != key->a || b != key->b || who != identity || !valid_time(fsec, fnsec) ||
	    !valid_time(msec, mnsec) || !valid_month(since) || count > MAX_ENTRIES ||
	    (has_file && count))
		return NULL;
	struct snapshot *s;
	if (has_file) {
		struct blob *f = take_file(&r);
		s = f ? snapshot_new_file(f) : NULL;
	} else {
		s = snapshot_new_listing((struct timespec){ msec, mnsec });
		int64_t previous = 0;
		for (uint64_t i = 0; s && i < count; i++) {
			int64_t id = (int64_t)take_u64(&r), entry_since = (int64_t)take_u64(&r);
			uint64_t with_file = take_u64(&r);
			struct blob *f = with_file == 1 ? take_file(&r) : NULL;
			/* Stored sorted and unique, as snapshot_listing_finish left it. */
			bool ok = !r.bad && id > previous && valid_month(entry_since) && with_file <= 1;
			if (!ok)
				blob_unref(f);
			/* A failed add releases f itself. */
			if (!ok || !snapshot_listing_add(s, id, f)) {
				snapshot_unref(s);
				return NULL;
			}
			s->entries[s->count - 1].since = (int32_t)entry_since;
			previous = id;
		}
		if (s && !snapshot_listing_finish(s)) {
			snapshot_unref(s);
			s = NULL;
		}
	}
	if (s && (r.bad || r.left != 0)) {
		snapshot_unref(s);
		return NULL;
	}
	if (s) {
		s->mtime = (struct timespec){ msec, mnsec };
		s->fetched = (struct timespec){ fsec, fnsec };
		s->since = (int32_t)since;
		s->outdated = version < FORMAT_VERSION;
	}
	return s;
}
