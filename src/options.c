/* options.c - sepayfs's -o options. */
#include "options.h"

#include "auth.h"
#include "decimal.h"
#include "http.h"
#include "log.h"
#include "secretfile.h"
#include "sepay.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* -o max_rate when not given (why: the option table), and its bounds in
 * hundredths of a request a second. */
#define MAX_RATE_DEFAULT "2.5"
#define MAX_RATE_PLACES 2
#define MAX_RATE_MOST 1000000

/* What an option is, and so how it is checked. */
enum option_kind {
	OPTION_TEXT,   /* kept as given (checked after parsing, where it must be) */
	OPTION_PATH,   /* made absolute: the daemon changes to / when it forks */
	OPTION_NUMBER, /* a whole number in [min, max], def when not given */
	OPTION_CUSTOM, /* parsed by its own code below (ids, modes, levels) */
};

struct option_def {
	const char *name;   /* -o name=VALUE */
	enum option_kind kind;
	size_t arg;         /* offsetof the char * that fuse_opt fills */
	size_t value;       /* OPTION_NUMBER: offsetof the unsigned it sets */
	unsigned def, min, max;
	const char *metavar;
	const char *help;   /* for --help; "\n" starts an indented line */
};

#define ARG(field) offsetof(struct sepayfs_options, field)
#define TEXT(name, field, metavar, help) { name, OPTION_TEXT, ARG(field), 0, 0, 0, 0, metavar, help }
#define PATH(name, field, help) { name, OPTION_PATH, ARG(field), 0, 0, 0, 0, "PATH", help }
#define NUMBER(name, field, def, min, max, metavar, help) \
	{ name, OPTION_NUMBER, ARG(field##_arg), ARG(field), def, min, max, metavar, help }
#define CUSTOM(name, field, metavar, help) { name, OPTION_CUSTOM, ARG(field), 0, 0, 0, 0, metavar, help }

/* Every -o option sepayfs takes, in --help's order.  Adding one is a line
 * here and its fields in struct sepayfs_options. */
static const struct option_def options[] = {
	TEXT("base_url", base_url_arg, "URL", "API base (default " SEPAYFS_DEFAULT_BASE_URL ")"),
	PATH("token_file", token_file, "file holding the OAuth2 access token (mode 0600)\n"
	     "(default: $SEPAY_ACCESS_TOKEN)"),
	PATH("credentials", credentials, "OAuth2 credentials (JSON, mode 0600): the access\n"
	     "token is refreshed with its refresh_token"),
	TEXT("token_url", token_url, "URL", "token endpoint (default " AUTH_DEFAULT_TOKEN_URL ")"),
	PATH("cafile", cafile, "CA certificates to trust for https"),
	/* A minute: balances change, and a walk (ls -l, grep -r) is over long
	 * before; up to a day, beyond which a typo of extra zeros is likelier
	 * than a wish for day-old balances. */
	NUMBER("cache_ttl", cache_ttl, 60, 1, 86400, "SECONDS",
	       "serve listings and files from memory this long (default 60)"),
	/* 128 MiB holds some 50,000 accounts with their months; up to 64 GiB,
	 * a bound that catches a typo. */
	NUMBER("cache_max_mb", cache_max_mb, 128, 1, 65536, "N",
	       "memory for cached listings and files (default 128)"),
	/* Off: stale content is served only when asked for; at most a day. */
	NUMBER("stale_if_error", stale_if_error, 0, 0, 86400, "SECONDS",
	       "when a refresh fails, serve the last content up\nto this long past its TTL "
	       "(default 0: off)"),
	CUSTOM("cache_dir", cache_dir_arg, "PATH", "keep fetched objects on disk here, across "
	       "mounts\n(default $CACHE_DIRECTORY, $XDG_CACHE_HOME/sepayfs\nor ~/.cache/sepayfs; "
	       "none: memory only)"),
	/* What it protects: every settled month evicted is fetched again
	 * against the per-address limit, and two years of an account with
	 * 30,000 transactions a month is 720 pages of 1,000, 5 minutes at
	 * 2.5 a second (7,200 pages, 48 minutes, where a server gives 100).  A month's entry takes 137 + 345 bytes a transaction
	 * (tests/bench/bench_disk.py, on the mock's months), 9.9 MiB at
	 * 30,000; two years, 237 MiB.  320 MiB holds them with the company's
	 * other accounts beside, and still after a trim to 90% (288 MiB).
	 * Unless given, bounded at mount by a quarter of the room on the file
	 * system (diskcache.c), so a small home folder is not filled.  1 TiB
	 * is a typo, not a plan. */
	NUMBER("cache_disk_mb", cache_disk_mb, 320, 1, 1u << 20, "N",
	       "disk the whole cache folder may take, as du\ncounts it (default 320, or a "
	       "quarter of the\nfile system's room if that is less)"),
	/* 15 minutes.  One page of the account list shows every balance, so
	 * a new transaction shows there within cache_ttl; an account whose
	 * item did not change keeps its info.json, sub-accounts and current
	 * month this long without asking (a working day of commands minutes
	 * apart asks the list, not every account).  What the list does not
	 * show (a new sub-account, a field the list item lacks) is then up
	 * to this late.  0 turns it off; at most a day. */
	NUMBER("follow_ttl", follow_ttl, 900, 0, 86400, "SECONDS",
	       "an account unchanged in the list keeps its files\nthis long (default 900)"),
	/* A week: banks book late items and corrections within days; a quarter
	 * is the longest wait that makes sense. */
	NUMBER("settle_days", settle_days, 7, 0, 92, "N",
	       "a past month fetched N days after it ended is\nsettled (default 7)"),
	/* 30 days: banks do not rewrite settled history; at most a year. */
	NUMBER("history_ttl", history_ttl, 30 * 86400, 1, 366 * 86400, "SECONDS",
	       "settled months stay cached this long\n(default 2592000: 30 days)"),
	/* Two years when created_at is missing; fifty years is more than any
	 * account has. */
	NUMBER("history_months", history_months, 24, 1, 600, "N",
	       "months of transactions shown when an account has\nno created_at (default 24)"),
	/* Not given (0): 1,000, as many as a page of ordinary items carries
	 * far under the body limit, falling back to the 100 SePay's v2
	 * documents when the server refuses that (sepay.h): a long history in
	 * a tenth of the requests.  Given: exactly that, up to the 5,000 the
	 * older userapi allows. */
	NUMBER("page_size", page_size, 0, 1, 5000, "N",
	       "items asked for per listing page (default 1000,\nor 100 when the server refuses "
	       "that)"),
	/* 8 keeps a walk's pages and read-ahead busy; more only earns 429s. */
	NUMBER("max_conns", max_conns, 8, 1, SEPAY_MAX_PARALLEL, "N",
	       "HTTP requests in flight at most (default 8)"),
	/* SePay counts requests per IP address, before authentication, at
	 * about 3 a second (v2 documents 3, the older API 2-3).  A pace equal
	 * to the limit meets 429s: counted in fixed one-second windows, four
	 * slots fall in one whenever the first of them arrives late across
	 * the turn of a second; counted over any second, a fourth request a
	 * hair early is refused (10% of a walk at 3: docs/performance.md).
	 * At 2.5, 400 ms apart, a window holds at most three even with sends
	 * up to 200 ms late.  429s slow us further.  0: no cap (the loopback
	 * mock); hundredths, so a mount can leave room for a script (1.5). */
	CUSTOM("max_rate", max_rate_arg, "R",
	       "requests a second at most, 0 for no cap\n(default " MAX_RATE_DEFAULT ", under "
	       "SePay's 3 per IP address)"),
	/* 20 s: longer than a slow page, shorter than a user's patience; ten
	 * minutes at most, past which a hung request is worse than an error. */
	NUMBER("timeout", timeout, 20, 1, 600, "SECONDS",
	       "a request's deadline, retries included (default 20)"),
	CUSTOM("uid", uid_arg, "N", "owner shown for every file (default: yours)"),
	CUSTOM("gid", gid_arg, "N", "group shown for every file (default: yours)"),
	CUSTOM("umask", umask_arg, "OCTAL", "taken from 0444 files and 0555 directories\n"
	       "(default 0; 0227 with allow_other)"),
	CUSTOM("log_level", log_level_arg, "LEVEL", "error, warn, info or debug (default warn)"),
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

enum { KEY_ALLOW_OTHER = 1, KEY_CSV };

/* The fuse_opt table: every option above as "name=%s", then the keys. */
static const struct fuse_opt *option_table(void)
{
	/* Built on first use, before any thread starts (options are parsed
	 * first thing in main). */
	static char templates[N_OPTIONS][48];
	static struct fuse_opt table[N_OPTIONS + 10];
	static const struct fuse_opt keys[] = {
		FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
		FUSE_OPT_KEY("csv", KEY_CSV),
		/* Options that mean something to mount(8), fstab or systemd, not to us. */
		FUSE_OPT_KEY("_netdev", FUSE_OPT_KEY_DISCARD),
		FUSE_OPT_KEY("nofail", FUSE_OPT_KEY_DISCARD),
		FUSE_OPT_KEY("auto", FUSE_OPT_KEY_DISCARD),
		FUSE_OPT_KEY("noauto", FUSE_OPT_KEY_DISCARD),
		FUSE_OPT_KEY("user", FUSE_OPT_KEY_DISCARD),
		FUSE_OPT_KEY("users", FUSE_OPT_KEY_DISCARD),
		FUSE_OPT_KEY("nouser", FUSE_OPT_KEY_DISCARD),
		FUSE_OPT_END,
	};
	if (!table[0].templ) {
		for (size_t i = 0; i < N_OPTIONS; i++) {
			snprintf(templates[i], sizeof(templates[i]), "%s=%%s", options[i].name);
			table[i] = (struct fuse_opt){ templates[i], (unsigned long)options[i].arg, 1 };
		}
		memcpy(table + N_OPTIONS, keys, sizeof(keys));
	}
	return table;
}

void options_print_help(FILE *out)
{
	fprintf(out, "sepayfs options:\n");
	for (size_t i = 0; i < N_OPTIONS; i++) {
		char head[64];
		snprintf(head, sizeof(head), "-o %s=%s", options[i].name, options[i].metavar);
		fprintf(out, "    %-22s ", head);
		for (const char *p = options[i].help; *p; p++) {
			fputc(*p, out);
			if (*p == '\n')
				fprintf(out, "%27s", "");
		}
		fputc('\n', out);
	}
	fprintf(out,
		"    -o allow_other         let other users in (implies default_permissions)\n"
		"    -o csv                 each transaction month also as YYYY-MM.csv (off by\n"
		"                           default: it doubles every month)\n"
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
	unsigned long v = def;
	if (arg && !decimal_parse(arg, min, max, &v)) {
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
	case KEY_CSV:
		opts->csv = true;
		return 0;
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

/* -o max_rate: requests a second, to the hundredth. */
static int parse_rate(const char *arg, double *out)
{
	unsigned long hundredths;
	if (!decimal_parse_fraction(arg ? arg : MAX_RATE_DEFAULT, MAX_RATE_PLACES, 0, MAX_RATE_MOST,
				    &hundredths)) {
		fprintf(stderr, "sepayfs: -o max_rate=%s: expected requests a second from 0 to "
			"10000, such as 2.5\n", arg);
		return -1;
	}
	*out = (double)hundredths / 100;
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

/* The table's options: paths made absolute, numbers checked. */
static int check_table(struct sepayfs_options *opts)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_def *o = &options[i];
		char **arg = (char **)((char *)opts + o->arg);
		if (o->kind == OPTION_PATH && *arg) {
			/* Some files are used later (a rotated refresh token is
			 * written back, CA files are read at each TLS handshake):
			 * hold them by absolute path. */
			char *abs = realpath(*arg, NULL);
			if (abs) {
				free(*arg);
				*arg = abs;
			}
		} else if (o->kind == OPTION_NUMBER &&
			   parse_number(o->name, *arg, o->def, o->min, o->max,
					(unsigned *)((char *)opts + o->value))) {
			return -1;
		}
	}
	return 0;
}

int options_parse(struct fuse_args *args, struct sepayfs_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	if (fuse_opt_parse(args, opts, option_table(), option_proc) == -1)
		return -1;
	/* The mount point goes back for fuse_parse_cmdline(). */
	if (opts->mountpoint && fuse_opt_add_arg(args, opts->mountpoint) != 0)
		return -1;
	opts->has_uid = opts->uid_arg != NULL;
	opts->has_gid = opts->gid_arg != NULL;
	opts->umask = opts->allow_other ? 0227 : 0;
	if ((opts->uid_arg && parse_number("uid", opts->uid_arg, 0, 0, UINT32_MAX - 1, &opts->uid)) ||
	    (opts->gid_arg && parse_number("gid", opts->gid_arg, 0, 0, UINT32_MAX - 1, &opts->gid)) ||
	    (opts->umask_arg && parse_octal("umask", opts->umask_arg, &opts->umask)) ||
	    parse_level(opts->log_level_arg, &opts->log_level) ||
	    parse_rate(opts->max_rate_arg, &opts->max_rate) || check_table(opts) ||
	    check_base_url(opts) || pick_cache_dir(opts))
		return -1;
	return 0;
}

void options_release(struct sepayfs_options *opts)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		free(*(char **)((char *)opts + options[i].arg));
	free(opts->cache_dir);
	free(opts->mountpoint);
	free(opts->base_url);
	memset(opts, 0, sizeof(*opts));
}

char *options_load_token(const struct sepayfs_options *opts)
{
	char why[PATH_MAX + 200];
	char *token;
	if (opts->token_file) {
		token = auth_read_token_file(opts->token_file, why, sizeof(why));
	} else {
		char *env = getenv("SEPAY_ACCESS_TOKEN");
		if (!env) {
			fprintf(stderr, "sepayfs: no access token: use -o credentials=PATH, "
					"-o token_file=PATH or set SEPAY_ACCESS_TOKEN (see sepayfs --help)\n");
			return NULL;
		}
		token = auth_token_from_text(env, strlen(env), "$SEPAY_ACCESS_TOKEN", why,
					     sizeof(why));
		/* Out of the environment, and out of the memory /proc/PID/environ
		 * shows: the copy is ours to guard. */
		explicit_bzero(env, strlen(env));
		unsetenv("SEPAY_ACCESS_TOKEN");
	}
	if (!token)
		fprintf(stderr, "sepayfs: %s\n", why);
	return token;
}
