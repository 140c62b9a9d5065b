/* auth.h - the access token every request carries, and getting a new one.
 *
 * With credentials (client id and secret, refresh token), a token about to
 * expire is refreshed before use, and a 401 leads to one refresh shared by
 * every request that saw it.  A refresh token the server rotates is written
 * back to the credentials file.  Every refresh first reads the file again
 * (under the advisory lock sepayfs-login takes too): what a new log-in or
 * another mount wrote there is taken, so logging in again heals a mount
 * without a restart, and a refresh token refused once is not sent again.
 * Tokens never reach a log. */
#ifndef SEPAYFS_AUTH_H
#define SEPAYFS_AUTH_H

#include "http.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* SePay's token endpoint. */
#define AUTH_DEFAULT_TOKEN_URL "https://my.sepay.vn/oauth/token"

struct auth;

/* A fixed token: it cannot be refreshed (a 401 is final). */
struct auth *auth_new_fixed(const char *access_token);
/* From a credentials file: {"client_id", "client_secret", "refresh_token",
 * "access_token"?, "token_url"?}.  token_url overrides the file's when
 * given.  NULL after printing why. */
struct auth *auth_new_from_credentials(const char *path, const char *token_url,
				       struct http_transport *http);
void auth_free(struct auth *a);
/* The fixed token came from this file: when it is refused, the file is
 * read again, and a new token there is taken (no remount). */
void auth_watch_token_file(struct auth *a, const char *path);
/* Called (from a request's thread, no lock held) after the credentials
 * or token file was found changed and what it holds was taken: a new
 * log-in may be another user's (auth_identity). */
void auth_on_taken(struct auth *a, void (*fn)(void *ctx), void *ctx);
/* SIGHUP: reads the credentials or token file again and takes it if it
 * changed since it was last read or written here.  Whether it did. */
bool auth_reload(struct auth *a);
/* A number that moves with every new token, after taking what the
 * credentials or token file holds if it changed on disk since it was
 * last read or written here (one stat(2) when it did not): a read
 * refused for the token is retried at once after a new log-in. */
uint64_t auth_token_epoch(struct auth *a);

/* The token to send now (a copy to scrub and free) and its generation.
 * Refreshes first if the token is missing or about to expire.  0 or an
 * errno (EACCES: log in again). */
int auth_current(struct auth *a, char **token, uint64_t *generation);
/* A request made with `generation` got a 401: get a new token unless
 * another request already did.  0: retry with auth_current(); else EACCES
 * (or EIO/ETIMEDOUT when the token endpoint could not be reached). */
int auth_after_401(struct auth *a, uint64_t generation);
bool auth_can_refresh(const struct auth *a);
uint64_t auth_refreshes(struct auth *a);
/* The lifetime the current token was granted, in seconds (0: unknown);
 * a quarter of a short one is the margin it is refreshed ahead by. */
int64_t auth_granted_lifetime_s(struct auth *a);

/* A token endpoint's answer as JSON (NULL when it is none).  The body
 * carries tokens: it is scrubbed and released either way. */
json_t *auth_token_answer(struct http_response *resp);

/* Who the current token speaks for, to name a disk cache so that one
 * user's data is never served to another's token: the JWT's iss and sub.
 * A token that names no user (opaque): with -o credentials, the
 * credentials' line of descent, a hash of the refresh token the file
 * first held, carried in the file across the rotations this daemon writes
 * (so a rotation keeps the cache, and a new log-in, another user's or
 * the same one's, starts a new one); two people logged in through one
 * OAuth app never share it.  Else a hash of the token itself. */
void auth_identity(struct auth *a, char *out, size_t size);
/* Whether the token's JWT lists its scopes and this one is not among them. */
bool auth_lacks_scope(struct auth *a, const char *scope);

/* A token is a JWT of a few KiB; a file larger than this is not a token. */
#define AUTH_MAX_TOKEN_FILE 65536
/* text as a token: without the blanks around it, and one an HTTP header
 * can carry; else NULL, with why ("SOURCE: the token is empty"). */
char *auth_token_from_text(const char *text, size_t len, const char *source, char *why,
			   size_t why_size);
/* The token a token file holds (private, regular, yours: secretfile.h),
 * as auth_token_from_text takes it; NULL with why (no secret in it). */
char *auth_read_token_file(const char *path, char *why, size_t why_size);

/* Whether a token can go into an HTTP header as it is: printable ASCII, no
 * spaces or control characters (a CR LF would start a header of its own). */
bool auth_token_header_safe(const char *token);

/* The "exp" claim of a JWT, in seconds since the epoch, or 0. */
int64_t auth_jwt_expiry(const char *token);

/* When a token from a token answer expires, in seconds since the epoch:
 * now + expires_in (an integer, a real or a digit string), else the JWT's
 * exp, else an hour from now. */
int64_t auth_expires_at(const json_t *expires_in, const char *token, int64_t now);

#endif
