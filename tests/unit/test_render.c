/* test_render.c - API objects as the JSON text users read. */
#include "check.h"
#include "numtext.h"
#include "render.h"
#include "strbuf.h"

#include <stdlib.h>

static char *render_text(const char *json)
{
	json_error_t err;
	json_t *v = json_loads(json, JSON_DECODE_ANY, &err);
	if (!v) {
		fprintf(stderr, "bad test JSON: %s\n", err.text);
		return NULL;
	}
	size_t len;
	char *out = render_json(v, &len);
	json_decref(v);
	if (out && strlen(out) != len) {
		free(out);
		return NULL;
	}
	return out;
}

static void check_render(const char *json, const char *expected)
{
	char *out = render_text(json);
	CHECK_STR(out, expected);
	free(out);
}

/* An API body read as the daemon reads it (numbers marked with their
 * text, numtext.h), rendered as a file and as a JSON Lines record. */
static void check_api_render(const char *body, const char *file, const char *line)
{
	char *owned;
	size_t len;
	const char *text = numtext_rewrite(body, strlen(body), &owned, &len);
	json_error_t err;
	json_t *v = text ? json_loadb(text, len, 0, &err) : NULL;
	free(owned);
	CHECK(v != NULL);
	char *out = v ? render_json(v, &len) : NULL;
	CHECK_STR(out, file);
	free(out);
	struct strbuf sb;
	strbuf_init(&sb, 0);
	CHECK(v && render_json_line(&sb, v));
	CHECK_STR(sb.data, line);
	strbuf_release(&sb);
	json_decref(v);
}

static void check_real(double d, const char *expected)
{
	char buf[400];
	CHECK(render_real(d, buf, sizeof(buf)) == strlen(expected));
	CHECK_STR(buf, expected);
}

int main(void)
{
	/* The API's example account, read as the daemon reads it: key order
	 * kept, money as the API wrote it, Vietnamese as UTF-8, nested objects
	 * indented. */
	check_api_render("{\"id\":19,\"label\":\"Cty Demo\",\"accumulated\":1777283273.00,"
			 "\"active\":true,\"bank\":{\"full_name\":\"Ngân hàng TMCP Ngoại Thương\"}}",
			 "{\n"
			 "  \"id\": 19,\n"
			 "  \"label\": \"Cty Demo\",\n"
			 "  \"accumulated\": 1777283273.00,\n"
			 "  \"active\": true,\n"
			 "  \"bank\": {\n"
			 "    \"full_name\": \"Ngân hàng TMCP Ngoại Thương\"\n"
			 "  }\n"
			 "}\n",
			 "{\"id\":19,\"label\":\"Cty Demo\",\"accumulated\":1777283273.00,"
			 "\"active\":true,\"bank\":{\"full_name\":\"Ngân hàng TMCP Ngoại Thương\"}}\n");
	/* Every number as written, jansson's or not; a server string that
	 * begins with U+0001 as it was sent, a key too. */
	check_api_render("{\"m\":2705000.00,\"z\":-0.0,\"e\":1E+2,\"h\":1e400,"
			 "\"b\":123456789012345678901234567890,\"n\":-0,\"i\":-42,"
			 "\"legacy\":\"2525493.00\",\"s\":\"\\u0001x\",\"ss\":\"\\u0001\\u0001\","
			 "\"\\u0001k\":[0.10,1.5e-7]}",
			 "{\n"
			 "  \"m\": 2705000.00,\n"
			 "  \"z\": -0.0,\n"
			 "  \"e\": 1E+2,\n"
			 "  \"h\": 1e400,\n"
			 "  \"b\": 123456789012345678901234567890,\n"
			 "  \"n\": -0,\n"
			 "  \"i\": -42,\n"
			 "  \"legacy\": \"2525493.00\",\n"
			 "  \"s\": \"\\u0001x\",\n"
			 "  \"ss\": \"\\u0001\\u0001\",\n"
			 "  \"\\u0001k\": [\n"
			 "    0.10,\n"
			 "    1.5e-7\n"
			 "  ]\n"
			 "}\n",
			 "{\"m\":2705000.00,\"z\":-0.0,\"e\":1E+2,\"h\":1e400,"
			 "\"b\":123456789012345678901234567890,\"n\":-0,\"i\":-42,"
			 "\"legacy\":\"2525493.00\",\"s\":\"\\u0001x\",\"ss\":\"\\u0001\\u0001\","
			 "\"\\u0001k\":[0.10,1.5e-7]}\n");

	/* A real parsed without numtext (none comes from the API): written as
	 * a person writes it, the shortest form that reads back the same. */
	check_render("{\"id\":19,\"label\":\"Cty Demo\",\"accumulated\":1777283273.00,"
		     "\"active\":true,\"x\":null,\"bank\":{\"full_name\":"
		     "\"Ngân hàng TMCP Ngoại Thương Việt Nam\",\"bin\":\"970436\"}}",
		     "{\n"
		     "  \"id\": 19,\n"
		     "  \"label\": \"Cty Demo\",\n"
		     "  \"accumulated\": 1777283273.0,\n"
		     "  \"active\": true,\n"
		     "  \"x\": null,\n"
		     "  \"bank\": {\n"
		     "    \"full_name\": \"Ngân hàng TMCP Ngoại Thương Việt Nam\",\n"
		     "    \"bin\": \"970436\"\n"
		     "  }\n"
		     "}\n");
	/* Reverse alphabetical keys stay as sent. */
	check_render("{\"z\":1,\"a\":2,\"m\":false}", "{\n  \"z\": 1,\n  \"a\": 2,\n  \"m\": false\n}\n");
	check_render("{}", "{}\n");
	check_render("{\"a\":[],\"b\":{},\"c\":[1,\"x\",[2]]}",
		     "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    \"x\",\n    [\n      2\n    ]\n  ]\n}\n");
	/* Escapes: only what JSON requires; "/" and non-ASCII stay as they are. */
	check_render("{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001/é\"}",
		     "{\n  \"s\": \"a\\\"b\\\\c\\n\\t\\u0001/é\"\n}\n");
	check_render("{\"big\":9223372036854775807,\"neg\":-42}",
		     "{\n  \"big\": 9223372036854775807,\n  \"neg\": -42\n}\n");

	/* JSON Lines: compact, same strings and numbers, a newline. */
	json_t *v = json_loads("{\"id\":1,\"s\":\"Thanh toán \\\"x\\\"\",\"a\":[1,{\"b\":0.10}],\"n\":null}", 0, NULL);
	struct strbuf sb;
	strbuf_init(&sb, 0);
	CHECK(render_json_line(&sb, v));
	CHECK_STR(sb.data, "{\"id\":1,\"s\":\"Thanh toán \\\"x\\\"\",\"a\":[1,{\"b\":0.1}],\"n\":null}\n");
	strbuf_release(&sb);
	json_decref(v);

	check_real(1777283273.00, "1777283273.0");
	check_real(0.1, "0.1");
	check_real(0.10000000000000001, "0.1");
	check_real(12345.67, "12345.67");
	check_real(-0.0, "-0.0");
	check_real(0.0, "0.0");
	check_real(1e20, "100000000000000000000.0");
	check_real(1.5e-7, "0.00000015");
	check_real(-2.5, "-2.5");
	check_real(123456789012345678.0, "123456789012345680.0");
	char buf[400];
	CHECK(render_real(5e-324, buf, sizeof(buf)) > 300);
	CHECK(strtod(buf, NULL) == 5e-324);
	CHECK(render_real(1.7976931348623157e308, buf, sizeof(buf)) > 300);
	CHECK(strtod(buf, NULL) == 1.7976931348623157e308);
	CHECK(render_real(1.0, buf, 3) == 0); /* "1.0" needs 4 bytes */
	return check_report("render");
}
