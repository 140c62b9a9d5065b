/* http_curl.c - the libcurl transport.
 *
 * A fixed pool of easy handles, each keeping its own connections alive
 * between requests; a thread borrows one for a request and returns it.  The
 * pool size is also the cap on requests in flight.  DNS and TLS sessions are
 * shared between handles through a CURLSH; the connection cache is not,
 * since libcurl does not support sharing it between concurrent threads. */
#include "http.h"

#include "clock.h"
#include "log.h"
#include "retry_after.h"
#include "strbuf.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ACCEPT_HEADER "Accept: application/json"

struct curl_transport {
	struct http_transport base;
	char *base_url;
	char *cafile;
	struct curl_slist *headers;
	size_t max_body;
	long connect_timeout_s;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

	pthread_mutex_t pool_lock;
	pthread_cond_t pool_free;
	CURL **idle;    /* handles ready for use */
	size_t n_idle;
	size_t n_made;  /* handles created so far, at most max_conns */
	size_t max_conns;
};

struct transfer {
	struct strbuf body;
	struct retry_hints hints;
	bool plain_http; /* the connection must then be to loopback */
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
	(void)h;
	(void)access;
	struct curl_transport *t = ctx;
	pthread_mutex_lock(&t->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ctx)
{
	(void)h;
	struct curl_transport *t = ctx;
	pthread_mutex_unlock(&t->share_locks[data]);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct transfer *tr = ctx;
	size_t n = size * nmemb;
	strbuf_append(&tr->body, ptr, n);
	return strbuf_failed(&tr->body) ? 0 : n; /* 0 aborts: body over the cap */
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ctx)
{
	struct transfer *tr = ctx;
	size_t n = size * nmemb;
	retry_hints_header(&tr->hints, line, n);
	return n;
}

/* OpenSSL keeps the plaintext of what it received in its read buffer until
 * the next record overwrites it, and frees it unscrubbed: over https, a
 * token answer would stay in memory there.  SSL_OP_CLEANSE_PLAINTEXT has
 * it wiped as soon as libcurl has read it.  Set only when libcurl speaks
 * through OpenSSL (ssl_ctx is then an SSL_CTX). */
static CURLcode cleanse_plaintext(CURL *h, void *ssl_ctx, void *arg)
{
	(void)h;
	(void)arg;
	SSL_CTX_set_options(ssl_ctx, SSL_OP_CLEANSE_PLAINTEXT);
	return CURLE_OK;
}

static bool libcurl_uses_openssl(void)
{
	const char *ssl = curl_version_info(CURLVERSION_NOW)->ssl_version;
	return ssl && strncmp(ssl, "OpenSSL/", 8) == 0;
}

static CURL *handle_new(struct curl_transport *t)
{
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* we run on many threads */
	curl_easy_setopt(h, CURLOPT_SHARE, t->share);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, t->connect_timeout_s);
	/* Verification is libcurl's default; say so, so no change turns it off. */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (t->cafile)
		curl_easy_setopt(h, CURLOPT_CAINFO, t->cafile);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "sepayfs/" SEPAYFS_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	if (libcurl_uses_openssl())
		curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, cleanse_plaintext);
	return h;
}

static CURL *pool_take(struct curl_transport *t)
{
	pthread_mutex_lock(&t->pool_lock);
	CURL *h = NULL;
	for (;;) {
		if (t->n_idle) {
			h = t->idle[--t->n_idle];
			break;
		}
		if (t->n_made < t->max_conns) {
			t->n_made++;
			pthread_mutex_unlock(&t->pool_lock);
			h = handle_new(t);
			pthread_mutex_lock(&t->pool_lock);
			if (!h)
				t->n_made--;
			break;
		}
		pthread_cond_wait(&t->pool_free, &t->pool_lock);
	}
	pthread_mutex_unlock(&t->pool_lock);
	return h;
}

static void pool_give_back(struct curl_transport *t, CURL *h)
{
	pthread_mutex_lock(&t->pool_lock);
	t->idle[t->n_idle++] = h;
	pthread_cond_signal(&t->pool_free);
	pthread_mutex_unlock(&t->pool_lock);
}

/* An IP address literal in 127.0.0.0/8 or ::1 (IPv6 in brackets, as URLs
 * write it). */
static bool loopback_literal(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char inner[INET6_ADDRSTRLEN + 1];
	size_t n = strlen(host);
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n > 2 && n - 2 < sizeof(inner) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(inner, host + 1, n - 2);
		inner[n - 2] = '\0';
		return inet_pton(AF_INET6, inner, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return false;
}

/* Before a plain-http request goes out, on the connection it will use: the
 * address actually connected to must be loopback too (localhost could be
 * mapped anywhere). */
static int prereq_check(void *ctx, char *primary_ip, char *local_ip, int primary_port,
			int local_port)
{
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	const struct transfer *tr = ctx;
	return !tr->plain_http || http_address_is_loopback(primary_ip) ? CURL_PREREQFUNC_OK
									  : CURL_PREREQFUNC_ABORT;
}

bool http_address_is_loopback(const char *ip)
{
	if (loopback_literal(ip))
		return true;
	char bracketed[INET6_ADDRSTRLEN + 3];
	if ((size_t)snprintf(bracketed, sizeof(bracketed), "[%s]", ip) >= sizeof(bracketed))
		return false;
	return loopback_literal(bracketed);
}

/* One transfer on a handle set up by the caller's options.  secret: the
 * answer holds one (a token answer): its buffer scrubs what it grows out of. */
static int perform(struct curl_transport *t, CURL *h, const char *url, long timeout_ms,
		   bool secret, struct http_response *resp)
{
	struct transfer tr;
	retry_hints_init(&tr.hints, (time_t)clock_wall_s());
	tr.plain_http = strncasecmp(url, "http://", 7) == 0;
	if (secret)
		strbuf_init_scrubbed(&tr.body, t->max_body);
	else
		strbuf_init(&tr.body, t->max_body);
	char curl_error[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &tr);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &tr);
	curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, prereq_check);
	curl_easy_setopt(h, CURLOPT_PREREQDATA, &tr);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_error);
	CURLcode cc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);

	int rc = 0;
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		resp->retry_after = retry_hints_seconds(&tr.hints);
		resp->body = strbuf_take(&tr.body, &resp->len);
		if (!resp->body) {
			rc = ENOMEM;
			snprintf(resp->error, sizeof(resp->error), "out of memory");
		}
	} else {
		bool too_big = cc == CURLE_WRITE_ERROR && strbuf_failed(&tr.body);
		rc = too_big ? EFBIG : cc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT : EIO;
		snprintf(resp->error, sizeof(resp->error), "%s",
			 too_big ? "response larger than the size limit"
			 : cc == CURLE_ABORTED_BY_CALLBACK
				 ? "refused: plain http:// connected to an address that is not loopback"
			 : curl_error[0] ? curl_error : curl_easy_strerror(cc));
		strbuf_release(&tr.body);
	}
	return rc;
}

/* The transport's headers and the token's, for one request.  Not
 * CURLOPT_XOAUTH2_BEARER: libcurl 7.x copies a bearer into each connection
 * it opens with one (conn->oauth_bearer) and keeps that copy while the
 * connection lives, hours after the token was replaced.  These lines are
 * libcurl's memory: freed, they are scrubbed.  NULL when out of memory. */
static struct curl_slist *request_headers(const char *token)
{
	static const char prefix[] = "Authorization: Bearer ";
	size_t size = sizeof(prefix) + strlen(token);
	char *line = malloc(size);
	if (!line)
		return NULL;
	snprintf(line, size, "%s%s", prefix, token);
	struct curl_slist *list = curl_slist_append(NULL, ACCEPT_HEADER);
	struct curl_slist *both = list ? curl_slist_append(list, line) : NULL;
	explicit_bzero(line, size);
	free(line);
	if (!both)
		curl_slist_free_all(list);
	return both;
}

static int curl_get(struct http_transport *base, const char *path, const char *token,
		    long timeout_ms, struct http_response *resp)
{
	struct curl_transport *t = (struct curl_transport *)base;
	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;

	struct strbuf url;
	strbuf_init(&url, 0);
	strbuf_puts(&url, t->base_url);
	strbuf_puts(&url, path);
	char *url_str = strbuf_take(&url, NULL);
	struct curl_slist *headers = url_str ? request_headers(token) : NULL;
	CURL *h = headers ? pool_take(t) : NULL;
	if (!h) {
		free(url_str);
		curl_slist_free_all(headers);
		snprintf(resp->error, sizeof(resp->error), "out of memory");
		return ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	int rc = perform(t, h, url_str, timeout_ms, false, resp);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers);
	curl_slist_free_all(headers);
	free(url_str);
	pool_give_back(t, h);
	return rc;
}

/* On a handle of its own, cleaned up at once: the form (a refresh token,
 * the client secret) and the answer (new tokens) pass through the
 * handle's buffers, which a pooled handle would keep until the next
 * answer overwrites them, in part.  Cleaned up, they are scrubbed (libcurl
 * allocates through scrubbing_alloc.c).  A token request comes once an
 * hour: its own connection costs nothing worth keeping. */
static int curl_post_form(struct http_transport *base, const char *url, const char *form,
			  long timeout_ms, struct http_response *resp)
{
	struct curl_transport *t = (struct curl_transport *)base;
	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	CURL *h = handle_new(t);
	if (!h) {
		snprintf(resp->error, sizeof(resp->error), "out of memory");
		return ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, form); /* sets POST; the form stays ours */
	int rc = perform(t, h, url, timeout_ms, true, resp);
	curl_easy_cleanup(h);
	return rc;
}

static void curl_destroy(struct http_transport *base)
{
	struct curl_transport *t = (struct curl_transport *)base;
	if (!t)
		return;
	/* Only idle handles exist here: the caller stopped all requests. */
	for (size_t i = 0; i < t->n_idle; i++)
		curl_easy_cleanup(t->idle[i]);
	free(t->idle);
	if (t->share)
		curl_share_cleanup(t->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&t->share_locks[i]);
	pthread_cond_destroy(&t->pool_free);
	pthread_mutex_destroy(&t->pool_lock);
	curl_slist_free_all(t->headers);
	free(t->base_url);
	free(t->cafile);
	free(t);
}

struct http_transport *http_curl_new(const struct http_curl_config *cfg, int *err)
{
	*err = ENOMEM;
	struct curl_transport *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->base.get = curl_get;
	t->base.post_form = curl_post_form;
	t->base.destroy = curl_destroy;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&t->share_locks[i], NULL);
	pthread_mutex_init(&t->pool_lock, NULL);
	pthread_cond_init(&t->pool_free, NULL);
	t->max_conns = cfg->max_conns ? cfg->max_conns : 1;
	t->max_body = cfg->max_body;
	t->connect_timeout_s = cfg->connect_timeout_s;
	t->base_url = strdup(cfg->base_url);
	t->cafile = cfg->cafile ? strdup(cfg->cafile) : NULL;
	t->idle = calloc(t->max_conns, sizeof(*t->idle));
	t->share = curl_share_init();
	t->headers = curl_slist_append(NULL, ACCEPT_HEADER);
	if (!t->base_url || (cfg->cafile && !t->cafile) || !t->idle || !t->share || !t->headers) {
		curl_destroy(&t->base);
		return NULL;
	}
	curl_share_setopt(t->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(t->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(t->share, CURLSHOPT_USERDATA, t);
	curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*err = 0;
	return &t->base;
}

bool http_url_allowed(const char *url, const char **why)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	bool ok = false;
	*why = "not a valid URL";
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (strcasecmp(scheme, "https") == 0) {
			ok = true;
		} else if (strcasecmp(scheme, "http") == 0) {
			/* Plain http would send the token in the clear: loopback
			 * only, named by an address literal or localhost; and the
			 * address connected to is checked again (prereq_check). */
			ok = strcasecmp(host, "localhost") == 0 || loopback_literal(host);
			*why = "plain http:// is allowed only to a loopback address (127.0.0.0/8, "
			       "[::1] or localhost); use https://";
		} else {
			*why = "the URL must be https://";
		}
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

char *http_form_encode(const char *const *names, const char *const *values, size_t n,
		       size_t *len)
{
	char *escaped[8] = { 0 };
	size_t total = 0;
	bool ok = n <= 8;
	for (size_t i = 0; ok && i < n; i++) {
		escaped[i] = curl_easy_escape(NULL, values[i], 0);
		ok = escaped[i] != NULL;
		if (ok)
			total += strlen(names[i]) + 1 + strlen(escaped[i]) + 1;
	}
	char *body = ok ? malloc(total + 1) : NULL;
	size_t at = 0;
	if (body) {
		for (size_t i = 0; i < n; i++)
			at += (size_t)sprintf(body + at, "%s%s=%s", i ? "&" : "", names[i],
					      escaped[i]);
		*len = at;
	}
	for (size_t i = 0; i < n && i < 8; i++) {
		if (escaped[i]) {
			explicit_bzero(escaped[i], strlen(escaped[i]));
			curl_free(escaped[i]);
		}
	}
	return body;
}

void http_response_release(struct http_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}
