/* sepay.c - SePay API envelopes, pagination and errors. */
#include "sepay.h"

#include "log.h"

#include "cache.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sepay_api_init(struct sepay_api *api, struct http_transport *http, unsigned page_size,
		    unsigned parallel, double max_rate)
{
	memset(api, 0, sizeof(*api));
	api->http = http;
	api->page_size = page_size;
	api->parallel = parallel ? parallel : 1;
	rate_limit_init(&api->rate, max_rate);
	atomic_init(&api->requests, 0);
	pthread_mutex_init(&api->seed_lock, NULL);
}

void sepay_api_destroy(struct sepay_api *api)
{
	free(api->seed_path);
	json_decref(api->seed_root);
	pthread_mutex_destroy(&api->seed_lock);
	rate_limit_destroy(&api->rate);
}

void sepay_api_seed(struct sepay_api *api, const char *path, json_t *root, uint64_t ttl_ms)
{
	char *copy = strdup(path);
	if (!copy)
		return;
	pthread_mutex_lock(&api->seed_lock);
	free(api->seed_path);
	json_decref(api->seed_root);
	api->seed_path = copy;
	api->seed_root = json_incref(root);
	api->seed_expires_ms = cache_clock_monotonic_ms(NULL) + ttl_ms;
	pthread_mutex_unlock(&api->seed_lock);
}

/* The seeded page for path if there is a fresh one; it is handed out once. */
static json_t *take_seed(struct sepay_api *api, const char *path)
{
	json_t *root = NULL;
	pthread_mutex_lock(&api->seed_lock);
	if (api->seed_root && strcmp(api->seed_path, path) == 0) {
		if (cache_clock_monotonic_ms(NULL) < api->seed_expires_ms)
			root = json_incref(api->seed_root);
		json_decref(api->seed_root);
		free(api->seed_path);
		api->seed_root = NULL;
		api->seed_path = NULL;
	}
	pthread_mutex_unlock(&api->seed_lock);
	return root;
}

int sepay_status_errno(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	switch (status) {
	case 401: return EACCES;
	case 403: return EPERM;
	case 404: case 410: return ENOENT;
	case 429: return EAGAIN;
	default: return EIO;
	}
}

/* The error code an error body names ("forbidden"), or "" when it names none. */
static void error_code_of(const struct http_response *resp, char *out, size_t size)
{
	out[0] = '\0';
	if (!resp->body)
		return;
	json_t *root = json_loadb(resp->body, resp->len, 0, NULL);
	const char *code = json_string_value(json_object_get(root, "error"));
	if (code) {
		/* Only printable ASCII of it reaches the log. */
		size_t n = 0;
		for (; *code && n + 1 < size; code++)
			if (*code >= 0x20 && *code < 0x7f)
				out[n++] = *code;
		out[n] = '\0';
	}
	json_decref(root);
}

int sepay_get_json(struct sepay_api *api, const char *op, const char *path, json_t **root)
{
	*root = NULL;
	struct http_response resp;
	rate_limit_wait(&api->rate);
	atomic_fetch_add(&api->requests, 1);
	int rc = api->http->get(api->http, path, &resp);
	if (rc) {
		log_error("%s: GET %s: %s (%s)", op, path, resp.error, strerror(rc));
		http_response_release(&resp);
		return rc;
	}
	rc = sepay_status_errno(resp.status);
	if (rc) {
		char code[64];
		error_code_of(&resp, code, sizeof(code));
		log_error("%s: GET %s: HTTP %ld%s%s (%s)", op, path, resp.status,
			  code[0] ? " " : "", code, strerror(rc));
		http_response_release(&resp);
		return rc;
	}
	json_error_t jerr;
	*root = resp.body ? json_loadb(resp.body, resp.len, 0, &jerr) : NULL;
	if (!json_is_object(*root)) {
		log_error("%s: GET %s: HTTP %ld with a body that is not a JSON object%s%s (%s)",
			  op, path, resp.status, *root ? "" : ": ", *root ? "" : jerr.text,
			  strerror(EIO));
		json_decref(*root);
		*root = NULL;
		rc = EIO;
	}
	http_response_release(&resp);
	return rc;
}

int sepay_get_object(struct sepay_api *api, const char *op, const char *path, json_t **data)
{
	json_t *root;
	*data = NULL;
	int rc = sepay_get_json(api, op, path, &root);
	if (rc)
		return rc;
	json_t *obj = json_object_get(root, "data");
	if (!json_is_object(obj)) {
		log_error("%s: GET %s: response has no \"data\" object (%s)", op, path, strerror(EIO));
		json_decref(root);
		return EIO;
	}
	*data = json_incref(obj);
	json_decref(root);
	return 0;
}

int sepay_parse_page(json_t *root, int64_t requested, struct sepay_page *page)
{
	page->items = json_object_get(root, "data");
	page->current_page = requested;
	page->last_page = requested;
	if (!json_is_array(page->items))
		return EIO;
	json_t *pagination = json_object_get(json_object_get(root, "meta"), "pagination");
	json_t *cur = json_object_get(pagination, "current_page");
	json_t *last = json_object_get(pagination, "last_page");
	if (json_is_integer(cur))
		page->current_page = json_integer_value(cur);
	if (json_is_integer(last))
		page->last_page = json_integer_value(last);
	return 0;
}

/* The id a listed item must carry to be shown: a positive JSON integer. */
static bool item_id(json_t *item, int64_t *id)
{
	json_t *v = json_object_get(item, "id");
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return false;
	*id = json_integer_value(v);
	return true;
}

struct walk {
	struct sepay_api *api;
	const char *op;
	const char *path;
	sepay_item_fn on_item;
	void *ctx;
	pthread_mutex_t lock;
	int64_t next_page;  /* the next page a worker takes */
	int64_t last_page;  /* as far as the server said */
	int64_t end_page;   /* a page found past the end: none from it on is taken */
	int64_t error_page; /* the lowest page that failed, and how */
	int error;
};

/* Fetches one page and hands its items over.  *past_end: the page showed
 * the list is over (empty, or the server answered with another page). */
static int walk_page(struct walk *w, int64_t page_no, int64_t *last_page, bool *past_end)
{
	char page_path[512];
	*past_end = false;
	if ((size_t)snprintf(page_path, sizeof(page_path), "%s?page=%" PRId64 "&limit=%u",
			     w->path, page_no, w->api->page_size) >= sizeof(page_path))
		return ENAMETOOLONG;
	json_t *root = page_no == 1 ? take_seed(w->api, page_path) : NULL;
	int rc = root ? 0 : sepay_get_json(w->api, w->op, page_path, &root);
	if (rc)
		return rc;
	struct sepay_page page;
	if (sepay_parse_page(root, page_no, &page) != 0) {
		log_error("%s: GET %s: response has no \"data\" list (%s)", w->op, page_path,
			  strerror(EIO));
		json_decref(root);
		return EIO;
	}
	*last_page = page.last_page;
	/* A server clamping a page past the end answers with another page:
	 * those items were seen already.  Page 1 is taken as it comes. */
	if ((page_no > 1 && page.current_page != page_no) ||
	    (page_no > 1 && json_array_size(page.items) == 0)) {
		*past_end = true;
		json_decref(root);
		return 0;
	}
	size_t i;
	json_t *item;
	json_array_foreach(page.items, i, item) {
		int64_t id;
		if (!json_is_object(item) || !item_id(item, &id)) {
			log_warn("%s: GET %s: skipped item %zu: not an object with a positive integer id",
				 w->op, page_path, i);
			continue;
		}
		if ((rc = w->on_item(w->ctx, page_no, id, item)))
			break;
	}
	if (page.current_page != page_no)
		*past_end = true;
	json_decref(root);
	return rc;
}

/* Takes pages until none is left, an error, or the end. */
static void *walk_worker(void *arg)
{
	struct walk *w = arg;
	pthread_mutex_lock(&w->lock);
	while (w->next_page <= w->last_page && w->next_page < w->end_page &&
	       w->next_page < w->error_page) {
		int64_t page_no = w->next_page++;
		pthread_mutex_unlock(&w->lock);
		int64_t last = 0;
		bool past_end;
		int rc = walk_page(w, page_no, &last, &past_end);
		pthread_mutex_lock(&w->lock);
		if (rc && page_no < w->error_page) {
			w->error_page = page_no;
			w->error = rc;
		}
		if (past_end && page_no < w->end_page)
			w->end_page = page_no;
		/* Accounts added meanwhile may lengthen the list. */
		if (!past_end && last > w->last_page)
			w->last_page = last < SEPAY_MAX_PAGES ? last : SEPAY_MAX_PAGES;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int sepay_walk_pages(struct sepay_api *api, const char *op, const char *path,
		     sepay_item_fn on_item, void *ctx)
{
	struct walk w = { .api = api, .op = op, .path = path, .on_item = on_item, .ctx = ctx,
			  .next_page = 2, .end_page = SEPAY_MAX_PAGES + 1,
			  .error_page = SEPAY_MAX_PAGES + 1 };
	int64_t last = 1;
	bool past_end;
	int rc = walk_page(&w, 1, &last, &past_end);
	if (rc || past_end || last <= 1)
		return rc;
	w.last_page = last < SEPAY_MAX_PAGES ? last : SEPAY_MAX_PAGES;
	pthread_mutex_init(&w.lock, NULL);

	/* The rest side by side: this thread and up to parallel - 1 helpers. */
	size_t helpers = 0;
	int64_t wanted = w.last_page - 1;
	pthread_t threads[64];
	while (helpers + 1 < api->parallel && (int64_t)helpers + 1 < wanted &&
	       helpers < sizeof(threads) / sizeof(threads[0]) &&
	       pthread_create(&threads[helpers], NULL, walk_worker, &w) == 0)
		helpers++;
	walk_worker(&w);
	for (size_t i = 0; i < helpers; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&w.lock);
	/* Pages fetched side by side may fail past an end found meanwhile (a
	 * server answering 404 there): only a failure before the end counts. */
	return w.error_page < w.end_page ? w.error : 0;
}
