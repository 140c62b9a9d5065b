/* options.c - sepayfs's -o options. */
#include "options.h"

#include "auth.h"
#include "http.h"
#include "log.h"
#include "secretfile.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* One day: longer than anyone wants stale balances, short enough that a
 * typo of extra zeros is caught. */
#define MAX_CACHE_TTL 86400
/* The API's documented maximum page size is unknown; 1000 bounds a page. */
#define MAX_PAGE_SIZE 1000
/* More parallel connections than this only earns 429s from the API. */
#define MAX_CONNS 64
/* Above what any API allows; 0 means no cap. */
#define MAX_RATE 10000
/* SePay counts requests per IP address, before authentication, at about 3 a
 * second (its v2 documents 3, the older API 2-3): ask no faster by
 * default, and let 429s slow us further. */
#define DEFAULT_MAX_RATE 3
/* 64 GiB: a bound that catches a typo, not a real limit. */
#define MAX_CACHE_MB 65536
/* A year: a settled month is kept at most this long without asking. */
#define MAX_HISTORY_TTL (366 * 86400)
/* Settled months are those over for a week by default; a quarter is the
 * longest wait for late bookings that makes sense. */
#define MAX_SETTLE_DAYS 92
/* 1 TiB of cache is a typo, not a plan. */
#define MAX_CACHE_DISK_MB (1u << 20)
/* Fifty years of monthly files is more than any account has. */
#define MAX_HISTORY_MONTHS 600
/* Ten minutes: beyond this a hung request is worse than an error. */
#define MAX_TIMEOUT 600
/* A token is a JWT of a few KiB; a file larger than this is not a token. */
#define MAX_TOKEN_FILE 65536

#define OPT(templ, field) { templ, offsetof(struct sepayfs_options, field), 1 }

enum { KEY_ALLOW_OTHER = 1 };

static const struct fuse_opt option_table[] = {
	OPT("base_url=%s", base_url_arg),
	OPT("token_file=%s", token_file),
	OPT("cache_ttl=%s", cache_ttl_arg),
	OPT("page_size=%s", page_size_arg),
	OPT("max_conns=%s", max_conns_arg),
	OPT("max_rate=%s", max_rate_arg),
	OPT("cache_max_mb=%s", cache_max_mb_arg),
	OPT("timeout=%s", timeout_arg),
	OPT("stale_if_error=%s", stale_if_error_arg),
	OPT("credentials=%s", credentials),
	OPT("token_url=%s", token_url),
	OPT("cafile=%s", cafile),
	OPT("uid=%s", uid_arg),
	OPT("gid=%s", gid_arg),
	OPT("umask=%s", umask_arg),
	OPT("log_level=%s", log_level_arg),
	OPT("history_months=%s", history_months_arg),
	OPT("history_ttl=%s", history_ttl_arg),
	OPT("settle_days=%s", settle_days_arg),
	OPT("cache_dir=%s", cache_dir_arg),
	OPT("cache_disk_mb=%s", cache_disk_mb_arg),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	/* Options that mean something to mount(8), fstab or systemd, not to us. */
	FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_KEY("nouser", FUSE_OPT_KEY_DISCARD),
	FUSE_OPT_END
};

void options_print_help(FILE *out)
{
	fprintf(out,
		"sepayfs options:\n"
		"    -o base_url=URL        API base (default " SEPAYFS_DEFAULT_BASE_URL ")\n"
		"    -o token_file=PATH     file holding the OAuth2 access token (mode 0600)\n"
		"                           (default: $SEPAY_ACCESS_TOKEN)\n"
		"    -o credentials=PATH    OAuth2 credentials (JSON, mode 0600): the access\n"
		"                           token is refreshed with its refresh_token\n"
		"    -o token_url=URL       token endpoint (default https://my.sepay.vn/oauth/token)\n"
		"    -o cafile=PATH         CA certificates to trust for https\n"
		"    -o cache_ttl=SECONDS   serve listings and files from memory this long (default 60)\n"
		"    -o cache_max_mb=N      memory for cached listings and files (default 128)\n"
		"    -o stale_if_error=SECONDS  when a refresh fails, serve the last content up\n"
		"                           to this long past its TTL (default 0: off)\n"
		"    -o cache_dir=PATH      keep fetched objects on disk here, across mounts\n"
		"                           (default $CACHE_DIRECTORY, $XDG_CACHE_HOME/sepayfs\n"
		"                           or ~/.cache/sepayfs; none: memory only)\n"
		"    -o cache_disk_mb=N     disk the cache may take (default 512)\n"
		"    -o settle_days=N       a past month fetched N days after it ended is\n"
		"                           settled (default 7)\n"
		"    -o history_ttl=SECONDS settled months stay cached this long\n"
		"                           (default 2592000: 30 days)\n"
		"    -o history_months=N    months of transactions shown when an account has\n"
		"                           no created_at (default 24)\n"
		"    -o page_size=N         items asked for per listing page (default 100)\n"
		"    -o max_conns=N         HTTP requests in flight at most (default 8)\n"
		"    -o max_rate=R          requests a second at most, 0 for no cap (default 3,\n"
		"                           SePay's limit per IP address)\n"
		"    -o timeout=SECONDS     a request's deadline, retries included (default 20)\n"
		"    -o uid=N, -o gid=N     owner shown for every file (default: yours)\n"
		"    -o umask=OCTAL         taken from 0444 files and 0555 directories\n"
		"                           (default 0; 0227 with allow_other)\n"
		"    -o allow_other         let other users in (implies default_permissions)\n"
		"    -o log_level=LEVEL     error, warn, info or debug (default warn)\n"
		"    _netdev, nofail, auto, noauto, user, users, x-systemd.*: accepted and\n"
		"                           ignored, for /etc/fstab\n"
		"\n"
		"Signals: SIGHUP drops every cache, SIGUSR1 logs statistics.\n"
		"Extended attributes: user.sepayfs.source, user.sepayfs.fetched.\n"
		"\n");
}

/* A whole number in [min, max] or the default when absent. */
static int parse_number(const char *name, const char *arg, unsigned def, unsigned min,
			unsigned max, unsigned *out)
{
	if (!arg) {
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end || errno || v < min || v > max) {
		fprintf(stderr, "sepayfs: -o %s=%s: expected a whole number from %u to %u\n",
			name, arg, min, max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int check_base_url(struct sepayfs_options *opts)
{
	const char *url = opts->base_url_arg ? opts->base_url_arg : SEPAYFS_DEFAULT_BASE_URL;
	const char *why;
	if (!http_url_allowed(url, &why)) {
		fprintf(stderr, "sepayfs: -o base_url=%s: %s\n", url, why);
		return -1;
	}
	if (opts->token_url && !http_url_allowed(opts->token_url, &why)) {
		fprintf(stderr, "sepayfs: -o token_url=%s: %s\n", opts->token_url, why);
		return -1;
	}
	opts->base_url = strdup(url);
	if (!opts->base_url)
		return -1;
	size_t n = strlen(opts->base_url);
	while (n > 0 && opts->base_url[n - 1] == '/')
		opts->base_url[--n] = '\0';
	return 0;
}

/* Positional arguments: mount.fuse3 passes SOURCE MOUNTPOINT; the source
 * names nothing for us.  Unknown -o options go on to libfuse. */
static int option_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	(void)outargs;
	struct sepayfs_options *opts = data;
	switch (key) {
	case KEY_ALLOW_OTHER:
		opts->allow_other = true;
		return 1;
	case FUSE_OPT_KEY_NONOPT:
		if (opts->mountpoint && opts->source_seen) {
			fprintf(stderr, "sepayfs: too many arguments: %s\n", arg);
			return -1;
		}
		if (opts->mountpoint) {
			free(opts->mountpoint);
			opts->source_seen = true;
		}
		opts->mountpoint = strdup(arg);
		return opts->mountpoint ? 0 : -1;
	case FUSE_OPT_KEY_OPT:
		return strncmp(arg, "x-systemd.", 10) == 0 ? 0 : 1;
	default:
		return 1;
	}
}

/* Where the disk cache lives: -o cache_dir, else systemd's CacheDirectory=,
 * else the XDG cache folder.  Made absolute: the daemon changes to / when
 * it goes to the background.  NULL (none) keeps everything in memory. */
static int pick_cache_dir(struct sepayfs_options *opts)
{
	const char *arg = opts->cache_dir_arg;
	if (arg && strcmp(arg, "none") == 0)
		return 0;
	if (arg && !*arg) {
		fprintf(stderr, "sepayfs: -o cache_dir=: expected a folder, or none\n");
		return -1;
	}
	const char *systemd = getenv("CACHE_DIRECTORY"), *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;
	if (arg && arg[0] == '/') {
		n = asprintf(&opts->cache_dir, "%s", arg);
	} else if (arg) {
		char cwd[4096];
		if (!getcwd(cwd, sizeof(cwd))) {
			fprintf(stderr, "sepayfs: -o cache_dir=%s: %s\n", arg, strerror(errno));
			return -1;
		}
		n = asprintf(&opts->cache_dir, "%s/%s", cwd, arg);
	} else if (systemd && systemd[0] == '/' && !strchr(systemd, ':')) {
		n = asprintf(&opts->cache_dir, "%s", systemd);
	} else if (xdg && xdg[0] == '/') {
		n = asprintf(&opts->cache_dir, "%s/sepayfs", xdg);
	} else if (home && home[0] == '/') {
		n = asprintf(&opts->cache_dir, "%s/.cache/sepayfs", home);
	} else {
		fprintf(stderr, "sepayfs: no cache folder: set HOME or -o cache_dir=PATH "
				"(or -o cache_dir=none)\n");
		return -1;
	}
	if (n < 0) {
		opts->cache_dir = NULL;
		return -1;
	}
	return 0;
}

static int parse_octal(const char *name, const char *arg, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 8);
	if (!*arg || *end || errno || v > 0777) {
		fprintf(stderr, "sepayfs: -o %s=%s: expected an octal mode such as 0227\n", name, arg);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_level(const char *arg, int *out)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	*out = LOG_LEVEL_WARN;
	if (!arg)
		return 0;
	for (int i = 0; i < 4; i++) {
		if (strcmp(arg, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	fprintf(stderr, "sepayfs: -o log_level=%s: expected error, warn, info or debug\n", arg);
	return -1;
}

int options_parse(struct fuse_args *args, struct sepayfs_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	if (fuse_opt_parse(args, opts, option_table, option_proc) == -1)
		return -1;
	/* The mount point goes back for fuse_parse_cmdline(). */
	if (opts->mountpoint && fuse_opt_add_arg(args, opts->mountpoint) != 0)
		return -1;
	/* The daemon changes to / when it goes to the background, and some
	 * files are used later (a rotated refresh token is written back, CA
	 * files are read at each TLS handshake): hold them by absolute path. */
	char **paths[] = { &opts->token_file, &opts->credentials, &opts->cafile };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char *abs = *paths[i] ? realpath(*paths[i], NULL) : NULL;
		if (abs) {
			free(*paths[i]);
			*paths[i] = abs;
		}
	}
	opts->has_uid = opts->uid_arg != NULL;
	opts->has_gid = opts->gid_arg != NULL;
	opts->umask = opts->allow_other ? 0227 : 0;
	if ((opts->uid_arg && parse_number("uid", opts->uid_arg, 0, 0, UINT32_MAX - 1, &opts->uid)) ||
	    (opts->gid_arg && parse_number("gid", opts->gid_arg, 0, 0, UINT32_MAX - 1, &opts->gid)) ||
	    (opts->umask_arg && parse_octal("umask", opts->umask_arg, &opts->umask)) ||
	    parse_level(opts->log_level_arg, &opts->log_level))
		return -1;
	if (parse_number("cache_ttl", opts->cache_ttl_arg, 60, 1, MAX_CACHE_TTL, &opts->cache_ttl) ||
	    parse_number("page_size", opts->page_size_arg, 100, 1, MAX_PAGE_SIZE, &opts->page_size) ||
	    parse_number("max_conns", opts->max_conns_arg, 8, 1, MAX_CONNS, &opts->max_conns) ||
	    parse_number("max_rate", opts->max_rate_arg, DEFAULT_MAX_RATE, 0, MAX_RATE,
			 &opts->max_rate) ||
	    parse_number("cache_max_mb", opts->cache_max_mb_arg, 128, 1, MAX_CACHE_MB,
			 &opts->cache_max_mb) ||
	    parse_number("timeout", opts->timeout_arg, 20, 1, MAX_TIMEOUT, &opts->timeout) ||
	    parse_number("stale_if_error", opts->stale_if_error_arg, 0, 0, MAX_CACHE_TTL,
			 &opts->stale_if_error) ||
	    parse_number("history_months", opts->history_months_arg, 24, 1, MAX_HISTORY_MONTHS,
			 &opts->history_months) ||
	    parse_number("history_ttl", opts->history_ttl_arg, 30 * 86400, 1, MAX_HISTORY_TTL,
			 &opts->history_ttl) ||
	    parse_number("settle_days", opts->settle_days_arg, 7, 0, MAX_SETTLE_DAYS,
			 &opts->settle_days) ||
	    parse_number("cache_disk_mb", opts->cache_disk_mb_arg, 512, 1, MAX_CACHE_DISK_MB,
			 &opts->cache_disk_mb) ||
	    check_base_url(opts) || pick_cache_dir(opts))
		return -1;
	return 0;
}

void options_release(struct sepayfs_options *opts)
{
	free(opts->base_url_arg);
	free(opts->token_file);
	free(opts->cache_ttl_arg);
	free(opts->page_size_arg);
	free(opts->max_conns_arg);
	free(opts->max_rate_arg);
	free(opts->cache_max_mb_arg);
	free(opts->timeout_arg);
	free(opts->stale_if_error_arg);
	free(opts->credentials);
	free(opts->token_url);
	free(opts->cafile);
	free(opts->uid_arg);
	free(opts->gid_arg);
	free(opts->umask_arg);
	free(opts->log_level_arg);
	free(opts->history_months_arg);
	free(opts->history_ttl_arg);
	free(opts->settle_days_arg);
	free(opts->cache_dir_arg);
	free(opts->cache_disk_mb_arg);
	free(opts->cache_dir);
	free(opts->mountpoint);
	free(opts->base_url);
	memset(opts, 0, sizeof(*opts));
}

static char *trimmed_copy(const char *s, size_t len)
{
	while (len && strchr(" \t\r\n", s[0])) {
		s++;
		len--;
	}
	while (len && strchr(" \t\r\n", s[len - 1]))
		len--;
	return len ? strndup(s, len) : NULL;
}

char *options_load_token(const struct sepayfs_options *opts)
{
	char *token = NULL;
	const char *source;
	if (opts->token_file) {
		source = opts->token_file;
		size_t len;
		char *text = secret_file_read(opts->token_file, "token file", MAX_TOKEN_FILE, &len);
		if (!text)
			return NULL;
		token = trimmed_copy(text, len);
		explicit_bzero(text, len);
		free(text);
	} else {
		source = "$SEPAY_ACCESS_TOKEN";
		char *env = getenv("SEPAY_ACCESS_TOKEN");
		if (!env) {
			fprintf(stderr, "sepayfs: no access token: use -o credentials=PATH, "
					"-o token_file=PATH or set SEPAY_ACCESS_TOKEN (see sepayfs --help)\n");
			return NULL;
		}
		token = trimmed_copy(env, strlen(env));
		/* Out of the environment, and out of the memory /proc/PID/environ
		 * shows: the copy is ours to guard. */
		explicit_bzero(env, strlen(env));
		unsetenv("SEPAY_ACCESS_TOKEN");
	}
	if (!token || !auth_token_header_safe(token)) {
		fprintf(stderr, "sepayfs: %s: %s\n", source,
			token ? "the token has spaces, control characters or non-ASCII bytes inside it"
			      : "the token is empty");
		secret_free(token);
		return NULL;
	}
	return token;
}
