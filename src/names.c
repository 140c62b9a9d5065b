/* names.c - canonical id names. */
#include "names.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool parse_digits(const char *s, size_t len, int64_t *id)
{
	if (len == 0 || len > 19 || s[0] == '0')
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0'); /* 19 digits cannot overflow uint64 */
	}
	if (v > (uint64_t)INT64_MAX)
		return false;
	*id = (int64_t)v;
	return true;
}

bool name_parse_id(const char *name, int64_t *id)
{
	return parse_digits(name, strlen(name), id);
}

bool name_parse_id_file(const char *name, int64_t *id)
{
	static const char suffix[] = ".json";
	size_t len = strlen(name), slen = sizeof(suffix) - 1;
	if (len <= slen || memcmp(name + len - slen, suffix, slen) != 0)
		return false;
	return parse_digits(name, len - slen, id);
}

void name_format_id(char buf[NAME_MAX_ID_FILE], int64_t id, bool as_file)
{
	snprintf(buf, NAME_MAX_ID_FILE, "%" PRId64 "%s", id, as_file ? ".json" : "");
}
