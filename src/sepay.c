/* sepay.c - SePay API envelopes, pagination and errors. */
#include "sepay.h"

#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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

int sepay_walk_pages(struct sepay_api *api, const char *op, const char *path,
		     sepay_item_fn on_item, void *ctx)
{
	int64_t last_page = 1;
	for (int64_t page_no = 1; page_no <= last_page; page_no++) {
		char page_path[512];
		if ((size_t)snprintf(page_path, sizeof(page_path), "%s?page=%" PRId64 "&limit=%u",
				     path, page_no, api->page_size) >= sizeof(page_path))
			return ENAMETOOLONG;
		json_t *root;
		int rc = sepay_get_json(api, op, page_path, &root);
		if (rc)
			return rc;
		struct sepay_page page;
		if (sepay_parse_page(root, page_no, &page) != 0) {
			log_error("%s: GET %s: response has no \"data\" list (%s)", op, page_path,
				  strerror(EIO));
			json_decref(root);
			return EIO;
		}
		size_t i;
		json_t *item;
		json_array_foreach(page.items, i, item) {
			int64_t id;
			if (!json_is_object(item) || !item_id(item, &id)) {
				log_warn("%s: GET %s: skipped item %zu: not an object with a positive integer id",
					 op, page_path, i);
				continue;
			}
			rc = on_item(ctx, id, item);
			if (rc) {
				json_decref(root);
				return rc;
			}
		}
		bool empty = json_array_size(page.items) == 0;
		json_decref(root);
		/* The first page sets the length of the walk; a later page may
		 * lengthen it (accounts added meanwhile).  An empty page, or a server
		 * answering with another page than the one asked for (it clamps past
		 * the end), means the end has been reached, whatever meta says. */
		if ((empty && page_no > 1) || page.current_page != page_no)
			break;
		if (page.last_page > last_page)
			last_page = page.last_page < SEPAY_MAX_PAGES ? page.last_page : SEPAY_MAX_PAGES;
	}
	return 0;
}
