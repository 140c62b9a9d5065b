/* http.h - GET requests against the API, behind an interface.
 *
 * The core asks a transport for "path?query" relative to the API base and
 * gets a status and a body back.  The real transport is libcurl (http_curl.c);
 * unit tests plug in one that answers from memory and counts requests. */
#ifndef SEPAYFS_HTTP_H
#define SEPAYFS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct http_response {
	long status;        /* HTTP status, 0 when no response arrived */
	char *body;         /* malloc'ed, NUL-terminated; may be NULL */
	size_t len;
	double retry_after; /* seconds from Retry-After / x-sepay-userapi-retry-after, or -1 */
	char error[256];    /* why no response arrived (no secrets) */
};

struct http_transport {
	/* GET base_url + path with "Authorization: Bearer token", giving up
	 * after timeout_ms.  0 when a response (of any status) arrived, else
	 * an errno (EIO, ETIMEDOUT, ENOMEM; EFBIG: a body over the size
	 * limit) with resp->error saying why. */
	int (*get)(struct http_transport *t, const char *path, const char *token,
		   long timeout_ms, struct http_response *resp);
	/* POST a form (application/x-www-form-urlencoded) to an absolute URL,
	 * without the bearer token.  Returns as get. */
	int (*post_form)(struct http_transport *t, const char *url, const char *form,
			 long timeout_ms, struct http_response *resp);
	void (*destroy)(struct http_transport *t);
};

void http_response_release(struct http_response *resp);

/* "name=value&..." of n (at most 8) fields, URL-encoded, in a buffer sized
 * once: forms carry secrets, and a buffer grown by realloc would leave
 * copies of them behind.  Scrub and free it.  NULL when out of memory. */
char *http_form_encode(const char *const *names, const char *const *values, size_t n,
		       size_t *len);

struct http_curl_config {
	const char *base_url;  /* e.g. https://my.sepay.vn/api/v1, no trailing slash */
	const char *cafile;    /* CA certificates to trust instead of the system's; may be NULL */
	unsigned max_conns;    /* connections (and so requests) in flight at most */
	long connect_timeout_s;
	size_t max_body;       /* larger responses are refused */
};

/* Whether a URL may be used: https anywhere, plain http only to a loopback
 * address literal (127.0.0.0/8, [::1]) or localhost.  On false, *why says
 * why.  A plain-http transfer is also refused unless the address it
 * connected to is loopback. */
bool http_url_allowed(const char *url, const char **why);
/* Whether an IP address as text ("127.0.0.1", "::1") is loopback. */
bool http_address_is_loopback(const char *ip);

/* The libcurl transport.  curl_global_init() must have been called.
 * NULL with *err set (ENOMEM, EINVAL) on failure. */
struct http_transport *http_curl_new(const struct http_curl_config *cfg, int *err);

#endif
