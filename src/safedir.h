/* safedir.h - a folder opened from / one folder at a time, below folders
 * no other user could swap.
 *
 * A daemon that names a folder by its path for every operation works
 * wherever that path leads at the moment: if any folder on the way is
 * writable by another user, that user can swap a component for a symbolic
 * link between two calls and have a root daemon write or delete in a folder
 * of the attacker's choosing.  So the path is resolved once (realpath() of
 * the part that exists), then opened from / with O_NOFOLLOW, each folder
 * above the last checked as ssh's StrictModes checks a home folder: owned
 * by root or by us, and writable by nobody else unless it is sticky and
 * root's (as /tmp is).  Missing folders are made 0700 below their parent's
 * descriptor.  The caller then works below the descriptor it gets, never
 * through the path again. */
#ifndef SEPAYFS_SAFEDIR_H
#define SEPAYFS_SAFEDIR_H

#include <stddef.h>

/* A descriptor of the folder path names (made, with the missing folders
 * above it, if needed), and in *resolved the path it was found at
 * (malloc'ed, for messages); or -1 with why set: a folder on the way
 * another user could swap, a symbolic link met on the way, or a folder
 * that could not be made or opened.  The last folder itself is not
 * judged: that is the caller's. */
int safedir_open(const char *path, char **resolved, char *why, size_t why_size);

#endif
