/* salvage.h - a list page whose items jansson cannot all hold.
 *
 * One value jansson cannot represent (an integer beyond int64, 1e400,
 * invalid UTF-8) makes it refuse the whole body: one hostile or broken
 * account would hide every account.  This finds the items of the page's
 * "data" array jansson cannot hold, from the one the parse failed in on,
 * and parses the page once more without them, so the rest of the listing
 * stands; each item left out is logged. */
#ifndef SEPAYFS_SALVAGE_H
#define SEPAYFS_SALVAGE_H

#include <jansson.h>
#include <stddef.h>

/* Items left out of one body at most: past this, the body is not a page
 * with a few bad items but a bad page, and is refused. */
#define SALVAGE_MAX_DROPPED 100

/* Parses body (flags as json_loadb).  On success the value, and *dropped
 * items of "data" left out (each logged with op and path).  NULL when the
 * failure is not inside an item, or too many are bad; *error then says why. */
json_t *salvage_list(const char *body, size_t len, size_t flags, const char *op,
		     const char *path, size_t *dropped, json_error_t *error);

#endif
