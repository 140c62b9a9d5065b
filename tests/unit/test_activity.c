/* test_activity.c - the status line: API paths in words, a walk's figures,
 * the token refused, and when a walk counts as ended. */
#include "activity.h"
#include "check.h"
#include "clock.h"

#include <errno.h>
#include <stdlib.h>

static void test_paths_in_words(void)
{
	static const struct { const char *path, *words; } cases[] = {
		{ "/bank-accounts?page=1&limit=1000", "the account list" },
		{ "/bank-accounts", "the account list" },
		{ "/bank-accounts/19", "account 19" },
		{ "/bank-accounts/19/sub-accounts?page=3&limit=100", "account 19 sub-accounts" },
		{ "/transactions?bank_account_id=19&from_date=2026-01-01&to_date=2026-02-01&page=1",
		  "account 19 transactions" },
		{ "/transactions?from_date=2026-01-01&page=2", "the company's transactions" },
		{ "/transactions?x=1&bank_account_id=7", "account 7 transactions" },
		{ "/transactions?bank_account_id=7x", "the company's transactions" },
		{ "/bank-accounts/19/other", "GET /bank-accounts/19/other" },
		{ "/bank-accountsX", "GET /bank-accountsX" },
		{ "/weird\x01path\n?q", "GET /weirdpath" },
		{ "", "GET " },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[96];
		activity_describe_path(cases[i].path, out, sizeof(out));
		CHECK_STR(out, cases[i].words);
	}
	char small[8];
	activity_describe_path("/bank-accounts/1234567890", small, sizeof(small));
	CHECK_STR(small, "account");
	activity_describe_path(NULL, small, sizeof(small));
	CHECK_STR(small, "GET ");
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_walk_and_its_end(void)
{
	struct fake_clock fake = { .mono_ns = 1000000000000ull, .wall_ns = 1790000000ll * 1000000000 };
	clock_use_fake(&fake);
	struct activity *a = activity_new();
	char line[ACTIVITY_LINE_MAX];
	activity_line(a, line, sizeof(line));
	CHECK_STR(line, "idle, 0 requests since mounted, 0 waits for 429, no errors");
	CHECK(!activity_tick(a));

	/* One request outside a walk: fetching, until two quiet seconds. */
	activity_request_sent(a);
	activity_line(a, line, sizeof(line));
	CHECK(starts(line, "fetching, 1 requests, 1.0/s, 0 waits for 429"));
	fake_clock_advance_ms(&fake, 5000);
	CHECK(activity_tick(a)); /* still in flight */
	activity_request_done(a);
	fake_clock_advance_ms(&fake, ACTIVITY_IDLE_MS);
	CHECK(!activity_tick(a));

	/* A walk: 10 requests over 4 s, one 429, a 403 on a month. */
	activity_walk_step(a, 19, 2, 40);
	for (int i = 0; i < 10; i++) {
		activity_request_sent(a);
		fake_clock_advance_ms(&fake, 400);
		activity_request_done(a);
	}
	activity_rate_limited(a);
	activity_failed(a, 403, EPERM, "/transactions?bank_account_id=19&page=1");
	activity_walk_step(a, 20, 12, 40);
	fake_clock_advance_ms(&fake, 40000);
	activity_request_sent(a); /* keeps the walk going */
	activity_line(a, line, sizeof(line));
	CHECK_STR(line, "walking 12 of 40 accounts, 11 requests, 0.2/s, 1 waits for 429, "
			"last error 40 s ago: 403 on account 19 transactions");
	CHECK(activity_tick(a));
	activity_request_done(a);
	fake_clock_advance_ms(&fake, ACTIVITY_IDLE_MS - 1);
	CHECK(activity_tick(a)); /* not quiet long enough */
	fake_clock_advance_ms(&fake, 1);
	CHECK(!activity_tick(a));
	activity_line(a, line, sizeof(line));
	CHECK(starts(line, "idle, 12 requests since mounted, 1 waits for 429, last error at "));
	CHECK(strstr(line, ": 403 on account 19 transactions") != NULL);

	/* The token refused: said first, whatever else is going on. */
	activity_token_refused(a, "run sepayfs-login");
	activity_failed(a, 0, ETIMEDOUT, "/bank-accounts/7");
	activity_line(a, line, sizeof(line));
	CHECK(starts(line, "token refused: run sepayfs-login; idle, 12 requests"));
	CHECK(strstr(line, ": Connection timed out on account 7") != NULL);
	activity_token_refused(a, NULL);
	activity_line(a, line, sizeof(line));
	CHECK(starts(line, "idle, "));

	/* A line never runs past its buffer. */
	char tiny[10];
	activity_line(a, tiny, sizeof(tiny));
	CHECK_STR(tiny, "idle, 12 ");
	activity_free(a);
	clock_use_fake(NULL);
}

int main(void)
{
	test_paths_in_words();
	test_walk_and_its_end();
	printf("activity: %d checks, %d failed\n", check_total, check_failed);
	return check_failed ? 1 : 0;
}
