/* objects.c - fetch and render the objects the tree shows. */
#include "objects.h"

#include "render.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void objects_path(const struct obj_key *key, char *buf, size_t size)
{
	switch (key->kind) {
	case OBJ_ACCOUNT_LIST:
		snprintf(buf, size, "/bank-accounts");
		break;
	case OBJ_ACCOUNT:
		snprintf(buf, size, "/bank-accounts/%" PRId64, key->a);
		break;
	case OBJ_SUB_LIST:
		snprintf(buf, size, "/bank-accounts/%" PRId64 "/sub-accounts", key->a);
		break;
	default:
		snprintf(buf, size, "?");
	}
}

static struct blob *render_blob(const json_t *obj, struct timespec now)
{
	size_t len;
	char *text = render_json(obj, &len);
	if (!text)
		return NULL;
	struct blob *b = blob_new(text, len, now);
	free(text);
	return b;
}

struct listing_build {
	struct snapshot *snap;
	bool with_files;
	struct timespec now;
};

static int add_listed_item(void *ctx, int64_t id, json_t *item)
{
	struct listing_build *lb = ctx;
	struct blob *file = NULL;
	if (lb->with_files && !(file = render_blob(item, lb->now)))
		return ENOMEM;
	return snapshot_listing_add(lb->snap, id, file) ? 0 : ENOMEM;
}

static int fetch_listing(struct sepay_api *api, const char *op, const char *path,
			 bool with_files, struct timespec now, struct snapshot **out)
{
	struct listing_build lb = { snapshot_new_listing(now), with_files, now };
	if (!lb.snap)
		return ENOMEM;
	int rc = sepay_walk_pages(api, op, path, add_listed_item, &lb);
	if (rc == 0 && !snapshot_listing_finish(lb.snap))
		rc = ENOMEM;
	if (rc) {
		snapshot_unref(lb.snap);
		return rc;
	}
	*out = lb.snap;
	return 0;
}

static int fetch_detail(struct sepay_api *api, const char *path, struct timespec now,
			struct snapshot **out)
{
	json_t *data;
	int rc = sepay_get_object(api, "read account", path, &data);
	if (rc)
		return rc;
	struct blob *file = render_blob(data, now);
	json_decref(data);
	if (!file || !(*out = snapshot_new_file(file)))
		return ENOMEM;
	return 0;
}

int objects_fetch(void *ctx, const struct obj_key *key, struct snapshot **out)
{
	struct sepay_api *api = ctx;
	char path[128];
	objects_path(key, path, sizeof(path));
	/* Content is dated by the wall clock: it becomes the files' mtime. */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	switch (key->kind) {
	case OBJ_ACCOUNT_LIST:
		return fetch_listing(api, "list accounts", path, false, now, out);
	case OBJ_ACCOUNT:
		return fetch_detail(api, path, now, out);
	case OBJ_SUB_LIST:
		return fetch_listing(api, "list sub-accounts", path, true, now, out);
	}
	return EINVAL;
}
