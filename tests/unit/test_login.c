/* test_login.c - sepayfs-login's parts without a browser: what a callback
 * parses to and whether it ends the wait, the authorize URL libcurl
 * builds, text made safe to show, PKCE's vectors, and whole numbers in
 * options.  (test_login.py runs the program against the mock.) */
#include "check.h"
#include "decimal.h"
#include "login_callback.h"
#include "login_flow.h"
#include "login_pkce.h"
#include "login_text.h"
#include "scrubbing_alloc.h"

#include <curl/curl.h>
#include <malloc.h>
#include <stdlib.h>

static const char STATE[] = "0123456789abcdef0123456789abcdef";

/* This program is linked with --wrap=malloc,free (tests/meson.build): every
 * block the program's own code allocates or frees passes here, libcurl's
 * too once it allocates through scrubbing_alloc.c; a block freed while
 * `watched` is set is searched for it. */
void *__real_malloc(size_t size);
void __real_free(void *p);
static const char *watched;
static unsigned watched_mallocs, watched_left_behind;

void *__wrap_malloc(size_t size)
{
	if (watched)
		watched_mallocs++;
	return __real_malloc(size);
}

void __wrap_free(void *p)
{
	if (watched && p && memmem(p, malloc_usable_size(p), watched, strlen(watched)))
		watched_left_behind++;
	__real_free(p);
}

/* Parses one request line, kept in buf (the callback's fields point into it). */
static bool parse(char *buf, size_t cap, const char *request, struct callback *cb)
{
	snprintf(buf, cap, "%s", request);
	return callback_parse(buf, cb);
}

static void test_callback_parse(void)
{
	char buf[512];
	struct callback cb;
	CHECK(parse(buf, sizeof(buf), "GET /callback?code=a%2Bb+c%20d&state=S1&state=S2 "
		    "HTTP/1.1\r\nHost: x\r\n\r\n", &cb));
	CHECK_STR(cb.code, "a+b c d"); /* '+' a space, %2B a plus */
	CHECK_STR(cb.state, "S1");     /* the first of repeated parameters */
	CHECK(!cb.error && !cb.error_description);

	CHECK(parse(buf, sizeof(buf), "GET /callback?error=access_denied&error_description="
		    "The+user+said+no%21#frag=x HTTP/1.1", &cb));
	CHECK_STR(cb.error, "access_denied");
	CHECK_STR(cb.error_description, "The user said no!");
	CHECK(!cb.code && !cb.state);

	/* A NUL byte in a value leaves that parameter out; a lone '%' stays. */
	CHECK(parse(buf, sizeof(buf), "GET /callback?code=ab%00cd&state=%zz%4 HTTP/1.1", &cb));
	CHECK(!cb.code);
	CHECK_STR(cb.state, "%zz%4");

	CHECK(parse(buf, sizeof(buf), "GET /callback HTTP/1.1", &cb));
	CHECK(!cb.code && !cb.state);
	CHECK(!parse(buf, sizeof(buf), "POST /callback?code=x HTTP/1.1", &cb));
	CHECK(!parse(buf, sizeof(buf), "GET /callbackx?code=x HTTP/1.1", &cb));
	CHECK(!parse(buf, sizeof(buf), "GET /?code=x HTTP/1.1", &cb));
	CHECK(!parse(buf, sizeof(buf), "GET", &cb));

	char head[32] = "GET / HTTP/1.1\r\n";
	CHECK(callback_head_end(head, strlen(head)) == NULL);
	strcat(head, "\r\n");
	CHECK(callback_head_end(head, strlen(head)) == head + 14);
}

static void test_callback_judge(void)
{
	struct callback cb = { .code = "c", .state = STATE };
	CHECK_INT(callback_judge(&cb, STATE), CALLBACK_ANSWER);
	cb = (struct callback){ .error = "access_denied", .state = STATE };
	CHECK_INT(callback_judge(&cb, STATE), CALLBACK_ANSWER);
	cb = (struct callback){ .code = "", .state = STATE };
	CHECK_INT(callback_judge(&cb, STATE), CALLBACK_EMPTY);
	/* A wrong or missing state, an error too, never ends the wait. */
	cb = (struct callback){ .error = "access_denied", .state = "0123456789abcdef" };
	CHECK_INT(callback_judge(&cb, STATE), CALLBACK_FOREIGN);
	cb = (struct callback){ .code = "c" };
	CHECK_INT(callback_judge(&cb, STATE), CALLBACK_FOREIGN);

	/* The terminal's line names neither the code nor the state. */
	char line[256];
	cb = (struct callback){ .code = "SECRETCODE", .state = "WRONGSTATE" };
	callback_describe_foreign(&cb, line, sizeof(line));
	CHECK(strstr(line, "a code") && !strstr(line, "SECRETCODE") && !strstr(line, "WRONGSTATE"));
	cb = (struct callback){ .error = "evil\x1b[31m\"text" };
	callback_describe_foreign(&cb, line, sizeof(line));
	CHECK(strstr(line, "error \"evil?[31m?text\"") != NULL);
}

/* The value of name in url's query, decoded as a browser's form is. */
static char *query_param(const char *url, const char *name)
{
	const char *q = strchr(url, '?');
	size_t n = strlen(name);
	for (const char *p = q; p; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, name, n) != 0 || p[1 + n] != '=')
			continue;
		const char *v = p + 2 + n;
		char *raw = strndup(v, strcspn(v, "&#"));
		for (char *c = raw; (c = strchr(c, '+')); c++)
			*c = ' ';
		char *plain = curl_easy_unescape(NULL, raw, 0, NULL);
		char *out = strdup(plain);
		curl_free(plain);
		free(raw);
		return out;
	}
	return NULL;
}

static void check_param(const char *url, const char *name, const char *expected)
{
	char *v = query_param(url, name);
	CHECK_STR(v, expected);
	free(v);
}

static bool starts_with(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_authorize_url(void)
{
	struct login_options o = {
		.client_id = "demo client&x=1",
		.scope = "bank-account:read transaction:read",
		.authorize_url = "https://my.sepay.vn/oauth/authorize",
	};
	const char *redirect = "http://127.0.0.1:8765/callback";
	char *url = login_authorize_url(&o, redirect, STATE, "E9Mel-_");
	CHECK(starts_with(url, "https://my.sepay.vn/oauth/authorize?response_type=code&"));
	check_param(url, "client_id", "demo client&x=1");
	check_param(url, "redirect_uri", redirect);
	check_param(url, "scope", "bank-account:read transaction:read");
	check_param(url, "state", STATE);
	check_param(url, "code_challenge", "E9Mel-_");
	check_param(url, "code_challenge_method", "S256");
	CHECK(url && !strchr(url, ' '));
	free(url);

	/* A query of its own is kept, the log-in's follows it. */
	o.authorize_url = "http://127.0.0.1:9/authorize?tenant=7";
	url = login_authorize_url(&o, redirect, STATE, "c");
	CHECK(starts_with(url, "http://127.0.0.1:9/authorize?tenant=7&response_type=code&"));
	free(url);

	/* No freed block keeps the state: not login_authorize_url's own, not
	 * libcurl's (which allocates through the scrubbing allocator: the flow
	 * itself makes 7 blocks, one a parameter, so more are libcurl's). */
	watched = STATE;
	watched_mallocs = watched_left_behind = 0;
	url = login_authorize_url(&o, redirect, STATE, "c");
	watched = NULL;
	CHECK(url != NULL);
	CHECK(watched_mallocs > 7);
	CHECK_INT(watched_left_behind, 0);
	free(url);

	o.authorize_url = "not a url";
	url = login_authorize_url(&o, redirect, STATE, "c");
	CHECK(url == NULL);
	free(url);
}

static void test_text(void)
{
	char out[TERMINAL_TEXT_MAX + 8];
	terminal_text("ok \x1b[2J\xc2\x9b caf\xc3\xa9 \xff", out, sizeof(out));
	CHECK_STR(out, "ok ?[2J?? caf\xc3\xa9 ?"); /* C1's two bytes, each a '?' */
	char long_text[TERMINAL_TEXT_MAX * 2];
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	terminal_text(long_text, out, sizeof(out));
	CHECK_INT(strlen(out), TERMINAL_TEXT_MAX + 3);

	struct strbuf sb;
	strbuf_init(&sb, 0);
	html_escaped(&sb, "<a href=\"x\">'&'</a>");
	CHECK(sb.data && sb.len == strlen("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"));
	CHECK(sb.data && memcmp(sb.data, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
				sb.len) == 0);
	strbuf_release(&sb);

	CHECK(utf8_valid("caf\xc3\xa9"));
	CHECK(!utf8_valid("\xc0\xaf"));     /* overlong '/' */
	CHECK(!utf8_valid("\xed\xa0\x80")); /* a surrogate */
	CHECK(same_secret("abc", "abc"));
	CHECK(!same_secret("abc", "abd") && !same_secret("abc", "ab") && !same_secret("", "a"));
}

static void test_pkce(void)
{
	/* RFC 7636 appendix B. */
	char challenge[B64URL_LEN(SHA256_BYTES) + 1];
	pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", challenge);
	CHECK_STR(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");

	struct pkce a, b;
	CHECK(pkce_new(&a) && pkce_new(&b));
	CHECK_INT(strlen(a.verifier), 43);
	CHECK(strcmp(a.verifier, b.verifier) != 0);
	pkce_challenge(a.verifier, challenge);
	CHECK_STR(a.challenge, challenge);

	char s1[LOGIN_STATE_LEN + 1], s2[LOGIN_STATE_LEN + 1];
	CHECK(login_random_state(s1) && login_random_state(s2));
	CHECK_INT(strlen(s1), 32);
	CHECK(strspn(s1, "0123456789abcdef") == 32 && strcmp(s1, s2) != 0);
}

static void test_decimal(void)
{
	unsigned long v = 0;
	CHECK(decimal_parse("8765", 1, 65535, &v) && v == 8765);
	CHECK(decimal_parse("0", 0, 5, &v) && v == 0);
	static const char *const refused[] = { "", " 5", "+5", "-1", "5 ", "0x10", "65536",
					       "99999999999999999999999", "5s" };
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		v = 42;
		CHECK(!decimal_parse(refused[i], 1, 65535, &v));
		CHECK_INT(v, 42);
	}
	CHECK(!decimal_parse(NULL, 0, 1, &v));
}

int main(void)
{
	CHECK(scrubbing_alloc_install(SCRUB_JANSSON_ALWAYS)); /* as sepayfs-login's main() does */
	test_callback_parse();
	test_callback_judge();
	test_authorize_url();
	test_text();
	test_pkce();
	test_decimal();
	curl_global_cleanup();
	return check_report("login");
}
