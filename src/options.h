/* options.h - sepayfs's own -o options: one fuse_opt table, parsed and checked.
 *
 * Options libfuse knows (allow_other, max_threads, ...) pass through to it;
 * an option neither knows is refused by fuse_session_new(). */
#ifndef SEPAYFS_OPTIONS_H
#define SEPAYFS_OPTIONS_H

#include <fuse_opt.h>
#include <stdbool.h>
#include <stdio.h>

#define SEPAYFS_DEFAULT_BASE_URL "https://my.sepay.vn/api/v1"

struct sepayfs_options {
	/* As given (fuse_opt strings, freed by options_release). */
	char *base_url_arg;
	char *token_file;
	char *cache_ttl_arg;
	char *page_size_arg;
	char *max_conns_arg;
	char *max_rate_arg;
	char *cache_max_mb_arg;
	char *timeout_arg;
	char *stale_if_error_arg;
	char *credentials;
	char *token_url;
	char *cafile;
	char *uid_arg;
	char *gid_arg;
	char *umask_arg;
	char *log_level_arg;
	char *history_months_arg;
	char *history_ttl_arg;
	char *settle_days_arg;
	char *follow_ttl_arg;
	char *cache_dir_arg;
	char *cache_disk_mb_arg;
	/* Checked values. */
	char *base_url;      /* without a trailing slash */
	unsigned cache_ttl;  /* seconds */
	unsigned page_size;
	unsigned max_conns;
	double max_rate;       /* requests a second; 0: no cap */
	unsigned cache_max_mb;
	unsigned timeout;        /* seconds a request may take, retries included */
	unsigned stale_if_error; /* seconds; 0: off */
	unsigned history_months; /* transactions shown when created_at is unknown */
	unsigned history_ttl;    /* seconds settled months stay cached */
	unsigned settle_days;    /* days after its end a month is settled */
	unsigned follow_ttl;     /* seconds an account's objects follow its list item */
	char *cache_dir;         /* absolute; NULL: no disk cache */
	unsigned cache_disk_mb;
	bool allow_other;        /* kept for libfuse too */
	bool csv;                /* each month also as CSV */
	bool has_uid, has_gid;
	unsigned uid, gid;
	unsigned umask;          /* applied to 0444 files and 0555 directories */
	int log_level;           /* enum log_level */
	char *mountpoint;        /* the last of SOURCE MOUNTPOINT, as mount.fuse3 passes them */
	bool source_seen;
};

/* Takes sepayfs's options out of args.  0, or -1 after printing why. */
int options_parse(struct fuse_args *args, struct sepayfs_options *opts);
void options_release(struct sepayfs_options *opts);
void options_print_help(FILE *out);

/* The access token from -o token_file or $SEPAY_ACCESS_TOKEN, surrounding
 * whitespace removed.  NULL after printing why.  (With -o credentials the
 * token comes from the credentials file instead: see auth.h.) */
char *options_load_token(const struct sepayfs_options *opts);

#endif
