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

static bool parse_month(const char *name, int32_t *month);

bool name_parse_month_file(const char *name, int32_t *month)
{
	/* Exactly "YYYY-MM.jsonl": four digits, a dash, 01-12. */
	if (strlen(name) != 13 || strcmp(name + 7, ".jsonl") != 0)
		return false;
	return parse_month(name, month);
}

bool name_parse_month_csv(const char *name, int32_t *month)
{
	if (strlen(name) != 11 || strcmp(name + 7, ".csv") != 0)
		return false;
	return parse_month(name, month);
}

void name_format_month_csv(char buf[NAME_MAX_ID_FILE], int32_t month)
{
	snprintf(buf, NAME_MAX_ID_FILE, "%04d-%02d.csv", (int)(month / 100), (int)(month % 100));
}

/* "YYYY-MM" at the start of name. */
static bool parse_month(const char *name, int32_t *month)
{
	if (name[4] != '-')
		return false;
	int v[6];
	static const int at[6] = { 0, 1, 2, 3, 5, 6 };
	for (int i = 0; i < 6; i++) {
		char c = name[at[i]];
		if (c < '0' || c > '9')
			return false;
		v[i] = c - '0';
	}
	int year = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
	int mon = v[4] * 10 + v[5];
	if (year < 1970 || mon < 1 || mon > 12)
		return false;
	*month = year * 100 + mon;
	return true;
}

void name_format_month_file(char buf[NAME_MAX_ID_FILE], int32_t month)
{
	snprintf(buf, NAME_MAX_ID_FILE, "%04d-%02d.jsonl", (int)(month / 100), (int)(month % 100));
}
