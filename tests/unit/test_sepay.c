/* test_sepay.c - envelopes, the page walker and HTTP errors as errnos. */
#include "check.h"
#include "fake_http.h"
#include "log.h"
#include "sepay.h"

#include <errno.h>
#include <stdlib.h>

struct collected {
	int64_t ids[64];
	size_t n;
};

static int collect(void *ctx, int64_t id, json_t *item)
{
	(void)item;
	struct collected *c = ctx;
	if (c->n < 64)
		c->ids[c->n++] = id;
	return 0;
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

static void test_walk(void)
{
	struct fake_http *f = fake_http_new();
	struct sepay_api api = { .http = fake_http_transport(f), .page_size = 100 };
	struct collected c = { .n = 0 };

	/* The server gives 2 per page though 100 were asked for: pages are
	 * followed by last_page, not by counting items. */
	set_page(f, "/bank-accounts?page=1&limit=100", "{\"id\":1},{\"id\":2}", 1, 3);
	set_page(f, "/bank-accounts?page=2&limit=100", "{\"id\":3},{\"id\":4}", 2, 3);
	set_page(f, "/bank-accounts?page=3&limit=100", "{\"id\":5}", 3, 3);
	CHECK_INT(sepay_walk_pages(&api, "test", "/bank-accounts", collect, &c), 0);
	CHECK_INT(c.n, 5);
	CHECK_INT(c.ids[4], 5);
	CHECK_INT(fake_http_count(f, NULL), 3);

	/* Hostile items are skipped; a page past the end (empty) stops the walk. */
	fake_http_reset_counts(f);
	c.n = 0;
	set_page(f, "/x?page=1&limit=100",
		 "{\"id\":7},\"str\",{\"id\":-1},{\"id\":\"8\"},{\"noid\":1},{\"id\":1.5},null,{\"id\":9}",
		 1, 1000);
	set_page(f, "/x?page=2&limit=100", "", 2, 1000);
	CHECK_INT(sepay_walk_pages(&api, "test", "/x", collect, &c), 0);
	CHECK_INT(c.n, 2);
	CHECK_INT(c.ids[0], 7);
	CHECK_INT(c.ids[1], 9);
	CHECK_INT(fake_http_count(f, NULL), 2);

	/* A server that answers page 2 with page 1 again (clamping) ends it. */
	fake_http_reset_counts(f);
	c.n = 0;
	set_page(f, "/y?page=1&limit=100", "{\"id\":1}", 1, 5);
	set_page(f, "/y?page=2&limit=100", "{\"id\":1}", 1, 5);
	CHECK_INT(sepay_walk_pages(&api, "test", "/y", collect, &c), 0);
	CHECK_INT(fake_http_count(f, NULL), 2);

	/* No meta at all: one page. */
	fake_http_reset_counts(f);
	c.n = 0;
	fake_http_set(f, "/z?page=1&limit=100", 200, "{\"data\":[{\"id\":3}]}");
	CHECK_INT(sepay_walk_pages(&api, "test", "/z", collect, &c), 0);
	CHECK_INT(c.n, 1);
	CHECK_INT(fake_http_count(f, NULL), 1);

	/* Errors in the middle of a walk are the walk's error. */
	set_page(f, "/e?page=1&limit=100", "{\"id\":1}", 1, 2);
	fake_http_set(f, "/e?page=2&limit=100", 503, "oops");
	CHECK_INT(sepay_walk_pages(&api, "test", "/e", collect, &c), EIO);
	fake_http_set(f, "/bad?page=1&limit=100", 200, "{\"data\":{\"id\":1}}");
	CHECK_INT(sepay_walk_pages(&api, "test", "/bad", collect, &c), EIO);
	fake_http_set(f, "/trunc?page=1&limit=100", 200, "{\"data\":[{\"id\":1},");
	CHECK_INT(sepay_walk_pages(&api, "test", "/trunc", collect, &c), EIO);
	fake_http_free(f);
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

	struct fake_http *f = fake_http_new();
	struct sepay_api api = { .http = fake_http_transport(f), .page_size = 100 };
	json_t *data;
	fake_http_set(f, "/ok", 200, "{\"status\":\"success\",\"data\":{\"id\":19,\"label\":null}}");
	CHECK_INT(sepay_get_object(&api, "test", "/ok", &data), 0);
	CHECK(json_is_null(json_object_get(data, "label")));
	json_decref(data);
	fake_http_set(f, "/forbidden", 403, "{\"status\":\"error\",\"error\":\"forbidden\"}");
	CHECK_INT(sepay_get_object(&api, "test", "/forbidden", &data), EPERM);
	fake_http_set(f, "/unauth", 401, "");
	CHECK_INT(sepay_get_object(&api, "test", "/unauth", &data), EACCES);
	CHECK_INT(sepay_get_object(&api, "test", "/missing", &data), ENOENT);
	fake_http_set(f, "/html", 200, "<html>maintenance</html>");
	CHECK_INT(sepay_get_object(&api, "test", "/html", &data), EIO);
	fake_http_set(f, "/nodata", 200, "{\"status\":\"success\"}");
	CHECK_INT(sepay_get_object(&api, "test", "/nodata", &data), EIO);
	fake_http_set(f, "/array", 200, "[1,2]");
	CHECK_INT(sepay_get_object(&api, "test", "/array", &data), EIO);
	fake_http_set(f, "/down", 0, NULL);
	CHECK_INT(sepay_get_object(&api, "test", "/down", &data), EIO);
	CHECK_INT(atomic_load(&api.requests), 8);
	fake_http_free(f);
}

int main(void)
{
	test_walk();
	test_errors();
	return check_report("sepay");
}
