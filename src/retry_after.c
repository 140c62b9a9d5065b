/* retry_after.c - the wait a response's headers ask for. */
#include "retry_after.h"

#include <curl/curl.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A header value longer than this is not a number or a date. */
#define VALUE_MAX 64
/* X-RateLimit-Reset below this is seconds from now; at or above, a Unix
 * time (2001 onwards): the header is sent both ways by rate limiters. */
#define RESET_EPOCH_FROM 1e9

void retry_hints_init(struct retry_hints *h, time_t now)
{
	h->retry_after = h->userapi = h->remaining = h->reset = -1;
	h->now = now;
}

/* A plain non-negative decimal number ("2", "1.5"); false for anything else
 * (exponents, signs, inf, nan, trailing words). */
static bool plain_number(const char *s, double *out)
{
	bool digits = false, point = false;
	for (const char *p = s; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digits = true;
		else if (*p == '.' && !point)
			point = true;
		else
			return false;
	}
	if (!digits)
		return false;
	double v = strtod(s, NULL);
	if (!isfinite(v))
		return false;
	*out = v;
	return true;
}

void retry_hints_header(struct retry_hints *h, const char *line, size_t len)
{
	static const char *const names[] = { "retry-after", "x-sepay-userapi-retry-after",
					     "x-ratelimit-remaining", "x-ratelimit-reset" };
	const char *colon = memchr(line, ':', len);
	if (!colon)
		return;
	size_t name_len = (size_t)(colon - line);
	size_t which = sizeof(names) / sizeof(names[0]);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == name_len && strncasecmp(line, names[i], name_len) == 0)
			which = i;
	if (which == sizeof(names) / sizeof(names[0]))
		return;
	const char *v = colon + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end - v >= VALUE_MAX || end == v)
		return;
	char value[VALUE_MAX];
	memcpy(value, v, (size_t)(end - v));
	value[end - v] = '\0';
	double n;
	bool number = plain_number(value, &n);
	switch (which) {
	case 0:
		if (number) {
			h->retry_after = n;
		} else {
			time_t when = curl_getdate(value, NULL);
			if (when != -1)
				h->retry_after = when > h->now ? (double)(when - h->now) : 0;
		}
		break;
	case 1:
		if (number)
			h->userapi = n;
		break;
	case 2:
		if (number)
			h->remaining = n;
		break;
	case 3:
		if (number)
			h->reset = n;
		break;
	}
}

double retry_hints_seconds(const struct retry_hints *h)
{
	if (h->retry_after >= 0)
		return h->retry_after;
	if (h->userapi >= 0)
		return h->userapi;
	if (h->remaining == 0 && h->reset >= 0) {
		if (h->reset < RESET_EPOCH_FROM)
			return h->reset;
		double left = h->reset - (double)h->now;
		return left > 0 ? left : 0;
	}
	return -1;
}
