/* snapshot.c - immutable reference-counted API results. */
#include "snapshot.h"

#include "htab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct blob *blob_new(const char *bytes, size_t len, struct timespec mtime)
{
	struct blob *b = malloc(sizeof(*b) + len + 1);
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->v.hash = hash_bytes(bytes, len);
	b->v.len = len;
	b->v.mtime = mtime;
	b->file = NULL;
	b->offset = 0;
	memcpy(b->bytes, bytes, len);
	b->bytes[len] = '\0';
	return b;
}

struct blob *blob_new_in_file(struct blob_file *file, uint64_t offset, size_t len, uint64_t hash,
			      struct timespec mtime)
{
	struct blob *b = malloc(sizeof(*b) + 1);
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->v.hash = hash;
	b->v.len = len;
	b->v.mtime = mtime;
	b->file = blob_file_ref(file);
	b->offset = offset;
	b->bytes[0] = '\0';
	return b;
}

struct blob *blob_ref(struct blob *b)
{
	atomic_fetch_add(&b->refs, 1);
	return b;
}

void blob_unref(struct blob *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
		blob_file_unref(b->file);
		free(b);
	}
}

ssize_t blob_read(const struct blob *b, void *buf, size_t size, uint64_t off)
{
	if (off >= b->v.len)
		return 0;
	if (size > b->v.len - off)
		size = (size_t)(b->v.len - off);
	if (!b->file) {
		memcpy(buf, b->bytes + off, size);
		return (ssize_t)size;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t n = pread(b->file->fd, (char *)buf + got, size - got,
				  (off_t)(b->offset + off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) { /* the file is shorter than the blob: not ours to serve */
			errno = EIO;
			return -1;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

size_t blob_memory(const struct blob *b)
{
	return sizeof(*b) + (b->file ? 1 : b->v.len + 1);
}

struct blob_file *blob_file_adopt(int fd)
{
	struct blob_file *f = malloc(sizeof(*f));
	if (!f) {
		close(fd);
		return NULL;
	}
	atomic_init(&f->refs, 1);
	f->fd = fd;
	return f;
}

struct blob_file *blob_file_ref(struct blob_file *f)
{
	if (f)
		atomic_fetch_add(&f->refs, 1);
	return f;
}

void blob_file_unref(struct blob_file *f)
{
	if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
		close(f->fd);
		free(f);
	}
}

struct snapshot *snapshot_new_file(struct blob *file)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	if (!s) {
		blob_unref(file);
		return NULL;
	}
	atomic_init(&s->refs, 1);
	s->file = file;
	if (file)
		s->mtime = file->v.mtime;
	return s;
}

struct snapshot *snapshot_new_listing(struct timespec mtime)
{
	struct snapshot *s = snapshot_new_file(NULL);
	if (s)
		s->mtime = mtime;
	return s;
}

bool snapshot_listing_add(struct snapshot *s, int64_t id, struct blob *file)
{
	if (s->count == s->capacity) {
		size_t cap = s->capacity ? s->capacity * 2 : 16;
		struct listing_entry *e = realloc(s->entries, cap * sizeof(*e));
		if (!e) {
			blob_unref(file);
			return false;
		}
		s->entries = e;
		s->capacity = cap;
	}
	s->entries[s->count].id = id;
	s->entries[s->count].file = file;
	s->entries[s->count].since = 0;
	s->entries[s->count].item_hash = 0;
	s->count++;
	return true;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct listing_entry *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

/* Sort key that remembers arrival order, so that of repeated ids the first
 * one seen is kept whatever order qsort leaves equal ids in. */
struct arrival {
	int64_t id;
	size_t index;
};

static int arrival_cmp(const void *a, const void *b)
{
	const struct arrival *x = a, *y = b;
	if (x->id != y->id)
		return (x->id > y->id) - (x->id < y->id);
	return (x->index > y->index) - (x->index < y->index);
}

bool snapshot_listing_finish(struct snapshot *s)
{
	bool sorted = true;
	for (size_t i = 1; i < s->count && sorted; i++)
		sorted = s->entries[i - 1].id < s->entries[i].id;
	if (sorted)
		return true; /* the usual case: the API lists in id order */

	struct arrival *order = malloc(s->count * sizeof(*order));
	struct listing_entry *out = malloc(s->count * sizeof(*out));
	if (!order || !out) {
		free(order);
		free(out);
		return false;
	}
	for (size_t i = 0; i < s->count; i++)
		order[i] = (struct arrival){ s->entries[i].id, i };
	qsort(order, s->count, sizeof(*order), arrival_cmp);
	size_t kept = 0;
	for (size_t i = 0; i < s->count; i++) {
		struct listing_entry *e = &s->entries[order[i].index];
		if (kept && out[kept - 1].id == e->id)
			blob_unref(e->file);
		else
			out[kept++] = *e;
	}
	free(order);
	free(s->entries);
	s->entries = out;
	s->count = kept;
	s->capacity = s->count;
	return true;
}

const struct listing_entry *snapshot_find(const struct snapshot *s, int64_t id)
{
	struct listing_entry key = { .id = id };
	if (!s->count)
		return NULL;
	return bsearch(&key, s->entries, s->count, sizeof(key), entry_cmp);
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

void snapshot_unref(struct snapshot *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	blob_unref(s->file);
	for (size_t i = 0; i < s->count; i++)
		blob_unref(s->entries[i].file);
	free(s->entries);
	free(s);
}

static uint64_t ids_hash(const struct snapshot *s)
{
	uint64_t h = 0;
	for (size_t i = 0; i < s->count; i++)
		h = hash_mix(h ^ (uint64_t)s->entries[i].id);
	return h;
}

struct snapshot_versions *snapshot_versions_of(const struct snapshot *s)
{
	size_t files = 0;
	for (size_t i = 0; i < s->count; i++)
		files += s->entries[i].file != NULL;
	struct snapshot_versions *v = calloc(1, sizeof(*v) + files * sizeof(v->entries[0]));
	if (!v)
		return NULL;
	v->mtime = s->mtime;
	v->ids_hash = ids_hash(s);
	v->ids_count = s->count;
	if (s->file) {
		v->has_file = true;
		v->file = s->file->v;
	}
	for (size_t i = 0; i < s->count; i++)
		if (s->entries[i].file)
			v->entries[v->count++] = (struct entry_version){ s->entries[i].id,
									 s->entries[i].file->v };
	return v;
}

size_t snapshot_versions_size(const struct snapshot_versions *v)
{
	return sizeof(*v) + v->count * sizeof(v->entries[0]);
}

static int entry_version_cmp(const void *key, const void *elem)
{
	int64_t id = *(const int64_t *)key, other = ((const struct entry_version *)elem)->id;
	return (id > other) - (id < other);
}

static void keep_mtime(struct blob *fresh, const struct version *older)
{
	if (version_same_bytes(&fresh->v, older))
		fresh->v.mtime = older->mtime;
}

void snapshot_carry_over(struct snapshot *fresh, const struct snapshot_versions *older)
{
	if (!older)
		return;
	if (fresh->file) {
		if (older->has_file)
			keep_mtime(fresh->file, &older->file);
		fresh->mtime = fresh->file->v.mtime;
		return;
	}
	for (size_t i = 0; i < fresh->count; i++) {
		struct listing_entry *e = &fresh->entries[i];
		const struct entry_version *old =
			e->file ? bsearch(&e->id, older->entries, older->count,
					  sizeof(older->entries[0]), entry_version_cmp)
				: NULL;
		if (old)
			keep_mtime(e->file, &old->v);
	}
	if (fresh->count == older->ids_count && ids_hash(fresh) == older->ids_hash)
		fresh->mtime = older->mtime;
}

size_t snapshot_size(const struct snapshot *s)
{
	size_t n = sizeof(*s) + s->count * sizeof(*s->entries);
	if (s->file)
		n += blob_memory(s->file);
	for (size_t i = 0; i < s->count; i++)
		if (s->entries[i].file)
			n += blob_memory(s->entries[i].file);
	return n;
}

size_t snapshot_file_bytes(const struct snapshot *s)
{
	size_t n = s->file && s->file->file ? s->file->v.len : 0;
	for (size_t i = 0; i < s->count; i++)
		if (s->entries[i].file && s->entries[i].file->file)
			n += s->entries[i].file->v.len;
	return n;
}
