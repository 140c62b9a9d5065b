/* test_views.c - CSV fields and money, balances.csv and by-number's names,
 * from listings built here (no request, no mount). */
#include "check.h"
#include "csv.h"
#include "monthcsv.h"
#include "numtext.h"
#include "strbuf.h"
#include "views.h"

#include <fcntl.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static void test_money(void)
{
	char out[CSV_MONEY_MAX];
	struct { const char *in, *want; } cases[] = {
		{ "2705000.00", "2705000.00" }, { "2705000.0", "2705000.00" },
		{ "2705000", "2705000.00" },    { "1.5E+3", "1500.00" },
		{ "0.05", "0.05" },             { "-12.5", "-12.50" },
		{ "0", "0.00" },                { "1.005", "1.005" },
		{ "12e-1", "1.20" },            { "007", "7.00" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(csv_money_text(cases[i].in, strlen(cases[i].in), out));
		CHECK_STR(out, cases[i].want);
	}
	const char *refused[] = { "", "-", "abc", "1.2.3", "1e400", "1e", "+1", "1 " };
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		CHECK(!csv_money_text(refused[i], strlen(refused[i]), out));
}

static void test_fields(void)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	csv_field(&sb, "plain", 5);
	strbuf_putc(&sb, ',');
	const char *hard = "Kho \"A\", t\xe1\xba\xa7ng 2\nH\xc3\xa0 N\xe1\xbb\x99i";
	csv_field(&sb, hard, strlen(hard));
	strbuf_putc(&sb, '\0');
	CHECK_STR(sb.data, "plain,\"Kho \"\"A\"\", t\xe1\xba\xa7ng 2\nH\xc3\xa0 N\xe1\xbb\x99i\"");
	strbuf_release(&sb);
}

static struct blob *row_of(const char *json, time_t mtime)
{
	char *owned = NULL;
	size_t n;
	const char *text = numtext_rewrite(json, strlen(json), &owned, &n);
	json_t *item = json_loadb(text, n, 0, NULL);
	free(owned);
	struct blob *b = views_account_row(item, (struct timespec){ mtime, 0 });
	json_decref(item);
	return b;
}

static void test_balances(void)
{
	struct snapshot *list = snapshot_new_listing((struct timespec){ 100, 0 });
	CHECK(snapshot_listing_add(list, 20, row_of(
		"{\"id\":\"20\",\"account_number\":\"0123\",\"accumulated\":\"2525493.00\","
		"\"active\":\"1\",\"label\":\"\",\"bank_short_name\":\"ACB\",\"bank_code\":\"ACB\","
		"\"created_at\":\"2025-01-01 00:00:00\"}", 300)));
	CHECK(snapshot_listing_add(list, 19, row_of(
		"{\"id\":19,\"label\":\"Cty, Demo\",\"account_holder_name\":\"CONG TY\","
		"\"account_number\":\"0071000888888\",\"accumulated\":1777283273.0,\"active\":true,"
		"\"bank\":{\"short_name\":\"Vietcombank\",\"code\":\"VCB\",\"bin\":\"970436\"}}",
		200)));
	CHECK(snapshot_listing_finish(list));
	struct blob *csv = views_balances(list);
	CHECK(csv != NULL);
	CHECK_STR(csv ? csv->bytes : NULL,
		  VIEWS_BALANCES_HEADER
		  "19,0071000888888,Vietcombank,VCB,CONG TY,\"Cty, Demo\",1777283273.00,true\r\n"
		  "20,0123,ACB,ACB,,,2525493.00,1\r\n");
	/* The newest row's time: the listing's is older. */
	CHECK_INT(csv ? csv->v.mtime.tv_sec : 0, 300);
	blob_unref(csv);
	snapshot_unref(list);

	/* An empty listing: the header alone, the listing's time. */
	struct snapshot *none = snapshot_new_listing((struct timespec){ 100, 0 });
	CHECK(snapshot_listing_finish(none));
	csv = views_balances(none);
	CHECK_STR(csv ? csv->bytes : NULL, VIEWS_BALANCES_HEADER);
	CHECK_INT(csv ? csv->v.mtime.tv_sec : 0, 100);
	blob_unref(csv);
	snapshot_unref(none);

	/* A field the row does not show leaves its bytes as they were. */
	struct blob *a = row_of("{\"id\":1,\"account_number\":\"9\",\"created_at\":\"x\"}", 1);
	struct blob *b = row_of("{\"id\":1,\"account_number\":\"9\",\"created_at\":\"y\"}", 1);
	CHECK(a && b && version_same_bytes(&a->v, &b->v));
	blob_unref(a);
	blob_unref(b);
}

static struct blob *sub_file(const char *number)
{
	char text[128];
	snprintf(text, sizeof(text), "{\n  \"id\": 1,\n  \"account_number\": \"%s\"\n}\n", number);
	return blob_new(text, strlen(text), (struct timespec){ 1, 0 });
}

static void test_number_links(void)
{
	struct snapshot *list = snapshot_new_listing((struct timespec){ 1, 0 });
	snapshot_listing_add(list, 19, row_of("{\"account_number\":\"111\",\"bank_code\":\"VCB\"}", 1));
	snapshot_listing_add(list, 20, row_of("{\"account_number\":\"111\",\"bank_code\":\"TPB\"}", 1));
	snapshot_listing_add(list, 21, row_of("{\"account_number\":\"../x\",\"bank_code\":\"A\"}", 1));
	snapshot_listing_add(list, 22, row_of("{\"account_number\":222}", 1));
	snapshot_listing_add(list, 23, row_of("{\"label\":\"no number\"}", 1));
	CHECK(snapshot_listing_finish(list));
	struct snapshot *subs19 = snapshot_new_listing((struct timespec){ 1, 0 });
	snapshot_listing_add(subs19, 25, sub_file("VCB0011ABC004"));
	snapshot_listing_add(subs19, 26, sub_file("222")); /* shares 22's number */
	CHECK(snapshot_listing_finish(subs19));
	struct snapshot *subs[5] = { subs19, NULL, NULL, NULL, NULL };

	struct number_links links;
	CHECK(views_number_links(list, subs, &links));
	struct { const char *name; int64_t account, sub; } want[] = {
		{ "VCB-111", 19, 0 }, { "TPB-111", 20, 0 }, { "VCB0011ABC004", 19, 25 },
		{ "VCB-222", 19, 26 },
	};
	/* 222 of account 22 has no bank code to tell it by: left out. */
	CHECK_INT(links.count, 4);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct number_link *l = views_find_name(&links, want[i].name);
		CHECK(l != NULL);
		CHECK_INT(l ? l->account : -1, want[i].account);
		CHECK_INT(l ? l->sub : -1, want[i].sub);
	}
	CHECK(views_find_name(&links, "111") == NULL);
	CHECK(views_find_name(&links, "222") == NULL);
	for (size_t i = 1; i < links.count; i++)
		CHECK(links.links[i - 1].cookie < links.links[i].cookie);
	char target[128];
	views_link_target(views_find_name(&links, "VCB0011ABC004"), target, sizeof(target));
	CHECK_STR(target, "../accounts/19/sub-accounts/25.json");
	views_number_links_release(&links);
	CHECK(!views_safe_name(".hidden") && !views_safe_name("a/b") && !views_safe_name("") &&
	      views_safe_name("VCB0011ABC004"));
	snapshot_unref(subs19);
	snapshot_unref(list);
}

#define CSV_HEADER "id,transaction_date,bank_account_id,account_number,amount_in,amount_out," \
	"accumulated,transaction_content,reference_number,code,sub_account,bank_brand_name"

static void test_month_csv(void)
{
	struct blob *empty = blob_new("", 0, (struct timespec){ 7, 0 });
	struct blob *csv = NULL;
	CHECK_INT(monthcsv_build(empty, -1, empty->v.mtime, &csv), 0);
	CHECK_STR(csv ? csv->bytes : NULL, CSV_HEADER "\r\n");
	CHECK_INT(csv ? csv->v.mtime.tv_sec : 0, 7);
	blob_unref(csv);
	blob_unref(empty);

	const char *lines =
		"{\"id\":2,\"transaction_date\":\"2026-12-02 10:00:00\",\"amount_in\":\"5.5\","
		"\"zeta\":1,\"alpha\":\"x\"}\n"
		"{\"id\":3,\"amount_in\":2705000.0,\"transaction_content\":\"a, \\\"b\\\"\\nc\"}\n";
	struct blob *month = blob_new(lines, strlen(lines), (struct timespec){ 8, 0 });
	CHECK_INT(monthcsv_build(month, -1, month->v.mtime, &csv), 0);
	CHECK_STR(csv ? csv->bytes : NULL,
		  CSV_HEADER ",alpha,zeta\r\n"
		  "2,2026-12-02 10:00:00,,,5.50,,,,,,,,x,1\r\n"
		  "3,,,,2705000.00,,,\"a, \"\"b\"\"\nc\",,,,,,\r\n");
	blob_unref(csv);
	blob_unref(month);

	/* A month past BLOB_MEMORY_MAX goes to a file, with the hash its
	 * bytes would have in memory. */
	struct strbuf big;
	strbuf_init(&big, 0);
	for (int i = 1; big.len < 3 * BLOB_MEMORY_MAX; i++)
		strbuf_printf(&big, "{\"id\":%d,\"transaction_content\":\"%0200d\"}\n", i, i);
	month = blob_new(big.data, big.len, (struct timespec){ 9, 0 });
	char dir[] = "/tmp/test_views.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	struct blob *in_file = NULL, *in_memory = NULL;
	CHECK_INT(monthcsv_build(month, fd, month->v.mtime, &in_file), 0);
	CHECK_INT(monthcsv_build(month, -1, month->v.mtime, &in_memory), 0);
	CHECK(in_file && in_file->file != NULL);
	CHECK(in_memory && in_memory->file == NULL);
	CHECK(in_file && in_memory && version_same_bytes(&in_file->v, &in_memory->v));
	blob_unref(in_file);
	blob_unref(in_memory);
	blob_unref(month);
	strbuf_release(&big);
	close(fd);
	rmdir(dir);

	/* A line that is no JSON object: refused, never half a file. */
	struct blob *bad = blob_new("[1]\n", 4, (struct timespec){ 1, 0 });
	csv = NULL;
	CHECK_INT(monthcsv_build(bad, -1, bad->v.mtime, &csv), EBADMSG);
	CHECK(csv == NULL);
	blob_unref(bad);
}

int main(void)
{
	test_month_csv();
	test_money();
	test_fields();
	test_balances();
	test_number_links();
	return check_report("views");
}
