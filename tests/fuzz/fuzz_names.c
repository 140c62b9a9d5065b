/* fuzz_names.c - file names a user (or a tool walking the tree) looks up.
 *
 * The input, up to its first NUL, is a name as FUSE hands it over.  A name
 * parses as an id exactly when it is the canonical decimal of a positive
 * signed 64-bit integer (and ".json" after it, for a file), so that every
 * id has one name and every accepted name is that name.  The first 8 bytes
 * are also taken as an id, to check the other direction: what
 * name_format_id writes parses back to the same id. */
#include "fuzz_common.h"

#include "names.h"

#include <stdint.h>

/* Canonical decimal of a positive int64, decided by looking at the text
 * only: digits, no leading zero, and not past "9223372036854775807". */
static bool canonical_id(const char *s, size_t len)
{
	static const char max[] = "9223372036854775807";
	if (len == 0 || len > sizeof(max) - 1 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return len < sizeof(max) - 1 || memcmp(s, max, len) <= 0;
}

static void check_name(const char *name)
{
	size_t len = strlen(name);
	char buf[NAME_MAX_ID_FILE];
	int64_t id = -1;

	bool ok = name_parse_id(name, &id);
	FUZZ_CHECK(ok == canonical_id(name, len));
	if (ok) {
		FUZZ_CHECK(id > 0);
		name_format_id(buf, id, false);
		FUZZ_CHECK(strcmp(buf, name) == 0);
	}

	int64_t file_id = -1;
	bool file_ok = name_parse_id_file(name, &file_id);
	bool has_suffix = len > 5 && memcmp(name + len - 5, ".json", 5) == 0;
	FUZZ_CHECK(file_ok == (has_suffix && canonical_id(name, len - 5)));
	if (file_ok) {
		FUZZ_CHECK(file_id > 0);
		name_format_id(buf, file_id, true);
		FUZZ_CHECK(strcmp(buf, name) == 0);
	}
	/* A name is an id or an id's file, never both. */
	FUZZ_CHECK(!(ok && file_ok));
}

static void check_id(int64_t id)
{
	if (id <= 0)
		return;
	char buf[NAME_MAX_ID_FILE];
	int64_t back = 0;
	name_format_id(buf, id, false);
	FUZZ_CHECK(name_parse_id(buf, &back) && back == id);
	FUZZ_CHECK(!name_parse_id_file(buf, &back));
	back = 0;
	name_format_id(buf, id, true);
	FUZZ_CHECK(strlen(buf) < NAME_MAX_ID_FILE);
	FUZZ_CHECK(name_parse_id_file(buf, &back) && back == id);
	FUZZ_CHECK(!name_parse_id(buf, &back));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1);
	FUZZ_CHECK(name != NULL);
	memcpy(name, data, size);
	name[size] = '\0';
	check_name(name);
	free(name);

	if (size >= sizeof(int64_t)) {
		int64_t id;
		memcpy(&id, data, sizeof(id));
		check_id(id);
	}
	return 0;
}
