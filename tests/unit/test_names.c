/* test_names.c - which names can be ids, decided without a request. */
#include "check.h"
#include "months.h"
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
	int32_t month = 0;
	CHECK(name_parse_month_file("2025-02.jsonl", &month));
	CHECK_INT(month, 202502);
	static const char *const bad_months[] = { "2025-2.jsonl", "2025-13.jsonl", "2025-00.jsonl",
		"2025-02.json", "2025-02.jsonl~", "1969-12.jsonl", "202502.jsonl", "2025_02.jsonl" };
	for (size_t i = 0; i < sizeof(bad_months) / sizeof(bad_months[0]); i++)
		CHECK(!name_parse_month_file(bad_months[i], &month));
	name_format_month_file(buf, 202501);
	CHECK_STR(buf, "2025-01.jsonl");

	/* Months in Vietnam time: 2025-01-31 17:00 UTC is already February there. */
	CHECK_INT(month_of_time(1738342800), 202502);
	CHECK_INT(month_of_time(1738342799), 202501);
	CHECK_INT(month_add(202501, -1), 202412);
	CHECK_INT(month_add(202412, 1), 202501);
	CHECK_INT(month_add(202503, -27), 202212);
	CHECK_INT(month_last_day(202402), 29);
	CHECK_INT(month_last_day(202302), 28);
	CHECK_INT(month_last_day(210002), 28);
	CHECK_INT(month_last_day(200002), 29);
	CHECK_INT(month_last_day(202504), 30);
	CHECK_INT(month_of_date("2025-02-12 21:09:49"), 202502);
	CHECK_INT(month_of_date("2025-2-12"), 0);
	CHECK_INT(month_of_date(NULL), 0);
	CHECK_INT(month_count(202411, 202502), 4);
	CHECK_INT(month_count(202502, 202411), 0);
	return check_report("names");
}
