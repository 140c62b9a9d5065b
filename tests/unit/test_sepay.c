/* test_sepay.c - envelopes, the page walker and HTTP errors as errnos. */
#include "check.h"
#include "clock.h"
#include "fake_http.h"
#include "log.h"
#include "numtext.h"
#include "secretfile.h"
#include "pages.h"
#include "sepay.h"
#include "strbuf.h"

#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <stdlib.h>

struct collected {
	pthread_mutex_t lock;
	int64_t ids[1024];
	size_t n;
};

/* Pages arrive on several threads: collect under a lock, then sort. */
static int collect(void *ctx, int64_t page_no, int64_t id, json_t *item)
{
	(void)item;
	(void)page_no;
	struct collected *c = ctx;
	pthread_mutex_lock(&c->lock);
	if (c->n < 1024)
		c->ids[c->n++] = id;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* The walk starts again: what it collected goes. */
static void restart_collect(void *ctx)
{
	struct collected *c = ctx;
	pthread_mutex_lock(&c->lock);
	c->n = 0;
	pthread_mutex_unlock(&c->lock);
}

static int id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void collected_sort(struct collected *c)
{
	qsort(c->ids, c->n, sizeof(c->ids[0]), id_cmp);
}

static char *page_body(const char *items, int current, int last)
{
	char *body;
	if (asprintf(&body, "{\"status\":\"success\",\"data\":[%s],\"meta\":{\"pagination\":"
			    "{\"total\":99,\"per_page\":2,\"current_page\":%d,\"last_page\":%d}}}",
		     items, current, last) < 0)
		abort();
	return body;
}

static void set_page(struct fake_http *f, const char *path, const char *items, int cur, int last)
{
	char *body = page_body(items, cur, last);
	fake_http_set(f, path, 200, body);
	free(body);
}

/* The test clock, at a fixed moment: waits move it on instead of
 * sleeping.  wall_step_ns: how far each reading of the wall clock moves it. */
static struct fake_clock test_clock;

static void use_test_clock(int64_t wall_step_ns)
{
	atomic_store(&test_clock.mono_ns, 1000000000u);
	atomic_store(&test_clock.wall_ns, 1800000000LL * 1000000000LL);
	atomic_store(&test_clock.wall_step_ns, wall_step_ns);
	clock_use_fake(&test_clock);
}

/* An API client of a fake server, with a fixed token. */
struct client {
	struct fake_http *http;
	struct auth *auth;
	struct sepay_api api;
};

static void client_start(struct client *c, unsigned parallel, unsigned timeout_ms)
{
	c->http = fake_http_new();
	c->auth = auth_new_fixed("test-token");
	struct sepay_api_config ac = { .http = fake_http_transport(c->http), .auth = c->auth,
				       .page_size = 100, .parallel = parallel,
				       .timeout_ms = timeout_ms };
	sepay_api_init(&c->api, &ac);
}

static void client_stop(struct client *c)
{
	sepay_api_destroy(&c->api);
	auth_free(c->auth);
	fake_http_free(c->http);
}

static void test_walk(void)
{
	struct client cl;
	client_start(&cl, 4, 300);
	struct fake_http *f = cl.http;
	struct sepay_api *api = &cl.api;
	struct collected c = { .lock = PTHREAD_MUTEX_INITIALIZER, .n = 0 };

	/* The server gives 2 per page though 100 were asked for: pages are
	 * followed by last_page, not by counting items. */
	set_page(f, "/bank-accounts?page=1&limit=100", "{\"id\":1},{\"id\":2}", 1, 3);
	set_page(f, "/bank-accounts?page=2&limit=100", "{\"id\":3},{\"id\":4}", 2, 3);
	set_page(f, "/bank-accounts?page=3&limit=100", "{\"id\":5}", 3, 3);
	CHECK_INT(sepay_walk_pages(api, "test", "/bank-accounts", collect, restart_collect, &c), 0);
	collected_sort(&c);
	CHECK_INT(c.n, 5);
	CHECK_INT(c.ids[4], 5);
	CHECK_INT(fake_http_count(f, NULL), 3);

	/* Hostile items are skipped, ids as digit strings kept. */
	fake_http_reset_counts(f);
	c.n = 0;
	set_page(f, "/x?page=1&limit=100",
		 "{\"id\":7},\"str\",{\"id\":-1},{\"id\":\"8\"},{\"noid\":1},{\"id\":1.5},null,"
		 "{\"id\":9},{\"id\":\"\"},{\"id\":\"0\"},{\"id\":\"-3\"},{\"id\":\"4x\"},"
		 "{\"id\":\"99999999999999999999\"},{\"id\":\"0012\"}",
		 1, 1);
	CHECK_INT(sepay_walk_pages(api, "test", "/x", collect, restart_collect, &c), 0);
	collected_sort(&c);
	CHECK_INT(c.n, 4);
	CHECK_INT(c.ids[0], 7);
	CHECK_INT(c.ids[1], 8);
	CHECK_INT(c.ids[2], 9);
	CHECK_INT(c.ids[3], 12);
	CHECK_INT(fake_http_count(f, NULL), 1);

	/* A page past the end (empty, and it says so) or a server that
	 * answers page 2 with page 1 again (clamping) means the list ends
	 * before the pages page 1 promised: it lost items meanwhile, and every
	 * later item moved onto a page already read.  The walk starts again;
	 * a list that keeps doing so is refused, not shown in part. */
	set_page(f, "/y?page=1&limit=100", "{\"id\":1}", 1, 5);
	set_page(f, "/y?page=2&limit=100", "", 2, 1);
	fake_http_reset_counts(f);
	CHECK_INT(sepay_walk_pages(api, "test", "/y", collect, restart_collect, &c), EIO);
	CHECK_INT(fake_http_count(f, "/y?page=1&limit=100"), SEPAY_WALK_TRIES);
	set_page(f, "/y?page=2&limit=100", "{\"id\":1}", 1, 1);
	CHECK_INT(sepay_walk_pages(api, "test", "/y", collect, restart_collect, &c), EIO);
	/* But page 1 again while it still says there are 5 is a server that
	 * ignores page=: the listing fails rather than show one page of five;
	 * so does an empty page before the last one it names. */
	set_page(f, "/y?page=2&limit=100", "{\"id\":1}", 1, 5);
	CHECK_INT(sepay_walk_pages(api, "test", "/y", collect, restart_collect, &c), EIO);
	set_page(f, "/y?page=2&limit=100", "", 2, 5);
	CHECK_INT(sepay_walk_pages(api, "test", "/y", collect, restart_collect, &c), EIO);
	/* But a failure before the end is the walk's. */
	set_page(f, "/z2?page=1&limit=100", "{\"id\":1}", 1, 3);
	set_page(f, "/z2?page=3&limit=100", "{\"id\":3}", 3, 3);
	fake_http_set(f, "/z2?page=2&limit=100", 500, "");
	CHECK_INT(sepay_walk_pages(api, "test", "/z2", collect, restart_collect, &c), EIO);

	/* An item nested past the bound is skipped, the others kept, and the
	 * page is not asked for again; a body nested past it is refused. */
	fake_http_reset_counts(f);
	c.n = 0;
	char deep[400];
	snprintf(deep, sizeof(deep), "{\"id\":4},{\"id\":5,\"x\":%.*s%.*s}", 40,
		 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 40, "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	set_page(f, "/deep?page=1&limit=100", deep, 1, 1);
	CHECK_INT(sepay_walk_pages(api, "test", "/deep", collect, restart_collect, &c), 0);
	CHECK_INT(c.n, 1);
	CHECK_INT(c.ids[0], 4);
	CHECK_INT(fake_http_count(f, NULL), 1);

	/* No meta at all: page 2 is asked for, and its emptiness ends the list. */
	fake_http_reset_counts(f);
	c.n = 0;
	fake_http_set(f, "/z?page=1&limit=100", 200, "{\"data\":[{\"id\":3}]}");
	fake_http_set(f, "/z?page=2&limit=100", 200, "{\"data\":[]}");
	CHECK_INT(sepay_walk_pages(api, "test", "/z", collect, restart_collect, &c), 0);
	CHECK_INT(c.n, 1);
	CHECK_INT(fake_http_count(f, NULL), 2);

	/* Errors in the middle of a walk are the walk's error. */
	set_page(f, "/e?page=1&limit=100", "{\"id\":1}", 1, 2);
	fake_http_set(f, "/e?page=2&limit=100", 503, "oops");
	CHECK_INT(sepay_walk_pages(api, "test", "/e", collect, restart_collect, &c), EIO);
	fake_http_set(f, "/bad?page=1&limit=100", 200, "{\"data\":{\"id\":1}}");
	CHECK_INT(sepay_walk_pages(api, "test", "/bad", collect, restart_collect, &c), EIO);
	fake_http_set(f, "/trunc?page=1&limit=100", 200, "{\"data\":[{\"id\":1},");
	CHECK_INT(sepay_walk_pages(api, "test", "/trunc", collect, restart_collect, &c), EIO);
	client_stop(&cl);
}

/* After page 1, the other pages go out side by side, at most `parallel`
 * at once; a page 1 already fetched (the mount's check) is used once. */
static void test_parallel_pages(void)
{
	struct client cl;
	client_start(&cl, 4, 300);
	struct fake_http *f = cl.http;
	struct sepay_api *api = &cl.api;
	char path[64], item[32];
	for (int p = 1; p <= 12; p++) {
		snprintf(path, sizeof(path), "/l?page=%d&limit=100", p);
		snprintf(item, sizeof(item), "{\"id\":%d}", p);
		set_page(f, path, item, p, 12);
	}
	fake_http_set_delay_ms(f, 30);
	struct collected c = { .lock = PTHREAD_MUTEX_INITIALIZER, .n = 0 };
	CHECK_INT(sepay_walk_pages(api, "test", "/l", collect, restart_collect, &c), 0);
	collected_sort(&c);
	CHECK_INT(c.n, 12);
	CHECK_INT(c.ids[0], 1);
	CHECK_INT(c.ids[11], 12);
	CHECK_INT(fake_http_count(f, NULL), 12);
	CHECK(fake_http_max_in_flight(f) > 1);
	CHECK(fake_http_max_in_flight(f) <= 4);

	/* A seeded first page saves its request, once. */
	json_t *page1 = json_loads("{\"data\":[{\"id\":1}],\"meta\":{\"pagination\":"
				   "{\"current_page\":1,\"last_page\":12}}}", 0, NULL);
	sepay_api_seed(api, "/l?page=1&limit=100", page1, 60000);
	json_decref(page1);
	fake_http_reset_counts(f);
	c.n = 0;
	CHECK_INT(sepay_walk_pages(api, "test", "/l", collect, restart_collect, &c), 0);
	CHECK_INT(c.n, 12);
	CHECK_INT(fake_http_count(f, NULL), 11);
	CHECK_INT(fake_http_count(f, "/l?page=1&limit=100"), 0);
	fake_http_reset_counts(f);
	c.n = 0;
	CHECK_INT(sepay_walk_pages(api, "test", "/l", collect, restart_collect, &c), 0);
	CHECK_INT(fake_http_count(f, NULL), 12);

	/* An expired seed is not used. */
	page1 = json_loads("{\"data\":[{\"id\":99}]}", 0, NULL);
	sepay_api_seed(api, "/l?page=1&limit=100", page1, 0);
	json_decref(page1);
	fake_http_reset_counts(f);
	c.n = 0;
	CHECK_INT(sepay_walk_pages(api, "test", "/l", collect, restart_collect, &c), 0);
	CHECK_INT(fake_http_count(f, "/l?page=1&limit=100"), 1);
	collected_sort(&c);
	CHECK_INT(c.ids[c.n - 1], 12);

	client_stop(&cl);
}

/* A list page body of the documented shape: items ids from..to, and what
 * it says of the whole list. */
static char *list_body(int from, int to, int page, int total, int per_page)
{
	struct strbuf sb;
	strbuf_init(&sb, 0);
	for (int id = from; id <= to; id++)
		strbuf_printf(&sb, "%s{\"id\":%d}", id > from ? "," : "", id);
	int last = (total + per_page - 1) / per_page;
	char *items = strbuf_take(&sb, NULL);
	char *body;
	if (asprintf(&body, "{\"data\":[%s],\"meta\":{\"pagination\":{\"total\":%d,"
		     "\"per_page\":%d,\"current_page\":%d,\"last_page\":%d}}}", items ? items : "",
		     total, per_page, page, last ? last : 1) < 0)
		abort();
	free(items);
	return body;
}

static void queue_body(struct fake_http *f, const char *path, char *body)
{
	fake_http_queue(f, path, 200, body);
	free(body);
}

static void set_body(struct fake_http *f, const char *path, char *body)
{
	fake_http_set(f, path, 200, body);
	free(body);
}

/* 20 accounts, 5 a page; account 3 is removed right after page 1 was
 * served, so every later item moves up one place: page 2 starts at 7, and
 * 6 would be missing.  The walk sees the total fall (or the end come
 * early, or a short page before the last) and walks again; a list that
 * grew (an item pushed down shows up twice) needs no second walk. */
static void test_list_that_shifts(void)
{
	struct client cl;
	client_start(&cl, 4, 300);
	struct fake_http *f = cl.http;
	struct collected c = { .lock = PTHREAD_MUTEX_INITIALIZER, .n = 0 };
	const char *p[4] = { "/s?page=1&limit=100", "/s?page=2&limit=100", "/s?page=3&limit=100",
			     "/s?page=4&limit=100" };
	/* The first walk: page 1 before the removal, the rest after it. */
	queue_body(f, p[0], list_body(1, 5, 1, 20, 5));
	/* The list as it is now, 19 items: page 1 is 1 2 4 5 6. */
	fake_http_set(f, p[0], 200, "{\"data\":[{\"id\":1},{\"id\":2},{\"id\":4},{\"id\":5},"
		      "{\"id\":6}],\"meta\":{\"pagination\":{\"total\":19,\"per_page\":5,"
		      "\"current_page\":1,\"last_page\":4}}}");
	set_body(f, p[1], list_body(7, 11, 2, 19, 5));
	set_body(f, p[2], list_body(12, 16, 3, 19, 5));
	set_body(f, p[3], list_body(17, 20, 4, 19, 5));
	CHECK_INT(sepay_walk_pages(&cl.api, "test", "/s", collect, restart_collect, &c), 0);
	collected_sort(&c);
	CHECK_INT(c.n, 19);
	bool has6 = false, has3 = false;
	for (size_t i = 0; i < c.n; i++) {
		has6 |= c.ids[i] == 6;
		has3 |= c.ids[i] == 3;
	}
	CHECK(has6);
	CHECK(!has3);
	CHECK_INT(fake_http_count(f, p[0]), 2);

	/* Without a total (v2's has_more): a page short of page 1 that says
	 * more follow lost items. */
	fake_http_reset_counts(f);
	fake_http_queue(f, "/h?page=1&limit=100", 200, "{\"data\":[{\"id\":1},{\"id\":2},"
			"{\"id\":3}],\"meta\":{\"pagination\":{\"current_page\":1,\"has_more\":true}}}");
	fake_http_queue(f, "/h?page=2&limit=100", 200, "{\"data\":[{\"id\":5},{\"id\":6}],"
			"\"meta\":{\"pagination\":{\"current_page\":2,\"has_more\":true}}}");
	fake_http_set(f, "/h?page=1&limit=100", 200, "{\"data\":[{\"id\":1},{\"id\":2},"
		      "{\"id\":4}],\"meta\":{\"pagination\":{\"current_page\":1,\"has_more\":true}}}");
	fake_http_set(f, "/h?page=2&limit=100", 200, "{\"data\":[{\"id\":5},{\"id\":6},"
		      "{\"id\":7}],\"meta\":{\"pagination\":{\"current_page\":2,\"has_more\":true}}}");
	fake_http_set(f, "/h?page=3&limit=100", 200, "{\"data\":[{\"id\":8}],"
		      "\"meta\":{\"pagination\":{\"current_page\":3,\"has_more\":false}}}");
	c.n = 0;
	CHECK_INT(sepay_walk_pages(&cl.api, "test", "/h", collect, restart_collect, &c), 0);
	collected_sort(&c);
	CHECK_INT(c.n, 7);
	CHECK_INT(c.ids[2], 4);
	CHECK_INT(fake_http_count(f, "/h?page=1&limit=100"), 2);

	/* A list that grew: an account added before page 2 pushes 5 down, so
	 * page 2 starts with it again; the total rose.  One walk, nothing
	 * lost (callers keep each id once). */
	fake_http_reset_counts(f);
	set_body(f, "/g?page=1&limit=100", list_body(1, 5, 1, 10, 5));
	set_body(f, "/g?page=2&limit=100", list_body(5, 9, 2, 11, 5));
	set_body(f, "/g?page=3&limit=100", list_body(10, 10, 3, 11, 5));
	c.n = 0;
	CHECK_INT(sepay_walk_pages(&cl.api, "test", "/g", collect, restart_collect, &c), 0);
	CHECK_INT(c.n, 11);
	CHECK_INT(fake_http_count(f, "/g?page=1&limit=100"), 1);

	/* A list that loses items at every walk is refused after
	 * SEPAY_WALK_TRIES walks. */
	fake_http_reset_counts(f);
	set_body(f, "/k?page=1&limit=100", list_body(1, 5, 1, 20, 5));
	set_body(f, "/k?page=2&limit=100", list_body(7, 11, 2, 19, 5));
	set_body(f, "/k?page=3&limit=100", list_body(12, 16, 3, 19, 5));
	set_body(f, "/k?page=4&limit=100", list_body(17, 20, 4, 19, 5));
	CHECK_INT(sepay_walk_pages(&cl.api, "test", "/k", collect, restart_collect, &c), EIO);
	CHECK_INT(fake_http_count(f, "/k?page=1&limit=100"), SEPAY_WALK_TRIES);
	client_stop(&cl);
}

/* Not given a page size, lists ask 1,000 items a page; a server that
 * refuses that (a 400, a body over the limit) is asked 100 from then on,
 * the walk starting again from page 1; a size given is asked as it is. */
static void test_page_size(void)
{
	struct client cl;
	client_start(&cl, 4, 2000);
	sepay_api_destroy(&cl.api);
	struct sepay_api_config ac = { .http = fake_http_transport(cl.http), .auth = cl.auth,
				       .parallel = 4, .timeout_ms = 2000 };
	sepay_api_init(&cl.api, &ac);
	struct fake_http *f = cl.http;
	struct collected c = { .lock = PTHREAD_MUTEX_INITIALIZER, .n = 0 };
	CHECK_INT(sepay_page_limit(&cl.api), SEPAY_PAGE_LARGE);
	fake_http_set(f, "/a?page=1&limit=1000", 200,
		      "{\"data\":[{\"id\":1},{\"id\":2}],\"meta\":{\"pagination\":{\"total\":3,"
		      "\"per_page\":2,\"current_page\":1,\"last_page\":2}}}");
	fake_http_set(f, "/a?page=2&limit=1000", FAKE_HTTP_TOO_BIG, NULL);
	fake_http_set(f, "/a?page=1&limit=100", 200,
		      "{\"data\":[{\"id\":1},{\"id\":2},{\"id\":3}],\"meta\":{\"pagination\":"
		      "{\"total\":3,\"per_page\":100,\"current_page\":1,\"last_page\":1}}}");
	CHECK_INT(sepay_walk_pages(&cl.api, "test", "/a", collect, restart_collect, &c), 0);
	CHECK_INT(c.n, 3);
	CHECK_INT(fake_http_count(f, "/a?page=2&limit=1000"), 1); /* not asked again */
	CHECK_INT(sepay_page_limit(&cl.api), SEPAY_PAGE_DOCUMENTED);
	/* Remembered for the mount: the next list asks 100 at once. */
	fake_http_set(f, "/b?page=1&limit=100", 200, "{\"data\":[{\"id\":5}],\"meta\":"
		      "{\"pagination\":{\"current_page\":1,\"last_page\":1}}}");
	c.n = 0;
	CHECK_INT(sepay_walk_pages(&cl.api, "test", "/b", collect, restart_collect, &c), 0);
	CHECK_INT(c.n, 1);
	CHECK_INT(fake_http_count(f, "/b?page=1&limit=1000"), 0);
	/* A 400 to the large size on page 1 (the mount's check) is the same. */
	sepay_api_destroy(&cl.api);
	sepay_api_init(&cl.api, &ac);
	fake_http_set(f, "/bank-accounts?page=1&limit=1000", 400, "{\"error\":\"bad_request\"}");
	fake_http_set(f, "/bank-accounts?page=1&limit=100", 200, "{\"data\":[]}");
	json_t *root;
	char path[64];
	CHECK_INT(sepay_first_page(&cl.api, "test", "/bank-accounts", &root, path, sizeof(path)), 0);
	json_decref(root);
	CHECK_STR(path, "/bank-accounts?page=1&limit=100");
	/* A size the user gave is asked as it is, and its failure is one. */
	sepay_api_destroy(&cl.api);
	ac.page_size = 1000;
	sepay_api_init(&cl.api, &ac);
	CHECK_INT(sepay_first_page(&cl.api, "test", "/bank-accounts", &root, path, sizeof(path)),
		  EIO);
	CHECK_INT(sepay_page_limit(&cl.api), 1000);
	client_stop(&cl);
}

static void test_errors(void)
{
	CHECK_INT(sepay_status_errno(200), 0);
	CHECK_INT(sepay_status_errno(401), EACCES);
	CHECK_INT(sepay_status_errno(403), EPERM);
	CHECK_INT(sepay_status_errno(404), ENOENT);
	CHECK_INT(sepay_status_errno(500), EIO);
	CHECK_INT(sepay_status_errno(502), EIO);
	CHECK_INT(sepay_status_errno(302), EIO);

	/* On the test clock: a retry until the deadline is counted, however
	 * slowly the machine runs (valgrind), not raced against real time. */
	use_test_clock(0);
	struct client cl;
	client_start(&cl, 1, 400);
	struct fake_http *f = cl.http;
	struct sepay_api *api = &cl.api;
	json_t *data;
	fake_http_set(f, "/ok", 200, "{\"status\":\"success\",\"data\":{\"id\":19,\"label\":null}}");
	CHECK_INT(sepay_get_object(api, "test", "/ok", &data), 0);
	CHECK(json_is_null(json_object_get(data, "label")));
	json_decref(data);
	fake_http_set(f, "/forbidden", 403, "{\"status\":\"error\",\"error\":\"forbidden\"}");
	CHECK_INT(sepay_get_object(api, "test", "/forbidden", &data), EPERM);
	fake_http_set(f, "/unauth", 401, "");
	CHECK_INT(sepay_get_object(api, "test", "/unauth", &data), EACCES);
	CHECK_INT(sepay_get_object(api, "test", "/missing", &data), ENOENT);
	fake_http_set(f, "/html", 200, "<html>maintenance</html>");
	CHECK_INT(sepay_get_object(api, "test", "/html", &data), EIO);
	fake_http_set(f, "/nodata", 200, "{\"status\":\"success\"}");
	CHECK_INT(sepay_get_object(api, "test", "/nodata", &data), EIO);
	fake_http_set(f, "/array", 200, "[1,2]");
	CHECK_INT(sepay_get_object(api, "test", "/array", &data), EIO);
	fake_http_set(f, "/down", 0, NULL);
	CHECK_INT(sepay_get_object(api, "test", "/down", &data), EIO);
	/* Final answers are asked once; passing ones (html, array, down) again
	 * and again until the deadline. */
	CHECK_INT(fake_http_count(f, "/forbidden"), 1);
	CHECK_INT(fake_http_count(f, "/unauth"), 1);
	CHECK_INT(fake_http_count(f, "/nodata"), 1);
	CHECK(fake_http_count(f, "/down") > 1);
	CHECK(fake_http_count(f, "/html") > 1);
	client_stop(&cl);
	clock_use_fake(NULL);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A passing failure followed by success is not the caller's failure. */
static void test_retries(void)
{
	struct client cl;
	client_start(&cl, 1, 5000);
	struct fake_http *f = cl.http;
	struct sepay_api *api = &cl.api;
	const char *ok = "{\"status\":\"success\",\"data\":{\"id\":1}}";
	static const struct { long status; const char *body; } faults[] = {
		{ 503, "{}" }, { 502, "<html>bad gateway</html>" }, { 0, NULL },
		{ 200, "{\"status\":\"success\",\"data\":{\"id\"" }, { 200, "maintenance" },
	};
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		char path[32];
		snprintf(path, sizeof(path), "/r%zu", i);
		fake_http_set(f, path, 200, ok);
		fake_http_queue(f, path, faults[i].status, faults[i].body);
		json_t *data;
		CHECK_INT(sepay_get_object(api, "test", path, &data), 0);
		CHECK_INT(json_integer_value(json_object_get(data, "id")), 1);
		json_decref(data);
		CHECK_INT(fake_http_count(f, path), 2);
	}

	/* 429: waits Retry-After, then goes on. */
	fake_http_set(f, "/busy", 200, ok);
	fake_http_queue(f, "/busy", 429, "{}");
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	json_t *data;
	CHECK_INT(sepay_get_object(api, "test", "/busy", &data), 0);
	json_decref(data);
	CHECK_INT(fake_http_count(f, "/busy"), 2);
	CHECK(atomic_load(&api->retries) >= 6);

	/* A server that never recovers: the deadline ends it, quickly. */
	struct sepay_api_config ac = api->cfg;
	ac.timeout_ms = 300;
	sepay_api_destroy(api);
	sepay_api_init(api, &ac);
	fake_http_set(f, "/dead", 503, "");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(sepay_get_object(api, "test", "/dead", &data), EIO);
	CHECK(seconds_since(&t0) < 3.0); /* 10x the deadline: slack for valgrind */
	CHECK(fake_http_count(f, "/dead") >= 2);
	client_stop(&cl);
}

static struct auth *credentials_auth(char *path, const char *creds, struct fake_http *f);

/* A 401 with credentials: one refresh, the new token, the request again;
 * a rotated refresh token is written back to the file, mode 0600. */
static void test_refresh(void)
{
	char path[] = "/tmp/sepayfs-test-credentials-XXXXXX";
	int fd = mkstemp(path);
	const char *creds = "{\"client_id\":\"cid\",\"client_secret\":\"sec ret\","
			    "\"refresh_token\":\"r1\",\"access_token\":\"old\",\"keep\":7}";
	CHECK(fd >= 0 && write(fd, creds, strlen(creds)) == (ssize_t)strlen(creds));
	close(fd);
	struct fake_http *f = fake_http_new();
	struct auth *auth = auth_new_from_credentials(path, "https://auth.test/token",
						      fake_http_transport(f));
	CHECK(auth != NULL);
	/* An opaque token names no user: the cache is the credentials' own,
	 * keyed by the refresh token the file was logged in with. */
	char first_identity[320];
	auth_identity(auth, first_identity, sizeof(first_identity));
	CHECK(strncmp(first_identity, "lineage:", 8) == 0);
	struct sepay_api api;
	struct sepay_api_config ac = { .http = fake_http_transport(f), .auth = auth,
				       .page_size = 100, .parallel = 1, .timeout_ms = 2000 };
	sepay_api_init(&api, &ac);
	fake_http_require_token(f, "new");
	fake_http_set(f, "/a", 200, "{\"data\":{\"id\":1}}");
	fake_http_set(f, "https://auth.test/token", 200,
		      "{\"access_token\":\"new\",\"expires_in\":3600,\"refresh_token\":\"r2\"}");
	json_t *data;
	CHECK_INT(sepay_get_object(&api, "test", "/a", &data), 0);
	json_decref(data);
	CHECK_INT(fake_http_count(f, "/a"), 2); /* 401 with "old", 200 with "new" */
	CHECK_INT(auth_refreshes(auth), 1);
	CHECK_STR(fake_http_last_form(f), "grant_type=refresh_token&refresh_token=r1&"
					  "client_id=cid&client_secret=sec%20ret");
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	json_t *saved = json_load_file(path, 0, NULL);
	CHECK_STR(json_string_value(json_object_get(saved, "refresh_token")), "r2");
	CHECK_INT(json_integer_value(json_object_get(saved, "keep")), 7);
	json_decref(saved);
	/* The rotation keeps the line of descent, in this mount and the next;
	 * another log-in (another refresh token, no lineage in the file) is
	 * another cache, whatever client it logged in through. */
	char identity[320];
	auth_identity(auth, identity, sizeof(identity));
	CHECK_STR(identity, first_identity);
	struct fake_http *f2 = fake_http_new();
	struct auth *next_mount = auth_new_from_credentials(path, NULL, fake_http_transport(f2));
	auth_identity(next_mount, identity, sizeof(identity));
	CHECK_STR(identity, first_identity);
	auth_free(next_mount);
	char other_path[] = "/tmp/sepayfs-test-credentials-XXXXXX";
	struct auth *other = credentials_auth(other_path, "{\"client_id\":\"cid\",\"client_secret\":"
					      "\"s\",\"refresh_token\":\"someone-else\"}", f2);
	auth_identity(other, identity, sizeof(identity));
	CHECK(strcmp(identity, first_identity) != 0);
	auth_free(other);
	unlink(other_path);
	fake_http_free(f2);

	/* The server now refuses the refresh token: EACCES, one refresh try. */
	fake_http_require_token(f, "newer");
	fake_http_set(f, "https://auth.test/token", 400, "{\"error\":\"invalid_grant\"}");
	CHECK_INT(sepay_get_object(&api, "test", "/a", &data), EACCES);
	CHECK_INT(fake_http_count(f, "https://auth.test/token"), 2);
	/* Refused once, that refresh token is not sent again. */
	uint64_t epoch = auth_token_epoch(auth);
	CHECK_INT(sepay_get_object(&api, "test", "/a", &data), EACCES);
	CHECK_INT(fake_http_count(f, "https://auth.test/token"), 2);
	CHECK_INT(auth_token_epoch(auth), epoch);
	/* A new log-in written to the file (renamed over it, as sepayfs-login
	 * does) is read at the next refresh: no restart. */
	char fresh[sizeof(path) + 8];
	snprintf(fresh, sizeof(fresh), "%s.new", path);
	FILE *out = fopen(fresh, "w");
	CHECK(out && fputs("{\"client_id\":\"cid\",\"client_secret\":\"sec ret\","
			   "\"refresh_token\":\"r9\"}", out) >= 0);
	fclose(out);
	chmod(fresh, 0600);
	CHECK(rename(fresh, path) == 0);
	fake_http_set(f, "https://auth.test/token", 200,
		      "{\"access_token\":\"newer\",\"expires_in\":3600}");
	CHECK_INT(sepay_get_object(&api, "test", "/a", &data), 0);
	json_decref(data);
	CHECK_INT(fake_http_count(f, "https://auth.test/token"), 3);
	CHECK_STR(fake_http_last_form(f), "grant_type=refresh_token&refresh_token=r9&"
					  "client_id=cid&client_secret=sec%20ret");
	CHECK(auth_token_epoch(auth) != epoch);
	auth_identity(auth, identity, sizeof(identity));
	CHECK(strcmp(identity, first_identity) != 0); /* a new log-in: its own cache */
	/* The file changing on disk moves the epoch by itself (one stat), so
	 * a remembered refusal ends before any request. */
	epoch = auth_token_epoch(auth);
	out = fopen(fresh, "w");
	CHECK(out && fputs("{\"client_id\":\"cid\",\"client_secret\":\"sec ret\","
			   "\"refresh_token\":\"r10\"}", out) >= 0);
	fclose(out);
	chmod(fresh, 0600);
	CHECK(rename(fresh, path) == 0);
	CHECK(auth_token_epoch(auth) != epoch);
	CHECK_INT(fake_http_count(f, "https://auth.test/token"), 3);
	sepay_api_destroy(&api);
	auth_free(auth);
	fake_http_free(f);

	/* A credentials file others can read is refused. */
	chmod(path, 0644);
	CHECK(auth_new_from_credentials(path, NULL, NULL) == NULL);
	unlink(path);

	/* JWT expiry: {"exp":1700000000} as the payload. */
	CHECK_INT(auth_jwt_expiry("x.eyJleHAiOjE3MDAwMDAwMDB9.sig"), 1700000000);
	CHECK_INT(auth_jwt_expiry("opaque-token"), 0);
}

/* A credentials file with these contents (mode 0600); its path in path. */
static struct auth *credentials_auth(char *path, const char *creds, struct fake_http *f)
{
	int fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, creds, strlen(creds)) == (ssize_t)strlen(creds));
	close(fd);
	return auth_new_from_credentials(path, "https://auth.test/token", fake_http_transport(f));
}

/* Everything written to stderr while fn runs. */
static char *stderr_of(void (*fn)(void *), void *arg)
{
	char path[] = "/tmp/sepayfs-test-stderr-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	fflush(stderr);
	dup2(fd, 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	static char text[8192];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return text;
}

struct refused_refresh {
	struct sepay_api *api;
	int rc;
};

static void get_a(void *arg)
{
	struct refused_refresh *r = arg;
	json_t *data = NULL;
	r->rc = sepay_get_object(r->api, "test", "/a", &data);
	json_decref(data);
}

struct get_path {
	struct sepay_api *api;
	const char *path;
	int rc;
};

static void get_path(void *arg)
{
	struct get_path *g = arg;
	json_t *data = NULL;
	g->rc = sepay_get_object(g->api, "test", g->path, &data);
	json_decref(data);
}

/* The call's deadline bounds its attempts: none is sent with less than
 * 100 ms of it left (it would count against the server's budget for a
 * certain timeout), and an attempt the deadline cuts short leaves the
 * reason the earlier ones failed as the one given.  On the test clock. */
static void test_deadline_ends_attempts(void)
{
	use_test_clock(0);
	struct client cl;
	client_start(&cl, 1, 1000);
	struct fake_http *f = cl.http;
	/* A 503, then a server that never answers: EIO, and the log names
	 * the 503; it was ETIMEDOUT with "timed out" (CI saw it so). */
	fake_http_set(f, "/hang", FAKE_HTTP_HANG, NULL);
	fake_http_queue(f, "/hang", 503, "");
	struct get_path g = { &cl.api, "/hang", -1 };
	const char *log = stderr_of(get_path, &g);
	CHECK_INT(g.rc, EIO);
	CHECK(strstr(log, "HTTP 503") != NULL && strstr(log, "2 attempts") != NULL);
	/* Hanging from the start: that is a timeout. */
	g.path = "/hang-only";
	fake_http_set(f, "/hang-only", FAKE_HTTP_HANG, NULL);
	stderr_of(get_path, &g);
	CHECK_INT(g.rc, ETIMEDOUT);
	/* Failing fast, over and over, with random backoff: no attempt is
	 * given less than 100 ms, in 20 calls. */
	fake_http_set(f, "/busy", 503, "");
	g.path = "/busy";
	for (int i = 0; i < 20; i++) {
		stderr_of(get_path, &g);
		CHECK_INT(g.rc, EIO);
	}
	CHECK(fake_http_count(f, "/busy") > 20);
	CHECK(fake_http_min_timeout_ms(f) >= 100);
	client_stop(&cl);

	/* A 401 answered by a new token is no failure to give as the reason:
	 * the retry that then hangs is a timeout (it was EACCES). */
	char path[] = "/tmp/sepayfs-test-credentials-XXXXXX";
	f = fake_http_new();
	struct auth *auth = credentials_auth(path, "{\"client_id\":\"c\",\"client_secret\":\"s\","
					     "\"refresh_token\":\"r1\"}", f);
	CHECK(auth != NULL);
	fake_http_set(f, "https://auth.test/token", 200,
		      "{\"access_token\":\"new\",\"expires_in\":3600}");
	struct sepay_api api;
	struct sepay_api_config ac = { .http = fake_http_transport(f), .auth = auth,
				       .page_size = 100, .parallel = 1, .timeout_ms = 1000 };
	sepay_api_init(&api, &ac);
	fake_http_set(f, "/stalls", FAKE_HTTP_HANG, NULL);
	fake_http_queue(f, "/stalls", 401, "");
	g = (struct get_path){ &api, "/stalls", -1 };
	stderr_of(get_path, &g);
	CHECK_INT(g.rc, ETIMEDOUT);
	CHECK_INT(auth_refreshes(auth), 2); /* the first token, then after the 401 */
	sepay_api_destroy(&api);
	auth_free(auth);
	fake_http_free(f);
	unlink(path);
	clock_use_fake(NULL);
}

/* Tokens from outside are checked before they go into a header; a token
 * living a minute is not refreshed before every request; the credentials
 * file is rewritten only for a new refresh token; the token endpoint's
 * words reach the log filtered. */
static void test_token_hygiene(void)
{
	char path[] = "/tmp/sepayfs-test-credentials-XXXXXX";
	struct fake_http *f = fake_http_new();
	struct auth *auth = credentials_auth(path, "{\"client_id\":\"c\",\"client_secret\":\"s\","
					     "\"refresh_token\":\"r1\"}", f);
	CHECK(auth != NULL);
	struct sepay_api api;
	struct sepay_api_config ac = { .http = fake_http_transport(f), .auth = auth,
				       .page_size = 100, .parallel = 1, .timeout_ms = 2000 };
	sepay_api_init(&api, &ac);
	fake_http_set(f, "/a", 200, "{\"data\":{\"id\":1}}");
	/* A minute's token, no new refresh token: one refresh for 20 requests
	 * (there was one a request), and the file is left alone. */
	fake_http_set(f, "https://auth.test/token", 200,
		      "{\"access_token\":\"short\",\"expires_in\":60}");
	struct stat before, after;
	CHECK(stat(path, &before) == 0);
	for (int i = 0; i < 20; i++) {
		json_t *data;
		CHECK_INT(sepay_get_object(&api, "test", "/a", &data), 0);
		json_decref(data);
	}
	CHECK_INT(auth_refreshes(auth), 1);
	CHECK(stat(path, &after) == 0 && after.st_ino == before.st_ino &&
	      after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
	sepay_api_destroy(&api);
	auth_free(auth);

	/* An access token that would put a header of its own into every
	 * request: refused, and no request carries it. */
	fake_http_require_token(f, "good");
	fake_http_set(f, "https://auth.test/token", 200,
		      "{\"access_token\":\"fresh1\\r\\nX-Injected: yes\",\"expires_in\":3600}");
	char path2[] = "/tmp/sepayfs-test-credentials-XXXXXX";
	auth = credentials_auth(path2, "{\"client_id\":\"c\",\"client_secret\":\"s\","
				"\"refresh_token\":\"r1\",\"access_token\":\"bad\\ntoken\"}", f);
	CHECK(auth != NULL);
	ac.auth = auth;
	ac.timeout_ms = 300;
	sepay_api_init(&api, &ac);
	fake_http_reset_counts(f);
	json_t *data;
	CHECK(sepay_get_object(&api, "test", "/a", &data) != 0);
	CHECK_INT(fake_http_count(f, "/a"), 0); /* neither token was ever sent */
	CHECK(fake_http_count(f, "https://auth.test/token") >= 1);
	sepay_api_destroy(&api);

	/* A refusal whose error carries a newline and an escape sequence. */
	fake_http_set(f, "https://auth.test/token", 400,
		      "{\"error\":\"invalid_grant\\nsepayfs: notice: all is well\\u001b[2J\"}");
	ac.timeout_ms = 2000;
	sepay_api_init(&api, &ac);
	struct refused_refresh r = { &api, 0 };
	const char *log = stderr_of(get_a, &r);
	CHECK_INT(r.rc, EACCES);
	CHECK(strstr(log, "invalid_grantsepayfs: notice") != NULL);
	CHECK(strchr(log, 0x1b) == NULL);
	CHECK(strstr(log, "\nsepayfs: notice: all is well") == NULL);
	sepay_api_destroy(&api);
	auth_free(auth);
	fake_http_free(f);
	unlink(path);
	unlink(path2);
}

/* A walk of pages whose bodies are given in order; the number of requests
 * it made, and its result. */
static int walk_bodies(struct client *cl, const char *name, const char *const *bodies,
		       size_t n, struct collected *c, unsigned *requests)
{
	char path[96];
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/%s?page=%zu&limit=100", name, i + 1);
		fake_http_set(cl->http, path, 200, bodies[i]);
	}
	fake_http_reset_counts(cl->http);
	c->n = 0;
	snprintf(path, sizeof(path), "/%s", name);
	int rc = sepay_walk_pages(&cl->api, "test", path, collect, restart_collect, c);
	*requests = fake_http_count(cl->http, NULL);
	return rc;
}

/* Every way SePay's APIs say where a list ends. */
static void test_page_shapes(void)
{
	struct client cl;
	client_start(&cl, 4, 300);
	struct collected c = { .lock = PTHREAD_MUTEX_INITIALIZER, .n = 0 };
	unsigned requests;

	/* v2: meta.pagination.has_more, page numbers as strings. */
	const char *has_more[] = {
		"{\"data\":[{\"id\":1},{\"id\":2}],\"meta\":{\"pagination\":{\"current_page\":\"1\",\"has_more\":true}}}",
		"{\"data\":[{\"id\":3},{\"id\":4}],\"meta\":{\"pagination\":{\"current_page\":\"2\",\"has_more\":true}}}",
		"{\"data\":[{\"id\":5},{\"id\":6}],\"meta\":{\"pagination\":{\"current_page\":\"3\",\"has_more\":false}}}",
	};
	CHECK_INT(walk_bodies(&cl, "hm", has_more, 3, &c, &requests), 0);
	CHECK_INT(c.n, 6);
	CHECK_INT(requests, 3);

	/* The payment gateway's flat meta: page_count (here a string) is a
	 * last page, so the rest go side by side. */
	const char *flat[] = {
		"{\"data\":[{\"id\":\"1\"}],\"meta\":{\"current_page\":1,\"page_count\":\"3\",\"has_more\":1}}",
		"{\"data\":[{\"id\":\"2\"}],\"meta\":{\"current_page\":2,\"page_count\":\"3\",\"has_more\":1}}",
		"{\"data\":[{\"id\":\"3\"}],\"meta\":{\"current_page\":3,\"page_count\":\"3\",\"has_more\":0}}",
	};
	CHECK_INT(walk_bodies(&cl, "flat", flat, 3, &c, &requests), 0);
	CHECK_INT(c.n, 3);
	CHECK_INT(requests, 3);

	/* No meta: until a page is shorter than page 1, though fewer than the
	 * 100 asked for came every time. */
	const char *none[] = {
		"{\"data\":[{\"id\":1},{\"id\":2}]}",
		"{\"data\":[{\"id\":3},{\"id\":4}]}",
		"{\"data\":[{\"id\":5}]}",
	};
	CHECK_INT(walk_bodies(&cl, "none", none, 3, &c, &requests), 0);
	CHECK_INT(c.n, 5);
	CHECK_INT(requests, 3);

	/* No meta, and the server answers any later page with the last one
	 * again: the same page twice fails, rather than end or loop. */
	const char *clamped[] = {
		"{\"data\":[{\"id\":1},{\"id\":2}]}",
		"{\"data\":[{\"id\":3},{\"id\":4}]}",
		"{\"data\":[{\"id\":3},{\"id\":4}]}",
	};
	CHECK_INT(walk_bodies(&cl, "clamped", clamped, 3, &c, &requests), EIO);
	CHECK_INT(requests, 3);

	/* has_more that never ends: the cap on pages fails the listing, with
	 * no request past it. */
	struct sepay_api_config ac = cl.api.cfg;
	ac.max_pages = 4;
	sepay_api_destroy(&cl.api);
	sepay_api_init(&cl.api, &ac);
	const char *endless[5];
	char bodies[5][128];
	for (int i = 0; i < 5; i++) {
		snprintf(bodies[i], sizeof(bodies[i]), "{\"data\":[{\"id\":%d}],\"meta\":"
			 "{\"pagination\":{\"has_more\":true}}}", i + 1);
		endless[i] = bodies[i];
	}
	CHECK_INT(walk_bodies(&cl, "endless", endless, 5, &c, &requests), EIO);
	CHECK_INT(requests, 4);
	/* A last_page past the cap fails at once. */
	const char *huge[] = {
		"{\"data\":[{\"id\":1}],\"meta\":{\"pagination\":{\"current_page\":1,\"last_page\":5}}}",
	};
	CHECK_INT(walk_bodies(&cl, "huge", huge, 1, &c, &requests), EIO);
	CHECK_INT(requests, 1);

	/* Pages that contradict each other. */
	const char *empty_more[] = {
		"{\"data\":[{\"id\":1}],\"meta\":{\"pagination\":{\"has_more\":true}}}",
		"{\"data\":[],\"meta\":{\"pagination\":{\"has_more\":true}}}",
	};
	CHECK_INT(walk_bodies(&cl, "emptymore", empty_more, 2, &c, &requests), EIO);
	const char *last_more[] = {
		"{\"data\":[{\"id\":1}],\"meta\":{\"pagination\":{\"last_page\":1,\"has_more\":true}}}",
	};
	CHECK_INT(walk_bodies(&cl, "lastmore", last_more, 1, &c, &requests), EIO);
	const char *wrong_page[] = {
		"{\"data\":[{\"id\":1}],\"meta\":{\"pagination\":{\"current_page\":1,\"has_more\":true}}}",
		"{\"data\":[{\"id\":1}],\"meta\":{\"pagination\":{\"current_page\":1,\"has_more\":true}}}",
	};
	CHECK_INT(walk_bodies(&cl, "wrongpage", wrong_page, 2, &c, &requests), EIO);
	/* A one-page list that says so costs one request. */
	const char *one[] = {
		"{\"data\":[{\"id\":1}],\"meta\":{\"pagination\":{\"has_more\":false}}}",
	};
	CHECK_INT(walk_bodies(&cl, "one", one, 1, &c, &requests), 0);
	CHECK_INT(requests, 1);
	client_stop(&cl);

	/* The parser alone. */
	struct sepay_page page;
	json_t *root = json_loads("{\"data\":[],\"meta\":{\"pagination\":{\"total\":0,"
				  "\"current_page\":\"2\",\"last_page\":\"0\"}}}", 0, NULL);
	CHECK_INT(sepay_parse_page(root, 2, &page), 0);
	CHECK_INT(page.current_page, 2);
	CHECK_INT(page.last_page, 1);
	CHECK_INT(page.has_more, -1);
	json_decref(root);
	root = json_loads("{\"data\":[],\"meta\":{\"pagination\":{\"last_page\":-4,"
			  "\"has_more\":\"yes\"}}}", 0, NULL);
	CHECK_INT(sepay_parse_page(root, 3, &page), 0);
	CHECK_INT(page.current_page, 3);
	CHECK_INT(page.last_page, 0);
	CHECK_INT(page.has_more, -1);
	json_decref(root);
}

/* Error bodies in every form SePay's APIs use, and 200s that are failures. */
static void test_error_bodies(void)
{
	static const struct { const char *body; const char *code; } forms[] = {
		{ "{\"status\":\"error\",\"error\":\"forbidden\",\"message\":\"m\"}", "forbidden" },
		{ "{\"status\":\"error\",\"message\":\"m\",\"error_code\":\"unauthorized\"}", "unauthorized" },
		{ "{\"status\":\"error\",\"error\":{\"code\":\"resource_not_found\"}}", "resource_not_found" },
		{ "{\"message\":\"No such account\\n\\u001b[31m\"}", "No such account[31m" },
		{ "{\"status\":\"error\"}", "" },
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		json_t *root = json_loads(forms[i].body, 0, NULL);
		char code[64];
		sepay_error_code(root, code, sizeof(code));
		CHECK_STR(code, forms[i].code);
		json_decref(root);
	}

	use_test_clock(0); /* as in test_errors: retries counted, not raced */
	struct client cl;
	client_start(&cl, 1, 400);
	struct fake_http *f = cl.http;
	json_t *data;
	/* A 403 is EPERM whatever its body looks like. */
	fake_http_set(f, "/h403", 403, "<html>Forbidden</html>");
	CHECK_INT(sepay_get_object(&cl.api, "test", "/h403", &data), EPERM);
	fake_http_set(f, "/e404", 404, "");
	CHECK_INT(sepay_get_object(&cl.api, "test", "/e404", &data), ENOENT);
	/* A 200 that says "status":"error" fails as its code says, and is not
	 * an empty list. */
	fake_http_set(f, "/s403", 200, "{\"status\":\"error\",\"error_code\":\"forbidden\",\"data\":[]}");
	CHECK_INT(sepay_get_object(&cl.api, "test", "/s403", &data), EPERM);
	struct collected c = { .lock = PTHREAD_MUTEX_INITIALIZER, .n = 0 };
	fake_http_set(f, "/slist?page=1&limit=100", 200,
		      "{\"status\":\"error\",\"error\":{\"code\":\"resource_not_found\"},\"data\":[]}");
	CHECK_INT(sepay_walk_pages(&cl.api, "test", "/slist", collect, restart_collect, &c), ENOENT);
	CHECK_INT(c.n, 0);
	/* One that names no code is a server fault: asked again, then EIO. */
	fake_http_set(f, "/s500", 200, "{\"status\":\"error\",\"data\":[]}");
	CHECK_INT(sepay_get_object(&cl.api, "test", "/s500", &data), EIO);
	CHECK(fake_http_count(f, "/s500") >= 2);
	/* An empty 200 is SePay's older API refusing a token: asked twice,
	 * then EACCES when the token cannot be refreshed. */
	fake_http_set(f, "/empty?page=1&limit=100", 200, "");
	CHECK_INT(sepay_walk_pages(&cl.api, "test", "/empty", collect, restart_collect, &c), EACCES);
	CHECK_INT(fake_http_count(f, "/empty?page=1&limit=100"), 2);
	CHECK_INT(c.n, 0);
	client_stop(&cl);
	clock_use_fake(NULL);
}

/* Numbers jansson cannot hold (an integer past 64 bits, 1e400) are kept
 * as the API wrote them (numtext.h); a value it still cannot hold
 * (invalid UTF-8) skips its item, not the page; a body that cannot be
 * read outside any item is not asked for again. */
static void test_unreadable_items(void)
{
	struct client cl;
	client_start(&cl, 1, 2000);
	struct fake_http *f = cl.http;
	struct collected c = { .lock = PTHREAD_MUTEX_INITIALIZER, .n = 0 };
	fake_http_set(f, "/acc?page=1&limit=100", 200,
		      "{\"data\": [{\"id\":1},\n {\"id\":2,\"big\":123456789012345678901234567890},"
		      "{\"id\":3,\"x\":[1e400]}, {\"id\":4,\"s\":\"\xff\xfe\"},"
		      "{\"id\":5,\"n\":\"a\\u0000b\"}, {\"id\":6}],"
		      "\"meta\":{\"pagination\":{\"last_page\":1}}}");
	CHECK_INT(sepay_walk_pages(&cl.api, "test", "/acc", collect, restart_collect, &c), 0);
	collected_sort(&c);
	CHECK_INT(c.n, 5);
	CHECK_INT(c.ids[0], 1);
	CHECK_INT(c.ids[1], 2);
	CHECK_INT(c.ids[2], 3);
	CHECK_INT(c.ids[3], 5);
	CHECK_INT(c.ids[4], 6);
	CHECK_INT(fake_http_count(f, NULL), 1);
	unsigned requests;
	/* The bad item is the last one: its comma goes with it. */
	const char *last[] = { "{\"data\":[{\"id\":7},{\"id\":8,\"v\":\"\xc3\"}],\"meta\":{}}",
			       "{\"data\":[]}" };
	CHECK_INT(walk_bodies(&cl, "last", last, 2, &c, &requests), 0);
	CHECK_INT(c.n, 1);
	/* With no meta, an item left out still counts: page 2, short of it,
	 * is not taken for the last page (page 3 was lost). */
	const char *nometa[] = {
		"{\"data\":[{\"id\":1},{\"id\":2}]}",
		"{\"data\":[{\"id\":3},{\"id\":4,\"v\":\"\xed\xa0\x80\"}]}",
		"{\"data\":[{\"id\":5}]}",
	};
	CHECK_INT(walk_bodies(&cl, "nometa", nometa, 3, &c, &requests), 0);
	CHECK_INT(c.n, 4);
	/* Broken syntax is no item's fault: not "repaired" into a page the
	 * server never sent. */
	const char *spliced[] = { "{\"data\":[}, \"x\":[1, 2]}" };
	CHECK(walk_bodies(&cl, "spliced", spliced, 1, &c, &requests) != 0);
	CHECK_INT(c.n, 0);
	/* A detail jansson cannot hold: one request, then EIO (it was asked
	 * again and again as if the network had cut it). */
	json_t *data;
	fake_http_set(f, "/detail", 200, "{\"data\":{\"id\":9,\"v\":\"\xff\"}}");
	CHECK_INT(sepay_get_object(&cl.api, "test", "/detail", &data), EIO);
	CHECK_INT(fake_http_count(f, "/detail"), 1);
	/* Its numbers are read as the text the API wrote (it was EIO). */
	fake_http_set(f, "/numbers", 200, "{\"data\":{\"id\":9,\"v\":99999999999999999999999,"
		      "\"w\":1e400,\"m\":2705000.00}}");
	CHECK_INT(sepay_get_object(&cl.api, "test", "/numbers", &data), 0);
	size_t len;
	CHECK_STR(numtext_marked(json_object_get(data, "v"), &len), "99999999999999999999999");
	CHECK_STR(numtext_marked(json_object_get(data, "w"), &len), "1e400");
	CHECK_STR(numtext_marked(json_object_get(data, "m"), &len), "2705000.00");
	CHECK_INT(json_integer_value(json_object_get(data, "id")), 9);
	json_decref(data);
	/* Cut short: asked again. */
	fake_http_set(f, "/cut", 200, "{\"data\":{\"id\":9,");
	CHECK_INT(sepay_get_object(&cl.api, "test", "/cut", &data), EIO);
	CHECK(fake_http_count(f, "/cut") > 1);
	client_stop(&cl);
}

/* A 429 waits as long as the server asks, and a second when it names no
 * time; a wait past the deadline is believed for a little under one.  On
 * the test clock: the waits are counted, not slept. */
static void test_429_waits(void)
{
	use_test_clock(0);
	struct client cl;
	client_start(&cl, 1, 10000);
	struct fake_http *f = cl.http;
	const char *ok = "{\"status\":\"success\",\"data\":{\"id\":1}}";
	json_t *data;

	fake_http_set(f, "/quiet", 200, ok);
	fake_http_queue(f, "/quiet", 429, "{}");
	uint64_t t0 = clock_mono_ns();
	CHECK_INT(sepay_get_object(&cl.api, "test", "/quiet", &data), 0);
	json_decref(data);
	CHECK(clock_mono_ns() - t0 >= 1000000000u);
	CHECK(clock_mono_ns() - t0 < 1100000000u);
	CHECK_INT(fake_http_count(f, "/quiet"), 2);

	fake_http_set(f, "/told", 200, ok);
	fake_http_queue_retry_after(f, "/told", 429, "{}", 1.5);
	t0 = clock_mono_ns();
	CHECK_INT(sepay_get_object(&cl.api, "test", "/told", &data), 0);
	json_decref(data);
	CHECK(clock_mono_ns() - t0 >= 1500000000u);
	CHECK(clock_mono_ns() - t0 < 1600000000u);
	client_stop(&cl);

	/* Retry-After: 1000000000 is believed for a little under one request
	 * deadline: the request waits that long and goes on, and so do the
	 * ones after it (they were all refused before, until a restart). */
	client_start(&cl, 1, 1500);
	f = cl.http;
	fake_http_set(f, "/forever", 200, ok);
	fake_http_queue_retry_after(f, "/forever", 429, "{}", 1e9);
	t0 = clock_mono_ns();
	CHECK_INT(sepay_get_object(&cl.api, "test", "/forever", &data), 0);
	json_decref(data);
	CHECK(clock_mono_ns() - t0 >= 1000000000u && clock_mono_ns() - t0 <= 1500000000u);
	CHECK_INT(sepay_get_object(&cl.api, "test", "/forever", &data), 0);
	json_decref(data);
	CHECK_INT(fake_http_count(f, "/forever"), 3);
	client_stop(&cl);
	clock_use_fake(NULL);
}

/* Token answers: expires_in in every form, else the JWT's exp, else an hour. */
static void test_token_lifetime(void)
{
	const int64_t now = 1800000000;
	static const struct { const char *json; int64_t expected; } forms[] = {
		{ "3600", now + 3600 },
		{ "3600.0", now + 3600 },
		{ "\"3600\"", now + 3600 },
		{ "\"36x\"", now + 3600 },               /* garbage: the default */
		{ "0", now + 3600 },
		{ "-5", now + 3600 },
		{ "9223372036854775807", now + 3600 },   /* past any sane lifetime */
		{ "1e400", now + 3600 },                 /* not even a finite number */
		{ "null", now + 3600 },
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		json_t *v = json_loads(forms[i].json, JSON_DECODE_ANY, NULL);
		CHECK_INT(auth_expires_at(v, "opaque", now), forms[i].expected);
		json_decref(v);
	}
	/* No expires_in: the JWT's exp, {"exp":1700000000}. */
	CHECK_INT(auth_expires_at(NULL, "x.eyJleHAiOjE3MDAwMDAwMDB9.sig", now), 1700000000);
	/* {"exp":2e80}: out of range, so an hour. */
	CHECK_INT(auth_jwt_expiry("x.eyJleHAiOjJlODB9.sig"), 0);
	CHECK_INT(auth_expires_at(NULL, "x.eyJleHAiOjJlODB9.sig", now), now + 3600);
}

/* A 4 s token keeps its 4 s, and so its 1 s refresh margin, when the wall
 * clock's second ticks over while the answer is taken in: here every
 * reading of the clock is a second later than the one before. */
static void test_token_granted_lifetime(void)
{
	use_test_clock(1000000000LL);
	char path[] = "/tmp/sepayfs-test-credentials-XXXXXX";
	struct fake_http *f = fake_http_new();
	struct auth *auth = credentials_auth(path, "{\"client_id\":\"c\",\"client_secret\":\"s\","
					     "\"refresh_token\":\"r1\"}", f);
	CHECK(auth != NULL);
	fake_http_set(f, "https://auth.test/token", 200,
		      "{\"access_token\":\"brief\",\"expires_in\":4}");
	char *token = NULL;
	uint64_t generation;
	CHECK_INT(auth_current(auth, &token, &generation), 0);
	CHECK_STR(token, "brief");
	secret_free(token);
	CHECK_INT(auth_granted_lifetime_s(auth), 4);
	auth_free(auth);
	fake_http_free(f);
	unlink(path);
	clock_use_fake(NULL);
}

int main(void)
{
	test_retries();
	test_refresh();
	test_token_hygiene();
	test_walk();
	test_parallel_pages();
	test_list_that_shifts();
	test_page_size();
	test_errors();
	test_page_shapes();
	test_unreadable_items();
	test_error_bodies();
	test_429_waits();
	test_token_lifetime();
	test_token_granted_lifetime();
	test_deadline_ends_attempts();
	return check_report("sepay");
}
