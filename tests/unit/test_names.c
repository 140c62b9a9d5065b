/* test_names.c - which names can be ids, decided without a request. */
#include "check.h"
#include "names.h"

int main(void)
{
	int64_t id = -1;
	CHECK(name_parse_id("19", &id));
	CHECK_INT(id, 19);
	CHECK(name_parse_id("9223372036854775807", &id));
	CHECK_INT(id, INT64_MAX);

	static const char *const bad[] = {
		"", "0", "007", "-5", "+5", "12abc", "foo", ".git", " 1", "1 ", "1.0",
		"9223372036854775808", "99999999999999999999", "18446744073709551616",
		"١٢", /* Arabic-Indic digits are not ASCII digits */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		id = 42;
		CHECK(!name_parse_id(bad[i], &id));
		CHECK_INT(id, 42);
	}

	CHECK(name_parse_id_file("25.json", &id));
	CHECK_INT(id, 25);
	static const char *const bad_files[] = {
		"25", ".json", "025.json", "0.json", "25.JSON", "25.json~", "x.json", "25.json.json",
		"-1.json", "9223372036854775808.json",
	};
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++)
		CHECK(!name_parse_id_file(bad_files[i], &id));

	char buf[NAME_MAX_ID_FILE];
	name_format_id(buf, INT64_MAX, true);
	CHECK_STR(buf, "9223372036854775807.json");
	name_format_id(buf, 19, false);
	CHECK_STR(buf, "19");
	return check_report("names");
}
