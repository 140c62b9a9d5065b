/* fuzz_render.c - render_json and render_real on any JSON value.
 *
 * The input is JSON text of any kind (JSON_DECODE_ANY), read twice: as the
 * daemon reads an API body (numtext_rewrite, then jansson: numbers are
 * marked with their text) and as jansson alone reads it (reals).
 * Whatever it is, rendering must not crash and must read back (as the
 * daemon reads a body) to the same value: a marked number as the same
 * text, a real as the same double.  Every real must be written in a form
 * that reads back as the same double.
 * The first 8 bytes are also taken as a raw double, so render_real sees
 * denormals, huge exponents, NaN and infinities that JSON text cannot
 * easily spell. */
#include "fuzz_common.h"

#include "render.h"

#include <stdint.h>

/* Positional form: an optional '-', digits, one '.', digits; never an
 * exponent, and at most 17 significant digits (the most a double needs). */
static void check_real_text(const char *s, size_t n)
{
	size_t i = 0, points = 0, significant = 0;
	if (s[0] == '-')
		i++;
	FUZZ_CHECK(i < n && s[i] >= '0' && s[i] <= '9');
	for (; i < n; i++) {
		if (s[i] == '.') {
			points++;
			continue;
		}
		FUZZ_CHECK(s[i] >= '0' && s[i] <= '9');
		/* Past the 17th significant digit only zeros placing the point. */
		if (significant || s[i] != '0')
			if (++significant > 17)
				FUZZ_CHECK(s[i] == '0');
	}
	FUZZ_CHECK(points == 1);
	FUZZ_CHECK(s[n - 1] != '.');
}

static void check_real(double d)
{
	char buf[512];
	size_t n = render_real(d, buf, sizeof(buf));
	if (!isfinite(d)) {
		FUZZ_CHECK(n == 0);
		return;
	}
	FUZZ_CHECK(n > 0 && n < sizeof(buf));
	FUZZ_CHECK(buf[n] == '\0' && strlen(buf) == n);
	check_real_text(buf, n);
	char *end;
	double back = strtod(buf, &end);
	FUZZ_CHECK(end == buf + n);
	FUZZ_CHECK(back == d);
	FUZZ_CHECK(signbit(back) == signbit(d));

	/* Exactly sized buffers, so AddressSanitizer sees any write past them:
	 * one byte short must be refused, the exact size must fit. */
	char *tight = malloc(n + 1);
	FUZZ_CHECK(tight != NULL);
	FUZZ_CHECK(render_real(d, tight, n) == 0);
	FUZZ_CHECK(render_real(d, tight, n + 1) == n);
	FUZZ_CHECK(memcmp(tight, buf, n + 1) == 0);
	free(tight);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= sizeof(double)) {
		double raw;
		memcpy(&raw, data, sizeof(raw));
		check_real(raw);
	}

	char *owned;
	size_t marked_len;
	const char *marked = numtext_rewrite((const char *)data, size, &owned, &marked_len);
	FUZZ_CHECK(marked != NULL);
	json_t *values[] = { json_loadb(marked, marked_len, JSON_DECODE_ANY, NULL),
			     json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL) };
	free(owned);
	for (size_t i = 0; i < 2; i++) {
		if (!values[i])
			continue;
		size_t len = 0;
		char *text = render_json(values[i], &len);
		fuzz_check_rendered(values[i], text, len);
		fuzz_json_reals(values[i], check_real);
		free(text);
		json_decref(values[i]);
	}
	return 0;
}
