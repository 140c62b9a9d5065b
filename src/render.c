/* render.c - API objects as pretty JSON text. */
#include "render.h"

#include "numtext.h"
#include "strbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Depth beyond which we refuse to render rather than recurse further; the
 * parser bounds depth too, this keeps the renderer safe on its own. */
#define RENDER_MAX_DEPTH 64

size_t render_real(double d, char *buf, size_t size)
{
	if (!isfinite(d))
		return 0;
	/* Shortest precision that round-trips, in scientific form so the digits
	 * and the exponent can be laid out positionally below. */
	char sci[40];
	int prec;
	for (prec = 1; prec <= 17; prec++) {
		snprintf(sci, sizeof(sci), "%.*e", prec - 1, d);
		if (strtod(sci, NULL) == d)
			break;
	}
	char digits[24];
	size_t nd = 0;
	const char *p = sci;
	bool negative = *p == '-';
	if (negative)
		p++;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	int exp10 = *p == 'e' ? atoi(p + 1) : 0;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;

	char out[400];
	size_t n = 0;
	if (negative)
		out[n++] = '-';
	int point = exp10 + 1; /* digits before the decimal point */
	if (point <= 0) {
		out[n++] = '0';
		out[n++] = '.';
		for (int i = 0; i < -point; i++)
			out[n++] = '0';
		memcpy(out + n, digits, nd);
		n += nd;
	} else {
		for (int i = 0; i < point; i++)
			out[n++] = (size_t)i < nd ? digits[i] : '0';
		out[n++] = '.';
		if ((size_t)point < nd) {
			memcpy(out + n, digits + point, nd - (size_t)point);
			n += nd - (size_t)point;
		} else {
			out[n++] = '0';
		}
	}
	if (n + 1 > size)
		return 0;
	memcpy(buf, out, n);
	buf[n] = '\0';
	return n;
}

static void render_string(struct strbuf *sb, const char *s, size_t len)
{
	strbuf_putc(sb, '"');
	size_t verbatim_from = 0; /* bytes before an escape are copied in one append */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc;
		char hex[7];
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			if (c >= 0x20)
				continue;
			snprintf(hex, sizeof(hex), "\\u%04x", c);
			esc = hex;
		}
		strbuf_append(sb, s + verbatim_from, i - verbatim_from);
		strbuf_puts(sb, esc);
		verbatim_from = i + 1;
	}
	strbuf_append(sb, s + verbatim_from, len - verbatim_from);
	strbuf_putc(sb, '"');
}

static void indent(struct strbuf *sb, int depth)
{
	for (int i = 0; i < depth; i++)
		strbuf_append(sb, "  ", 2);
}

static bool render_value(struct strbuf *sb, const json_t *v, int depth, bool pretty)
{
	if (depth > RENDER_MAX_DEPTH)
		return false;
	char num[400];
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		if (json_object_size(v) == 0) {
			strbuf_puts(sb, "{}");
			return true;
		}
		strbuf_puts(sb, pretty ? "{\n" : "{");
		const char *key;
		json_t *item;
		size_t i = 0, n = json_object_size(v);
		/* Jansson (>= 2.8) iterates objects in insertion order, which is
		 * the order the API sent the keys in. */
		json_object_foreach((json_t *)v, key, item) {
			if (pretty)
				indent(sb, depth + 1);
			render_string(sb, key, strlen(key));
			strbuf_puts(sb, pretty ? ": " : ":");
			if (!render_value(sb, item, depth + 1, pretty))
				return false;
			if (pretty)
				strbuf_puts(sb, ++i < n ? ",\n" : "\n");
			else if (++i < n)
				strbuf_putc(sb, ',');
		}
		if (pretty)
			indent(sb, depth);
		strbuf_putc(sb, '}');
		return true;
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(v);
		if (n == 0) {
			strbuf_puts(sb, "[]");
			return true;
		}
		strbuf_puts(sb, pretty ? "[\n" : "[");
		for (size_t i = 0; i < n; i++) {
			if (pretty)
				indent(sb, depth + 1);
			if (!render_value(sb, json_array_get(v, i), depth + 1, pretty))
				return false;
			if (pretty)
				strbuf_puts(sb, i + 1 < n ? ",\n" : "\n");
			else if (i + 1 < n)
				strbuf_putc(sb, ',');
		}
		if (pretty)
			indent(sb, depth);
		strbuf_putc(sb, ']');
		return true;
	}
	case JSON_STRING: {
		size_t len;
		const char *text = numtext_marked(v, &len);
		if (text)
			strbuf_append(sb, text, len); /* a number, as the API wrote it */
		else if ((text = numtext_string(v, &len)))
			render_string(sb, text, len);
		return true;
	}
	case JSON_INTEGER:
		strbuf_printf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return true;
	case JSON_REAL:
		if (!render_real(json_real_value(v), num, sizeof(num)))
			return false;
		strbuf_puts(sb, num);
		return true;
	case JSON_TRUE:
		strbuf_puts(sb, "true");
		return true;
	case JSON_FALSE:
		strbuf_puts(sb, "false");
		return true;
	case JSON_NULL:
		strbuf_puts(sb, "null");
		return true;
	}
	return false;
}

char *render_json(const json_t *value, size_t *len)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	if (!render_value(&sb, value, 0, true)) {
		strbuf_release(&sb);
		return NULL;
	}
	strbuf_putc(&sb, '\n');
	return strbuf_take(&sb, len);
}

bool render_json_line(struct strbuf *sb, const json_t *value)
{
	if (!render_value(sb, value, 0, false))
		return false;
	strbuf_putc(sb, '\n');
	return !strbuf_failed(sb);
}
