/* login_server.h - sepayfs-login's loopback HTTP server: it waits on
 * 127.0.0.1:PORT for the browser to bring SePay's answer to /callback,
 * refuses (400) every callback that is not this run's, and shows the
 * browser one small page about how the log-in ended. */
#ifndef SEPAYFS_LOGIN_SERVER_H
#define SEPAYFS_LOGIN_SERVER_H

#include "login_callback.h"

#include <stdint.h>

struct callback_server;

/* Listens on 127.0.0.1:port for callbacks carrying state (kept, not
 * copied); NULL with errno set when the port cannot be had. */
struct callback_server *callback_server_open(long port, const char *state);

/* Serves connections until this run's answer arrives (0: cb is filled, its
 * pointers valid until callback_server_answer) or the monotonic deadline
 * (clock_mono_ms) passes (ETIMEDOUT), or an errno.  Once the answer is
 * in, no other connection is taken. */
int callback_server_wait(struct callback_server *s, int64_t deadline_ms, struct callback *cb);

/* Shows the browser that brought the answer a page, then closes its
 * connection and scrubs what it sent (the code). */
void callback_server_answer(struct callback_server *s, int status, const char *title,
			    const char *text);

/* Closes every connection and the listener; NULL is fine. */
void callback_server_close(struct callback_server *s);

#endif
