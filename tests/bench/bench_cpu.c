/* bench_cpu.c - the CPU a page and a request cost, counted by callgrind.
 *
 *   bench_cpu page-clean   plain|scrub          parse a 14.6 MB page
 *   bench_cpu page-salvage plain|scrub          the same page with 100 values
 *                                               jansson cannot hold (invalid
 *                                               UTF-8), salvaged
 *   bench_cpu page-numbers plain|scrub          the clean page read as the
 *                                               daemon reads a body: numbers
 *                                               marked with their text first
 *   bench_cpu requests     plain|scrub URL N    N GETs of URL's page 1
 *
 * scrub: the allocators the daemon installs (scrubbing_alloc.c: libcurl's
 * frees scrubbed, jansson's outside any scope not); plain: libc's.
 * Each mode does its work in one function, measured_*, which
 * tests/bench/bench_cpu.py has callgrind count alone
 * (--toggle-collect=measured_*): instruction counts are repeatable where
 * times on a shared machine are not.  Building the page is not counted. */
#include "http.h"
#include "log.h"
#include "numtext.h"
#include "salvage.h"
#include "scrubbing_alloc.h"
#include "strbuf.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_BYTES 14600000u
#define BAD_VALUES 100

/* A page of transactions as SePay writes them, about PAGE_BYTES long; with
 * bad, BAD_VALUES of its items, evenly spread, carry invalid UTF-8 (what
 * still reaches salvage.c: numbers jansson cannot hold are kept as text). */
static char *transactions_page(bool bad, size_t *len)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	strbuf_puts(&sb, "{\"status\":\"success\",\"data\":[");
	size_t n = PAGE_BYTES / 368, every = n / BAD_VALUES;
	for (size_t i = 0; i < n; i++)
		strbuf_printf(&sb, "%s{\"id\":%zu,\"bank_account_id\":19,\"bank_brand_name\":\"Vietcombank\","
			      "\"account_number\":\"0071000888888\",\"transaction_date\":"
			      "\"2025-02-%02zu 19:59:48\",\"amount_out\":0.00,\"amount_in\":%zu.00,"
			      "\"accumulated\":%zu.50,\"transaction_content\":\"Thanh toán đơn hàng "
			      "DH%06zu cho khách Nguyễn Văn An\",\"reference_number\":\"677760.250225.%06zu\","
			      "\"code\":%s,\"sub_account\":null}",
			      i ? "," : "", i + 1, i % 28 + 1, 1000 + i * 7, 2000000 + i * 13, i, i,
			      bad && i % every == every / 2 ? "\"DH\xff\xfe\"" : "\"DH123456\"");
	strbuf_printf(&sb, "],\"meta\":{\"pagination\":{\"total\":%zu,\"per_page\":%zu,"
		      "\"current_page\":1,\"last_page\":1}}}", n, n);
	return strbuf_take(&sb, len);
}

/* The page parsed and freed: its items, or -1. */
__attribute__((noinline)) static long measured_parse(const char *body, size_t len)
{
	json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
	long items = root ? (long)json_array_size(json_object_get(root, "data")) : -1;
	json_decref(root);
	return items;
}

__attribute__((noinline)) static long measured_salvage(const char *body, size_t len,
						       size_t *dropped)
{
	json_error_t error;
	json_t *root = salvage_list(body, len, JSON_ALLOW_NUL, "bench", "/page", dropped, &error);
	long items = root ? (long)json_array_size(json_object_get(root, "data")) : -1;
	json_decref(root);
	return items;
}

/* As judge_response reads a 2xx body: numbers marked, then parsed. */
__attribute__((noinline)) static long measured_numbers(const char *body, size_t len)
{
	char *owned;
	size_t marked_len;
	const char *text = numtext_rewrite(body, len, &owned, &marked_len);
	json_t *root = text ? json_loadb(text, marked_len, JSON_ALLOW_NUL, NULL) : NULL;
	free(owned);
	long items = root ? (long)json_array_size(json_object_get(root, "data")) : -1;
	json_decref(root);
	return items;
}

__attribute__((noinline)) static int measured_requests(struct http_transport *http, long n)
{
	int failed = 0;
	for (long i = 0; i < n; i++) {
		struct http_response resp;
		int rc = http->get(http, "/bank-accounts?page=1&limit=20", "bench-token", 10000,
				   &resp);
		json_t *root = rc || resp.status != 200 ? NULL
			       : json_loadb(resp.body, resp.len, JSON_ALLOW_NUL, NULL);
		failed += !root;
		json_decref(root);
		http_response_release(&resp);
	}
	return failed;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_cpu page-clean|page-salvage|page-numbers plain|scrub\n"
			"       bench_cpu requests plain|scrub URL N\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	log_set_level(LOG_LEVEL_ERROR); /* the items left out are expected */
	bool scrub = strcmp(argv[2], "scrub") == 0;
	if (!(scrub ? scrubbing_alloc_install(SCRUB_JANSSON_IN_SCOPES)
		    : curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK))
		return 1;
	int status = 0;
	if (strncmp(argv[1], "page-", 5) == 0) {
		bool bad = strcmp(argv[1], "page-salvage") == 0;
		size_t len, dropped = 0;
		char *body = transactions_page(bad, &len);
		long items = bad ? measured_salvage(body, len, &dropped)
			     : strcmp(argv[1], "page-numbers") == 0 ? measured_numbers(body, len)
								      : measured_parse(body, len);
		printf("%zu bytes, %ld items, %zu left out\n", len, items, dropped);
		status = items < 0 || dropped != (bad ? BAD_VALUES : 0);
		free(body);
	} else if (strcmp(argv[1], "requests") == 0 && argc == 5) {
		struct http_curl_config cfg = { .base_url = argv[3], .max_conns = 1,
						.connect_timeout_s = 10, .max_body = 1 << 24 };
		int err;
		struct http_transport *http = http_curl_new(&cfg, &err);
		if (!http)
			return 1;
		int failed = measured_requests(http, atol(argv[4]));
		printf("%s requests, %d failed\n", argv[4], failed);
		status = failed != 0;
		http->destroy(http);
	} else {
		return usage();
	}
	curl_global_cleanup();
	return status;
}
