/* login_memory.h - memory that is scrubbed when freed, for everything
 * sepayfs-login hands to jansson and libcurl.  Both copy what they are
 * given and build copies of their own (jansson every string it parses;
 * libcurl the authorize URL with its state, the POST with the client
 * secret, the code and the PKCE verifier, the answer with the tokens), and
 * free them with plain free(): through these, no freed block keeps one. */
#ifndef SEPAYFS_LOGIN_MEMORY_H
#define SEPAYFS_LOGIN_MEMORY_H

#include <stdbool.h>
#include <stddef.h>

/* Makes jansson and libcurl allocate through the functions below, and
 * initialises libcurl (curl_global_init_mem): call it first, before any
 * other libcurl or jansson function.  False when libcurl refused. */
bool login_scrub_freed_memory(void);

/* Each block remembers its size; freeing (or moving it by realloc) scrubs
 * the whole block first. */
void *scrubbing_malloc(size_t size);
void scrubbing_free(void *p);
void *scrubbing_realloc(void *p, size_t size);
void *scrubbing_calloc(size_t count, size_t size);
char *scrubbing_strdup(const char *s);

#endif
