/* scrubbing_alloc.c - memory scrubbed when freed: libcurl's and jansson's. */
#include "scrubbing_alloc.h"

#include <curl/curl.h>
#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

static bool jansson_always;
static _Thread_local unsigned scope_depth;

/* malloc_usable_size: the whole block, the slack past what was asked for
 * included (a realloc that shrank in place may have left bytes there). */
void scrubbing_free(void *p)
{
	if (!p)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/* Always a new block: realloc() in place or not, the old bytes could stay
 * behind unscrubbed. */
void *scrubbing_realloc(void *p, size_t size)
{
	if (!p)
		return malloc(size);
	void *moved = malloc(size);
	if (!moved)
		return NULL;
	size_t old = malloc_usable_size(p);
	memcpy(moved, p, old < size ? old : size);
	scrubbing_free(p);
	return moved;
}

void scrubbing_scope_enter(void)
{
	scope_depth++;
}

void scrubbing_scope_leave(void)
{
	scope_depth--;
}

static void jansson_free(void *p)
{
	if (jansson_always || scope_depth)
		scrubbing_free(p);
	else
		free(p);
}

bool scrubbing_alloc_install(enum scrub_jansson jansson)
{
	jansson_always = jansson == SCRUB_JANSSON_ALWAYS;
	json_set_alloc_funcs(malloc, jansson_free);
	return curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, scrubbing_free, scrubbing_realloc,
				    strdup, calloc) == CURLE_OK;
}
