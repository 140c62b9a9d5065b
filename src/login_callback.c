/* login_callback.c - parsing and judging the loopback callback. */
#include "login_callback.h"

#include "login_text.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

char *callback_head_end(char *buf, size_t len)
{
	buf[len] = '\0';
	char *end = strstr(buf, "\r\n\r\n");
	return end ? end : strstr(buf, "\n\n");
}

/* Decodes a query component in place, as a browser's form encoding wrote
 * it: '+' is a space (a '+' itself comes as %2B), then libcurl's %XX
 * decoding.  False when it would hold a NUL byte, or libcurl had no memory. */
static bool query_decode(char *s)
{
	for (char *p = strchr(s, '+'); p; p = strchr(p + 1, '+'))
		*p = ' ';
	int len = 0;
	char *plain = curl_easy_unescape(NULL, s, 0, &len);
	if (!plain)
		return false;
	bool whole = len >= 0 && strlen(plain) == (size_t)len;
	if (whole)
		memcpy(s, plain, (size_t)len + 1); /* decoding never lengthens */
	/* It may be the authorization code: no copy stays behind. */
	explicit_bzero(plain, len > 0 ? (size_t)len : 0);
	curl_free(plain);
	return whole;
}

/* Parses the query of /callback into cb (in place). */
static void parse_query(char *query, struct callback *cb)
{
	char *save = NULL;
	for (char *pair = strtok_r(query, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
		char *value = strchr(pair, '=');
		if (value)
			*value++ = '\0';
		else
			value = pair + strlen(pair);
		if (!query_decode(pair) || !query_decode(value))
			continue;
		const char **slot = strcmp(pair, "code") == 0 ? &cb->code
				    : strcmp(pair, "state") == 0 ? &cb->state
				    : strcmp(pair, "error") == 0 ? &cb->error
				    : strcmp(pair, "error_description") == 0 ? &cb->error_description
				    : NULL;
		if (slot && !*slot) /* the first of repeated parameters counts */
			*slot = value;
	}
}

bool callback_parse(char *head, struct callback *cb)
{
	memset(cb, 0, sizeof(*cb));
	head[strcspn(head, "\r\n")] = '\0';
	char *method = head;
	char *target = strchr(method, ' ');
	if (!target)
		return false;
	*target++ = '\0';
	char *version = strchr(target, ' ');
	if (version)
		*version = '\0';
	char *query = strchr(target, '?');
	if (query)
		*query++ = '\0';
	if (strcmp(method, "GET") != 0 || strcmp(target, "/callback") != 0)
		return false;
	if (query) {
		query[strcspn(query, "#")] = '\0';
		parse_query(query, cb);
	}
	return true;
}

enum callback_verdict callback_judge(const struct callback *cb, const char *state)
{
	if (!cb->state || !same_secret(cb->state, state))
		return CALLBACK_FOREIGN;
	if ((cb->code && *cb->code) || (cb->error && *cb->error))
		return CALLBACK_ANSWER;
	return CALLBACK_EMPTY;
}

void callback_describe_foreign(const struct callback *cb, char *out, size_t cap)
{
	char e[MAX_REFUSED_SHOWN + 4];
	terminal_ascii(cb->error ? cb->error : "", e, sizeof(e), MAX_REFUSED_SHOWN);
	const char *carried = *e ? "error \"" : cb->code && *cb->code ? "a code" : "no code";
	snprintf(out, cap, "refused a callback %s (possible CSRF; it carried %s%s%s); still "
		 "waiting for SePay's answer",
		 cb->state ? "whose state does not match" : "without a state", carried, e,
		 *e ? "\"" : "");
}
