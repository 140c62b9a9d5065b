/* diskcache.c - cache entries as files in a private folder. */
#include "diskcache.h"

#include "clock.h"
#include "diskformat.h"
#include "htab.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* An entry file larger than this is not one of ours (the API's bodies are
 * capped at 16 MiB; a rendered listing stays within a few times that). */
#define MAX_ENTRY_BYTES (256u << 20)
/* Trimming goes below the budget by this much, so a full cache is not
 * trimmed again after every store. */
#define TRIM_TO_PERCENT 90
/* A temporary file this old is a writer's that died (kill -9). */
#define STALE_TMP_S 3600

struct disk_cache {
	char *dir;
	uint64_t identity;
	uint64_t max_bytes;
	pthread_mutex_t lock;    /* bytes, trimming */
	uint64_t bytes;          /* what the entries take, as far as this mount knows */
	atomic_uint tmp_counter;
	atomic_bool write_failed; /* logged once */
};

/* A folder we may keep bank data in: ours, and nobody else's to read. */
static bool private_dir(const char *path, char *why, size_t size)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		snprintf(why, size, "cache folder %s: %s", path, strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, size, "cache folder %s is not a folder", path);
		return false;
	}
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
	return true;
}

/* mkdir -p, each folder it makes 0700. */
static int make_dirs(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return ENOMEM;
	int rc = 0;
	for (char *p = copy + 1; rc == 0; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST)
			rc = errno;
		*p = c;
		if (c == '\0')
			break;
	}
	free(copy);
	return rc;
}

static void entry_name(const struct obj_key *key, char *buf, size_t size)
{
	snprintf(buf, size, "%d-%lld-%lld", key->kind, (long long)key->a, (long long)key->b);
}

static bool is_entry_name(const char *name)
{
	return name[0] >= '0' && name[0] <= '9';
}

static bool is_tmp_name(const char *name)
{
	return strncmp(name, ".tmp-", 5) == 0;
}

/* Adds up the entries, and clears temporary files writers left behind. */
static uint64_t scan(struct disk_cache *d)
{
	DIR *dir = opendir(d->dir);
	if (!dir)
		return 0;
	uint64_t total = 0;
	time_t now = (time_t)clock_wall_s();
	struct dirent *de;
	while ((de = readdir(dir))) {
		struct stat st;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (is_tmp_name(de->d_name) && now - st.st_mtime > STALE_TMP_S)
			unlinkat(dirfd(dir), de->d_name, 0);
		else if (is_entry_name(de->d_name))
			total += (uint64_t)st.st_size;
	}
	closedir(dir);
	return total;
}

struct disk_cache *disk_cache_open(const char *root, const char *identity, uint64_t max_bytes,
				   char *why, size_t why_size)
{
	int rc = make_dirs(root);
	if (rc) {
		snprintf(why, why_size, "cannot make cache folder %s: %s", root, strerror(rc));
		return NULL;
	}
	if (!private_dir(root, why, why_size))
		return NULL;
	struct disk_cache *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(why, why_size, "out of memory");
		return NULL;
	}
	d->identity = hash_text(identity);
	d->max_bytes = max_bytes;
	if (asprintf(&d->dir, "%s/%016llx", root, (unsigned long long)d->identity) < 0) {
		free(d);
		snprintf(why, why_size, "out of memory");
		return NULL;
	}
	if (mkdir(d->dir, 0700) != 0 && errno != EEXIST) {
		snprintf(why, why_size, "cannot make cache folder %s: %s", d->dir, strerror(errno));
		free(d->dir);
		free(d);
		return NULL;
	}
	if (!private_dir(d->dir, why, why_size)) {
		free(d->dir);
		free(d);
		return NULL;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->bytes = scan(d);
	return d;
}

void disk_cache_close(struct disk_cache *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->lock);
	free(d->dir);
	free(d);
}

const char *disk_cache_dir(const struct disk_cache *d)
{
	return d->dir;
}

uint64_t disk_cache_bytes(struct disk_cache *d)
{
	pthread_mutex_lock(&d->lock);
	uint64_t n = d->bytes;
	pthread_mutex_unlock(&d->lock);
	return n;
}

/* The whole of a regular file of ours, or NULL. */
static char *read_entry(int fd, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_size <= 0 || (uint64_t)st.st_size > MAX_ENTRY_BYTES)
		return NULL;
	size_t size = (size_t)st.st_size;
	char *buf = malloc(size);
	size_t got = 0;
	while (buf && got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (buf && got != size) {
		free(buf);
		buf = NULL;
	}
	*len = got;
	return buf;
}

struct snapshot *disk_cache_load(struct disk_cache *d, const struct obj_key *key)
{
	char name[80];
	entry_name(key, name, sizeof(name));
	int dirfd_ = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd_ < 0)
		return NULL;
	int fd = openat(dirfd_, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dirfd_);
	if (fd < 0)
		return NULL;
	size_t len = 0;
	char *bytes = read_entry(fd, &len);
	struct snapshot *s = bytes ? disk_entry_decode(bytes, len, key, d->identity) : NULL;
	free(bytes);
	if (s)
		futimens(fd, NULL); /* used now: last out of the budget */
	close(fd);
	if (!s && bytes)
		log_info("disk cache: %s/%s is damaged or foreign: asking the API instead", d->dir,
			 name);
	return s;
}

struct aged {
	char name[256]; /* NAME_MAX + 1 */
	struct timespec used;
	uint64_t size;
};

static int older_first(const void *a, const void *b)
{
	const struct aged *x = a, *y = b;
	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	return (x->used.tv_nsec > y->used.tv_nsec) - (x->used.tv_nsec < y->used.tv_nsec);
}

/* Over budget: drops the entries used least recently.  With d->lock held. */
static void trim(struct disk_cache *d)
{
	DIR *dir = opendir(d->dir);
	if (!dir)
		return;
	struct aged *all = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		struct stat st;
		if (!is_entry_name(de->d_name) || fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			size_t c = cap ? cap * 2 : 256;
			struct aged *p = realloc(all, c * sizeof(*p));
			if (!p)
				break;
			all = p;
			cap = c;
		}
		memcpy(all[n].name, de->d_name, sizeof(all[n].name));
		all[n].used = st.st_mtim;
		all[n].size = (uint64_t)st.st_size;
		total += all[n].size;
		n++;
	}
	if (n)
		qsort(all, n, sizeof(*all), older_first);
	uint64_t target = d->max_bytes / 100 * TRIM_TO_PERCENT;
	for (size_t i = 0; i < n && total > target; i++)
		if (unlinkat(dirfd(dir), all[i].name, 0) == 0)
			total -= all[i].size;
	closedir(dir);
	free(all);
	d->bytes = total;
}

static bool write_all(int fd, const char *bytes, size_t len)
{
	while (len) {
		ssize_t n = write(fd, bytes, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		bytes += n;
		len -= (size_t)n;
	}
	return true;
}

void disk_cache_store(struct disk_cache *d, const struct obj_key *key, const struct snapshot *s)
{
	size_t len;
	char *bytes = disk_entry_encode(key, d->identity, s, &len);
	if (!bytes)
		return;
	char name[80], tmp[128], path[4096], tmp_path[4096];
	entry_name(key, name, sizeof(name));
	snprintf(tmp, sizeof(tmp), ".tmp-%ld-%u", (long)getpid(),
		 atomic_fetch_add(&d->tmp_counter, 1));
	snprintf(path, sizeof(path), "%s/%s", d->dir, name);
	snprintf(tmp_path, sizeof(tmp_path), "%s/%s", d->dir, tmp);
	int fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write_all(fd, bytes, len);
	int err = errno;
	if (fd >= 0 && close(fd) != 0 && ok) {
		ok = false;
		err = errno;
	}
	struct stat old;
	bool replaced = ok && stat(path, &old) == 0;
	if (ok && rename(tmp_path, path) != 0) {
		ok = false;
		err = errno;
	}
	free(bytes);
	if (!ok) {
		if (fd >= 0)
			unlink(tmp_path);
		if (!atomic_exchange(&d->write_failed, true))
			log_warn("disk cache: cannot write %s: %s; serving from memory only until it "
				 "can", path, strerror(err));
		return;
	}
	pthread_mutex_lock(&d->lock);
	d->bytes += len;
	if (replaced)
		d->bytes = d->bytes > (uint64_t)old.st_size ? d->bytes - (uint64_t)old.st_size : 0;
	if (d->max_bytes && d->bytes > d->max_bytes)
		trim(d);
	pthread_mutex_unlock(&d->lock);
}

void disk_cache_wipe(struct disk_cache *d)
{
	pthread_mutex_lock(&d->lock);
	DIR *dir = opendir(d->dir);
	struct dirent *de;
	while (dir && (de = readdir(dir)))
		if (is_entry_name(de->d_name))
			unlinkat(dirfd(dir), de->d_name, 0);
	if (dir)
		closedir(dir);
	d->bytes = 0;
	pthread_mutex_unlock(&d->lock);
}

time_t disk_cache_born(struct disk_cache *d)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/born", d->dir);
	time_t born = 0;
	FILE *f = fopen(path, "re");
	if (f) {
		long long v;
		if (fscanf(f, "%lld", &v) == 1 && v > 0)
			born = (time_t)v;
		fclose(f);
	}
	if (born)
		return born;
	/* First use of this folder: record now, atomically, so every later
	 * mount agrees (a racing mount writes the same second or near it, and
	 * one of them wins for good). */
	born = (time_t)clock_wall_s();
	char tmp[4160], text[32];
	snprintf(tmp, sizeof(tmp), "%s/.tmp-born-%ld", d->dir, (long)getpid());
	int n = snprintf(text, sizeof(text), "%lld\n", (long long)born);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		bool ok = write_all(fd, text, (size_t)n);
		if (close(fd) != 0 || !ok || rename(tmp, path) != 0)
			unlink(tmp);
	}
	return born;
}
