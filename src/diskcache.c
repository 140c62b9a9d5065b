/* diskcache.c - cache entries as files in a private folder. */
#include "diskcache.h"

#include "clock.h"
#include "diskformat.h"
#include "htab.h"
#include "log.h"
#include "safedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* An entry file larger than this is not one of ours: a month of a busy
 * account is some hundreds of MiB at most (an entry is read a piece at a
 * time, so the bound is on the time a load takes, not on memory). */
#define MAX_ENTRY_BYTES (4ull << 30)
/* Trimming goes below the budget by this much, so a full cache is not
 * trimmed again after every store. */
#define TRIM_TO_PERCENT 90
/* A mount counts the whole folder again after storing this fraction of
 * the budget: other mounts sharing the folder store too, and only a count
 * sees what they added. */
#define RECOUNT_FRACTION 8
/* A trim finds the entries used least recently this many at a time, so
 * its memory stays small however many entries there are... */
#define OLDEST_PER_PASS 4096
/* ...and reads the folder at most this many times (a quarter of a million
 * entries removed); the next store goes on where it stopped. */
#define MAX_TRIM_PASSES 64
/* A temporary file this old is a writer's that died (kill -9). */
#define STALE_TMP_S 3600
/* An identity folder's name: the identity's 64-bit hash in hex. */
#define IDENTITY_NAME_LEN 16
/* "kind-a-b": two 64-bit ids and a kind fit; a longer name is not ours. */
#define ENTRY_NAME_MAX 48
/* born and expired hold one number. */
#define NUMBER_FILE_MAX 32
/* Times the identity folder may vanish (another mount removing it as
 * unused) between opening it and locking it, before giving up. */
#define OPEN_ATTEMPTS 3
/* A default budget takes at most this fraction of what the cache could
 * have on its file system: the space free to users plus what the cache
 * folder already takes.  Free space rather than the file system's size
 * (journald's SystemMaxUse= is 10% of the size): a share of the size
 * fills a disk that other files already fill, which is why journald needs
 * a second bound, SystemKeepFree=; a share of what is free cannot.  The
 * cache's own files count as free, or a cache that grew to its budget
 * would find less room at each mount and shrink, to be fetched again.  A
 * quarter leaves three quarters of that room to everything else on the
 * disk, which grows too, and still holds months of a busy account on a
 * home folder with a few GiB free. */
#define ROOM_SHARE 4

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

struct disk_cache {
	int root_fd;          /* the cache folder, opened once from / */
	int dir_fd;           /* this identity's folder, under a shared flock() */
	char name[IDENTITY_NAME_LEN + 1];
	char *root;           /* the cache folder's path, for messages only */
	char *dir;            /* the identity folder's, for messages only */
	uint64_t identity;
	uint64_t max_bytes;
	time_t born;
	_Atomic uint64_t expired_ms;
	pthread_mutex_t lock;    /* bytes, written, trimming */
	uint64_t bytes;          /* the folder's files take, as far as this mount knows */
	uint64_t written;        /* stored since the last count */
	atomic_uint tmp_counter;
	atomic_bool write_failed; /* logged once */
};

/* The disk a file takes, not its length: a 300-byte entry takes a block. */
static uint64_t allocated(const struct stat *st)
{
	return (uint64_t)st->st_blocks * 512;
}

static void entry_name(const struct obj_key *key, char *buf, size_t size)
{
	snprintf(buf, size, "%d-%lld-%lld", key->kind, (long long)key->a, (long long)key->b);
}

static bool is_entry_name(const char *name)
{
	size_t n = strspn(name, "0123456789-");
	return name[0] >= '0' && name[0] <= '9' && name[n] == '\0' && n < ENTRY_NAME_MAX;
}

static bool is_tmp_name(const char *name)
{
	return strncmp(name, ".tmp-", 5) == 0;
}

static bool is_identity_name(const char *name)
{
	return strspn(name, "0123456789abcdef") == IDENTITY_NAME_LEN && !name[IDENTITY_NAME_LEN];
}

static void temp_name(struct disk_cache *d, char *buf, size_t size)
{
	snprintf(buf, size, ".tmp-%ld-%u", (long)getpid(), atomic_fetch_add(&d->tmp_counter, 1));
}

/* A listing of the folder fd is, with an offset of its own. */
static DIR *open_listing(int fd)
{
	int own = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = own >= 0 ? fdopendir(own) : NULL;
	if (!dir && own >= 0)
		close(own);
	return dir;
}

static bool is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* A folder we may keep bank data in: ours, and nobody else's to enter. */
static bool private_folder(int fd, const char *path, enum disk_cache_failure *failure, char *why,
			   size_t size)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(why, size, "cannot use cache folder %s: %s", path, strerror(errno));
		return false;
	}
	*failure = DISK_CACHE_NOT_PRIVATE;
	if (st.st_uid != geteuid()) {
		snprintf(why, size, "cache folder %s belongs to uid %u, not to you", path,
			 (unsigned)st.st_uid);
		return false;
	}
	if (st.st_mode & 077) {
		snprintf(why, size, "cache folder %s is mode %03o: others could read bank data "
			 "there; chmod 700 it, or choose another with -o cache_dir", path,
			 (unsigned)(st.st_mode & 0777));
		return false;
	}
	*failure = DISK_CACHE_OFF;
	return true;
}

static bool write_all(int fd, const char *bytes, size_t len)
{
	while (len) {
		ssize_t n = write(fd, bytes, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return false;
		}
		bytes += n;
		len -= (size_t)n;
	}
	return true;
}

/* Puts a small file in place so that a power cut leaves it whole or
 * absent: a private temporary file, synced, renamed into place, the folder
 * synced.  With keep_existing a file already there stays, and EEXIST says
 * so.  0 or an errno. */
static int write_durably(struct disk_cache *d, const char *name, const char *text, size_t len,
			 bool keep_existing)
{
	char tmp[64];
	temp_name(d, tmp, sizeof(tmp));
	int fd = openat(d->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	int rc = write_all(fd, text, len) && fsync(fd) == 0 ? 0 : errno;
	if (close(fd) != 0 && !rc)
		rc = errno;
	if (!rc && renameat2(d->dir_fd, tmp, d->dir_fd, name,
			     keep_existing ? RENAME_NOREPLACE : 0) != 0) {
		rc = errno;
		/* A file system without RENAME_NOREPLACE: the last writer wins. */
		if (rc == EINVAL && keep_existing)
			rc = renameat(d->dir_fd, tmp, d->dir_fd, name) == 0 ? 0 : errno;
	}
	if (rc) {
		unlinkat(d->dir_fd, tmp, 0);
		return rc;
	}
	return fsync(d->dir_fd) == 0 ? 0 : errno;
}

/* A small file of ours holding one positive decimal number (born,
 * expired): 0 and *value; ENOENT when absent; another errno when it cannot
 * be read or is not such a number. */
static int read_number(int dir_fd, const char *name, uint64_t *value)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno;
	char text[NUMBER_FILE_MAX];
	struct stat st;
	ssize_t n = -1;
	int rc = 0;
	if (fstat(fd, &st) != 0)
		rc = errno;
	else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
		rc = EINVAL;
	else if ((n = read(fd, text, sizeof(text) - 1)) < 0)
		rc = errno;
	close(fd);
	if (rc)
		return rc;
	text[n] = '\0';
	size_t digits = strspn(text, "0123456789");
	if (digits == 0 || digits > 18 || (text[digits] && strcmp(text + digits, "\n") != 0))
		return EINVAL;
	*value = strtoull(text, NULL, 10);
	return *value ? 0 : EINVAL;
}

/* The heap of the entries used least recently found so far, OLDEST_PER_PASS
 * at most: a max-heap by time of use, so the newest of them is the one a
 * still older entry replaces. */
struct candidate {
	struct timespec used;
	uint64_t bytes;
	char folder[IDENTITY_NAME_LEN + 1];
	char name[ENTRY_NAME_MAX];
};

struct oldest {
	struct candidate *c;
	size_t n;
};

static int compare_use(const struct timespec *x, const struct timespec *y)
{
	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? -1 : 1;
	return (x->tv_nsec > y->tv_nsec) - (x->tv_nsec < y->tv_nsec);
}

static int older_first(const void *a, const void *b)
{
	return compare_use(&((const struct candidate *)a)->used, &((const struct candidate *)b)->used);
}

static void heap_swap(struct candidate *c, size_t i, size_t j)
{
	struct candidate t = c[i];
	c[i] = c[j];
	c[j] = t;
}

static void oldest_offer(struct oldest *o, const struct candidate *x)
{
	struct candidate *c = o->c;
	if (o->n < OLDEST_PER_PASS) {
		size_t i = o->n++;
		c[i] = *x;
		while (i > 0 && compare_use(&c[(i - 1) / 2].used, &c[i].used) < 0) {
			heap_swap(c, i, (i - 1) / 2);
			i = (i - 1) / 2;
		}
		return;
	}
	if (compare_use(&x->used, &c[0].used) >= 0)
		return;
	c[0] = *x;
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, top = i;
		if (l < o->n && compare_use(&c[l].used, &c[top].used) > 0)
			top = l;
		if (r < o->n && compare_use(&c[r].used, &c[top].used) > 0)
			top = r;
		if (top == i)
			break;
		heap_swap(c, i, top);
		i = top;
	}
}

/* What the files in one identity folder take, with dead temporary files
 * cleared; its entries offered to oldest (may be NULL). */
static uint64_t survey_folder(int fd, const char *folder, struct oldest *oldest, int64_t now)
{
	struct stat st;
	uint64_t total = 0;
	DIR *dir = open_listing(fd);
	struct dirent *de;
	while (dir && (de = readdir(dir))) {
		if (is_dot(de->d_name) || fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    S_ISDIR(st.st_mode))
			continue;
		if (is_tmp_name(de->d_name) && S_ISREG(st.st_mode) &&
		    now - st.st_mtime > STALE_TMP_S && unlinkat(fd, de->d_name, 0) == 0)
			continue;
		total += allocated(&st);
		if (oldest && S_ISREG(st.st_mode) && is_entry_name(de->d_name)) {
			struct candidate c = { .used = st.st_mtim, .bytes = allocated(&st) };
			memcpy(c.folder, folder, sizeof(c.folder));
			memcpy(c.name, de->d_name, strlen(de->d_name) + 1); /* is_entry_name: fits */
			oldest_offer(oldest, &c);
		}
	}
	if (dir)
		closedir(dir);
	return total;
}

/* What the files in the whole cache folder take, every identity folder's.
 * Not the folders' own blocks: they do not shrink when files go, so no
 * trim could win them back, and one grown by a larger budget before would
 * have every entry trimmed, store after store. */
static uint64_t survey(struct disk_cache *d, struct oldest *oldest)
{
	uint64_t total = 0;
	int64_t now = clock_wall_s();
	DIR *root = open_listing(d->root_fd);
	struct dirent *de;
	while (root && (de = readdir(root))) {
		if (!is_identity_name(de->d_name))
			continue;
		int fd = openat(d->root_fd, de->d_name, DIR_FLAGS);
		if (fd >= 0) {
			total += survey_folder(fd, de->d_name, oldest, now);
			close(fd);
		}
	}
	if (root)
		closedir(root);
	return total;
}

/* Removes a candidate unless it was used since the survey saw it; true
 * when it went.  *open_fd keeps the folder last opened (named open_name)
 * across calls. */
static bool remove_candidate(struct disk_cache *d, const struct candidate *c, int *open_fd,
			     char *open_name)
{
	int fd = d->dir_fd;
	if (strcmp(c->folder, d->name) != 0) {
		if (strcmp(c->folder, open_name) != 0) {
			if (*open_fd >= 0)
				close(*open_fd);
			*open_fd = openat(d->root_fd, c->folder, DIR_FLAGS);
			memcpy(open_name, c->folder, IDENTITY_NAME_LEN + 1);
		}
		fd = *open_fd;
	}
	struct stat st;
	return fd >= 0 && fstatat(fd, c->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode) && compare_use(&st.st_mtim, &c->used) <= 0 &&
	       unlinkat(fd, c->name, 0) == 0;
}

/* Counts the whole folder and, over the budget, removes the entries used
 * least recently, every identity's, until it takes TRIM_TO_PERCENT of it.
 * With d->lock held. */
static void recount_and_trim(struct disk_cache *d)
{
	struct oldest oldest = { NULL, 0 };
	if (d->max_bytes)
		oldest.c = malloc(OLDEST_PER_PASS * sizeof(*oldest.c));
	uint64_t total = survey(d, oldest.c ? &oldest : NULL);
	uint64_t target = d->max_bytes / 100 * TRIM_TO_PERCENT;
	int open_fd = -1;
	char open_name[IDENTITY_NAME_LEN + 1] = "";
	bool over = oldest.c && total > d->max_bytes;
	for (int pass = 0; over && total > target && pass < MAX_TRIM_PASSES; pass++) {
		if (pass > 0) { /* more to go than one pass held: count again */
			oldest.n = 0;
			total = survey(d, &oldest);
		}
		qsort(oldest.c, oldest.n, sizeof(*oldest.c), older_first);
		size_t removed = 0;
		for (size_t i = 0; i < oldest.n && total > target; i++) {
			if (remove_candidate(d, &oldest.c[i], &open_fd, open_name)) {
				total -= total > oldest.c[i].bytes ? oldest.c[i].bytes : total;
				removed++;
			}
		}
		if (removed == 0)
			break;
	}
	if (open_fd >= 0)
		close(open_fd);
	free(oldest.c);
	d->bytes = total;
	d->written = 0;
}

/* Empties and removes the folder name below the cache folder, whose
 * descriptor fd the caller holds locked. */
static bool remove_folder(struct disk_cache *d, int fd, const char *name)
{
	DIR *dir = open_listing(fd);
	struct dirent *de;
	while (dir && (de = readdir(dir)))
		if (!is_dot(de->d_name))
			unlinkat(fd, de->d_name, 0);
	if (dir)
		closedir(dir);
	return unlinkat(d->root_fd, name, AT_REMOVEDIR) == 0;
}

static bool unused_for(const struct stat *st, int64_t now, uint64_t unused_s)
{
	return now - (int64_t)st->st_mtime > (int64_t)unused_s;
}

/* Removes whole the identity folders no mount has used for longer than
 * unused_s: each new opaque token makes one, and nothing else ever would.
 * A folder's mtime is its last use: a mount sets it when it opens the
 * folder and when it ends, and every store moves it (a rename into it).
 * A mount holds a shared flock() on its folder while it runs, so one that
 * has stored nothing for longer still keeps it; a folder another mount
 * has locked is left alone, and so is one it opened since the check. */
static void remove_unused(struct disk_cache *d, uint64_t unused_s)
{
	if (!unused_s)
		return;
	int64_t now = clock_wall_s();
	DIR *root = open_listing(d->root_fd);
	struct dirent *de;
	while (root && (de = readdir(root))) {
		struct stat st;
		if (!is_identity_name(de->d_name) || strcmp(de->d_name, d->name) == 0 ||
		    fstatat(d->root_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || !unused_for(&st, now, unused_s))
			continue;
		int fd = openat(d->root_fd, de->d_name, DIR_FLAGS);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && st.st_nlink > 0 &&
		    unused_for(&st, now, unused_s) && remove_folder(d, fd, de->d_name))
			log_info("disk cache: removed %s/%s, unused for %lld days", d->root,
				 de->d_name, (long long)(now - st.st_mtime) / 86400);
		close(fd);
	}
	if (root)
		closedir(root);
}

/* This identity's folder below the cache folder, made if missing, under a
 * shared lock for the cache's life (so no other mount removes it as
 * unused); -1 with why set. */
static int open_identity(struct disk_cache *d, char *why, size_t why_size)
{
	for (int attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
		int fd = openat(d->root_fd, d->name, DIR_FLAGS);
		if (fd < 0 && errno == ENOENT) {
			if (mkdirat(d->root_fd, d->name, 0700) != 0 && errno != EEXIST) {
				snprintf(why, why_size, "cannot make cache folder %s: %s", d->dir,
					 strerror(errno));
				return -1;
			}
			fd = openat(d->root_fd, d->name, DIR_FLAGS);
		}
		if (fd < 0) {
			if (errno == ELOOP || errno == ENOTDIR)
				snprintf(why, why_size, "cache folder %s is not a folder (a symbolic "
					 "link is never followed there)", d->dir);
			else
				snprintf(why, why_size, "cannot open cache folder %s: %s", d->dir,
					 strerror(errno));
			return -1;
		}
		/* Waits while another mount removes it (it only deletes a
		 * folder's files).  Where flock() does not work, nothing is
		 * ever removed: the remover cannot lock either. */
		while (flock(fd, LOCK_SH) != 0 && errno == EINTR)
			;
		struct stat st;
		if (fstat(fd, &st) == 0 && st.st_nlink > 0)
			return fd;
		close(fd); /* removed meanwhile: made again */
	}
	snprintf(why, why_size, "cannot open cache folder %s: removed while opening it", d->dir);
	return -1;
}

/* When the folder was first used: from born, or now, recorded durably so
 * every later mount agrees (of two first mounts, the first to record
 * wins, and the other reads its time).  0 with why set when it cannot be
 * recorded. */
static time_t take_born(struct disk_cache *d, char *why, size_t why_size)
{
	uint64_t born = 0;
	int rc = read_number(d->dir_fd, "born", &born);
	if (rc == 0 && born <= (uint64_t)INT64_MAX)
		return (time_t)born;
	char text[32];
	int n = snprintf(text, sizeof(text), "%lld\n", (long long)clock_wall_s());
	int wrote = write_durably(d, "born", text, (size_t)n, rc == ENOENT);
	if (wrote == EEXIST)
		wrote = read_number(d->dir_fd, "born", &born);
	else if (wrote == 0)
		born = strtoull(text, NULL, 10);
	if (wrote == 0 && born > 0 && born <= (uint64_t)INT64_MAX)
		return (time_t)born;
	snprintf(why, why_size, "cannot write %s/born: %s", d->dir, strerror(wrote ? wrote : EINVAL));
	return 0;
}

static void release(struct disk_cache *d)
{
	if (d->dir_fd >= 0)
		close(d->dir_fd); /* and with it the lock */
	if (d->root_fd >= 0)
		close(d->root_fd);
	pthread_mutex_destroy(&d->lock);
	free(d->root);
	free(d->dir);
	free(d);
}

struct disk_cache *disk_cache_open(const char *root, const char *identity, uint64_t max_bytes,
				   uint64_t unused_s, enum disk_cache_failure *failure, char *why,
				   size_t why_size)
{
	*failure = DISK_CACHE_OFF;
	struct disk_cache *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(why, why_size, "out of memory");
		return NULL;
	}
	d->root_fd = d->dir_fd = -1;
	d->identity = hash_text(identity);
	d->max_bytes = max_bytes;
	snprintf(d->name, sizeof(d->name), "%016llx", (unsigned long long)d->identity);
	pthread_mutex_init(&d->lock, NULL);
	d->root_fd = safedir_open(root, &d->root, why, why_size);
	bool ok = d->root_fd >= 0 && private_folder(d->root_fd, d->root, failure, why, why_size);
	if (ok && asprintf(&d->dir, "%s/%s", d->root, d->name) < 0) {
		d->dir = NULL;
		snprintf(why, why_size, "out of memory");
		ok = false;
	}
	ok = ok && (d->dir_fd = open_identity(d, why, why_size)) >= 0 &&
	     private_folder(d->dir_fd, d->dir, failure, why, why_size);
	/* Used now: see remove_unused(). */
	if (ok && futimens(d->dir_fd, NULL) != 0) {
		snprintf(why, why_size, "cannot use cache folder %s: %s", d->dir, strerror(errno));
		ok = false;
	}
	ok = ok && (d->born = take_born(d, why, why_size)) != 0;
	if (!ok) {
		release(d);
		return NULL;
	}
	uint64_t expired = 0;
	if (read_number(d->dir_fd, "expired", &expired) == 0)
		atomic_store(&d->expired_ms, expired < clock_wall_ms() ? expired : clock_wall_ms());
	remove_unused(d, unused_s);
	pthread_mutex_lock(&d->lock);
	recount_and_trim(d);
	pthread_mutex_unlock(&d->lock);
	return d;
}

static double mib(uint64_t bytes)
{
	return (double)bytes / (1 << 20);
}

uint64_t disk_cache_fit_room(struct disk_cache *d, disk_cache_room_fn room)
{
	struct statvfs st;
	int rc = (room ? room : fstatvfs)(d->root_fd, &st) == 0 ? 0 : errno;
	/* Some file systems (FUSE ones among them) answer with zeros: that
	 * says nothing of their room, not that there is none. */
	if (!rc && st.f_blocks == 0)
		rc = ENOTSUP;
	pthread_mutex_lock(&d->lock);
	uint64_t wanted = d->max_bytes, held = d->bytes;
	if (rc) {
		log_info("disk cache budget: %.0f MiB, the default (the room on the file system of "
			 "%s is unknown: %s)", mib(wanted), d->root, strerror(rc));
	} else {
		uint64_t free_bytes = (uint64_t)st.f_bavail * st.f_frsize;
		uint64_t bound = (free_bytes + held) / ROOM_SHARE;
		if (wanted && bound >= wanted) {
			log_info("disk cache budget: %.0f MiB, the default (under a quarter of the "
				 "%.0f MiB free on the file system of %s)", mib(wanted),
				 mib(free_bytes), d->root);
		} else {
			/* 0 would mean no cap: a disk with no room keeps nothing. */
			d->max_bytes = bound ? bound : 1;
			log_info("disk cache budget: %.1f MiB, a quarter of the %.1f MiB free on the "
				 "file system of %s with the %.1f MiB the cache takes; the default "
				 "%.0f MiB would crowd it (-o cache_disk_mb sets a budget as given)",
				 mib(d->max_bytes), mib(free_bytes), d->root, mib(held), mib(wanted));
			if (d->bytes > d->max_bytes)
				recount_and_trim(d);
		}
	}
	uint64_t budget = d->max_bytes;
	pthread_mutex_unlock(&d->lock);
	return budget;
}

void disk_cache_close(struct disk_cache *d)
{
	if (!d)
		return;
	futimens(d->dir_fd, NULL); /* last used now: see remove_unused() */
	release(d);
}

const char *disk_cache_dir(const struct disk_cache *d)
{
	return d->dir;
}

int disk_cache_dir_fd(const struct disk_cache *d)
{
	return d->dir_fd;
}

uint64_t disk_cache_bytes(struct disk_cache *d)
{
	pthread_mutex_lock(&d->lock);
	uint64_t n = d->bytes;
	pthread_mutex_unlock(&d->lock);
	return n;
}

time_t disk_cache_born(const struct disk_cache *d)
{
	return d->born;
}

uint64_t disk_cache_expired_ms(const struct disk_cache *d)
{
	return atomic_load(&d->expired_ms);
}

void disk_cache_record_expiry(struct disk_cache *d, uint64_t wall_ms)
{
	atomic_store(&d->expired_ms, wall_ms);
	char text[32];
	int n = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)wall_ms);
	int rc = write_durably(d, "expired", text, (size_t)n, false);
	if (rc)
		log_warn("disk cache: cannot record the SIGHUP in %s/expired: %s; a remount may "
			 "serve from disk what it made stale", d->dir, strerror(rc));
}

struct snapshot *disk_cache_load(struct disk_cache *d, const struct obj_key *key)
{
	char name[ENTRY_NAME_MAX];
	entry_name(key, name, sizeof(name));
	int fd = openat(d->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_size <= 0 || (uint64_t)st.st_size > MAX_ENTRY_BYTES) {
		close(fd);
		return NULL;
	}
	/* Read a piece at a time; a large file stays in the entry, whose open
	 * file its blob holds (a rename over it or a trim leaves it as it was). */
	struct blob_file *file = blob_file_adopt(fd);
	if (!file)
		return NULL;
	struct snapshot *s = disk_entry_read(file, (uint64_t)st.st_size, key, d->identity);
	if (s)
		futimens(fd, NULL); /* used now: last out of the budget */
	else
		log_info("disk cache: %s/%s is damaged or foreign: asking the API instead", d->dir,
			 name);
	blob_file_unref(file);
	return s;
}

void disk_cache_store(struct disk_cache *d, const struct obj_key *key, const struct snapshot *s)
{
	char name[ENTRY_NAME_MAX], tmp[64];
	entry_name(key, name, sizeof(name));
	temp_name(d, tmp, sizeof(tmp));
	int fd = openat(d->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int err = fd < 0 ? errno : 0;
	struct stat written, old;
	if (!err)
		err = disk_entry_write(fd, key, d->identity, s);
	if (!err && fstat(fd, &written) != 0)
		err = errno;
	if (fd >= 0 && close(fd) != 0 && !err)
		err = errno;
	/* No fsync: an entry a power cut tears fails its checksum and is a
	 * miss, fetched again; a sync per object would cost a disk flush per
	 * file a walk reads. */
	bool replaced = !err && fstatat(d->dir_fd, name, &old, AT_SYMLINK_NOFOLLOW) == 0;
	if (!err && renameat(d->dir_fd, tmp, d->dir_fd, name) != 0)
		err = errno;
	if (err) {
		if (fd >= 0)
			unlinkat(d->dir_fd, tmp, 0);
		if (!atomic_exchange(&d->write_failed, true))
			log_warn("disk cache: cannot write %s/%s: %s; serving from memory only until "
				 "it can", d->dir, name, strerror(err));
		return;
	}
	pthread_mutex_lock(&d->lock);
	d->bytes += allocated(&written);
	if (replaced)
		d->bytes -= d->bytes > allocated(&old) ? allocated(&old) : d->bytes;
	d->written += allocated(&written);
	if (d->max_bytes &&
	    (d->bytes > d->max_bytes || d->written > d->max_bytes / RECOUNT_FRACTION))
		recount_and_trim(d);
	pthread_mutex_unlock(&d->lock);
}

void disk_cache_wipe(struct disk_cache *d)
{
	pthread_mutex_lock(&d->lock);
	DIR *dir = open_listing(d->dir_fd);
	struct dirent *de;
	while (dir && (de = readdir(dir)))
		if (is_entry_name(de->d_name))
			unlinkat(d->dir_fd, de->d_name, 0);
	if (dir)
		closedir(dir);
	d->bytes = survey(d, NULL);
	pthread_mutex_unlock(&d->lock);
}
