/* safedir.c - open a folder from /, below folders no other user could swap. */
#include "safedir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A folder whose names only root or we can change: owned by one of us, and
 * writable by nobody else, unless it is sticky and root's, where others may
 * add names but not rename or remove ours (the next folder is then judged
 * by its owner). */
static bool trusted(const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return false;
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return true;
	return (st->st_mode & S_ISVTX) && st->st_uid == 0;
}

/* path, absolute, with the part that exists resolved by realpath() (links,
 * . and ..) and the rest, to be made, appended as written; NULL with errno
 * set. */
static char *resolve(const char *path)
{
	if (path[0] != '/') {
		errno = EINVAL;
		return NULL;
	}
	char *head = strdup(path);
	if (!head)
		return NULL;
	size_t cut = strlen(head); /* path + cut: the part that does not exist */
	char *real;
	while (!(real = realpath(head, NULL))) {
		if (errno != ENOENT) {
			free(head);
			return NULL;
		}
		char *slash = strrchr(head, '/'); /* realpath("/") never fails */
		cut = (size_t)(slash - head);
		head[cut > 0 ? cut : 1] = '\0';
	}
	free(head);
	const char *tail = path + cut;
	char *full;
	int n = asprintf(&full, "%s%s", strcmp(real, "/") == 0 && *tail ? "" : real, tail);
	free(real);
	return n < 0 ? NULL : full;
}

/* Why a folder is not trusted, as "belongs to uid 65534" or "is mode 777". */
static void distrust_reason(const struct stat *st, char *buf, size_t size)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		snprintf(buf, size, "belongs to uid %u", (unsigned)st->st_uid);
	else
		snprintf(buf, size, "is mode %03o%s", (unsigned)(st->st_mode & 0777),
			 st->st_mode & S_ISVTX ? ", sticky but not root's" : "");
}

/* The folder name below parent (made 0700 if missing), never through a
 * symbolic link; -1 with why set.  walked names it in messages. */
static int open_child(int parent, const char *name, const char *walked, char *why,
		      size_t why_size)
{
	const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(parent, name, flags);
	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(parent, name, 0700) != 0 && errno != EEXIST) {
			snprintf(why, why_size, "cannot make %s: %s", walked, strerror(errno));
			return -1;
		}
		fd = openat(parent, name, flags);
	}
	if (fd >= 0)
		return fd;
	if (errno == ELOOP || errno == ENOTDIR)
		snprintf(why, why_size, "%s is not a folder (a symbolic link is never followed "
			 "there)", walked);
	else
		snprintf(why, why_size, "cannot open %s: %s", walked, strerror(errno));
	return -1;
}

int safedir_open(const char *path, char **resolved, char *why, size_t why_size)
{
	*resolved = NULL;
	char *full = resolve(path);
	if (!full) {
		snprintf(why, why_size, "cannot make %s: %s", path, strerror(errno));
		return -1;
	}
	/* names: full cut into components in place; walked: the folders opened
	 * so far, for messages. */
	char *names = strdup(full), *walked = calloc(1, strlen(full) + 2);
	int fd = names && walked ? open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (fd < 0)
		snprintf(why, why_size, "cannot open /: %s", strerror(names && walked ? errno : ENOMEM));
	size_t walked_len = 0;
	for (char *p = names; fd >= 0 && *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		char *name = p;
		p += strcspn(p, "/");
		if (*p)
			*p++ = '\0';
		if (strcmp(name, ".") == 0)
			continue;
		const char *parent_path = walked_len ? walked : "/";
		struct stat parent;
		char reason[64];
		int next = -1;
		if (strcmp(name, "..") == 0) {
			snprintf(why, why_size, "cannot make %s: '..' among the folders to make", full);
		} else if (fstat(fd, &parent) != 0) {
			snprintf(why, why_size, "cannot open %s: %s", parent_path, strerror(errno));
		} else if (!trusted(&parent)) {
			distrust_reason(&parent, reason, sizeof(reason));
			snprintf(why, why_size,
				 "%s is below %s, which %s: another user could swap what is in it "
				 "for a link to a folder of their choosing (every folder above must "
				 "be root's or yours and writable by no one else, unless sticky and "
				 "root's as /tmp is)", full, parent_path, reason);
		} else {
			walked_len += (size_t)sprintf(walked + walked_len, "/%s", name);
			next = open_child(fd, name, walked, why, why_size);
		}
		close(fd);
		fd = next;
	}
	free(names);
	free(walked);
	if (fd < 0) {
		free(full);
		return -1;
	}
	*resolved = full;
	return fd;
}
