/* test_http.c - which URLs may carry a token, and form encoding. */
#include "check.h"
#include "http.h"

#include <stdlib.h>

int main(void)
{
	static const char *const allowed[] = {
		"https://my.sepay.vn/api/v1", "https://127.attacker.example/x",
		"http://127.0.0.1:8080/api/v1", "http://127.5.6.7/", "http://[::1]:80/api",
		"http://localhost:1/", "http://LOCALHOST/",
		/* 127.0.0.1 in other spellings, which libcurl's URL parser
		 * normalises, as it connects */
		"http://0x7f000001/", "http://2130706433/",
	};
	static const char *const refused[] = {
		"http://127.attacker.example/api/v1", "http://127.0.0.1.nip.io/",
		"http://localhost.evil.example/", "http://10.0.0.1/", "http://192.168.1.1/",
		"http://[::ffff:127.0.0.1]/",
		"ftp://127.0.0.1/", "file:///etc/passwd", "not a url", "",
	};
	const char *why;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (!http_url_allowed(allowed[i], &why))
			CHECK_STR(allowed[i], "(allowed)");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		why = NULL;
		if (http_url_allowed(refused[i], &why))
			CHECK_STR(refused[i], "(refused)");
		CHECK(why && *why);
	}
	/* The address a connection reached, as libcurl reports it. */
	CHECK(http_address_is_loopback("127.0.0.1"));
	CHECK(http_address_is_loopback("127.255.0.9"));
	CHECK(http_address_is_loopback("::1"));
	CHECK(!http_address_is_loopback("10.0.0.1"));
	CHECK(!http_address_is_loopback("::ffff:127.0.0.1"));
	CHECK(!http_address_is_loopback("93.184.216.34"));
	CHECK(!http_address_is_loopback(""));

	static const char *const names[] = { "grant_type", "client_secret" };
	static const char *const values[] = { "refresh_token", "a b&c=d" };
	size_t len;
	char *form = http_form_encode(names, values, 2, &len);
	CHECK_STR(form, "grant_type=refresh_token&client_secret=a%20b%26c%3Dd");
	CHECK_INT(len, strlen(form));
	free(form);
	return check_report("http");
}
