/* csv.c - RFC 4180 fields, and money as plain decimals. */
#include "csv.h"

#include "numtext.h"
#include "render.h"
#include "strbuf.h"

#include <string.h>

void csv_field(struct strbuf *sb, const char *text, size_t len)
{
	bool quote = false;
	for (size_t i = 0; i < len && !quote; i++)
		quote = text[i] == ',' || text[i] == '"' || text[i] == '\r' || text[i] == '\n';
	if (!quote) {
		strbuf_append(sb, text, len);
		return;
	}
	strbuf_putc(sb, '"');
	size_t from = 0;
	for (size_t i = 0; i < len; i++)
		if (text[i] == '"') {
			strbuf_append(sb, text + from, i + 1 - from);
			strbuf_putc(sb, '"');
			from = i + 1;
		}
	strbuf_append(sb, text + from, len - from);
	strbuf_putc(sb, '"');
}

bool csv_value(struct strbuf *sb, const json_t *v)
{
	char buf[NUMTEXT_BUF];
	size_t len;
	const char *text;
	if (!v || json_is_null(v))
		return true;
	if ((text = numtext_string(v, &len)) || (text = numtext_number(v, buf, &len))) {
		csv_field(sb, text, len);
		return true;
	}
	if (json_is_boolean(v)) {
		strbuf_puts(sb, json_is_true(v) ? "true" : "false");
		return true;
	}
	struct strbuf line;
	strbuf_init(&line, 0);
	bool ok = render_json_line(&line, v) && line.len > 0;
	if (ok)
		csv_field(sb, line.data, line.len - 1); /* without its newline */
	strbuf_release(&line);
	return ok;
}

/* Digits of a number's text, the sign and where the point falls. */
struct decimal_digits {
	bool negative;
	char digits[CSV_MONEY_MAX];
	int count;
	int point; /* digits before the point; may be <= 0 or past count */
};

static bool read_digits(const char *t, size_t len, struct decimal_digits *d)
{
	size_t i = 0;
	memset(d, 0, sizeof(*d));
	if (i < len && t[i] == '-')
		d->negative = true, i++;
	bool seen_point = false, any = false;
	for (; i < len && ((t[i] >= '0' && t[i] <= '9') || (t[i] == '.' && !seen_point)); i++) {
		if (t[i] == '.') {
			seen_point = true;
			continue;
		}
		any = true;
		if (d->count == 0 && t[i] == '0' && !seen_point)
			continue; /* a leading zero of the whole part */
		if (d->count >= CSV_MONEY_MAX - 8)
			return false;
		d->digits[d->count++] = t[i];
		if (!seen_point)
			d->point++;
	}
	if (!any)
		return false;
	if (i < len && (t[i] == 'e' || t[i] == 'E')) {
		i++;
		bool minus = i < len && t[i] == '-';
		if (i < len && (t[i] == '-' || t[i] == '+'))
			i++;
		int exp = 0;
		size_t start = i;
		for (; i < len && t[i] >= '0' && t[i] <= '9'; i++)
			if ((exp = exp * 10 + (t[i] - '0')) > 40)
				return false;
		if (i == start)
			return false;
		d->point += minus ? -exp : exp;
	}
	return i == len;
}

bool csv_money_text(const char *text, size_t len, char out[CSV_MONEY_MAX])
{
	struct decimal_digits d;
	if (!read_digits(text, len, &d))
		return false;
	/* Trailing zeros past the point carry nothing: at most two stay. */
	while (d.count > d.point && d.count > 0 && d.digits[d.count - 1] == '0')
		d.count--;
	int whole = d.point > 0 ? d.point : 0;
	int places = d.count - d.point > 2 ? d.count - d.point : 2;
	if (whole + places + 3 > CSV_MONEY_MAX - 1)
		return false;
	size_t n = 0;
	if (d.negative)
		out[n++] = '-';
	if (whole == 0)
		out[n++] = '0';
	for (int i = 0; i < whole; i++)
		out[n++] = i < d.count ? d.digits[i] : '0';
	out[n++] = '.';
	for (int i = 0; i < places; i++) {
		int at = d.point + i;
		out[n++] = at >= 0 && at < d.count ? d.digits[at] : '0';
	}
	out[n] = '\0';
	return true;
}

bool csv_money(struct strbuf *sb, const json_t *v)
{
	char buf[NUMTEXT_BUF], money[CSV_MONEY_MAX];
	size_t len;
	const char *text = v ? numtext_number(v, buf, &len) : NULL;
	if (text && csv_money_text(text, len, money)) {
		strbuf_puts(sb, money);
		return true;
	}
	return csv_value(sb, v);
}

void csv_end_record(struct strbuf *sb)
{
	strbuf_append(sb, "\r\n", 2);
}

void csv_sum_add(struct csv_sum *sum, const json_t *v)
{
	char buf[NUMTEXT_BUF];
	size_t len;
	struct decimal_digits d;
	if (!v || json_is_null(v))
		return;
	const char *text = numtext_number(v, buf, &len);
	if (!text || !read_digits(text, len, &d) || d.count - d.point > 6 || d.point > 24) {
		sum->bad = true;
		return;
	}
	__int128 units = 0;
	for (int i = 0; i < d.point + 6; i++)
		units = units * 10 + (i < d.count && i >= 0 ? d.digits[i] - '0' : 0);
	sum->millionths += d.negative ? -units : units;
}

bool csv_sum_text(const struct csv_sum *sum, char out[CSV_MONEY_MAX])
{
	if (sum->bad)
		return false;
	__int128 v = sum->millionths;
	bool negative = v < 0;
	if (negative)
		v = -v;
	char digits[48];
	int n = 0;
	do {
		digits[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v && n < 40);
	while (n < 7)
		digits[n++] = '0';
	char text[CSV_MONEY_MAX];
	size_t t = 0;
	if (negative)
		text[t++] = '-';
	for (int i = n - 1; i >= 6; i--)
		text[t++] = digits[i];
	text[t++] = '.';
	for (int i = 5; i >= 0; i--)
		text[t++] = digits[i];
	return csv_money_text(text, t, out);
}
