/* secretfile.c - private files for tokens and credentials. */
#include "secretfile.h"

/* How often a waiting lock asks again: a log-in or a refresh holds it
 * for one token request, a second or so. */
#define LOCK_POLL_MS 20

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *secret_file_read_why(const char *path, const char *what, size_t max, size_t *len,
			   char *why, size_t why_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(why, why_size, "cannot read %s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) != 0) {
		snprintf(why, why_size, "cannot read %s %s: %s", what, path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(why, why_size, "%s %s is not a regular file", what, path);
	} else if (st.st_uid != getuid()) {
		snprintf(why, why_size, "refusing %s %s: it is owned by uid %u, not by you (uid %u)",
			 what, path, (unsigned)st.st_uid, (unsigned)getuid());
	} else if (st.st_mode & 077) {
		snprintf(why, why_size, "refusing %s %s: its mode %04o lets others read or change "
			 "it; run: chmod 600 %s", what, path, (unsigned)(st.st_mode & 07777), path);
	} else if ((size_t)st.st_size > max) {
		snprintf(why, why_size, "%s %s is larger than %zu bytes", what, path, max);
	} else if (!(buf = malloc((size_t)st.st_size + 1))) {
		snprintf(why, why_size, "out of memory");
	} else {
		size_t got = 0;
		while (got < (size_t)st.st_size) {
			ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				break;
			}
			got += (size_t)n;
		}
		buf[got] = '\0';
		*len = got;
	}
	close(fd);
	return buf;
}

char *secret_file_read(const char *path, const char *what, size_t max, size_t *len)
{
	char why[PATH_MAX + 200];
	char *text = secret_file_read_why(path, what, max, len, why, sizeof(why));
	if (!text)
		fprintf(stderr, "sepayfs: %s\n", why);
	return text;
}

char *secret_trimmed_copy(const char *s, size_t len)
{
	while (len && strchr(" \t\r\n", *s)) {
		s++;
		len--;
	}
	while (len && strchr(" \t\r\n", s[len - 1]))
		len--;
	return len ? strndup(s, len) : NULL;
}

int secret_file_lock(const char *path, unsigned wait_ms)
{
	char lock_path[PATH_MAX];
	if (snprintf(lock_path, sizeof(lock_path), "%s.lock", path) >= (int)sizeof(lock_path))
		return -ENAMETOOLONG;
	int fd = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return -errno;
	/* flock() has no timeout: ask without blocking, a little at a time. */
	for (unsigned waited = 0;; waited += LOCK_POLL_MS) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		int err = errno;
		if ((err != EWOULDBLOCK && err != EINTR) || waited >= wait_ms) {
			close(fd);
			return -(err == EWOULDBLOCK ? ETIMEDOUT : err);
		}
		struct timespec pause = { 0, LOCK_POLL_MS * 1000000L };
		nanosleep(&pause, NULL);
	}
}

void secret_file_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* Makes a rename in folder survive a power cut: the new name is in the
 * folder's blocks, which only an fsync of the folder writes out. */
static int sync_folder(const char *folder)
{
	int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int rc = fsync(fd) != 0 ? errno : 0;
	close(fd);
	return rc;
}

int secret_file_write(const char *path, const char *bytes, size_t len)
{
	char *copy = strdup(path);
	if (!copy)
		return ENOMEM;
	char folder[4096], tmp[sizeof(folder) + sizeof("/.sepayfs-XXXXXX")];
	int n = snprintf(folder, sizeof(folder), "%s", dirname(copy));
	free(copy);
	if (n < 0 || (size_t)n >= sizeof(folder))
		return ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s/.sepayfs-XXXXXX", folder);
	int fd = mkstemp(tmp); /* created 0600 */
	if (fd < 0)
		return errno;
	int rc = 0;
	size_t done = 0;
	while (done < len && !rc) {
		ssize_t w = write(fd, bytes + done, len - done);
		if (w < 0 && errno != EINTR)
			rc = errno;
		else if (w > 0)
			done += (size_t)w;
	}
	if (!rc && (fchmod(fd, 0600) != 0 || fsync(fd) != 0))
		rc = errno;
	if (close(fd) != 0 && !rc)
		rc = errno;
	if (!rc && rename(tmp, path) != 0)
		rc = errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	/* A rotated refresh token lost to a power cut forces a new log-in. */
	return sync_folder(folder);
}

void secret_free(char *secret)
{
	if (secret) {
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
}
