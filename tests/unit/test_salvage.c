/* test_salvage.c - a page's items jansson cannot hold, left out in a
 * constant number of passes over the body.
 *
 * This program is linked with --wrap=json_loadb,log_msg
 * (tests/meson.build): every parse salvage makes, and every line it logs,
 * is counted here. */
#include "check.h"
#include "log.h"
#include "salvage.h"
#include "strbuf.h"

#include <stdarg.h>
#include <stdlib.h>

json_t *__real_json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error);
static size_t whole_len;              /* the body under test */
static unsigned whole_parses, parses; /* of it whole (half of it or more), of anything */
static size_t parsed_bytes;
static unsigned log_lines;

json_t *__wrap_json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error)
{
	parses++;
	parsed_bytes += buflen;
	if (buflen * 2 >= whole_len)
		whole_parses++;
	return __real_json_loadb(buffer, buflen, flags, error);
}

void __wrap_log_msg(enum log_level level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
	log_lines++;
}

/* A page of n items, ids 1..n; the ids in bad[] carry a value jansson
 * cannot hold, in turn an integer past 64 bits, 1e400 and invalid UTF-8. */
static char *page(size_t n, const int *bad, size_t n_bad, const char *meta)
{
	static const char *const poison[] = { "\"v\":123456789012345678901234567890",
					      "\"v\":[1,1e400]", "\"v\":\"\xff\xfe\"" };
	struct strbuf sb;
	strbuf_init(&sb, 0);
	strbuf_puts(&sb, "{\"status\":\"success\",\"data\":[\n");
	for (size_t id = 1; id <= n; id++) {
		size_t which = n_bad;
		for (size_t k = 0; k < n_bad; k++)
			if ((size_t)bad[k] == id)
				which = k;
		strbuf_printf(&sb, "  {\"id\":%zu,\"label\":\"Tài khoản %zu\",\"accumulated\":%zu.50%s%s}%s\n",
			      id, id, id * 1000, which < n_bad ? "," : "",
			      which < n_bad ? poison[which % 3] : "", id < n ? "," : "");
	}
	strbuf_printf(&sb, "],\"meta\":%s}", meta ? meta : "{\"pagination\":{\"last_page\":1}}");
	return strbuf_take(&sb, NULL);
}

static json_t *salvage(const char *body, size_t *dropped, json_error_t *error)
{
	whole_len = strlen(body);
	whole_parses = parses = 0;
	parsed_bytes = 0;
	log_lines = 0;
	return salvage_list(body, whole_len, JSON_ALLOW_NUL, "test", "/p", dropped, error);
}

/* The ids a salvaged page kept, in order, all but those in bad[]. */
static void check_kept(json_t *root, size_t n, const int *bad, size_t n_bad)
{
	json_t *data = json_object_get(root, "data");
	size_t at = 0;
	for (size_t id = 1; id <= n; id++) {
		bool dropped = false;
		for (size_t k = 0; k < n_bad; k++)
			dropped |= (size_t)bad[k] == id;
		if (dropped)
			continue;
		CHECK_INT(json_integer_value(json_object_get(json_array_get(data, at), "id")), id);
		at++;
	}
	CHECK_INT(json_array_size(data), at);
}

static void test_clean_page(void)
{
	char *body = page(50, NULL, 0, NULL);
	size_t dropped;
	json_error_t error;
	json_t *root = salvage(body, &dropped, &error);
	CHECK(root != NULL);
	CHECK_INT(dropped, 0);
	CHECK_INT(parses, 1);
	CHECK_INT(log_lines, 0);
	json_decref(root);
	free(body);
}

/* 100 bad items of 400, the first, the last and neighbours among them:
 * two parses of the whole body, not one more per item left out. */
static void test_hundred_bad_items(void)
{
	int bad[100];
	size_t n_bad = 0;
	bad[n_bad++] = 1;
	bad[n_bad++] = 2;
	bad[n_bad++] = 400;
	for (int id = 7; n_bad < 100; id += 4)
		bad[n_bad++] = id;
	char *body = page(400, bad, n_bad, NULL);
	size_t dropped;
	json_error_t error;
	json_t *root = salvage(body, &dropped, &error);
	CHECK(root != NULL);
	CHECK_INT(dropped, 100);
	CHECK_INT(log_lines, 100); /* one line per item left out */
	check_kept(root, 400, bad, n_bad);
	CHECK_INT(whole_parses, 2); /* it was 101 */
	CHECK(parsed_bytes <= 3 * whole_len);
	json_decref(root);
	free(body);
}

/* Past the bound the page is refused, after parsing at most one item past
 * it: a page of 5,000 bad items costs no more than one of 101. */
static void test_too_many_bad_items(void)
{
	int bad[5000];
	for (int i = 0; i < 5000; i++)
		bad[i] = i + 1;
	char *body = page(5000, bad, 101, NULL);
	size_t dropped;
	json_error_t error;
	json_t *root = salvage(body, &dropped, &error);
	CHECK(root == NULL);
	CHECK_INT(dropped, 0);
	CHECK_INT(json_error_code(&error), json_error_numeric_overflow);
	CHECK_INT(log_lines, 0); /* the refused page is one line, the caller's */
	CHECK_INT(whole_parses, 1);
	free(body);

	body = page(5000, bad, 5000, NULL);
	root = salvage(body, &dropped, &error);
	CHECK(root == NULL);
	CHECK_INT(parses, 1 + SALVAGE_MAX_DROPPED + 1);
	CHECK(parsed_bytes < whole_len + whole_len / 10);
	free(body);

	/* Exactly the bound: kept. */
	body = page(300, bad, SALVAGE_MAX_DROPPED, NULL);
	root = salvage(body, &dropped, &error);
	CHECK(root != NULL);
	CHECK_INT(dropped, SALVAGE_MAX_DROPPED);
	check_kept(root, 300, bad, SALVAGE_MAX_DROPPED);
	json_decref(root);
	free(body);
}

/* Only values jansson cannot hold are an item's fault: broken syntax, in
 * an item after a bad one too, or a bad value outside the items, refuses
 * the page. */
static void test_not_repaired(void)
{
	size_t dropped;
	json_error_t error;
	const char *after = "{\"data\":[{\"id\":1,\"v\":1e400},{\"id\":2},{\"id\":3,,}]}";
	CHECK(salvage(after, &dropped, &error) == NULL);
	CHECK(json_error_code(&error) != json_error_numeric_overflow);
	CHECK_INT(log_lines, 0);

	int bad[] = { 2 };
	char *body = page(3, bad, 1, "{\"v\":1e400}");
	CHECK(salvage(body, &dropped, &error) == NULL);
	CHECK_INT(json_error_code(&error), json_error_numeric_overflow);
	CHECK_INT(log_lines, 0);
	free(body);

	const char *outside = "{\"meta\":{\"v\":1e400},\"data\":[{\"id\":1}]}";
	CHECK(salvage(outside, &dropped, &error) == NULL);
	const char *spliced = "{\"data\":[}, \"x\":[1, 2e999]}";
	CHECK(salvage(spliced, &dropped, &error) == NULL);

	/* Every item bad: an empty page, each item logged. */
	const char *all = "{\"data\":[ 1e400 , {\"a\":99999999999999999999} ],\"meta\":{}}";
	json_t *root = salvage(all, &dropped, &error);
	CHECK(root && json_array_size(json_object_get(root, "data")) == 0);
	CHECK_INT(dropped, 2);
	CHECK_INT(log_lines, 2);
	json_decref(root);
}

int main(void)
{
	test_clean_page();
	test_hundred_bad_items();
	test_too_many_bad_items();
	test_not_repaired();
	return check_report("salvage");
}
