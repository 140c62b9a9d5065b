/* login_text.c - text from the network, made safe to show. */
#include "login_text.h"

#include <string.h>

bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p;
		size_t n;
		unsigned cp;
		if (c < 0x80) {
			p++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3fu);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n + 1;
	}
	return true;
}

void terminal_text(const char *s, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	while (*p && o + 5 < cap && o < TERMINAL_TEXT_MAX) {
		size_t n = 1;
		if (*p >= 0xc2 && *p <= 0xf4) {
			n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
			char one[5] = { 0 };
			size_t i = 0;
			for (; i < n && p[i]; i++)
				one[i] = (char)p[i];
			/* C1 controls are U+0080..U+009F: 0xc2 0x80..0x9f */
			bool c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
			if (i == n && utf8_valid(one) && !c1) {
				memcpy(out + o, one, n);
				o += n;
				p += n;
				continue;
			}
			n = 1;
		}
		out[o++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
		p += n;
	}
	if (*p && o + 4 <= cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

void html_escaped(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': strbuf_puts(sb, "&amp;"); break;
		case '<': strbuf_puts(sb, "&lt;"); break;
		case '>': strbuf_puts(sb, "&gt;"); break;
		case '"': strbuf_puts(sb, "&quot;"); break;
		case '\'': strbuf_puts(sb, "&#39;"); break;
		default: strbuf_putc(sb, *s);
		}
	}
}

bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;
	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

void terminal_ascii(const char *s, char *out, size_t cap, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	for (; *p && o + 1 < cap && o < max; p++)
		out[o++] = *p >= 0x20 && *p < 0x7f && *p != '"' ? (char)*p : '?';
	if (*p && o + 4 <= cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}
