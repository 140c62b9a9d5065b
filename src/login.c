/* login.c - sepayfs-login: log in to SePay with OAuth2 and write the
 * credentials file that `sepayfs -o credentials=PATH` reads.
 *
 *   sepayfs-login --client-id ID --credentials PATH [options]
 *
 * The authorization-code flow with a loopback redirect (RFC 8252) and PKCE
 * (RFC 7636, S256): bind 127.0.0.1:PORT, print the authorize URL (and start
 * a browser when there is a display), wait for the browser to come back to
 * /callback with this run's state and a code, exchange the code and the
 * PKCE verifier at the token endpoint, and write client id, client secret
 * and tokens to PATH (mode 0600, replaced atomically).  The browser's page
 * says how it ended.  Anyone can reach the loopback port, so a callback
 * without this run's state (an error too) is answered 400 and the wait goes
 * on; only this run's answer, a code or an error, ends it.
 *
 * The client secret comes from a private file or standard input, never from
 * the command line.  The secret, the code, the PKCE verifier and the tokens
 * are never printed (the state only in the URL), and every buffer that held
 * one is scrubbed before it is freed (jansson's and libcurl's copies
 * included: they allocate through scrubbing_alloc.c). */
#include "auth.h"
#include "clock.h"
#include "decimal.h"
#include "http.h"
#include "login_flow.h"
#include "login_pkce.h"
#include "login_secret.h"
#include "login_server.h"
#include "login_text.h"
#include "scrubbing_alloc.h"
#include "secretfile.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_SCOPE "bank-account:read transaction:read"
#define DEFAULT_PORT 8765
#define DEFAULT_AUTHORIZE_URL "https://my.sepay.vn/oauth/authorize"
#define DEFAULT_TIMEOUT_S 300
/* A day is longer than anyone waits at a login page. */
#define MAX_TIMEOUT_S 86400

#define EXIT_FLOW_FAILED 1
#define EXIT_USAGE 2

static void print_help(FILE *out)
{
	fprintf(out,
		"usage: sepayfs-login --client-id ID --credentials PATH [options]\n"
		"\n"
		"Log in to SePay (OAuth2 authorization code flow) and write the credentials\n"
		"file that 'sepayfs -o credentials=PATH' reads.  The client secret is read\n"
		"from --client-secret-file or else as one line from standard input.\n"
		"\n"
		"options:\n"
		"    --client-id ID             OAuth2 client id of your SePay app (required)\n"
		"    --credentials PATH         credentials file to write, mode 0600 (required)\n"
		"    --client-secret-file PATH  file holding the client secret, mode 0600\n"
		"                               (default: read a line from standard input)\n"
		"    --scope SCOPES             scopes to ask for, separated by spaces\n"
		"                               (default: \"" DEFAULT_SCOPE "\")\n"
		"    --port N                   loopback port of the redirect URI registered\n"
		"                               with SePay, http://127.0.0.1:N/callback\n"
		"                               (default: %d)\n"
		"    --authorize-url URL        authorization endpoint\n"
		"                               (default: " DEFAULT_AUTHORIZE_URL ")\n"
		"    --token-url URL            token endpoint\n"
		"                               (default: " AUTH_DEFAULT_TOKEN_URL ")\n"
		"    --timeout SECONDS          how long to wait for the browser (default: %d)\n"
		"    --no-browser               only print the URL; by default xdg-open opens\n"
		"                               it when DISPLAY or WAYLAND_DISPLAY is set\n"
		"    -h, --help                 this help\n"
		"    -V, --version              versions\n"
		"\n"
		"Exit status: 0 logged in, 1 the log-in failed, 2 usage error.\n",
		DEFAULT_PORT, DEFAULT_TIMEOUT_S);
}

static void print_versions(void)
{
	printf("sepayfs-login version %s\n", SEPAYFS_VERSION);
	printf("libcurl version %s\n", curl_version_info(CURLVERSION_NOW)->version);
	printf("jansson version %s\n", jansson_version_str());
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sepayfs-login: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\nTry 'sepayfs-login --help' for more information.\n", stderr);
	va_end(ap);
	return EXIT_USAGE;
}

static bool parse_long(const char *text, long min, long max, long *out)
{
	unsigned long v;
	if (!decimal_parse(text, (unsigned long)min, (unsigned long)max, &v))
		return false;
	*out = (long)v;
	return true;
}

/* A secret typed on a command line shows in ps and in the shell's history:
 * refuse anything that looks like one, before getopt_long would take
 * "--client-secret=X" as an abbreviation of --client-secret-file and print X
 * in its complaint about that file. -1 to go on, else the exit status. */
static int refuse_secret_argument(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strncmp(argv[i], "--client-s", 10) == 0 &&
		    strcmp(argv[i], "--client-secret-file") != 0 &&
		    strncmp(argv[i], "--client-secret-file=", 21) != 0)
			return usage_error("%s", "the client secret is never taken from the command "
					   "line; use --client-secret-file PATH or standard input");
	}
	return -1;
}

/* What getopt_long found is usable together. -1 to go on, else the exit
 * status. */
static int check_options(int argc, const struct login_options *o)
{
	if (optind < argc) /* not shown: it might be a secret typed in the wrong place */
		return usage_error("%s", "unexpected argument: sepayfs-login takes options only");
	if (!o->client_id || !*o->client_id)
		return usage_error("%s", "--client-id ID is required");
	if (!o->credentials || !*o->credentials)
		return usage_error("%s", "--credentials PATH is required");
	if (!utf8_valid(o->client_id))
		return usage_error("%s", "--client-id is not valid UTF-8");
	if (!*o->scope)
		return usage_error("%s", "--scope must not be empty");
	const char *why;
	if (!http_url_allowed(o->authorize_url, &why))
		return usage_error("--authorize-url %s: %s", o->authorize_url, why);
	if (!http_url_allowed(o->token_url, &why))
		return usage_error("--token-url %s: %s", o->token_url, why);
	if (strchr(o->authorize_url, '#'))
		return usage_error("%s", "--authorize-url must not have a #fragment");
	if (!utf8_valid(o->token_url))
		return usage_error("%s", "--token-url is not valid UTF-8");
	return -1;
}

/* -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct login_options *o)
{
	enum { OPT_CLIENT_ID = 256, OPT_CREDENTIALS, OPT_SECRET_FILE, OPT_SCOPE, OPT_PORT,
	       OPT_AUTHORIZE_URL, OPT_TOKEN_URL, OPT_TIMEOUT, OPT_NO_BROWSER };
	static const struct option longopts[] = {
		{ "client-id", required_argument, NULL, OPT_CLIENT_ID },
		{ "credentials", required_argument, NULL, OPT_CREDENTIALS },
		{ "client-secret-file", required_argument, NULL, OPT_SECRET_FILE },
		{ "scope", required_argument, NULL, OPT_SCOPE },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "authorize-url", required_argument, NULL, OPT_AUTHORIZE_URL },
		{ "token-url", required_argument, NULL, OPT_TOKEN_URL },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "no-browser", no_argument, NULL, OPT_NO_BROWSER },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	*o = (struct login_options){
		.scope = DEFAULT_SCOPE,
		.authorize_url = DEFAULT_AUTHORIZE_URL,
		.token_url = AUTH_DEFAULT_TOKEN_URL,
		.port = DEFAULT_PORT,
		.timeout_s = DEFAULT_TIMEOUT_S,
	};
	int early = refuse_secret_argument(argc, argv);
	if (early >= 0)
		return early;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CLIENT_ID: o->client_id = optarg; break;
		case OPT_CREDENTIALS: o->credentials = optarg; break;
		case OPT_SECRET_FILE: o->secret_file = optarg; break;
		case OPT_SCOPE: o->scope = optarg; break;
		case OPT_AUTHORIZE_URL: o->authorize_url = optarg; break;
		case OPT_TOKEN_URL: o->token_url = optarg; break;
		case OPT_NO_BROWSER: o->no_browser = true; break;
		case OPT_PORT:
			if (!parse_long(optarg, 1, 65535, &o->port))
				return usage_error("--port must be a port number (1-65535), not '%s'",
						   optarg);
			break;
		case OPT_TIMEOUT:
			if (!parse_long(optarg, 1, MAX_TIMEOUT_S, &o->timeout_s))
				return usage_error("--timeout must be a number of seconds (1-86400), "
						   "not '%s'", optarg);
			break;
		case 'h':
			print_help(stdout);
			return 0;
		case 'V':
			print_versions();
			return 0;
		case ':':
			return usage_error("option %s needs a value", argv[optind - 1]);
		default: {
			/* The name only: what follows '=' might be a secret. */
			const char *arg = optind > 0 ? argv[optind - 1] : "?";
			int name_len = (int)strcspn(arg, "=");
			fprintf(stderr, "sepayfs-login: unknown option %.*s\n"
					"Try 'sepayfs-login --help' for more information.\n",
				name_len, arg);
			return EXIT_USAGE;
		}
		}
	}
	return check_options(argc, o);
}

/* Whether the credentials file can be written, checked before the user
 * goes through the browser for nothing. */
static bool credentials_writable(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "sepayfs-login: credentials file %s is a directory\n", path);
		return false;
	}
	char *copy = strdup(path);
	if (!copy) {
		fprintf(stderr, "sepayfs-login: out of memory\n");
		return false;
	}
	const char *dir = dirname(copy);
	bool ok = access(dir, W_OK | X_OK) == 0;
	if (!ok)
		fprintf(stderr, "sepayfs-login: cannot write credentials file %s: directory %s: %s\n",
			path, dir, strerror(errno));
	free(copy);
	return ok;
}


/* What one run holds; release_run scrubs and frees it all, however the run
 * ended. */
struct login_run {
	struct login_options o;
	char *secret;
	char state[LOGIN_STATE_LEN + 1];
	struct pkce pkce;
	char redirect_uri[64];
	char *url; /* holds the state */
	struct callback_server *server;
	pid_t browser;
};

/* Reads the secret, makes the state and the PKCE verifier, listens on the
 * loopback port and sends the user to the authorize URL.  False after
 * saying why. */
static bool start_login(struct login_run *r)
{
	r->secret = login_read_secret(r->o.secret_file, r->o.client_id);
	if (!r->secret)
		return false;
	if (!login_random_state(r->state) || !pkce_new(&r->pkce)) {
		fprintf(stderr, "sepayfs-login: cannot get random bytes: %s\n", strerror(errno));
		return false;
	}
	/* 127.0.0.1, not localhost: RFC 8252 section 8.3, and the listener
	 * binds exactly that address. */
	snprintf(r->redirect_uri, sizeof(r->redirect_uri), "http://127.0.0.1:%ld/callback",
		 r->o.port);
	r->url = login_authorize_url(&r->o, r->redirect_uri, r->state, r->pkce.challenge);
	if (!r->url) {
		fprintf(stderr, "sepayfs-login: cannot make the authorize URL from %s\n",
			r->o.authorize_url);
		return false;
	}
	/* Listen before anyone is sent to the URL, so the answer finds us. */
	r->server = callback_server_open(r->o.port, r->state);
	if (!r->server) {
		int e = errno;
		fprintf(stderr, "sepayfs-login: cannot listen on 127.0.0.1:%ld: %s\n", r->o.port,
			strerror(e));
		if (e == EADDRINUSE)
			fprintf(stderr, "sepayfs-login: is another sepayfs-login running? The port "
					"must be the one of the redirect URI registered with SePay "
					"(--port)\n");
		return false;
	}
	printf("Open this URL in a browser to log in to SePay:\n%s\n", r->url);
	fflush(stdout);
	if (!r->o.no_browser)
		r->browser = login_open_browser(r->url);
	return true;
}

/* Waits for SePay's answer and completes the log-in; the exit status. */
static int finish_login(struct login_run *r)
{
	struct callback cb;
	int64_t deadline = (int64_t)clock_mono_ms() + r->o.timeout_s * 1000;
	int rc = callback_server_wait(r->server, deadline, &cb);
	if (rc == ETIMEDOUT) {
		fprintf(stderr, "sepayfs-login: no answer from the browser within %ld s; run "
				"sepayfs-login again (--timeout sets the wait)\n", r->o.timeout_s);
		return EXIT_FLOW_FAILED;
	} else if (rc) {
		fprintf(stderr, "sepayfs-login: waiting for the browser: %s\n", strerror(rc));
		return EXIT_FLOW_FAILED;
	}
	struct login_outcome result;
	bool logged_in = false;
	if (cb.error && *cb.error)
		login_report_refusal(&cb, &result);
	else
		logged_in = login_complete(&r->o, r->secret, cb.code, r->pkce.verifier,
					   r->redirect_uri, &result);
	callback_server_answer(r->server, result.status, result.title, result.text);
	if (!logged_in)
		return EXIT_FLOW_FAILED;
	/* The hint names the file absolutely: a daemon in the background runs
	 * in /, where a relative path means something else. */
	char *absolute = realpath(r->o.credentials, NULL);
	printf("Logged in: credentials written to %s\n"
	       "Mount with: sepayfs -o credentials=%s MOUNTPOINT\n",
	       r->o.credentials, absolute ? absolute : r->o.credentials);
	free(absolute);
	return fflush(stdout) == 0 ? 0 : EXIT_FLOW_FAILED;
}

static void release_run(struct login_run *r)
{
	callback_server_close(r->server);
	if (r->browser > 0)
		waitpid(r->browser, NULL, WNOHANG);
	if (r->url)
		explicit_bzero(r->url, strlen(r->url));
	free(r->url);
	secret_free(r->secret);
	explicit_bzero(r->state, sizeof(r->state));
	explicit_bzero(&r->pkce, sizeof(r->pkce));
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	/* No core dump and no ptrace by the same uid: memory holds the client
	 * secret, the code and the tokens. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Before anything else: the option checks already use libcurl's URL
	 * API, and a block must be freed by the allocator that made it. */
	if (!scrubbing_alloc_install(SCRUB_JANSSON_ALWAYS)) {
		fprintf(stderr, "sepayfs-login: cannot initialise libcurl\n");
		return EXIT_FLOW_FAILED;
	}
	struct login_run run = { .browser = -1 };
	int status = parse_args(argc, argv, &run.o);
	if (status < 0 && !credentials_writable(run.o.credentials))
		status = EXIT_FLOW_FAILED;
	if (status < 0)
		status = start_login(&run) ? finish_login(&run) : EXIT_FLOW_FAILED;
	release_run(&run);
	curl_global_cleanup();
	return status;
}
