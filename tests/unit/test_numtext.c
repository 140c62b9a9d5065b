/* test_numtext.c - numbers marked in a body before jansson parses it, and
 * read back as the text the API wrote. */
#include "check.h"
#include "numtext.h"

#include <stdlib.h>

/* body rewritten: the text (static until the next call), or "(same)" when
 * nothing needed rewriting. */
static const char *rewritten(const char *body)
{
	static char *last;
	free(last);
	last = NULL;
	size_t len;
	const char *out = numtext_rewrite(body, strlen(body), &last, &len);
	if (!out)
		return "(out of memory)";
	if (out == body)
		return last ? "(owned but same)" : "(same)";
	return strlen(out) == len ? out : "(length wrong)";
}

static void test_rewrite(void)
{
	CHECK_STR(rewritten("{\"a\":2705000.00}"), "{\"a\":\"\\u00012705000.00\"}");
	/* Every number jansson would not give back as written, and no other. */
	CHECK_STR(rewritten("[-0.0,1E+2,1e400,123456789012345678901234567890,5,-0,0,-7,"
			    "9223372036854775807,9223372036854775808,-9223372036854775808,"
			    "-9223372036854775809,1e-400,0.1]"),
		  "[\"\\u0001-0.0\",\"\\u00011E+2\",\"\\u00011e400\","
		  "\"\\u0001123456789012345678901234567890\",5,\"\\u0001-0\",0,-7,"
		  "9223372036854775807,\"\\u00019223372036854775808\",-9223372036854775808,"
		  "\"\\u0001-9223372036854775809\",\"\\u00011e-400\",\"\\u00010.1\"]");
	/* Nested, with whitespace; strings holding numbers are strings. */
	CHECK_STR(rewritten("{ \"a\" : [ 1.50 , {\"b\":[3e1]} ] ,\"s\":\"1.5\",\"t\":\"x\\\"2.5\"}"),
		  "{ \"a\" : [ \"\\u00011.50\" , {\"b\":[\"\\u00013e1\"]} ] ,\"s\":\"1.5\","
		  "\"t\":\"x\\\"2.5\"}");
	CHECK_STR(rewritten("{\"id\":19,\"label\":\"Cty\",\"active\":true,\"x\":null}"), "(same)");
	CHECK_STR(rewritten(""), "(same)");
	/* A value string beginning with the marker gets it twice; a key, a
	 * marker further in, or an escaped backslash before u0001, does not. */
	CHECK_STR(rewritten("{\"\\u0001k\":\"\\u0001v\",\"a\":[\"\\u0001\"],\"b\":\"x\\u0001\","
			    "\"c\":\"\\\\u0001\"}"),
		  "{\"\\u0001k\":\"\\u0001\\u0001v\",\"a\":[\"\\u0001\\u0001\"],\"b\":\"x\\u0001\","
		  "\"c\":\"\\\\u0001\"}");
	/* After a key in an object, after a comma in an array. */
	CHECK_STR(rewritten("{\"k\":{\"1.5\":[0.5,{\"2.5\":2.5}]},\"z\":[[1.0],2.0]}"),
		  "{\"k\":{\"1.5\":[\"\\u00010.5\",{\"2.5\":\"\\u00012.5\"}]},"
		  "\"z\":[[\"\\u00011.0\"],\"\\u00012.0\"]}");
	/* Tokens that are no JSON number, and numbers where no value may
	 * stand, stay: jansson refuses them as before. */
	const char *refused[] = { "[01.5]", "[1.]", "[.5]", "[-]", "[1e]", "[1.5.3]", "[+1]",
				  "{1.5:2}", "{\"a\" 1.5}", "[1 2.5]", "[1.5-2]", "[1.5e5e5]",
				  "{\"a\":1.5", "[\"x\" 1.5]", "{\"a\":1,2.5:3}", "[true 1.5]" };
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		size_t len;
		char *owned;
		const char *out = numtext_rewrite(refused[i], strlen(refused[i]), &owned, &len);
		json_t *v = json_loadb(out, len, 0, NULL);
		if (v)
			fprintf(stderr, "accepted after the rewrite: %s -> %.*s\n", refused[i],
				(int)len, out);
		CHECK(v == NULL);
		json_decref(v);
		free(owned);
	}
	/* A raw NUL byte, no JSON: jansson skips one after a number, not
	 * after the string the number became, so the body is refused now.  A
	 * string is doubled all the same: no server string passes for a
	 * number. */
	static const char nul[] = "[1.0\0,\"\\u00012\"]";
	char *owned;
	size_t len;
	const char *out = numtext_rewrite(nul, sizeof(nul) - 1, &owned, &len);
	json_t *quirk = json_loadb(nul, sizeof(nul) - 1, 0, NULL);
	CHECK(quirk != NULL); /* jansson's */
	json_decref(quirk);
	CHECK(out && len == sizeof(nul) - 1 + 8 + 6 &&
	      memcmp(out, "[\"\\u00011.0\"\0,\"\\u0001\\u00012\"]", len) == 0);
	CHECK(out && json_loadb(out, len, 0, NULL) == NULL);
	free(owned);
	/* 4096 levels deep: nothing is rewritten past them (jansson stops at
	 * 2048 anyway); no overflow of the levels kept. */
	char deep[8200];
	size_t n = 0;
	for (int i = 0; i < 4100; i++)
		deep[n++] = '[';
	memcpy(deep + n, "1.5", 4);
	CHECK_STR(rewritten(deep), "(same)");
}

/* The rewritten body parsed: what each reader sees. */
static void test_read_back(void)
{
	const char *body = "{\"m\":2705000.00,\"z\":-0.0,\"e\":1E+2,\"h\":1e400,"
			   "\"b\":123456789012345678901234567890,\"i\":25,\"legacy\":\"2525493.00\","
			   "\"s\":\"\\u0001x\",\"ss\":\"\\u0001\\u0001y\",\"t\":\"text\",\"f\":true,"
			   "\"\\u0001k\":1}";
	char *owned;
	size_t len;
	const char *text = numtext_rewrite(body, strlen(body), &owned, &len);
	json_error_t error;
	json_t *v = json_loadb(text, len, 0, &error);
	CHECK(v != NULL);
	free(owned);
	size_t n;
	char buf[NUMTEXT_BUF];
	CHECK_STR(numtext_marked(json_object_get(v, "m"), &n), "2705000.00");
	CHECK_INT(n, 10);
	CHECK_STR(numtext_marked(json_object_get(v, "z"), &n), "-0.0");
	CHECK_STR(numtext_marked(json_object_get(v, "e"), &n), "1E+2");
	CHECK_STR(numtext_marked(json_object_get(v, "h"), &n), "1e400");
	CHECK_STR(numtext_marked(json_object_get(v, "b"), &n), "123456789012345678901234567890");
	CHECK(numtext_marked(json_object_get(v, "i"), &n) == NULL);
	CHECK(numtext_marked(json_object_get(v, "s"), &n) == NULL);
	/* Server strings: the marker they began with, once. */
	CHECK_STR(numtext_string(json_object_get(v, "s"), &n), "\001x");
	CHECK_INT(n, 2);
	CHECK_STR(numtext_string(json_object_get(v, "ss"), &n), "\001\001y");
	CHECK_INT(n, 3);
	CHECK_STR(numtext_string(json_object_get(v, "t"), &n), "text");
	CHECK(numtext_string(json_object_get(v, "m"), &n) == NULL);
	CHECK(numtext_string(json_object_get(v, "i"), &n) == NULL);
	/* The key kept its single marker, and its value is an integer. */
	CHECK_INT(json_integer_value(json_object_get(v, "\001k")), 1);

	/* Any value as number text: a marked one, an integer, a legacy
	 * string; not a server string, a flag or text. */
	CHECK_STR(numtext_number(json_object_get(v, "m"), buf, &n), "2705000.00");
	CHECK_STR(numtext_number(json_object_get(v, "h"), buf, &n), "1e400");
	const char *i = numtext_number(json_object_get(v, "i"), buf, &n);
	CHECK(i && n == 2 && memcmp(i, "25", 2) == 0);
	CHECK_STR(numtext_number(json_object_get(v, "legacy"), buf, &n), "2525493.00");
	CHECK(numtext_number(json_object_get(v, "s"), buf, &n) == NULL);
	CHECK(numtext_number(json_object_get(v, "ss"), buf, &n) == NULL);
	CHECK(numtext_number(json_object_get(v, "t"), buf, &n) == NULL);
	CHECK(numtext_number(json_object_get(v, "f"), buf, &n) == NULL);
	CHECK(numtext_number(NULL, buf, &n) == NULL);
	json_t *real = json_real(0.1);
	i = numtext_number(real, buf, &n);
	CHECK(i && strtod(i, NULL) == 0.1);
	json_decref(real);
	json_decref(v);
}

static void test_is_number(void)
{
	const char *yes[] = { "0", "-0", "1", "10", "1.5", "-0.0", "1e5", "1E+5", "1e-5", "0.5e0" };
	const char *no[] = { "", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1.5.", "0x10", "1 ", "NaN" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		CHECK(numtext_is_number(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		CHECK(!numtext_is_number(no[i], strlen(no[i])));
}

int main(void)
{
	test_rewrite();
	test_read_back();
	test_is_number();
	return check_report("numtext");
}
