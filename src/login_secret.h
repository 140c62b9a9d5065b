/* login_secret.h - sepayfs-login's client secret: read from a private file
 * or one line of standard input (without echo on a terminal), never from
 * the command line. */
#ifndef SEPAYFS_LOGIN_SECRET_H
#define SEPAYFS_LOGIN_SECRET_H

#include <stddef.h>

/* The secret from secret_file, or from standard input when it is NULL
 * (prompting with client_id on a terminal); NULL after saying why on
 * stderr.  Release it with secret_free (secretfile.h). */
char *login_read_secret(const char *secret_file, const char *client_id);

#endif
