/* secretfile.h - files holding secrets: read only if private, written atomically.
 *
 * A token or credentials file readable or writable by anyone but its
 * owner, or owned by someone else, is refused with a message naming the
 * file and its mode (as ssh and s3fs do). */
#ifndef SEPAYFS_SECRETFILE_H
#define SEPAYFS_SECRETFILE_H

#include <stddef.h>

/* The whole file, NUL-terminated (malloc'ed; scrub and free it), or NULL
 * after printing why to stderr.  what names the file in messages. */
char *secret_file_read(const char *path, const char *what, size_t max, size_t *len);

/* The same, saying why in why (one line, no secret) instead of printing:
 * for a daemon whose stderr may be gone. */
char *secret_file_read_why(const char *path, const char *what, size_t max, size_t *len,
			   char *why, size_t why_size);

/* s without leading and trailing blanks, as a new string; NULL when
 * nothing is left (or out of memory). */
char *secret_trimmed_copy(const char *s, size_t len);

/* Holds the advisory lock every writer of path takes (flock on
 * "path.lock", made 0600 beside it), so sepayfs rotating a refresh token
 * and sepayfs-login writing a new one never overwrite each other: a
 * file descriptor, or -errno (-ETIMEDOUT after wait_ms). */
int secret_file_lock(const char *path, unsigned wait_ms);
void secret_file_unlock(int fd);

/* Overwrites a NUL-terminated secret, then frees it; NULL is fine. */
void secret_free(char *secret);

/* Replaces path with bytes: a private temporary file in the same
 * directory, synced, renamed over it, and the directory synced, so the
 * new file survives a power cut.  0 or an errno (one from the last sync
 * means path holds the new bytes, which a power cut may still undo). */
int secret_file_write(const char *path, const char *bytes, size_t len);

#endif
