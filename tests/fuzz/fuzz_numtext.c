/* fuzz_numtext.c - numtext_rewrite on any bytes, and the values read back.
 *
 * The input is an API body, hostile.  Whatever it is, the rewrite must not
 * crash, must stay within 4 times the input and 8 bytes, and must change nothing
 * jansson reads but what it promises: where jansson reads the input, it
 * reads the rewrite as the same value with every real (and -0) a marked
 * number whose text reads back as it, and every string that began with
 * U+0001 with the marker doubled; keys and everything else the same.
 * Where jansson refuses the input for anything but a number it cannot
 * hold, it refuses the rewrite too, a body cut short still as cut short. */
#include "fuzz_common.h"

#include "numtext.h"

#include <stdint.h>

static void check_same(const json_t *orig, const json_t *marked)
{
	FUZZ_CHECK(marked != NULL);
	size_t len;
	char buf[NUMTEXT_BUF];
	const char *text;
	switch (json_typeof(orig)) {
	case JSON_OBJECT: {
		FUZZ_CHECK(json_is_object(marked));
		FUZZ_CHECK(json_object_size(orig) == json_object_size(marked));
		void *a = json_object_iter((json_t *)orig), *b = json_object_iter((json_t *)marked);
		for (; a; a = json_object_iter_next((json_t *)orig, a),
			  b = json_object_iter_next((json_t *)marked, b)) {
			FUZZ_CHECK(b != NULL);
			FUZZ_CHECK(strcmp(json_object_iter_key(a), json_object_iter_key(b)) == 0);
			check_same(json_object_iter_value(a), json_object_iter_value(b));
		}
		return;
	}
	case JSON_ARRAY:
		FUZZ_CHECK(json_is_array(marked));
		FUZZ_CHECK(json_array_size(orig) == json_array_size(marked));
		for (size_t i = 0; i < json_array_size(orig); i++)
			check_same(json_array_get(orig, i), json_array_get(marked, i));
		return;
	case JSON_STRING:
		FUZZ_CHECK(numtext_marked(marked, &len) == NULL);
		text = numtext_string(marked, &len);
		FUZZ_CHECK(text && len == json_string_length(orig));
		FUZZ_CHECK(memcmp(text, json_string_value(orig), len) == 0);
		FUZZ_CHECK(json_string_length(marked) ==
			   len + (len && json_string_value(orig)[0] == NUMTEXT_MARK));
		return;
	case JSON_INTEGER:
		if (json_is_string(marked)) { /* -0: the integer 0 lost its sign */
			text = numtext_marked(marked, &len);
			FUZZ_CHECK(text && len == 2 && memcmp(text, "-0", 2) == 0);
			FUZZ_CHECK(json_integer_value(orig) == 0);
			return;
		}
		FUZZ_CHECK(json_is_integer(marked));
		FUZZ_CHECK(json_integer_value(orig) == json_integer_value(marked));
		text = numtext_number(marked, buf, &len);
		FUZZ_CHECK(text && strtoll(text, NULL, 10) == json_integer_value(orig));
		return;
	case JSON_REAL: {
		text = numtext_marked(marked, &len);
		FUZZ_CHECK(text != NULL);
		FUZZ_CHECK(numtext_number(marked, buf, &len) == text);
		double back = strtod(text, NULL);
		FUZZ_CHECK(back == json_real_value(orig));
		FUZZ_CHECK(signbit(back) == signbit(json_real_value(orig)));
		return;
	}
	default:
		FUZZ_CHECK(json_typeof(orig) == json_typeof(marked));
		return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char *owned;
	size_t len;
	const char *out = numtext_rewrite(body, size, &owned, &len);
	FUZZ_CHECK(out != NULL);
	FUZZ_CHECK(out == body ? owned == NULL && len == size : out == owned);
	FUZZ_CHECK(len <= 4 * size + 8);

	if (out == body)
		return 0; /* jansson reads the same bytes */
	/* jansson skips a raw NUL byte (no JSON) after a number, not after
	 * the string the number became: such a body may be refused now. */
	bool raw_nul = memchr(body, '\0', size) != NULL;
	size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
	json_error_t before, after;
	json_t *orig = json_loadb(body, size, flags, &before);
	json_t *marked = json_loadb(out, len, flags, &after);
	if (orig && !(raw_nul && !marked)) {
		check_same(orig, marked);
	} else if (json_error_code(&before) != json_error_numeric_overflow) {
		FUZZ_CHECK(marked == NULL);
		if (json_error_code(&before) == json_error_premature_end_of_input && !raw_nul)
			FUZZ_CHECK(json_error_code(&after) == json_error_premature_end_of_input);
	}
	json_decref(orig);
	json_decref(marked);
	free(owned);
	return 0;
}
