/* scrubbing_alloc.h - memory scrubbed when it is freed, for the copies of
 * secrets that jansson and libcurl make.
 *
 * Both copy what they are given and build copies of their own: libcurl
 * the bearer token, the Authorization header and the request around it,
 * a POST with the client secret and the refresh token, the answer with the
 * new tokens; jansson every string it parses, in the lexer's buffers too,
 * and every text it dumps.  They free those with plain free(), so the
 * bytes stay in the heap until something overwrites them.  Through these,
 * every block they free, or move by realloc, is scrubbed first.
 *
 * The blocks are ordinary malloc blocks (their size is malloc's own
 * record of it): free() may release them, and these may release memory
 * malloc() gave. */
#ifndef SEPAYFS_SCRUBBING_ALLOC_H
#define SEPAYFS_SCRUBBING_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* What jansson's freed memory is scrubbed for. */
enum scrub_jansson {
	/* Every block: sepayfs-login, whose every answer holds a secret. */
	SCRUB_JANSSON_ALWAYS,
	/* Blocks freed inside a scrubbing scope on the same thread: the
	 * daemon, which parses megabytes of API pages that hold no secret
	 * (scrubbing all of them costs 3% of a parse) and a token answer or
	 * a credentials file now and then. */
	SCRUB_JANSSON_IN_SCOPES,
};

/* libcurl always allocates through the scrubbing functions (every
 * request carries the token); jansson as `jansson` says.  Initialises
 * libcurl (curl_global_init_mem): call it first, before any other libcurl
 * or jansson function.  False when libcurl refused. */
bool scrubbing_alloc_install(enum scrub_jansson jansson);

/* A scope, on this thread, in which jansson's freed blocks are scrubbed
 * (with SCRUB_JANSSON_IN_SCOPES): around the parse of a token answer or a
 * credentials file, until its values are freed.  Scopes nest. */
void scrubbing_scope_enter(void);
void scrubbing_scope_leave(void);

/* free() and realloc() that scrub the whole block (what malloc gave, not
 * only what was asked for) before letting it go; the realloc always moves. */
void scrubbing_free(void *p);
void *scrubbing_realloc(void *p, size_t size);

#endif
