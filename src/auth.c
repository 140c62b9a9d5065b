/* auth.c - access tokens and their refresh. */
#include "auth.h"

#include "clock.h"
#include "htab.h"
#include "log.h"
#include "scrubbing_alloc.h"
#include "secretfile.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A credentials file holds a few short strings; anything bigger is not one. */
#define MAX_CREDENTIALS_FILE 65536
/* Refresh this long before expiry, or a quarter of the lifetime for tokens
 * that live less than four times as long, so no request goes out with a
 * token about to die in flight, and a short-lived token is not refreshed
 * before every request. */
#define REFRESH_AHEAD_S 60
/* An access token longer than this is no JWT SePay would send. */
#define MAX_TOKEN_LEN 16384
/* A lifetime the server gives is believed up to this (ten years): past it,
 * a number is garbage, and adding it to the clock could overflow. */
#define MAX_LIFETIME_S (10LL * 366 * 24 * 3600)
/* A token answer that says nothing of its lifetime lives an hour, as
 * SePay's access tokens do. */
#define DEFAULT_LIFETIME_S 3600
/* The token endpoint gets one try per refresh, bounded like a request. */
#define TOKEN_REQUEST_TIMEOUT_MS 15000
/* The credentials file's field that carries its line of descent (see
 * auth_identity): 16 hex digits. */
#define LINEAGE_FIELD "sepayfs_lineage"
#define LINEAGE_LEN 16

struct auth {
	pthread_mutex_t lock;
	pthread_cond_t refreshed;
	char *access_token;        /* NULL: none yet */
	int64_t expires_at;        /* wall-clock seconds; 0: unknown */
	int64_t issued_at;         /* when access_token was had, wall-clock seconds */
	/* Held by whoever reads or writes the credentials or token file, or
	 * sends the refresh token (refresh, SIGHUP's re-read): the strings
	 * below change only under it and the lock. */
	pthread_mutex_t file_lock;
	uint64_t file_seen;        /* hash of the refresh token (or token) the file held
				    * when last read or written here */
	uint64_t refused;          /* hash of a refresh token refused: not sent again */
	struct stat file_stat;     /* the file as last read or written here */
	void (*taken)(void *ctx);  /* told of credentials taken from the file */
	void *taken_ctx;
	uint64_t generation;       /* moves with every new token */
	uint64_t taken_count;      /* moves whenever the file's contents are taken */
	bool refreshing;
	int last_refresh_error;
	uint64_t refreshes;
	/* A fixed token's file, read again when the token is refused. */
	char *token_path;
	/* Only with credentials: */
	struct http_transport *http;
	char *credentials_path;
	char *token_url;
	char *client_id;
	char *client_secret;
	char *refresh_token;
	/* The line of descent of the credentials: a hash of the refresh token
	 * the file first held, kept in the file across our rotations. */
	char lineage[LINEAGE_LEN + 1];
};

static int64_t wall_now(void)
{
	return clock_wall_s();
}

char *auth_token_from_text(const char *text, size_t len, const char *source, char *why,
			   size_t why_size)
{
	char *token = secret_trimmed_copy(text, len);
	if (!token || !auth_token_header_safe(token)) {
		snprintf(why, why_size, "%s: %s", source, token
			 ? "the token has spaces, control characters or non-ASCII bytes inside it"
			 : "the token is empty");
		secret_free(token);
		return NULL;
	}
	return token;
}

char *auth_read_token_file(const char *path, char *why, size_t why_size)
{
	size_t len;
	char *text = secret_file_read_why(path, "token file", AUTH_MAX_TOKEN_FILE, &len, why,
					  why_size);
	if (!text)
		return NULL;
	char *token = auth_token_from_text(text, len, path, why, why_size);
	explicit_bzero(text, len);
	free(text);
	return token;
}

bool auth_token_header_safe(const char *t)
{
	size_t n = 0;
	for (; t[n]; n++)
		if ((unsigned char)t[n] <= 0x20 || (unsigned char)t[n] >= 0x7f || n >= MAX_TOKEN_LEN)
			return false;
	return n > 0;
}

/* Wipes every string inside v: jansson frees them without. */
static void json_wipe(json_t *v)
{
	const char *key;
	json_t *child;
	size_t i;
	if (json_is_string(v))
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
	else if (json_is_object(v))
		json_object_foreach(v, key, child)
			json_wipe(child);
	else if (json_is_array(v))
		json_array_foreach(v, i, child)
			json_wipe(child);
}

static struct auth *auth_alloc(void)
{
	struct auth *a = calloc(1, sizeof(*a));
	if (a) {
		pthread_mutex_init(&a->lock, NULL);
		pthread_mutex_init(&a->file_lock, NULL);
		pthread_cond_init(&a->refreshed, NULL);
	}
	return a;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	secret_free(a->access_token);
	secret_free(a->client_secret);
	secret_free(a->refresh_token);
	free(a->client_id);
	free(a->token_url);
	free(a->credentials_path);
	free(a->token_path);
	pthread_cond_destroy(&a->refreshed);
	pthread_mutex_destroy(&a->file_lock);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

struct auth *auth_new_fixed(const char *access_token)
{
	struct auth *a = auth_alloc();
	if (!a || !(a->access_token = strdup(access_token))) {
		auth_free(a);
		return NULL;
	}
	a->expires_at = auth_jwt_expiry(access_token);
	a->issued_at = wall_now();
	return a;
}

static char *json_string_copy(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s && *s ? strdup(s) : NULL;
}

/* The lineage the file carries, or (a file sepayfs has not rotated yet:
 * a new log-in) one of the refresh token it holds now. */
static void lineage_of(json_t *creds, const char *refresh_token, char out[LINEAGE_LEN + 1])
{
	const char *kept = json_string_value(json_object_get(creds, LINEAGE_FIELD));
	if (kept && strlen(kept) == LINEAGE_LEN && strspn(kept, "0123456789abcdef") == LINEAGE_LEN)
		memcpy(out, kept, LINEAGE_LEN + 1);
	else
		snprintf(out, LINEAGE_LEN + 1, "%016llx",
			 (unsigned long long)hash_text(refresh_token ? refresh_token : ""));
}

/* What a credentials file holds. */
struct creds {
	char *client_id, *client_secret, *refresh_token, *access_token, *token_url;
	char lineage[LINEAGE_LEN + 1];
};

static void creds_release(struct creds *c)
{
	secret_free(c->client_secret);
	secret_free(c->refresh_token);
	secret_free(c->access_token);
	free(c->client_id);
	free(c->token_url);
	memset(c, 0, sizeof(*c));
}

static const char *watched_file(const struct auth *a)
{
	return a->credentials_path ? a->credentials_path : a->token_path;
}

/* With file_lock held: what the file is now, to tell a change by stat. */
static void note_file_stat(struct auth *a)
{
	if (stat(watched_file(a), &a->file_stat) != 0)
		memset(&a->file_stat, 0, sizeof(a->file_stat));
}

/* Reads and checks the credentials file: 0, or -1 with why (one line,
 * no secret). */
static int creds_read(const char *path, struct creds *c, char *why, size_t why_size)
{
	memset(c, 0, sizeof(*c));
	size_t len;
	char *text = secret_file_read_why(path, "credentials file", MAX_CREDENTIALS_FILE, &len,
					  why, why_size);
	if (!text)
		return -1;
	json_error_t jerr;
	/* Until its values are freed: jansson's copies are scrubbed. */
	scrubbing_scope_enter();
	json_t *root = json_loadb(text, len, 0, &jerr);
	explicit_bzero(text, len);
	free(text);
	int rc = 0;
	if (!json_is_object(root)) {
		snprintf(why, why_size, "credentials file %s is not a JSON object%s%s", path,
			 root ? "" : ": ", root ? "" : jerr.text);
		rc = -1;
	} else {
		c->client_id = json_string_copy(root, "client_id");
		c->client_secret = json_string_copy(root, "client_secret");
		c->refresh_token = json_string_copy(root, "refresh_token");
		c->access_token = json_string_copy(root, "access_token");
		c->token_url = json_string_copy(root, "token_url");
		lineage_of(root, c->refresh_token, c->lineage);
		const char *missing = !c->client_id ? "\"client_id\""
				    : !c->client_secret ? "\"client_secret\""
				    : !c->refresh_token ? "\"refresh_token\"" : NULL;
		if (missing) {
			snprintf(why, why_size, "credentials file %s has no %s", path, missing);
			rc = -1;
		} else if (c->access_token && !auth_token_header_safe(c->access_token)) {
			/* Not a token a header can carry: get a new one. */
			log_warn("credentials file %s: its access_token has characters an HTTP header "
				 "cannot carry: ignored, a new one is asked for", path);
			secret_free(c->access_token);
			c->access_token = NULL;
		}
	}
	json_wipe(root);
	json_decref(root);
	scrubbing_scope_leave();
	if (rc)
		creds_release(c);
	return rc;
}

struct auth *auth_new_from_credentials(const char *path, const char *token_url,
				       struct http_transport *http)
{
	struct creds c;
	char why[PATH_MAX + 200];
	if (creds_read(path, &c, why, sizeof(why)) != 0) {
		fprintf(stderr, "sepayfs: %s\n", why);
		return NULL;
	}
	struct auth *a = auth_alloc();
	const char *bad = NULL;
	if (a) {
		a->http = http;
		a->credentials_path = strdup(path);
		a->client_id = c.client_id;
		a->client_secret = c.client_secret;
		a->refresh_token = c.refresh_token;
		a->access_token = c.access_token;
		memcpy(a->lineage, c.lineage, sizeof(a->lineage));
		a->token_url = token_url ? strdup(token_url) : c.token_url;
		if (token_url)
			free(c.token_url);
		memset(&c, 0, sizeof(c));
		if (!a->token_url)
			a->token_url = strdup(AUTH_DEFAULT_TOKEN_URL);
		if (a->access_token)
			a->expires_at = auth_jwt_expiry(a->access_token);
		a->issued_at = wall_now();
		a->file_seen = hash_text(a->refresh_token);
		if (a->credentials_path)
			note_file_stat(a);
	}
	if (!a || !a->credentials_path || !a->token_url) {
		fprintf(stderr, "sepayfs: out of memory\n");
		bad = "memory";
	} else {
		const char *why_not;
		if (!http_url_allowed(a->token_url, &why_not)) {
			fprintf(stderr, "sepayfs: token URL %s: %s\n", a->token_url, why_not);
			bad = why_not;
		}
	}
	creds_release(&c);
	if (bad) {
		auth_free(a);
		return NULL;
	}
	return a;
}

void auth_watch_token_file(struct auth *a, const char *path)
{
	free(a->token_path);
	a->token_path = strdup(path);
	pthread_mutex_lock(&a->lock);
	a->file_seen = a->access_token ? hash_text(a->access_token) : 0;
	pthread_mutex_unlock(&a->lock);
	if (a->token_path)
		note_file_stat(a);
}

void auth_on_taken(struct auth *a, void (*fn)(void *ctx), void *ctx)
{
	a->taken = fn;
	a->taken_ctx = ctx;
}

bool auth_can_refresh(const struct auth *a)
{
	/* Set once, before any thread: credentials always have a refresh
	 * token, and a token file may hold a new token. */
	return a->credentials_path != NULL || a->token_path != NULL;
}

uint64_t auth_refreshes(struct auth *a)
{
	pthread_mutex_lock(&a->lock);
	uint64_t n = a->refreshes;
	pthread_mutex_unlock(&a->lock);
	return n;
}

int64_t auth_granted_lifetime_s(struct auth *a)
{
	pthread_mutex_lock(&a->lock);
	int64_t lifetime = a->expires_at ? a->expires_at - a->issued_at : 0;
	pthread_mutex_unlock(&a->lock);
	return lifetime;
}

/* Keeps the credentials file in step: a rotated refresh token lost would
 * mean logging in again at the next mount.  With file_lock held. */
static void save_credentials(struct auth *a)
{
	/* The file's text as jansson parses and dumps it holds the tokens. */
	scrubbing_scope_enter();
	size_t len;
	char why[PATH_MAX + 200];
	char *text = secret_file_read_why(a->credentials_path, "credentials file",
					  MAX_CREDENTIALS_FILE, &len, why, sizeof(why));
	json_t *root = text ? json_loadb(text, len, 0, NULL) : NULL;
	if (text) {
		explicit_bzero(text, len);
		free(text);
	}
	if (!json_is_object(root)) {
		log_error("token refresh: cannot update %s: it is no longer a readable JSON object; "
			  "the new refresh token is kept in memory only", a->credentials_path);
		json_wipe(root);
		json_decref(root);
		scrubbing_scope_leave();
		return;
	}
	/* The newest tokens, taken under the lock they change under. */
	pthread_mutex_lock(&a->lock);
	json_t *refresh = json_string(a->refresh_token);
	json_t *access = a->access_token ? json_string(a->access_token) : json_null();
	pthread_mutex_unlock(&a->lock);
	json_object_set_new(root, "refresh_token", refresh);
	json_object_set_new(root, "access_token", access);
	/* The refresh token changes, the user does not: the cache stays theirs. */
	json_object_set_new(root, LINEAGE_FIELD, json_string(a->lineage));
	char *out = json_dumps(root, JSON_INDENT(2));
	json_wipe(root);
	json_decref(root);
	int rc = out ? secret_file_write(a->credentials_path, out, strlen(out)) : ENOMEM;
	if (out) {
		explicit_bzero(out, strlen(out));
		free(out);
	}
	scrubbing_scope_leave();
	if (rc)
		log_error("token refresh: cannot update %s: %s; the new refresh token is kept in "
			  "memory only", a->credentials_path, strerror(rc));
	else
		a->file_seen = hash_text(a->refresh_token);
	note_file_stat(a);
}

/* What a token answer grants.  Issue and expiry come from one reading of
 * the clock: read twice, a second ticking over between the two shortened
 * a 4 s token's lifetime to 3 and so its refresh margin to nothing. */
struct token_grant {
	char *access;
	char *rotated; /* a new refresh token, or NULL */
	int64_t issued_at, expires_at;
};

/* Asks the token endpoint for a new access token.  Called by the one
 * refreshing thread, without the lock held. */
static int refresh_now(struct auth *a, struct token_grant *grant)
{
	static const char *const names[] = { "grant_type", "refresh_token", "client_id",
					     "client_secret" };
	const char *values[] = { "refresh_token", a->refresh_token, a->client_id, a->client_secret };
	size_t form_len = 0;
	char *body = http_form_encode(names, values, 4, &form_len);
	if (!body)
		return ENOMEM;
	struct http_response resp;
	int rc = a->http->post_form(a->http, a->token_url, body, TOKEN_REQUEST_TIMEOUT_MS, &resp);
	explicit_bzero(body, form_len);
	free(body);
	if (rc) {
		log_error("token refresh: POST %s: %s (%s)", a->token_url, resp.error, strerror(rc));
		http_response_release(&resp);
		return rc;
	}
	/* Until the answer's values are freed: jansson's copies (the lexer's
	 * buffers too) are scrubbed. */
	scrubbing_scope_enter();
	json_t *root = auth_token_answer(&resp);
	const char *token = json_string_value(json_object_get(root, "access_token"));
	if (resp.status == 400 || resp.status == 401) {
		char code[64];
		log_printable(code, sizeof(code), json_string_value(json_object_get(root, "error")));
		log_error("token refresh: POST %s: HTTP %ld %s: the refresh token or client was "
			  "refused; log in again (sepayfs-login) (%s)", a->token_url, resp.status,
			  code, strerror(EACCES));
		rc = EACCES;
	} else if (resp.status < 200 || resp.status >= 300 || !token || !*token) {
		log_error("token refresh: POST %s: HTTP %ld without an access token (%s)",
			  a->token_url, resp.status, strerror(EIO));
		rc = EIO;
	} else if (!auth_token_header_safe(token)) {
		log_error("token refresh: POST %s: an access token with characters an HTTP header "
			  "cannot carry (%s)", a->token_url, strerror(EIO));
		rc = EIO;
	} else {
		const char *new_refresh = json_string_value(json_object_get(root, "refresh_token"));
		grant->access = strdup(token);
		grant->issued_at = wall_now();
		grant->expires_at = auth_expires_at(json_object_get(root, "expires_in"), token,
						    grant->issued_at);
		grant->rotated = new_refresh && *new_refresh && strcmp(new_refresh, a->refresh_token)
				 ? strdup(new_refresh) : NULL;
		rc = grant->access ? 0 : ENOMEM;
	}
	json_wipe(root);
	json_decref(root);
	scrubbing_scope_leave();
	return rc;
}

/* With file_lock held: when someone else (sepayfs-login, another mount
 * of the same file, an admin) changed the credentials or token file
 * since it was last read or written here, takes what it holds now, and
 * says so.  A new access token it brings is a new generation. */
static bool take_file_if_changed(struct auth *a)
{
	note_file_stat(a);
	char why[PATH_MAX + 200];
	struct creds c = { 0 };
	char *token = NULL;
	uint64_t seen;
	if (a->credentials_path) {
		if (creds_read(a->credentials_path, &c, why, sizeof(why)) != 0) {
			log_warn("token refresh: %s", why);
			return false;
		}
		seen = hash_text(c.refresh_token);
	} else {
		if (!(token = auth_read_token_file(a->token_path, why, sizeof(why)))) {
			log_warn("token: %s", why);
			return false;
		}
		seen = hash_text(token);
	}
	pthread_mutex_lock(&a->lock);
	bool changed = seen != a->file_seen;
	if (changed && a->credentials_path) {
		/* Swapped, so what the file held is released below. */
		char *t;
#define SWAP(x, y) (t = (x), (x) = (y), (y) = t)
		SWAP(a->client_id, c.client_id);
		SWAP(a->client_secret, c.client_secret);
		SWAP(a->refresh_token, c.refresh_token);
		memcpy(a->lineage, c.lineage, sizeof(a->lineage));
		if (c.access_token && (!a->access_token || strcmp(c.access_token, a->access_token))) {
			SWAP(a->access_token, c.access_token);
			a->expires_at = auth_jwt_expiry(a->access_token);
			a->issued_at = wall_now();
			a->generation++;
		}
#undef SWAP
	} else if (changed) {
		secret_free(a->access_token);
		a->access_token = token;
		token = NULL;
		a->expires_at = auth_jwt_expiry(a->access_token);
		a->issued_at = wall_now();
		a->generation++;
	}
	if (changed) {
		a->file_seen = seen;
		a->taken_count++;
	}
	pthread_mutex_unlock(&a->lock);
	creds_release(&c);
	secret_free(token);
	if (changed)
		log_notice("%s %s was changed (a new log-in, a new token, or another mount's "
			 "rotation): using what it holds now", a->credentials_path ? "credentials file"
			 : "token file", a->credentials_path ? a->credentials_path : a->token_path);
	return changed;
}

/* The file's advisory lock (shared with sepayfs-login) while the file is
 * read, the refresh token sent and its rotation written, so neither loses
 * the other's refresh token.  A lock that cannot be had (a read-only
 * folder; a holder stuck past a token request's deadline) is gone
 * without: the mount goes on. */
static int file_lock_take(struct auth *a)
{
	if (!a->credentials_path)
		return -1;
	int fd = secret_file_lock(a->credentials_path, TOKEN_REQUEST_TIMEOUT_MS + 5000);
	if (fd < 0 && fd != -EROFS && fd != -EACCES)
		log_warn("credentials file %s: cannot lock it (%s): going on without the lock",
			 a->credentials_path, strerror(-fd));
	return fd;
}

/* Gets a new access token: from the file when it changed, else from the
 * token endpoint with the refresh token.  The refreshing thread, without
 * the lock. */
static int renew(struct auth *a, uint64_t generation, bool *taken)
{
	pthread_mutex_lock(&a->file_lock);
	int lock_fd = file_lock_take(a);
	*taken = take_file_if_changed(a);
	pthread_mutex_lock(&a->lock);
	bool fresh = a->generation != generation;
	pthread_mutex_unlock(&a->lock);
	int rc;
	struct token_grant grant = { 0 };
	if (fresh) {
		rc = 0; /* the file brought a new access token */
	} else if (!a->credentials_path) {
		rc = EACCES; /* a fixed token, refused, and its file unchanged */
	} else if (hash_text(a->refresh_token) == a->refused) {
		/* Refused before: sent again it is refused again.  The next
		 * log-in changes the file, and is taken above. */
		rc = EACCES;
	} else if ((rc = refresh_now(a, &grant)) == 0) {
		pthread_mutex_lock(&a->lock);
		secret_free(a->access_token);
		a->access_token = grant.access;
		a->expires_at = grant.expires_at;
		a->issued_at = grant.issued_at;
		a->generation++;
		a->refreshes++;
		if (grant.rotated) {
			secret_free(a->refresh_token);
			a->refresh_token = grant.rotated;
		}
		pthread_mutex_unlock(&a->lock);
		if (grant.rotated)
			save_credentials(a);
	} else {
		if (rc == EACCES)
			a->refused = hash_text(a->refresh_token);
		secret_free(grant.access);
		secret_free(grant.rotated);
	}
	secret_file_unlock(lock_fd);
	pthread_mutex_unlock(&a->file_lock);
	return rc;
}

/* With the lock held: become the refreshing thread, or wait for the one
 * that is.  Returns with the lock held. */
static int refresh_locked(struct auth *a)
{
	if (a->refreshing) {
		uint64_t gen = a->generation;
		while (a->refreshing)
			pthread_cond_wait(&a->refreshed, &a->lock);
		return a->generation != gen ? 0 : a->last_refresh_error;
	}
	if (!auth_can_refresh(a))
		return EACCES;
	a->refreshing = true;
	uint64_t generation = a->generation;
	pthread_mutex_unlock(&a->lock);
	bool taken;
	int rc = renew(a, generation, &taken);
	if (taken && a->taken)
		a->taken(a->taken_ctx);
	pthread_mutex_lock(&a->lock);
	a->last_refresh_error = rc;
	a->refreshing = false;
	pthread_cond_broadcast(&a->refreshed);
	return rc;
}

uint64_t auth_token_epoch(struct auth *a)
{
	/* Asked under the cache's lock: never waits.  A refresh or re-read
	 * under way (holding file_lock) reads the file itself. */
	if (auth_can_refresh(a) && pthread_mutex_trylock(&a->file_lock) == 0) {
		struct stat now;
		if (stat(watched_file(a), &now) != 0)
			memset(&now, 0, sizeof(now));
		bool moved = now.st_ino != a->file_stat.st_ino || now.st_dev != a->file_stat.st_dev ||
			     now.st_size != a->file_stat.st_size ||
			     now.st_mtim.tv_sec != a->file_stat.st_mtim.tv_sec ||
			     now.st_mtim.tv_nsec != a->file_stat.st_mtim.tv_nsec;
		/* Read without the advisory lock: a writer renames a whole
		 * file into place, so a read sees the old one or the new. */
		bool taken = moved && take_file_if_changed(a);
		pthread_mutex_unlock(&a->file_lock);
		if (taken && a->taken)
			a->taken(a->taken_ctx);
	}
	pthread_mutex_lock(&a->lock);
	uint64_t epoch = a->generation + a->taken_count;
	pthread_mutex_unlock(&a->lock);
	return epoch;
}

bool auth_reload(struct auth *a)
{
	if (!auth_can_refresh(a))
		return false;
	pthread_mutex_lock(&a->file_lock);
	int lock_fd = file_lock_take(a);
	bool taken = take_file_if_changed(a);
	secret_file_unlock(lock_fd);
	pthread_mutex_unlock(&a->file_lock);
	return taken;
}

static bool expiring(const struct auth *a)
{
	if (!a->expires_at)
		return false;
	int64_t now = wall_now(), lifetime = a->expires_at - a->issued_at;
	int64_t ahead = lifetime > 0 && lifetime / 4 < REFRESH_AHEAD_S ? lifetime / 4 : REFRESH_AHEAD_S;
	return a->expires_at - now < ahead;
}

int auth_current(struct auth *a, char **token, uint64_t *generation)
{
	pthread_mutex_lock(&a->lock);
	int rc = 0;
	if ((!a->access_token || expiring(a)) && auth_can_refresh(a)) {
		rc = refresh_locked(a);
		/* An expiring token that could not be renewed may still work. */
		if (rc && a->access_token)
			rc = 0;
	}
	if (rc == 0 && !a->access_token)
		rc = EACCES;
	if (rc == 0) {
		*token = strdup(a->access_token);
		*generation = a->generation;
		if (!*token)
			rc = ENOMEM;
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

int auth_after_401(struct auth *a, uint64_t generation)
{
	pthread_mutex_lock(&a->lock);
	int rc = a->generation != generation ? 0 : refresh_locked(a);
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* A positive number of seconds up to max: a JSON integer, a finite real
 * (its whole seconds), or a string of digits, as token endpoints send it. */
static bool seconds_value(const json_t *v, int64_t max, int64_t *out)
{
	double d;
	if (json_is_integer(v)) {
		d = (double)json_integer_value(v);
	} else if (json_is_real(v)) {
		d = json_real_value(v);
	} else {
		const char *s = json_string_value(v);
		if (!s || !*s || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s))
			return false;
		d = strtod(s, NULL);
	}
	if (!(d >= 1 && d <= (double)max))
		return false;
	*out = (int64_t)d;
	return true;
}

/* base64url without padding, as JWTs use it. */
static size_t base64url_decode(const char *in, size_t n, char *out)
{
	size_t len = 0;
	unsigned acc = 0, bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v;
		char c = in[i];
		if (c >= 'A' && c <= 'Z') v = c - 'A';
		else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
		else if (c >= '0' && c <= '9') v = c - '0' + 52;
		else if (c == '-' || c == '+') v = 62;
		else if (c == '_' || c == '/') v = 63;
		else if (c == '=') break;
		else return 0;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (char)((acc >> bits) & 0xff);
		}
	}
	return len;
}

json_t *auth_token_answer(struct http_response *resp)
{
	json_t *root = resp->body ? json_loadb(resp->body, resp->len, 0, NULL) : NULL;
	if (resp->body)
		explicit_bzero(resp->body, resp->len);
	http_response_release(resp);
	return root;
}

/* The claims of a JWT, or NULL when the token is not one. */
static json_t *jwt_claims(const char *token)
{
	const char *dot1 = strchr(token, '.');
	const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (!dot2 || dot2 - dot1 - 1 > 8192)
		return NULL;
	char payload[8192];
	size_t n = base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), payload);
	json_t *claims = n ? json_loadb(payload, n, 0, NULL) : NULL;
	explicit_bzero(payload, sizeof(payload));
	if (!json_is_object(claims)) {
		json_decref(claims);
		return NULL;
	}
	return claims;
}

int64_t auth_jwt_expiry(const char *token)
{
	json_t *claims = jwt_claims(token);
	int64_t expiry = 0;
	if (!seconds_value(json_object_get(claims, "exp"), INT64_MAX / 2, &expiry))
		expiry = 0;
	json_decref(claims);
	return expiry;
}

/* A claim as text: a string, or an integer (user ids often are). */
static void claim_text(json_t *claims, const char *name, char *out, size_t size)
{
	json_t *v = json_object_get(claims, name);
	if (json_is_string(v))
		snprintf(out, size, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		out[0] = '\0';
}

void auth_identity(struct auth *a, char *out, size_t size)
{
	pthread_mutex_lock(&a->lock);
	json_t *claims = a->access_token ? jwt_claims(a->access_token) : NULL;
	char iss[128], sub[128];
	claim_text(claims, "iss", iss, sizeof(iss));
	claim_text(claims, "sub", sub, sizeof(sub));
	if (sub[0])
		snprintf(out, size, "jwt:%s|%s", iss, sub);
	else if (a->lineage[0])
		snprintf(out, size, "lineage:%s", a->lineage);
	else
		snprintf(out, size, "token:%016llx",
			 (unsigned long long)hash_text(a->access_token ? a->access_token : ""));
	json_decref(claims);
	pthread_mutex_unlock(&a->lock);
}

bool auth_lacks_scope(struct auth *a, const char *scope)
{
	pthread_mutex_lock(&a->lock);
	json_t *claims = a->access_token ? jwt_claims(a->access_token) : NULL;
	pthread_mutex_unlock(&a->lock);
	json_t *v = json_object_get(claims, "scope");
	if (!v)
		v = json_object_get(claims, "scopes");
	bool said = false, has = false;
	if (json_is_string(v)) {
		said = true;
		const char *p = json_string_value(v);
		size_t n = strlen(scope);
		for (; *p; p++)
			if ((p == json_string_value(v) || p[-1] == ' ') && !strncmp(p, scope, n) &&
			    (p[n] == ' ' || p[n] == '\0'))
				has = true;
	} else if (json_is_array(v)) {
		said = true;
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item)
			if (json_is_string(item) && !strcmp(json_string_value(item), scope))
				has = true;
	}
	json_decref(claims);
	return said && !has;
}

int64_t auth_expires_at(const json_t *expires_in, const char *token, int64_t now)
{
	int64_t lifetime;
	if (seconds_value(expires_in, MAX_LIFETIME_S, &lifetime))
		return now + lifetime;
	int64_t exp = auth_jwt_expiry(token);
	return exp ? exp : now + DEFAULT_LIFETIME_S;
}
