/* login_memory.c - a scrubbing allocator for jansson and libcurl. */
#include "login_memory.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

union block_head {
	size_t size;
	max_align_t align;
};

static union block_head *head_of(void *p)
{
	return (union block_head *)p - 1;
}

void *scrubbing_malloc(size_t size)
{
	if (size > SIZE_MAX - sizeof(union block_head))
		return NULL;
	union block_head *h = malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	h->size = size;
	return h + 1;
}

void scrubbing_free(void *p)
{
	if (!p)
		return;
	union block_head *h = head_of(p);
	explicit_bzero(h, sizeof(*h) + h->size);
	free(h);
}

/* Always a new block: realloc() in place or not, the old bytes could stay
 * behind unscrubbed. */
void *scrubbing_realloc(void *p, size_t size)
{
	if (!p)
		return scrubbing_malloc(size);
	void *moved = scrubbing_malloc(size);
	if (!moved)
		return NULL;
	size_t old = head_of(p)->size;
	memcpy(moved, p, old < size ? old : size);
	scrubbing_free(p);
	return moved;
}

void *scrubbing_calloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	void *p = scrubbing_malloc(count * size);
	if (p)
		memset(p, 0, count * size);
	return p;
}

char *scrubbing_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *copy = scrubbing_malloc(n);
	if (copy)
		memcpy(copy, s, n);
	return copy;
}

bool login_scrub_freed_memory(void)
{
	json_set_alloc_funcs(scrubbing_malloc, scrubbing_free);
	return curl_global_init_mem(CURL_GLOBAL_DEFAULT, scrubbing_malloc, scrubbing_free,
				    scrubbing_realloc, scrubbing_strdup,
				    scrubbing_calloc) == CURLE_OK;
}
