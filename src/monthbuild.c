/* monthbuild.c - month files built from lines put aside as they arrive. */
#include "monthbuild.h"

#include "htab.h"
#include "months.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Lines a build keeps in memory at most before the rest go to its file:
 * enough for the months of most accounts without touching the disk. */
#define LINES_MEMORY_MAX (4u << 20)
/* Bytes moved at a time into a month's file. */
#define CHUNK (64u << 10)
/* The part of a date that orders lines: "YYYY-MM-DD HH:MM:SS". */
#define DATE_KEPT 19

/* One transaction: where its line is, and what orders it. */
struct line {
	int32_t month;
	uint32_t len;
	int64_t id;
	int64_t page;
	uint64_t seq;
	uint64_t off;          /* in memory, or (in_file) in the build's file */
	char date[DATE_KEPT + 1];
	bool in_file;
};

struct month_build {
	struct month_room *room;
	int32_t from, to;
	pthread_mutex_t lock;
	struct line *lines;
	size_t count, capacity;
	size_t held;           /* memory charged to the room */
	char *mem;             /* the first lines */
	size_t mem_len, mem_cap;
	int fd;                /* the rest: -1 until needed */
	uint64_t file_len;
	uint64_t bytes;        /* of every line added */
	uint64_t next_seq;
};

void month_room_init(struct month_room *room, size_t max_bytes, int spill_dir)
{
	atomic_init(&room->used, 0);
	room->max = max_bytes;
	room->spill_dir = spill_dir;
}

int month_spill_file(int dir)
{
	if (dir < 0) {
		errno = ENOENT;
		return -1;
	}
	int fd = openat(dir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	/* A file system without O_TMPFILE: a name of our own, gone at once. */
	static atomic_uint counter;
	char name[64];
	for (int tries = 0; tries < 100; tries++) {
		snprintf(name, sizeof(name), ".spill-%ld-%u", (long)getpid(),
			 atomic_fetch_add(&counter, 1));
		fd = openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			unlinkat(dir, name, 0);
			return fd;
		}
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* Takes n more bytes of the room's memory for b: false when it has none. */
static bool reserve(struct month_build *b, size_t n)
{
	size_t used = atomic_load(&b->room->used);
	do {
		if (n > b->room->max || used > b->room->max - n)
			return false;
	} while (!atomic_compare_exchange_weak(&b->room->used, &used, used + n));
	b->held += n;
	return true;
}

static void release_all(struct month_build *b)
{
	atomic_fetch_sub(&b->room->used, b->held);
	b->held = 0;
}

struct month_build *month_build_new(struct month_room *room, int32_t from, int32_t to)
{
	struct month_build *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->room = room;
	b->from = from;
	b->to = to;
	b->fd = -1;
	pthread_mutex_init(&b->lock, NULL);
	return b;
}

void month_build_reset(struct month_build *b)
{
	pthread_mutex_lock(&b->lock);
	free(b->lines);
	free(b->mem);
	if (b->fd >= 0)
		close(b->fd);
	b->lines = NULL;
	b->mem = NULL;
	b->count = b->capacity = b->mem_len = b->mem_cap = 0;
	b->fd = -1;
	b->file_len = b->bytes = b->next_seq = 0;
	release_all(b);
	pthread_mutex_unlock(&b->lock);
}

void month_build_free(struct month_build *b)
{
	if (!b)
		return;
	month_build_reset(b);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* Room for one more record: the room's memory, or EFBIG. */
static int grow_lines(struct month_build *b)
{
	if (b->count < b->capacity)
		return 0;
	size_t cap = b->capacity ? b->capacity * 2 : 256;
	if (!reserve(b, (cap - b->capacity) * sizeof(*b->lines)))
		return EFBIG;
	struct line *p = realloc(b->lines, cap * sizeof(*p));
	if (!p)
		return ENOMEM;
	b->lines = p;
	b->capacity = cap;
	return 0;
}

/* Puts a line aside: in memory while the build and the room allow, else
 * at the end of the build's file.  *in_file and *off say where. */
static int put_line(struct month_build *b, const char *line, size_t len, bool *in_file,
		    uint64_t *off)
{
	if (b->fd < 0 && b->mem_len + len > b->mem_cap) {
		size_t cap = b->mem_cap ? b->mem_cap * 2 : CHUNK;
		while (cap < b->mem_len + len)
			cap *= 2;
		/* Past LINES_MEMORY_MAX the rest goes to a file when there is a
		 * folder for one; without, memory while the room allows. */
		bool to_file = cap > LINES_MEMORY_MAX && b->room->spill_dir >= 0;
		char *p = NULL;
		if (!to_file && reserve(b, cap - b->mem_cap) && (p = realloc(b->mem, cap))) {
			b->mem = p;
			b->mem_cap = cap;
		} else if ((b->fd = month_spill_file(b->room->spill_dir)) < 0) {
			return EFBIG; /* memory is spent, and no disk takes the rest */
		}
	}
	if (b->fd < 0) {
		memcpy(b->mem + b->mem_len, line, len);
		*in_file = false;
		*off = b->mem_len;
		b->mem_len += len;
		return 0;
	}
	for (size_t done = 0; done < len;) {
		ssize_t n = pwrite(b->fd, line + done, len - done, (off_t)(b->file_len + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 && errno != ENOSPC && errno != EDQUOT ? errno : EFBIG;
		done += (size_t)n;
	}
	*in_file = true;
	*off = b->file_len;
	b->file_len += len;
	return 0;
}

int month_build_add(struct month_build *b, int32_t month, const char *date, int64_t id,
		    int64_t page, const char *line, size_t len)
{
	if (len > UINT32_MAX)
		return EFBIG;
	pthread_mutex_lock(&b->lock);
	int rc = grow_lines(b);
	struct line *l = rc ? NULL : &b->lines[b->count];
	if (l)
		rc = put_line(b, line, len, &l->in_file, &l->off);
	if (!rc) {
		l->month = month;
		l->len = (uint32_t)len;
		l->id = id;
		l->page = page;
		l->seq = b->next_seq++;
		snprintf(l->date, sizeof(l->date), "%s", date);
		b->count++;
		b->bytes += len;
	}
	pthread_mutex_unlock(&b->lock);
	return rc;
}

size_t month_build_count(struct month_build *b)
{
	pthread_mutex_lock(&b->lock);
	size_t n = b->count;
	pthread_mutex_unlock(&b->lock);
	return n;
}

uint64_t month_build_bytes(struct month_build *b)
{
	pthread_mutex_lock(&b->lock);
	uint64_t n = b->bytes;
	pthread_mutex_unlock(&b->lock);
	return n;
}

static int by_month_id_arrival(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	if (x->month != y->month)
		return x->month < y->month ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int by_date_id(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	int c = strcmp(x->date, y->date); /* the month leads the date */
	return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* Keeps the first of each id in each month, then orders by date and id
 * (O(n log n): a month may hold hundreds of thousands). */
static void order_lines(struct month_build *b)
{
	if (!b->count)
		return;
	qsort(b->lines, b->count, sizeof(*b->lines), by_month_id_arrival);
	size_t kept = 0;
	for (size_t i = 0; i < b->count; i++) {
		struct line *last = kept ? &b->lines[kept - 1] : NULL;
		if (!last || last->month != b->lines[i].month || last->id != b->lines[i].id)
			b->lines[kept++] = b->lines[i];
	}
	b->count = kept;
	qsort(b->lines, b->count, sizeof(*b->lines), by_date_id);
}

/* The line's bytes into out (room for l->len). */
static int read_line(struct month_build *b, const struct line *l, char *out)
{
	if (!l->in_file) {
		memcpy(out, b->mem + l->off, l->len);
		return 0;
	}
	for (size_t done = 0; done < l->len;) {
		ssize_t n = pread(b->fd, out + done, l->len - done, (off_t)(l->off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		done += (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const char *bytes, size_t len, uint64_t at)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = pwrite(fd, bytes + done, len - done, (off_t)(at + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 && errno != ENOSPC && errno != EDQUOT ? errno : EFBIG;
		done += (size_t)n;
	}
	return 0;
}

/* The month of lines[from..to) (total bytes) as one blob. */
static int assemble(struct month_build *b, size_t from, size_t to, uint64_t total,
		    struct timespec now, struct blob **out)
{
	int rc = 0;
	bool to_file = total > BLOB_MEMORY_MAX;
	int fd = to_file ? month_spill_file(b->room->spill_dir) : -1;
	if (to_file && fd < 0) {
		/* No disk for it: in memory if the room could hold it at all. */
		if (total > b->room->max)
			return EFBIG;
		to_file = false;
	}
	char *buf = malloc(to_file ? CHUNK : (size_t)total + 1);
	if (!buf) {
		if (fd >= 0)
			close(fd);
		return ENOMEM;
	}
	size_t used = 0;
	uint64_t written = 0, hash = HASH_BYTES_START;
	for (size_t i = from; i < to && !rc; i++) {
		const struct line *l = &b->lines[i];
		if (to_file && used + l->len > CHUNK) {
			rc = write_all(fd, buf, used, written);
			hash = hash_bytes_more(hash, buf, used);
			written += used;
			used = 0;
		}
		if (!rc && to_file && l->len > CHUNK) { /* a line longer than a chunk */
			char *big = malloc(l->len);
			rc = !big ? ENOMEM : read_line(b, l, big);
			if (!rc)
				rc = write_all(fd, big, l->len, written);
			if (!rc) {
				hash = hash_bytes_more(hash, big, l->len);
				written += l->len;
			}
			free(big);
			continue;
		}
		if (!rc)
			rc = read_line(b, l, buf + used);
		used += l->len;
	}
	if (!rc && to_file && used) {
		rc = write_all(fd, buf, used, written);
		hash = hash_bytes_more(hash, buf, used);
		written += used;
	}
	if (!rc && to_file) {
		struct blob_file *file = blob_file_adopt(fd);
		fd = -1;
		*out = file ? blob_new_in_file(file, 0, (size_t)written, hash, now) : NULL;
		blob_file_unref(file);
	} else if (!rc) {
		*out = blob_new(buf, (size_t)total, now);
	}
	if (!rc && !*out)
		rc = ENOMEM;
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

int month_build_finish(struct month_build *b, struct timespec now, struct blob **months)
{
	pthread_mutex_lock(&b->lock);
	order_lines(b);
	int32_t n = 0;
	for (int32_t m = b->from; m <= b->to; m = month_add(m, 1))
		months[n++] = NULL;
	int rc = 0;
	size_t i = 0;
	n = 0;
	for (int32_t m = b->from; m <= b->to && !rc; m = month_add(m, 1), n++) {
		while (i < b->count && b->lines[i].month < m)
			i++; /* none should be: the caller keeps from..to */
		size_t start = i;
		uint64_t total = 0;
		for (; i < b->count && b->lines[i].month == m; i++)
			total += b->lines[i].len;
		rc = assemble(b, start, i, total, now, &months[n]);
	}
	if (rc)
		for (int32_t k = 0; k < n; k++) {
			blob_unref(months[k]);
			months[k] = NULL;
		}
	pthread_mutex_unlock(&b->lock);
	return rc;
}
