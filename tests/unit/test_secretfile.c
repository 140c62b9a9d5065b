/* test_secretfile.c - secrets are read only from private files, and
 * written whole or not at all. */
#include "check.h"
#include "secretfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Linked with --wrap=fsync,--wrap=rename: every sync and rename, in the
 * order they happen, to check what reaches the disk before what. */
enum call_kind { SYNC_FILE, SYNC_FOLDER, RENAME };
struct call {
	enum call_kind what;
	ino_t ino; /* of what was synced */
};
static struct call calls[16];
static int ncalls;

static void record(enum call_kind what, ino_t ino)
{
	if (ncalls < (int)(sizeof(calls) / sizeof(calls[0])))
		calls[ncalls++] = (struct call){ what, ino };
}

int __real_fsync(int fd);
int __wrap_fsync(int fd)
{
	struct stat st;
	if (fstat(fd, &st) == 0)
		record(S_ISDIR(st.st_mode) ? SYNC_FOLDER : SYNC_FILE, st.st_ino);
	return __real_fsync(fd);
}

int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to)
{
	record(RENAME, 0);
	return __real_rename(from, to);
}

static void put(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	chmod(path, mode);
}

/* The advisory lock sepayfs-login and the mount share: one holder at a
 * time (flock locks belong to an open file, so two opens in one process
 * conflict as two processes do), a bounded wait, no link followed. */
static void test_lock(const char *dir)
{
	char path[256], lock[300];
	snprintf(path, sizeof(path), "%s/creds.json", dir);
	snprintf(lock, sizeof(lock), "%s.lock", path);
	int first = secret_file_lock(path, 0);
	CHECK(first >= 0);
	struct stat st;
	CHECK(stat(lock, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 0);
	CHECK_INT(secret_file_lock(path, 60), -ETIMEDOUT);
	secret_file_unlock(first);
	int second = secret_file_lock(path, 0);
	CHECK(second >= 0);
	secret_file_unlock(second);
	unlink(lock);
	CHECK(symlink("/etc/passwd", lock) == 0);
	CHECK_INT(secret_file_lock(path, 0), -ELOOP);
	unlink(lock);
}

int main(void)
{
	char dir[] = "/tmp/sepayfs-test-secret-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	test_lock(dir);
	char path[256], other[256];
	snprintf(path, sizeof(path), "%s/token", dir);
	snprintf(other, sizeof(other), "%s/sub", dir);
	size_t len = 0;

	put(path, "tok en\n", 0600);
	char *text = secret_file_read(path, "token file", 1024, &len);
	CHECK_STR(text, "tok en\n");
	CHECK_INT(len, 7);
	secret_free(text);
	put(path, "tok", 0400);
	text = secret_file_read(path, "token file", 1024, &len);
	CHECK_STR(text, "tok");
	secret_free(text);
	/* Group or others may read or write it, it is too big, it is no
	 * regular file, it is missing: refused (with a line on stderr). */
	static const mode_t open_modes[] = { 0640, 0604, 0620, 0602, 0644 };
	for (size_t i = 0; i < sizeof(open_modes) / sizeof(open_modes[0]); i++) {
		put(path, "tok", open_modes[i]);
		CHECK(secret_file_read(path, "token file", 1024, &len) == NULL);
	}
	put(path, "0123456789", 0600);
	CHECK(secret_file_read(path, "token file", 9, &len) == NULL);
	CHECK(mkdir(other, 0700) == 0);
	CHECK(secret_file_read(other, "token file", 1024, &len) == NULL);
	rmdir(other);
	CHECK(secret_file_read(other, "token file", 1024, &len) == NULL);

	/* Written through a private temporary file and renamed: 0600, the new
	 * bytes, nothing left behind; a folder that cannot be written keeps
	 * the old file whole. */
	put(path, "old", 0600);
	CHECK_INT(secret_file_write(path, "{\"refresh_token\":\"new\"}", 24), 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	text = secret_file_read(path, "credentials file", 1024, &len);
	CHECK_STR(text, "{\"refresh_token\":\"new\"}");
	secret_free(text);
	/* Durable: the file is synced before the rename, and the folder that
	 * holds the new name after it (a rotated refresh token lost to a power
	 * cut forces a new log-in). */
	ncalls = 0;
	CHECK_INT(secret_file_write(path, "rotated", 7), 0);
	struct stat folder;
	CHECK(stat(dir, &folder) == 0);
	CHECK_INT(ncalls, 3);
	CHECK_INT(calls[0].what, SYNC_FILE);
	CHECK_INT(calls[1].what, RENAME);
	CHECK_INT(calls[2].what, SYNC_FOLDER);
	CHECK(calls[2].ino == folder.st_ino);
	chmod(dir, 0500);
	if (geteuid() != 0) { /* root writes anywhere */
		CHECK(secret_file_write(path, "lost", 4) != 0);
		text = secret_file_read(path, "credentials file", 1024, &len);
		CHECK_STR(text, "{\"refresh_token\":\"new\"}");
		secret_free(text);
	}
	chmod(dir, 0700);
	/* Counted here, not by a shell pipeline: a `ls | grep > file` races
	 * the creation of its own output file. */
	int files = 0;
	DIR *listing = opendir(dir);
	CHECK(listing != NULL);
	for (struct dirent *e; listing && (e = readdir(listing)) != NULL;)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			files++;
	if (listing)
		closedir(listing);
	CHECK_INT(files, 1); /* the token: no temporary file left */
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	secret_free(NULL);
	return check_report("secretfile");
}
