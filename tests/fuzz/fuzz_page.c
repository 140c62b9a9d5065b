/* fuzz_page.c - a list page's HTTP body, as the walker and the listing see it.
 *
 * The input is the body of GET /bank-accounts?page=1 (or a sub-account
 * list page).  It goes through what sepay.c does with such a body
 * (numtext_rewrite, salvage_list: json_loadb without JSON_DECODE_ANY,
 * sepay_parse_page, the per-item
 * check of an object with a positive "id", integer or digits), then through what
 * objects.c does with each item (render_json, blob_new, a listing built
 * with snapshot_listing_add and snapshot_listing_finish). */
#include "fuzz_common.h"

#include "log.h"
#include "numtext.h"
#include "render.h"
#include "salvage.h"
#include "pages.h"
#include "sepay.h"
#include "snapshot.h"

#include <stdint.h>

/* One item the page listed, in arrival order. */
struct arrival {
	int64_t id;
	size_t index;
	struct blob *file; /* borrowed: the listing owns it (NULL if not rendered) */
};

static int arrival_order(const void *a, const void *b)
{
	const struct arrival *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* The walker's test for an item it shows. */
static bool listed_id(json_t *item, int64_t *id)
{
	return json_is_object(item) && sepay_parse_id(json_object_get(item, "id"), id);
}

static void check_parse_page(json_t *root, int rc, const struct sepay_page *page)
{
	json_t *data = json_object_get(root, "data");
	FUZZ_CHECK((rc == 0) == json_is_array(data));
	if (rc)
		return;
	FUZZ_CHECK(page->items == data);
	FUZZ_CHECK(page->current_page >= 1);
	FUZZ_CHECK(page->last_page >= 0);
	FUZZ_CHECK(page->has_more >= -1 && page->has_more <= 1);
	/* The documented form is read as it is. */
	json_t *pagination = json_object_get(json_object_get(root, "meta"), "pagination");
	json_t *cur = json_object_get(pagination, "current_page");
	json_t *last = json_object_get(pagination, "last_page");
	if (json_is_integer(cur) && json_integer_value(cur) > 0)
		FUZZ_CHECK(page->current_page == json_integer_value(cur));
	if (json_is_integer(last) && json_integer_value(last) > 0)
		FUZZ_CHECK(page->last_page == json_integer_value(last));
	if (json_is_boolean(json_object_get(pagination, "has_more")))
		FUZZ_CHECK(page->has_more == json_is_true(json_object_get(pagination, "has_more")));
}

/* After snapshot_listing_finish: ids strictly increasing, one entry per
 * distinct id, and each the first one the page listed. */
static void check_listing(const struct snapshot *s, struct arrival *arrived, size_t n)
{
	qsort(arrived, n, sizeof(*arrived), arrival_order);
	size_t e = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && arrived[i].id == arrived[i - 1].id)
			continue; /* a repeat: the first one was kept */
		FUZZ_CHECK(e < s->count);
		FUZZ_CHECK(s->entries[e].id == arrived[i].id);
		FUZZ_CHECK(s->entries[e].file == arrived[i].file);
		e++;
	}
	FUZZ_CHECK(e == s->count);
	for (size_t i = 0; i < s->count; i++) {
		if (i > 0)
			FUZZ_CHECK(s->entries[i - 1].id < s->entries[i].id);
		FUZZ_CHECK(s->entries[i].id > 0);
		FUZZ_CHECK(snapshot_find(s, s->entries[i].id) == &s->entries[i]);
		int64_t gap = s->entries[i].id + (s->entries[i].id < INT64_MAX);
		if (gap != s->entries[i].id && (i + 1 == s->count || s->entries[i + 1].id != gap))
			FUZZ_CHECK(snapshot_find(s, gap) == NULL);
	}
	FUZZ_CHECK(snapshot_find(s, 0) == NULL);
}

/* The same page fetched again later: identical bytes keep their first
 * mtime, and the same set of ids keeps the listing's mtime. */
static void check_refetch(const struct snapshot *first, struct timespec later)
{
	struct snapshot_versions *v = snapshot_versions_of(first);
	FUZZ_CHECK(v != NULL);
	FUZZ_CHECK(v->ids_count == first->count);
	struct snapshot *again = snapshot_new_listing(later);
	FUZZ_CHECK(again != NULL);
	/* In reverse, so finish has to sort. */
	for (size_t i = first->count; i-- > 0;) {
		const struct blob *f = first->entries[i].file;
		struct blob *copy = f ? blob_new(f->bytes, f->v.len, later) : NULL;
		FUZZ_CHECK(!f || copy);
		FUZZ_CHECK(snapshot_listing_add(again, first->entries[i].id, copy));
	}
	FUZZ_CHECK(snapshot_listing_finish(again));
	FUZZ_CHECK(again->count == first->count);
	snapshot_carry_over(again, v);
	FUZZ_CHECK(again->mtime.tv_sec == first->mtime.tv_sec);
	for (size_t i = 0; i < again->count; i++) {
		const struct blob *f = again->entries[i].file;
		FUZZ_CHECK(again->entries[i].id == first->entries[i].id);
		if (f) {
			FUZZ_CHECK(f->v.mtime.tv_sec == first->entries[i].file->v.mtime.tv_sec);
			FUZZ_CHECK(version_same_bytes(&f->v, &first->entries[i].file->v));
		}
	}
	FUZZ_CHECK(snapshot_size(again) == snapshot_size(first));
	snapshot_unref(again);
	free(v);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* As sepay_get_json loads a list body: numbers marked with their
	 * text, items jansson cannot hold left out, the rest parsed. */
	size_t dropped, len;
	json_error_t error;
	char *owned;
	const char *body = numtext_rewrite((const char *)data, size, &owned, &len);
	FUZZ_CHECK(body != NULL);
	json_t *root = salvage_list(body, len, JSON_ALLOW_NUL, "fuzz", "/page", &dropped, &error);
	free(owned);
	FUZZ_CHECK(dropped <= SALVAGE_MAX_DROPPED);
	if (!json_is_object(root)) {
		json_decref(root);
		return 0;
	}
	struct sepay_page page;
	int rc = sepay_parse_page(root, 1, &page);
	check_parse_page(root, rc, &page);
	if (rc) {
		json_decref(root);
		return 0;
	}

	const struct timespec first_seen = { 1000, 0 }, later = { 2000, 0 };
	struct snapshot *listing = snapshot_new_listing(first_seen);
	FUZZ_CHECK(listing != NULL);
	size_t n_items = json_array_size(page.items), n = 0;
	struct arrival *arrived = malloc((n_items ? n_items : 1) * sizeof(*arrived));
	FUZZ_CHECK(arrived != NULL);

	size_t i;
	json_t *item;
	json_array_foreach(page.items, i, item) {
		int64_t id;
		if (!listed_id(item, &id))
			continue;
		size_t len = 0;
		char *text = render_json(item, &len);
		fuzz_check_rendered(item, text, len);
		struct blob *file = text ? blob_new(text, len, first_seen) : NULL;
		FUZZ_CHECK(!text || file);
		if (file) {
			FUZZ_CHECK(file->v.len == len);
			FUZZ_CHECK(memcmp(file->bytes, text, len + 1) == 0);
		}
		free(text);
		arrived[n++] = (struct arrival){ id, i, file };
		FUZZ_CHECK(snapshot_listing_add(listing, id, file));
	}
	FUZZ_CHECK(listing->count == n);
	FUZZ_CHECK(snapshot_listing_finish(listing));
	check_listing(listing, arrived, n);
	check_refetch(listing, later);

	free(arrived);
	snapshot_unref(listing);
	json_decref(root);
	return 0;
}
