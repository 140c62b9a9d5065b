/* pages.h - a paginated list of SePay's, walked whole or refused.
 *
 * Lists come in pages said in several ways (meta.pagination's last_page,
 * has_more, a flat meta, nothing at all); the walker reads every one of
 * them completely or fails with EIO and one log line, never with a silent
 * gap: a partial listing looks like deleted accounts to a backup. */
#ifndef SEPAYFS_PAGES_H
#define SEPAYFS_PAGES_H

#include "sepay.h"

#include <jansson.h>
#include <stdint.h>

/* Calls on_item for each valid item (an object with a positive id, see
 * sepay_parse_id) of every page of a paginated list at path.  When page 1
 * names the last page, the others are fetched side by side, so on_item runs
 * on several threads at once (for different pages).  Otherwise pages are
 * asked one after another while has_more says so, or until one is empty or
 * shorter than page 1.  A list that does not end within SEPAY_MAX_PAGES, or
 * whose pages contradict each other, fails with EIO and one log line: never
 * a listing in part.  on_item returns 0 or an errno that stops the walk.
 *
 * A list that lost items while it was read (a total that falls between
 * pages, a page shorter than page 1 before the last, the end coming early)
 * has shifted every later item onto an earlier page already read: those
 * items would be missing.  The walk is then done again from page 1, after
 * on_restart(ctx) drops what the items so far built, up to
 * SEPAY_WALK_TRIES walks; a list that keeps shifting fails with EIO.  A
 * list that grew meanwhile needs nothing: its items pushed down come again
 * on a later page, and callers keep each id once. */
#define SEPAY_WALK_TRIES 3
typedef int (*sepay_item_fn)(void *ctx, int64_t page_no, int64_t id, json_t *item);
typedef void (*sepay_restart_fn)(void *ctx);
int sepay_walk_pages(struct sepay_api *api, const char *op, const char *path,
		     sepay_item_fn on_item, sepay_restart_fn on_restart, void *ctx);

/* How a page names itself: what the walker needs, parsed apart so tests
 * can reach it.  Read from meta.pagination, then a flat meta; numbers may
 * be JSON integers or digit strings.  0, or EIO when root is not a list
 * envelope. */
struct sepay_page {
	json_t *items;        /* borrowed from root */
	int64_t current_page; /* the requested page when not said */
	int64_t last_page;    /* last_page or page_count; 0: not said */
	int has_more;         /* 1, 0, or -1: not said */
	int64_t total;        /* items in the whole list; -1: not said */
};
int sepay_parse_page(json_t *root, int64_t requested, struct sepay_page *page);

/* Page 1 of the list at list_path (no query), as a walk would ask it, the
 * page size falling back as sepay.h says: 0 and *root (caller decrefs),
 * the path asked in page_path (to seed a walk with), or an errno. */
int sepay_first_page(struct sepay_api *api, const char *op, const char *list_path, json_t **root,
		     char *page_path, size_t size);

#endif
