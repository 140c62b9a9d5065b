/* login_secret.h - sepayfs-login's client secret: read from a private file
 * or one line of standard input (without echo on a terminal), never from
 * the command line; and an allocator for jansson that scrubs what it
 * frees, since jansson copies every string it parses or is given (the
 * tokens, the secret). */
#ifndef SEPAYFS_LOGIN_SECRET_H
#define SEPAYFS_LOGIN_SECRET_H

#include <stddef.h>

/* The secret from secret_file, or from standard input when it is NULL
 * (prompting with client_id on a terminal); NULL after saying why on
 * stderr.  Release it with secret_free (secretfile.h). */
char *login_read_secret(const char *secret_file, const char *client_id);

/* malloc and free that remember each block's size and scrub it before
 * freeing, for json_set_alloc_funcs. */
void *scrubbing_malloc(size_t size);
void scrubbing_free(void *p);

#endif
