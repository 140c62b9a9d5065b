/* test_render.c - API objects as the JSON text users read. */
#include "check.h"
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

static void check_real(double d, const char *expected)
{
	char buf[400];
	CHECK(render_real(d, buf, sizeof(buf)) == strlen(expected));
	CHECK_STR(buf, expected);
}

int main(void)
{
	/* The API's example account: key order kept, money without exponent
	 * or noise, Vietnamese as UTF-8, nested objects indented. */
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
