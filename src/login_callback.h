/* login_callback.h - what comes back to sepayfs-login's loopback port:
 * the request head, its /callback query, and whether it is this run's
 * answer.  Anyone can send it (another local user, any web page through an
 * <img>), so nothing here trusts it; no sockets, so the fuzz target reaches
 * all of it. */
#ifndef SEPAYFS_LOGIN_CALLBACK_H
#define SEPAYFS_LOGIN_CALLBACK_H

#include <stddef.h>
#include <stdbool.h>

/* The callback's request line and headers; a redirect with a code fits easily. */
#define MAX_REQUEST_HEAD 16384
/* Of a refused callback's error code, this much is shown. */
#define MAX_REFUSED_SHOWN 40

/* What came back to /callback; pointers into the request head. */
struct callback {
	const char *code;
	const char *state;
	const char *error;
	const char *error_description;
};

/* Where the request head in buf (len bytes, and room for a NUL after them)
 * ends, or NULL while it is incomplete. */
char *callback_head_end(char *buf, size_t len);

/* Parses a request head (NUL-terminated) in place: true when its request
 * line is a GET of /callback, whose query's parameters are then in cb
 * (pointers into head).  Only the request line counts; headers are not
 * needed to answer a redirect. */
bool callback_parse(char *head, struct callback *cb);

enum callback_verdict {
	CALLBACK_FOREIGN, /* no state, or not this run's: refused, the wait goes on */
	CALLBACK_EMPTY,   /* this run's state, but neither a code nor an error */
	CALLBACK_ANSWER,  /* this run's state with a code or an error: the wait ends */
};

/* Whether a callback is this run's answer.  Only the state tells: anyone
 * can reach the port, but only SePay was given the state. */
enum callback_verdict callback_judge(const struct callback *cb, const char *state);

/* The terminal line about a refused callback: what it carried, its error
 * code as printable ASCII at most MAX_REFUSED_SHOWN long, never its code
 * (someone's real one, perhaps) or its state. */
void callback_describe_foreign(const struct callback *cb, char *out, size_t cap);

#endif
