/* pages.c - a paginated list walked whole, or refused. */
#include "pages.h"

#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A page number or count: a JSON integer or a string of digits, >= 0. */
static bool page_number(const json_t *v, int64_t *n)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*n = json_integer_value(v);
		return true;
	}
	if (json_is_string(v) && json_string_length(v) == 1 && json_string_value(v)[0] == '0') {
		*n = 0;
		return true;
	}
	return sepay_parse_id(v, n);
}

/* has_more: a JSON boolean, 0/1, or their strings. */
static int more_flag(const json_t *v)
{
	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
		return (int)json_integer_value(v);
	const char *s = json_string_value(v);
	if (s && (!strcmp(s, "true") || !strcmp(s, "1")))
		return 1;
	if (s && (!strcmp(s, "false") || !strcmp(s, "0")))
		return 0;
	return -1;
}

int sepay_parse_page(json_t *root, int64_t requested, struct sepay_page *page)
{
	page->items = json_object_get(root, "data");
	page->current_page = requested;
	page->last_page = 0;
	page->has_more = -1;
	page->total = -1;
	if (!json_is_array(page->items))
		return EIO;
	/* Where SePay's APIs say it: meta.pagination (v1: last_page; v2:
	 * has_more), or a flat meta (page_count, has_more). */
	json_t *meta = json_object_get(root, "meta");
	json_t *pagination = json_object_get(meta, "pagination");
	json_t *places[] = { json_is_object(pagination) ? pagination : NULL,
			     json_is_object(meta) ? meta : NULL };
	bool current_known = false;
	for (size_t i = 0; i < 2; i++) {
		json_t *where = places[i];
		if (!where)
			continue;
		int64_t n;
		if (!page->last_page && page_number(json_object_get(where, "last_page"), &n))
			page->last_page = n ? n : 1; /* an empty list still has its page 1 */
		if (!page->last_page && page_number(json_object_get(where, "page_count"), &n))
			page->last_page = n ? n : 1;
		if (page->has_more < 0)
			page->has_more = more_flag(json_object_get(where, "has_more"));
		if (page->total < 0 && page_number(json_object_get(where, "total"), &n))
			page->total = n;
		if (!current_known && page_number(json_object_get(where, "current_page"), &n) && n) {
			page->current_page = n;
			current_known = true;
		}
	}
	return 0;
}

/* The id a listed item must carry to be shown. */
static bool item_id(json_t *item, int64_t *id)
{
	return sepay_parse_id(json_object_get(item, "id"), id);
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
	unsigned limit;     /* items a page is asked for, the same on every page */
	bool smaller;       /* the server refused that size: walk again with less */
	/* What tells a list that lost items under the walk (under lock). */
	size_t full;        /* items on page 1, when more pages follow it */
	int64_t total_high; /* the largest total a page has said; -1: none */
	bool shifted;       /* items were lost: walk again */
	char shift_why[128];
};

/* What one page showed, beyond its items. */
struct page_seen {
	struct sepay_page page;
	size_t count;          /* items in it */
	int64_t first_id, last_id;
};

static int walk_fail(struct walk *w, const char *page_path, const char *why)
{
	log_error("%s: GET %s: %s; the listing is refused rather than shown in part (%s)",
		  w->op, page_path, why, strerror(EIO));
	return EIO;
}

static int walk_fail_cap(struct walk *w, const char *page_path)
{
	char why[96];
	snprintf(why, sizeof(why), "the list goes on past %u pages, the cap", w->api->cfg.max_pages);
	return walk_fail(w, page_path, why);
}

/* The list lost items while it was walked: every item after them moved
 * onto an earlier page, one already read.  The first reason is kept for
 * the log.  With w->lock held where pages run side by side. */
static void mark_shifted(struct walk *w, const char *fmt, int64_t a, int64_t b, int64_t page_no)
{
	if (w->shifted)
		return;
	w->shifted = true;
	char what[96];
	snprintf(what, sizeof(what), fmt, a, b);
	snprintf(w->shift_why, sizeof(w->shift_why), "%s on page %" PRId64, what, page_no);
}

/* A total below one a page answered before means items went meanwhile;
 * one above it, that items came (nothing lost: callers drop repeats). */
static void check_total(struct walk *w, const struct page_seen *seen, int64_t page_no)
{
	int64_t total = seen->page.total;
	if (total < 0)
		return;
	if (w->total_high >= 0 && total < w->total_high)
		mark_shifted(w, "the total fell from %" PRId64 " to %" PRId64, w->total_high, total,
			     page_no);
	if (total > w->total_high)
		w->total_high = total;
}

/* A page before the last one, shorter than page 1: items went from it. */
static void check_short(struct walk *w, const struct page_seen *seen, int64_t page_no,
			bool more_follow)
{
	if (more_follow && w->full && seen->count < w->full)
		mark_shifted(w, "%" PRId64 " items where page 1 had %" PRId64, (int64_t)seen->count,
			     (int64_t)w->full, page_no);
}

/* Fetches one page.  *root (caller decrefs) and *seen on success. */
static int fetch_page(struct walk *w, int64_t page_no, char *page_path, size_t size,
		      json_t **root, struct page_seen *seen)
{
	if ((size_t)snprintf(page_path, size, "%s%cpage=%" PRId64 "&limit=%u", w->path,
			     strchr(w->path, '?') ? '&' : '?', page_no, w->limit) >= size)
		return ENAMETOOLONG;
	struct sepay_answer answer = { 0, 0 };
	unsigned flags = !w->api->cfg.page_size && w->limit > SEPAY_PAGE_DOCUMENTED
			 ? SEPAY_SIZE_TRIAL : 0;
	*root = page_no == 1 ? sepay_take_seed(w->api, page_path) : NULL;
	int rc = *root ? 0 : sepay_get_page(w->api, w->op, page_path, flags, root, &answer);
	if (rc == EFBIG && flags && sepay_page_size_refused(w->api, w->limit)) {
		pthread_mutex_lock(&w->lock);
		w->smaller = true;
		pthread_mutex_unlock(&w->lock);
		return ECANCELED;
	}
	if (rc)
		return rc == EFBIG ? EIO : rc;
	size_t dropped = answer.dropped;
	if (sepay_parse_page(*root, page_no, &seen->page) != 0) {
		log_error("%s: GET %s: response has no \"data\" list (%s)", w->op, page_path,
			  strerror(EIO));
		json_decref(*root);
		*root = NULL;
		return EIO;
	}
	/* Items left out still count: a page short of one unreadable item is
	 * not the list's last page. */
	seen->count = json_array_size(seen->page.items) + dropped;
	seen->first_id = seen->last_id = 0;
	if (json_array_size(seen->page.items)) {
		item_id(json_array_get(seen->page.items, 0), &seen->first_id);
		item_id(json_array_get(seen->page.items, json_array_size(seen->page.items) - 1),
			&seen->last_id);
	}
	return 0;
}

/* Hands a page's items over, skipping those that are not items. */
static int deliver_items(struct walk *w, int64_t page_no, const char *page_path,
			 const struct sepay_page *page)
{
	size_t i;
	json_t *item;
	json_array_foreach(page->items, i, item) {
		int64_t id;
		if (!json_is_object(item) || !item_id(item, &id)) {
			log_warn("%s: GET %s: skipped item %zu: not an object with a positive id",
				 w->op, page_path, i);
			continue;
		}
		if (sepay_json_depth(item, SEPAY_MAX_DEPTH + 1) > SEPAY_MAX_DEPTH) {
			log_warn("%s: GET %s: skipped item %zu (id %" PRId64 "): nested deeper than "
				 "%d levels", w->op, page_path, i, id, SEPAY_MAX_DEPTH);
			continue;
		}
		int rc = w->on_item(w->ctx, page_no, id, item);
		if (rc)
			return rc;
	}
	return 0;
}

/* A page of a list whose last page is known, fetched side by side with
 * others.  *past_end: the list ended before it (it shrank meanwhile). */
static int numbered_page(struct walk *w, int64_t page_no, int64_t *last_page, bool *past_end)
{
	char page_path[512];
	json_t *root;
	struct page_seen seen;
	*past_end = false;
	int rc = fetch_page(w, page_no, page_path, sizeof(page_path), &root, &seen);
	if (rc)
		return rc;
	*last_page = seen.page.last_page;
	if (seen.page.last_page > w->api->cfg.max_pages) {
		json_decref(root);
		return walk_fail_cap(w, page_path);
	}
	pthread_mutex_lock(&w->lock);
	check_total(w, &seen, page_no);
	pthread_mutex_unlock(&w->lock);
	bool beyond = seen.page.last_page && page_no > seen.page.last_page;
	if (seen.page.current_page != page_no || seen.count == 0) {
		/* A server clamping a page past the end answers with another
		 * page, or none: the list ends before a page page 1 promised,
		 * so it lost items meanwhile.  Within the end it names itself,
		 * that is a server that ignores page=. */
		if (beyond || !seen.page.last_page) {
			*past_end = true;
			pthread_mutex_lock(&w->lock);
			mark_shifted(w, "the list ended early, at %" PRId64 " of %" PRId64 " pages",
				     seen.page.last_page ? seen.page.last_page : page_no - 1,
				     w->last_page, page_no);
			pthread_mutex_unlock(&w->lock);
		} else {
			rc = walk_fail(w, page_path, seen.count ? "the server answered another page "
				       "than the one asked for" : "an empty page before the last one");
		}
	} else {
		pthread_mutex_lock(&w->lock);
		check_short(w, &seen, page_no, page_no < seen.page.last_page);
		pthread_mutex_unlock(&w->lock);
		rc = deliver_items(w, page_no, page_path, &seen.page);
	}
	json_decref(root);
	return rc;
}

/* Takes pages until none is left, an error, or the end. */
static void *walk_worker(void *arg)
{
	struct walk *w = arg;
	pthread_mutex_lock(&w->lock);
	while (w->next_page <= w->last_page && w->next_page < w->end_page &&
	       w->next_page < w->error_page && !w->shifted) {
		int64_t page_no = w->next_page++;
		pthread_mutex_unlock(&w->lock);
		int64_t last = 0;
		bool past_end;
		int rc = numbered_page(w, page_no, &last, &past_end);
		pthread_mutex_lock(&w->lock);
		if (rc && page_no < w->error_page) {
			w->error_page = page_no;
			w->error = rc;
		}
		if (past_end && page_no < w->end_page)
			w->end_page = page_no;
		/* Accounts added meanwhile may lengthen the list. */
		if (!past_end && last > w->last_page)
			w->last_page = last;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* The pages after page 1 when it named the last one: side by side, on this
 * thread and up to parallel - 1 helpers. */
static int walk_numbered(struct walk *w, int64_t last_page)
{
	w->next_page = 2;
	w->last_page = last_page;
	w->end_page = w->error_page = INT64_MAX;
	size_t helpers = 0;
	pthread_t threads[SEPAY_MAX_PARALLEL];
	while (helpers + 1 < w->api->cfg.parallel && (int64_t)helpers + 1 < last_page - 1 &&
	       helpers < SEPAY_MAX_PARALLEL &&
	       pthread_create(&threads[helpers], NULL, walk_worker, w) == 0)
		helpers++;
	walk_worker(w);
	for (size_t i = 0; i < helpers; i++)
		pthread_join(threads[i], NULL);
	/* Pages fetched side by side may fail past an end found meanwhile (a
	 * server answering 404 there): only a failure before the end counts. */
	return w->error_page < w->end_page ? w->error : 0;
}

/* The pages after page 1 when it did not name the last one: one after
 * another, while has_more says so, or (when nothing says) until a page is
 * empty or shorter than page 1.  Never a silent stop: a list that does not
 * end within the cap, or pages that contradict each other, fail. */
static int walk_unnumbered(struct walk *w, const struct page_seen *first)
{
	struct page_seen prev = *first;
	for (int64_t page_no = 2;; page_no++) {
		char page_path[512];
		snprintf(page_path, sizeof(page_path), "%s (page %" PRId64 ")", w->path, page_no);
		if (page_no > w->api->cfg.max_pages)
			return walk_fail_cap(w, page_path);
		bool promised = prev.page.has_more == 1 ||
				(prev.page.last_page && page_no <= prev.page.last_page);
		json_t *root;
		struct page_seen seen;
		int rc = fetch_page(w, page_no, page_path, sizeof(page_path), &root, &seen);
		if (rc)
			return rc;
		const char *contradiction = NULL;
		bool last = false;
		check_total(w, &seen, page_no);
		if (seen.page.current_page != page_no) {
			if (promised)
				contradiction = "the server answered another page than the one asked for";
			else
				last = true, seen.count = 0; /* clamped past the end */
		} else if (seen.count == 0) {
			if (seen.page.has_more == 1 ||
			    (seen.page.last_page && page_no < seen.page.last_page))
				contradiction = "an empty page that says more follow";
			else if (promised) /* the list ended before its promise */
				mark_shifted(w, "an empty page after %" PRId64 " of %" PRId64 " promised "
					     "pages", page_no - 1, prev.page.last_page ? prev.page.last_page
					     : page_no, page_no);
			last = true;
		} else if (seen.first_id && seen.count == prev.count && seen.first_id == prev.first_id &&
			   seen.last_id == prev.last_id) {
			contradiction = "the same page twice: the server seems to ignore page=";
		} else if (seen.page.has_more >= 0) {
			last = seen.page.has_more == 0;
			check_short(w, &seen, page_no, !last);
		} else if (seen.page.last_page) {
			last = page_no >= seen.page.last_page;
			check_short(w, &seen, page_no, !last);
		} else {
			last = seen.count < first->count;
		}
		if (w->shifted && !contradiction) {
			json_decref(root);
			return 0; /* the walk starts again: the rest is no use */
		}
		if (contradiction)
			rc = walk_fail(w, page_path, contradiction);
		else if (seen.count)
			rc = deliver_items(w, page_no, page_path, &seen.page);
		json_decref(root);
		if (rc || last)
			return rc;
		prev = seen;
	}
}

/* One walk of the list from page 1; w->shifted when it lost items meanwhile. */
static int walk_once(struct walk *w)
{
	char page_path[512];
	json_t *root;
	struct page_seen first;
	int rc = fetch_page(w, 1, page_path, sizeof(page_path), &root, &first);
	if (rc)
		return rc;
	int64_t last_page = first.page.last_page;
	if (last_page > w->api->cfg.max_pages) {
		json_decref(root);
		return walk_fail_cap(w, page_path);
	}
	const char *contradiction =
		first.page.current_page != 1 ? "the server answered another page than page 1"
		: (last_page == 1 || first.count == 0) && first.page.has_more == 1
			? "a last or empty page that says more follow"
		: first.count == 0 && last_page > 1 ? "an empty page before the last one"
		: NULL;
	if (contradiction) {
		json_decref(root);
		return walk_fail(w, page_path, contradiction);
	}
	w->total_high = first.page.total;
	w->full = first.count;
	rc = deliver_items(w, 1, page_path, &first.page);
	json_decref(root);
	if (rc || first.count == 0 || last_page == 1 ||
	    (!last_page && first.page.has_more == 0))
		return rc;
	return last_page ? walk_numbered(w, last_page) : walk_unnumbered(w, &first);
}

int sepay_walk_pages(struct sepay_api *api, const char *op, const char *path,
		     sepay_item_fn on_item, sepay_restart_fn on_restart, void *ctx)
{
	for (int walks = 1;; walks++) {
		struct walk w = { .api = api, .op = op, .path = path, .on_item = on_item,
				  .ctx = ctx, .total_high = -1, .limit = sepay_page_limit(api) };
		pthread_mutex_init(&w.lock, NULL);
		int rc = walk_once(&w);
		pthread_mutex_destroy(&w.lock);
		if (w.smaller) {
			/* Pages of another size number the list otherwise: from
			 * page 1 again, and not a walk that lost items. */
			walks--;
			if (on_restart)
				on_restart(ctx);
			continue;
		}
		if (rc || !w.shifted)
			return rc;
		if (walks == SEPAY_WALK_TRIES) {
			log_error("%s: GET %s: the list lost items while it was read, %d times in a "
				  "row (last: %s); refused rather than shown in part (%s)", op, path,
				  walks, w.shift_why, strerror(EIO));
			return EIO;
		}
		log_info("%s: GET %s: the list lost items while it was read (%s): reading it "
			 "again", op, path, w.shift_why);
		if (on_restart)
			on_restart(ctx);
	}
}

int sepay_first_page(struct sepay_api *api, const char *op, const char *list_path, json_t **root,
		     char *page_path, size_t size)
{
	for (;;) {
		unsigned limit = sepay_page_limit(api);
		if ((size_t)snprintf(page_path, size, "%s?page=1&limit=%u", list_path, limit) >= size)
			return ENAMETOOLONG;
		unsigned flags = !api->cfg.page_size && limit > SEPAY_PAGE_DOCUMENTED
				 ? SEPAY_SIZE_TRIAL : 0;
		struct sepay_answer answer;
		int rc = sepay_get_page(api, op, page_path, flags, root, &answer);
		if (rc == EFBIG && flags && sepay_page_size_refused(api, limit))
			continue;
		return rc == EFBIG ? EIO : rc;
	}
}
