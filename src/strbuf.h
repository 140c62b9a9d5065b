/* strbuf.h - a growable byte buffer, the one way sepayfs accumulates text.
 *
 * An allocation failure is sticky: later appends do nothing and strbuf_failed()
 * reports it once at the end, so callers check once instead of after every append. */
#ifndef SEPAYFS_STRBUF_H
#define SEPAYFS_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *data;
	size_t len;
	size_t cap;
	size_t limit; /* 0: unbounded; otherwise appends past it fail */
	bool failed;
	bool scrubbed; /* growth and release scrub what they let go */
};

void strbuf_init(struct strbuf *sb, size_t limit);
/* For text that holds a secret (a token answer): a buffer that grows
 * leaves no copy behind in the block it moved out of.  The text taken
 * from it is the caller's to scrub. */
void strbuf_init_scrubbed(struct strbuf *sb, size_t limit);
void strbuf_append(struct strbuf *sb, const void *bytes, size_t n);
void strbuf_puts(struct strbuf *sb, const char *s);
void strbuf_putc(struct strbuf *sb, char c);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline bool strbuf_failed(const struct strbuf *sb) { return sb->failed; }
/* Hands the NUL-terminated bytes to the caller (NULL if the buffer failed). */
char *strbuf_take(struct strbuf *sb, size_t *len);
void strbuf_release(struct strbuf *sb);

#endif
