/* strbuf.c - growable byte buffer. */
#include "strbuf.h"

#include "scrubbing_alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct strbuf *sb, size_t limit)
{
	memset(sb, 0, sizeof(*sb));
	sb->limit = limit;
}

void strbuf_init_scrubbed(struct strbuf *sb, size_t limit)
{
	strbuf_init(sb, limit);
	sb->scrubbed = true;
}

static bool strbuf_reserve(struct strbuf *sb, size_t extra)
{
	if (sb->failed)
		return false;
	if (extra > SIZE_MAX - sb->len - 1 ||
	    (sb->limit && sb->len + extra > sb->limit)) {
		sb->failed = true;
		return false;
	}
	size_t need = sb->len + extra + 1;
	if (need <= sb->cap)
		return true;
	size_t cap = sb->cap ? sb->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = sb->scrubbed ? scrubbing_realloc(sb->data, cap) : realloc(sb->data, cap);
	if (!p) {
		sb->failed = true;
		return false;
	}
	sb->data = p;
	sb->cap = cap;
	return true;
}

void strbuf_append(struct strbuf *sb, const void *bytes, size_t n)
{
	if (!strbuf_reserve(sb, n))
		return;
	memcpy(sb->data + sb->len, bytes, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

void strbuf_puts(struct strbuf *sb, const char *s)
{
	strbuf_append(sb, s, strlen(s));
}

void strbuf_putc(struct strbuf *sb, char c)
{
	strbuf_append(sb, &c, 1);
}

void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	char small[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		strbuf_append(sb, small, (size_t)n);
		return;
	}
	if (!strbuf_reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

char *strbuf_take(struct strbuf *sb, size_t *len)
{
	if (sb->failed) {
		strbuf_release(sb);
		return NULL;
	}
	if (!sb->data && !strbuf_reserve(sb, 0))
		return NULL;
	char *p = sb->data;
	if (len)
		*len = sb->len;
	sb->data = NULL;
	sb->len = sb->cap = 0;
	return p;
}

void strbuf_release(struct strbuf *sb)
{
	if (sb->scrubbed)
		scrubbing_free(sb->data);
	else
		free(sb->data);
	sb->data = NULL;
	sb->len = sb->cap = 0;
}
