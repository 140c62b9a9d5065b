/* login_text.h - sepayfs-login's text from the network (a callback's
 * error, a token endpoint's answer), made safe for a terminal and a web
 * page; and the comparison of secrets. */
#ifndef SEPAYFS_LOGIN_TEXT_H
#define SEPAYFS_LOGIN_TEXT_H

#include "strbuf.h"

#include <stdbool.h>
#include <stddef.h>

/* Text from the network shown on the terminal is cut to this many bytes
 * (and "..." after it). */
#define TERMINAL_TEXT_MAX 200

/* Whether s is valid UTF-8 (JSON strings must be). */
bool utf8_valid(const char *s);
/* s for a terminal: control characters (C0, DEL, C1) and bytes that are not
 * UTF-8 become '?', cut to TERMINAL_TEXT_MAX bytes; out has room for cap. */
void terminal_text(const char *s, char *out, size_t cap);
/* Text anyone could have sent, for a terminal line: printable ASCII only
 * (any other byte, and '"', which quotes it, becomes '?'), cut to max bytes. */
void terminal_ascii(const char *s, char *out, size_t cap, size_t max);
/* s with HTML's markup characters escaped, appended to sb. */
void html_escaped(struct strbuf *sb, const char *s);
/* Equality that takes the same time wherever the strings differ. */
bool same_secret(const char *a, const char *b);

#endif
