/* login_flow.c - the OAuth2 authorization-code flow around the callback. */
#include "login_flow.h"

#include "auth.h"
#include "http.h"
#include "login_text.h"
#include "secretfile.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The code exchange: one request, bounded like sepayfs's token refresh. */
#define TOKEN_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_S 10
#define MAX_TOKEN_RESPONSE (1u << 20)

char *login_authorize_url(const struct login_options *o, const char *redirect_uri,
			  const char *state, const char *challenge)
{
	const char *const params[][2] = {
		{ "response_type", "code" },
		{ "client_id", o->client_id },
		{ "redirect_uri", redirect_uri },
		{ "scope", o->scope },
		{ "state", state },
		{ "code_challenge", challenge },
		{ "code_challenge_method", "S256" },
	};
	CURLU *url = curl_url();
	bool ok = url && curl_url_set(url, CURLUPART_URL, o->authorize_url, 0) == CURLUE_OK;
	for (size_t i = 0; ok && i < sizeof(params) / sizeof(params[0]); i++) {
		/* libcurl encodes all but the first '=' of what it appends. */
		size_t size = strlen(params[i][0]) + 1 + strlen(params[i][1]) + 1;
		char *pair = malloc(size);
		ok = pair != NULL;
		if (ok) {
			snprintf(pair, size, "%s=%s", params[i][0], params[i][1]);
			ok = curl_url_set(url, CURLUPART_QUERY, pair,
					  CURLU_APPENDQUERY | CURLU_URLENCODE) == CURLUE_OK;
			explicit_bzero(pair, size);
		}
		free(pair);
	}
	char *text = NULL, *copy = NULL;
	if (ok && curl_url_get(url, CURLUPART_URL, &text, 0) == CURLUE_OK) {
		copy = strdup(text);
		explicit_bzero(text, strlen(text));
	}
	curl_free(text);
	curl_url_cleanup(url);
	return copy;
}

pid_t login_open_browser(const char *url)
{
	const char *x = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
	if (!(x && *x) && !(w && *w))
		return -1;
	posix_spawn_file_actions_t fa;
	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	char prog[] = "xdg-open";
	char *url_copy = strdup(url);
	char *args[] = { prog, url_copy, NULL };
	extern char **environ;
	pid_t pid = -1;
	if (!url_copy || posix_spawnp(&pid, prog, &fa, NULL, args, environ) != 0)
		pid = -1; /* no xdg-open: the printed URL is enough */
	if (url_copy)
		explicit_bzero(url_copy, strlen(url_copy)); /* the state */
	free(url_copy);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static void set_outcome(struct login_outcome *out, int status, const char *title, const char *text)
{
	out->status = status;
	snprintf(out->title, sizeof(out->title), "%s", title);
	snprintf(out->text, sizeof(out->text), "%s", text);
}

/* Says on stderr and in *out why the token endpoint did not exchange the
 * code: its status, and its error and description made safe for a terminal. */
static void report_refused_code(const struct login_options *o, const struct http_response *resp,
				const json_t *root, struct login_outcome *out)
{
	char msg[512];
	const char *e = json_string_value(json_object_get(root, "error"));
	const char *d = json_string_value(json_object_get(root, "error_description"));
	char e_shown[TERMINAL_TEXT_MAX + 8], d_shown[TERMINAL_TEXT_MAX + 8];
	terminal_text(e ? e : "", e_shown, sizeof(e_shown));
	terminal_text(d ? d : "", d_shown, sizeof(d_shown));
	bool refused = resp->status >= 400 && resp->status < 500;
	fprintf(stderr, "sepayfs-login: the token endpoint %s %s the authorization "
			"code: HTTP %ld%s%s%s%s%s\n", o->token_url,
		refused ? "refused" : "did not exchange", resp->status,
		*e_shown ? " " : "", e_shown, *d_shown ? " (" : "", d_shown,
		*d_shown ? ")" : "");
	if (resp->status == 401 || (e && strcmp(e, "invalid_client") == 0))
		fprintf(stderr, "sepayfs-login: check --client-id and the client secret\n");
	else
		fprintf(stderr, "sepayfs-login: run sepayfs-login again\n");
	snprintf(msg, sizeof(msg), "SePay %s the authorization code (HTTP %ld%s%s). "
		 "Run sepayfs-login again.", refused ? "refused" : "did not exchange",
		 resp->status, *e_shown ? " " : "", e_shown);
	set_outcome(out, 502, "Log-in failed", msg);
}

/* Exchanges the code; the token endpoint's answer (checked to hold both
 * tokens) or NULL after saying why on stderr and in *out. */
static json_t *exchange_code(const struct login_options *o, const char *secret, const char *code,
			     const char *verifier, const char *redirect_uri, struct login_outcome *out)
{
	struct http_curl_config hc = {
		.base_url = o->token_url,
		.max_conns = 1,
		.connect_timeout_s = CONNECT_TIMEOUT_S,
		.max_body = MAX_TOKEN_RESPONSE,
	};
	int err;
	struct http_transport *http = http_curl_new(&hc, &err);
	if (!http) {
		fprintf(stderr, "sepayfs-login: cannot set up HTTP: %s\n", strerror(err));
		set_outcome(out, 500, "Log-in failed", "sepayfs-login could not set up HTTP.");
		return NULL;
	}
	/* A server that does not know PKCE ignores code_verifier (RFC 6749
	 * section 3.2: unrecognized parameters are ignored). */
	static const char *const names[] = { "grant_type", "code", "redirect_uri", "client_id",
					     "client_secret", "code_verifier" };
	const char *values[] = { "authorization_code", code, redirect_uri, o->client_id, secret,
				 verifier };
	size_t form_len = 0;
	char *form = http_form_encode(names, values, 6, &form_len);
	if (!form) {
		http->destroy(http);
		fprintf(stderr, "sepayfs-login: out of memory\n");
		set_outcome(out, 500, "Log-in failed", "sepayfs-login ran out of memory.");
		return NULL;
	}
	struct http_response resp;
	int rc = http->post_form(http, o->token_url, form, TOKEN_TIMEOUT_MS, &resp);
	explicit_bzero(form, form_len);
	free(form);
	http->destroy(http);
	if (rc) {
		fprintf(stderr, "sepayfs-login: POST %s: %s (%s)\n", o->token_url, resp.error,
			strerror(rc));
		http_response_release(&resp);
		set_outcome(out, 502, "Log-in failed", "The token endpoint could not be reached; "
			    "see the terminal.");
		return NULL;
	}
	json_t *root = auth_token_answer(&resp);
	const char *access = json_string_value(json_object_get(root, "access_token"));
	const char *refresh = json_string_value(json_object_get(root, "refresh_token"));
	if (resp.status != 200) {
		report_refused_code(o, &resp, root, out);
		json_decref(root);
		return NULL;
	}
	bool no_access = !access || !*access, no_refresh = !refresh || !*refresh;
	if (no_access || no_refresh) {
		fprintf(stderr, "sepayfs-login: the token endpoint %s answered %s\n", o->token_url,
			no_access ? "HTTP 200 without an access token"
				  : "without a refresh token, which sepayfs needs to stay logged in");
		set_outcome(out, 502, "Log-in failed", no_access
			    ? "SePay answered without an access token."
			    : "SePay answered without a refresh token.");
		json_decref(root);
		return NULL;
	}
	return root;
}

/* Whether a space-separated scope list holds one scope. */
static bool has_scope(const char *list, const char *scope)
{
	size_t n = strlen(scope);
	for (const char *p = list; (p = strstr(p, scope)); p += n) {
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
	}
	return false;
}

/* A mount holds the lock for one token request at most. */
#define LOGIN_LOCK_WAIT_MS 30000

static int write_credentials(const struct login_options *o, const char *secret, json_t *answer)
{
	json_t *creds = json_object();
	int bad = !creds;
	if (creds) {
		bad |= json_object_set_new(creds, "client_id", json_string(o->client_id));
		bad |= json_object_set_new(creds, "client_secret", json_string(secret));
		bad |= json_object_set(creds, "refresh_token",
				       json_object_get(answer, "refresh_token"));
		bad |= json_object_set(creds, "access_token",
				       json_object_get(answer, "access_token"));
		bad |= json_object_set_new(creds, "token_url", json_string(o->token_url));
	}
	size_t need = bad ? 0 : json_dumpb(creds, NULL, 0, JSON_INDENT(2));
	char *text = need ? malloc(need + 1) : NULL;
	int rc = ENOMEM;
	if (text) {
		size_t len = json_dumpb(creds, text, need, JSON_INDENT(2));
		text[len] = '\n';
		/* Under the lock a mount takes to rotate the refresh token:
		 * the mount then reads this log-in, never overwrites it. */
		int lock = secret_file_lock(o->credentials, LOGIN_LOCK_WAIT_MS);
		if (lock == -ETIMEDOUT)
			fprintf(stderr, "sepayfs-login: %s.lock is held for long: writing anyway\n",
				o->credentials);
		rc = secret_file_write(o->credentials, text, len + 1);
		secret_file_unlock(lock);
		explicit_bzero(text, need + 1);
		free(text);
	}
	json_decref(creds);
	return rc;
}

void login_report_refusal(const struct callback *cb, struct login_outcome *result)
{
	char e_shown[TERMINAL_TEXT_MAX + 8], d_shown[TERMINAL_TEXT_MAX + 8], text[512];
	terminal_text(cb->error, e_shown, sizeof(e_shown));
	terminal_text(cb->error_description ? cb->error_description : "", d_shown, sizeof(d_shown));
	fprintf(stderr, "sepayfs-login: SePay did not authorize the log-in: %s%s%s%s\n",
		e_shown, *d_shown ? " (" : "", d_shown, *d_shown ? ")" : "");
	if (strcmp(cb->error, "access_denied") == 0)
		fprintf(stderr, "sepayfs-login: access was denied in the browser; run "
				"sepayfs-login again and allow access\n");
	snprintf(text, sizeof(text), "SePay answered %s%s%s%s; run sepayfs-login again to retry.",
		 e_shown, *d_shown ? " (" : "", d_shown, *d_shown ? ")" : "");
	set_outcome(result, 400, "Log-in failed", text);
}

bool login_complete(const struct login_options *o, const char *secret, const char *code,
			  const char *verifier, const char *redirect_uri, struct login_outcome *result)
{
	json_t *answer = exchange_code(o, secret, code, verifier, redirect_uri, result);
	if (!answer)
		return false;
	const char *scope = json_string_value(json_object_get(answer, "scope"));
	if (scope && !has_scope(scope, "bank-account:read")) {
		char s_shown[TERMINAL_TEXT_MAX + 8];
		terminal_text(scope, s_shown, sizeof(s_shown));
		fprintf(stderr, "sepayfs-login: warning: the granted scope \"%s\" lacks "
				"bank-account:read; sepayfs will be refused\n", s_shown);
	}
	int wrc = write_credentials(o, secret, answer);
	json_decref(answer);
	if (wrc) {
		fprintf(stderr, "sepayfs-login: cannot write credentials file %s: %s\n",
			o->credentials, strerror(wrc));
		set_outcome(result, 500, "Log-in failed", "The credentials file could not be "
			    "written; see the terminal.");
		return false;
	}
	set_outcome(result, 200, "You are logged in", "You are logged in; you can close this "
		    "window.");
	return true;
}
