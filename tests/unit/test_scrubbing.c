/* test_scrubbing.c - memory scrubbed when freed: what jansson frees inside
 * a scrubbing scope, what libcurl frees, and a buffer that grows around a
 * secret.
 *
 * This program is linked with --wrap=free,realloc (tests/meson.build):
 * every block our code, libcurl (through scrubbing_alloc.c) or jansson
 * (the same) frees or moves passes here and is searched for `watched`.  A
 * block handed to realloc() holding it counts as left behind: realloc may
 * move it without scrubbing. */
#include "check.h"
#include "scrubbing_alloc.h"
#include "strbuf.h"

#include <curl/curl.h>
#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>

/* A block searched whole holds bytes never written (a buffer's room to
 * grow): under valgrind, say they may be read. */
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

void __real_free(void *p);
void *__real_realloc(void *p, size_t size);
static const char *watched;
static unsigned left_behind, frees_seen;

static bool holds_watched(void *p)
{
	if (!watched || !p)
		return false;
	size_t size = malloc_usable_size(p);
	VALGRIND_MAKE_MEM_DEFINED(p, size);
	return memmem(p, size, watched, strlen(watched)) != NULL;
}

void __wrap_free(void *p)
{
	if (watched && p)
		frees_seen++;
	if (holds_watched(p))
		left_behind++;
	__real_free(p);
}

void *__wrap_realloc(void *p, size_t size)
{
	if (holds_watched(p))
		left_behind++;
	return __real_realloc(p, size);
}

/* A token as long as SePay's JWTs: longer than jansson's first buffer. */
static const char TOKEN[] = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0Iiwic2NvcGUiOiJiYW5rLWFjY291bnQ6cmVh"
			    "ZCJ9.ZmFrZS1zaWduYXR1cmUtb2YtdGhpcy10ZXN0LXRva2VuLTAxMjM0NTY3ODk";

/* A token answer parsed and freed, inside a scrubbing scope or not:
 * how many freed blocks kept the token. */
static unsigned parse_answer(bool in_scope)
{
	char answer[512];
	snprintf(answer, sizeof(answer), "{\"access_token\":\"%s\",\"expires_in\":3600}", TOKEN);
	if (in_scope)
		scrubbing_scope_enter();
	watched = TOKEN;
	left_behind = 0;
	json_t *root = json_loads(answer, 0, NULL);
	CHECK_STR(json_string_value(json_object_get(root, "access_token")), TOKEN);
	json_decref(root);
	watched = NULL;
	if (in_scope)
		scrubbing_scope_leave();
	explicit_bzero(answer, sizeof(answer));
	return left_behind;
}

static void test_jansson_in_scopes(void)
{
	/* Outside a scope, jansson's lexer buffer and the string itself go
	 * unscrubbed: what the daemon's API pages do, and what this test
	 * would see if a scope did nothing. */
	CHECK(parse_answer(false) > 0);
	CHECK_INT(parse_answer(true), 0);
	/* Nested scopes: the inner one's end does not end the outer. */
	scrubbing_scope_enter();
	CHECK_INT(parse_answer(true), 0);
	scrubbing_scope_leave();
}

/* A buffer growing from its first size to several times it around a
 * token, as a token answer's body does. */
static unsigned grow_around_token(bool scrubbed)
{
	struct strbuf sb;
	if (scrubbed)
		strbuf_init_scrubbed(&sb, 0);
	else
		strbuf_init(&sb, 0);
	watched = TOKEN;
	left_behind = 0;
	strbuf_puts(&sb, "{\"access_token\":\"");
	strbuf_puts(&sb, TOKEN);
	for (int i = 0; i < 40; i++)
		strbuf_puts(&sb, "\",\"padding\":\"0123456789abcdef");
	CHECK(!strbuf_failed(&sb) && memmem(sb.data, sb.len, TOKEN, strlen(TOKEN)));
	size_t len;
	char *text = strbuf_take(&sb, &len);
	explicit_bzero(text, len);
	free(text);
	watched = NULL;
	return left_behind;
}

static void test_strbuf_scrubbed(void)
{
	CHECK(grow_around_token(false) > 0); /* realloc'ed with the token in it */
	CHECK_INT(grow_around_token(true), 0);

	/* scrubbing_realloc moves the bytes and scrubs the block they left. */
	char *p = malloc(300);
	snprintf(p, 300, "%s", TOKEN);
	watched = TOKEN;
	left_behind = 0;
	char *q = scrubbing_realloc(p, 600);
	CHECK(q && strcmp(q, TOKEN) == 0);
	CHECK_INT(left_behind, 0);
	q = scrubbing_realloc(q, 16); /* shrinking keeps the head, scrubs the rest */
	CHECK(q && memcmp(q, TOKEN, 16) == 0);
	CHECK_INT(left_behind, 0);
	watched = NULL;
	scrubbing_free(q);
}

static void test_curl_frees_scrubbed(void)
{
	/* libcurl's copy of a header line, freed by libcurl. */
	char line[512];
	snprintf(line, sizeof(line), "Authorization: Bearer %s", TOKEN);
	watched = TOKEN;
	left_behind = frees_seen = 0;
	struct curl_slist *list = curl_slist_append(NULL, line);
	CHECK(list != NULL);
	curl_slist_free_all(list);
	char *escaped = curl_easy_escape(NULL, TOKEN, 0);
	CHECK(escaped != NULL);
	curl_free(escaped);
	CHECK(frees_seen >= 2); /* libcurl's frees came here: they go through us */
	CHECK_INT(left_behind, 0);
	watched = NULL;
	explicit_bzero(line, sizeof(line));
}

int main(void)
{
	CHECK(scrubbing_alloc_install(SCRUB_JANSSON_IN_SCOPES)); /* as sepayfs's does */
	test_jansson_in_scopes();
	test_strbuf_scrubbed();
	test_curl_frees_scrubbed();
	curl_global_cleanup();
	return check_report("scrubbing");
}
