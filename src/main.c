/* main.c - sepayfs: mount SePay's Bank Accounts API as a read-only tree.
 *
 *   sepayfs [options] MOUNTPOINT
 *
 * Parses options, checks the token against the API before mounting (so a
 * wrong URL, token or scope fails here, on the terminal), then runs the
 * multi-threaded libfuse low-level loop until unmounted. */
#include "auth.h"
#include "cache.h"
#include "diskcache.h"
#include "fs.h"
#include "fuse_ops.h"
#include "http.h"
#include "log.h"
#include "objects.h"
#include "options.h"
#include "secretfile.h"
#include "sepay.h"
#include "signals.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Below any sane kernel FUSE timeout and human patience, above a slow API. */
#define CONNECT_TIMEOUT_S 10
/* A page of 1,000 accounts is well under 1 MiB; 16 MiB is a hostile body. */
#define MAX_RESPONSE_BYTES (16u << 20)
/* A 404 is remembered this long at most (or the TTL if shorter): long
 * enough to absorb a shell's repeated probes, short enough that an account
 * created meanwhile shows up soon. */
#define NEGATIVE_TTL_S 10
/* Accounts fetched ahead of a walk, per connection: each is three requests
 * or more (detail, sub-accounts, a range of months), so one per connection
 * keeps every connection busy, and bounds what a stopped walk still asks. */
#define READAHEAD_ACCOUNTS_PER_CONN 2
/* The deadline of the access check before mounting. */
#define PROBE_TIMEOUT_S 5
/* libfuse's own upper bound for -o max_threads. */
#define MAX_FUSE_THREADS 100000

static void print_versions(void)
{
	printf("sepayfs version %s\n", SEPAYFS_VERSION);
	printf("libfuse version %s\n", fuse_pkgversion());
	printf("libcurl version %s\n", curl_version_info(CURLVERSION_NOW)->version);
	printf("jansson version %s\n", jansson_version_str());
	fflush(stdout);
	fuse_lowlevel_version();
}

static const char *probe_hint(int err)
{
	switch (err) {
	case EACCES: return "the access token was refused (HTTP 401): check it or log in again";
	case EPERM: return "access denied (HTTP 403): the token needs the bank-account:read scope "
			   "and the user the right to view bank accounts";
	case ENOENT: return "no bank-accounts endpoint there (HTTP 404): check -o base_url";
	case EAGAIN: return "the API is rate limiting (HTTP 429): try again shortly";
	default: return "the API did not answer as expected: check -o base_url and the network";
	}
}

/* Asks for the first page of accounts, as a mount would; the answer is
 * kept for the first listing, which then does not ask again. */
static int probe_api(struct sepay_api *api, const char *base_url, uint64_t ttl_ms,
		     json_t **page1)
{
	char path[64];
	snprintf(path, sizeof(path), "/bank-accounts?page=1&limit=%u", api->cfg.page_size);
	json_t *root;
	*page1 = NULL;
	int rc = sepay_get_json(api, "check access", path, &root);
	if (rc == 0) {
		struct sepay_page page;
		if (sepay_parse_page(root, 1, &page) != 0) {
			rc = EIO;
			json_decref(root);
		} else {
			sepay_api_seed(api, path, root, ttl_ms);
			*page1 = root;
		}
	}
	if (rc)
		fprintf(stderr, "sepayfs: cannot mount %s: %s\n", base_url, probe_hint(rc));
	return rc;
}

/* The disk cache of this API and this token's user.  Its account listing
 * must share an account with what the API just answered: a folder that
 * does not (a token of another company that hashed alike, a copied folder)
 * is emptied rather than served.  NULL after printing why. */
static struct disk_cache *open_disk_cache(const struct sepayfs_options *opts, struct auth *auth,
					  json_t *page1)
{
	char who[320], identity[1024], why[600];
	auth_identity(auth, who, sizeof(who));
	snprintf(identity, sizeof(identity), "%s\n%s", opts->base_url, who);
	struct disk_cache *disk = disk_cache_open(opts->cache_dir, identity,
						  (uint64_t)opts->cache_disk_mb << 20, why,
						  sizeof(why));
	if (!disk) {
		fprintf(stderr, "sepayfs: %s\n", why);
		return NULL;
	}
	struct obj_key list_key = { OBJ_ACCOUNT_LIST, 0, 0 };
	struct snapshot *cached = disk_cache_load(disk, &list_key);
	if (!objects_listing_matches_page(cached, page1)) {
		log_warn("disk cache %s held accounts the API does not list for this token: "
			 "emptied", disk_cache_dir(disk));
		disk_cache_wipe(disk);
	}
	snapshot_unref(cached);
	return disk;
}

static int run_loop(struct fuse_session *se, const struct fuse_cmdline_opts *cmd)
{
	if (cmd->singlethread)
		return fuse_session_loop(se);
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, (unsigned)cmd->clone_fd);
	/* libfuse 3.14 leaves max_idle_threads at UINT_MAX ("unset") unless
	 * -o max_idle_threads was given, and warns when that is passed on:
	 * pass on only values the user set, keep the loop's defaults otherwise. */
	if (cmd->max_threads > 0 && cmd->max_threads <= MAX_FUSE_THREADS)
		fuse_loop_cfg_set_max_threads(cfg, cmd->max_threads);
	if (cmd->max_idle_threads <= MAX_FUSE_THREADS)
		fuse_loop_cfg_set_idle_threads(cfg, cmd->max_idle_threads);
	int rc = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return rc;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = { 0 };
	struct sepayfs_options opts;
	struct http_transport *http = NULL;
	struct auth *auth = NULL;
	struct sepay_api api;
	bool api_ready = false;
	struct cache *cache = NULL;
	struct disk_cache *disk = NULL;
	struct objects_source source;
	bool source_ready = false;
	struct fs fs = { 0 };
	struct fuse_session *se = NULL;
	char *token = NULL;
	int status = 1;
	bool fs_ready = false;

	/* No core dump, no ptrace by others of the same uid: memory holds the
	 * token (and with -o credentials the client secret). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (options_parse(&args, &opts) != 0 || fuse_parse_cmdline(&args, &cmd) != 0) {
		fprintf(stderr, "Try 'sepayfs --help' for more information.\n");
		status = 2;
		goto out;
	}
	if (cmd.show_help) {
		printf("usage: %s [options] MOUNTPOINT\n\n", argv[0]);
		options_print_help(stdout);
		printf("FUSE options:\n");
		fflush(stdout);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		status = 0;
		goto out;
	}
	if (cmd.show_version) {
		print_versions();
		status = 0;
		goto out;
	}
	if (!cmd.mountpoint) {
		fprintf(stderr, "usage: %s [options] MOUNTPOINT\n"
				"Try 'sepayfs --help' for more information.\n", argv[0]);
		status = 2;
		goto out;
	}
	log_set_level(cmd.debug ? LOG_LEVEL_DEBUG : (enum log_level)opts.log_level);
	if (!opts.credentials && !(token = options_load_token(&opts)))
		goto out;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "sepayfs: cannot initialise libcurl\n");
		goto out;
	}
	struct http_curl_config hc = {
		.base_url = opts.base_url,
		.cafile = opts.cafile,
		.max_conns = opts.max_conns,
		.connect_timeout_s = CONNECT_TIMEOUT_S,
		.max_body = MAX_RESPONSE_BYTES,
	};
	int err;
	http = http_curl_new(&hc, &err);
	if (!http) {
		fprintf(stderr, "sepayfs: cannot set up HTTP: %s\n", strerror(err));
		goto out_curl;
	}
	auth = opts.credentials ? auth_new_from_credentials(opts.credentials, opts.token_url, http)
				: auth_new_fixed(token);
	if (!auth)
		goto out_curl;
	struct sepay_api_config ac = {
		.http = http,
		.auth = auth,
		.page_size = opts.page_size,
		.parallel = opts.max_conns,
		.max_rate = opts.max_rate,
	};
	/* The check before mounting answers within a few seconds: someone is
	 * waiting at a terminal, and a wrong URL should not take the whole
	 * request deadline to report. */
	ac.timeout_ms = opts.timeout < PROBE_TIMEOUT_S ? opts.timeout * 1000 : PROBE_TIMEOUT_S * 1000;
	sepay_api_init(&api, &ac);
	api_ready = true;
	json_t *page1;
	if (probe_api(&api, opts.base_url, (uint64_t)opts.cache_ttl * 1000, &page1) != 0)
		goto out_curl;
	api.cfg.timeout_ms = opts.timeout * 1000;
	if (opts.cache_dir)
		disk = open_disk_cache(&opts, auth, page1);
	json_decref(page1);
	if (opts.cache_dir && !disk)
		goto out_curl;

	unsigned negative_ttl_s = opts.cache_ttl < NEGATIVE_TTL_S ? opts.cache_ttl : NEGATIVE_TTL_S;
	struct objects_ttl ttls = {
		.ttl_ms = (uint64_t)opts.cache_ttl * 1000,
		.history_ttl_ms = (uint64_t)opts.history_ttl * 1000,
		.settle_ms = (uint64_t)opts.settle_days * 86400 * 1000,
	};
	objects_source_init(&source, &api, (uint64_t)opts.cache_ttl * 1000,
			    auth_lacks_scope(auth, "transaction:read"), (int)opts.history_months);
	source_ready = true;
	struct cache_config cc = {
		.ttl_for = objects_ttl_ms,
		.ttl_ctx = &ttls,
		.negative_ttl_ms = (uint64_t)negative_ttl_s * 1000,
		.max_bytes = (size_t)opts.cache_max_mb << 20,
		.stale_if_error_ms = (uint64_t)opts.stale_if_error * 1000,
		.describe = objects_path,
		.fetch = objects_fetch,
		.fetch_ctx = &source,
		.disk = disk,
	};
	struct fs_config fc = {
		.uid = opts.has_uid ? (uid_t)opts.uid : getuid(),
		.gid = opts.has_gid ? (gid_t)opts.gid : getgid(),
		.file_mode = 0444 & ~(mode_t)opts.umask,
		.dir_mode = 0555 & ~(mode_t)opts.umask,
		.objects = &source,
		.base_time = { disk ? disk_cache_born(disk) : 0, 0 },
	};
	if ((cache = cache_new(&cc)))
		source.cache = cache;
	if (!cache || fs_init(&fs, &fc, cache) != 0) {
		fprintf(stderr, "sepayfs: out of memory\n");
		goto out_curl;
	}
	fs_ready = true;

	/* Read-only in the kernel too: writes fail there with EROFS.  Other
	 * users, when let in, are held to the modes by the kernel. */
	if (fuse_opt_add_arg(&args, "-oro") != 0 ||
	    fuse_opt_add_arg(&args, "-ofsname=sepayfs,subtype=sepayfs") != 0 ||
	    (opts.allow_other && fuse_opt_add_arg(&args, "-odefault_permissions") != 0))
		goto out_curl;
	struct fuse_adapter adapter = {
		.fs = &fs,
		.timeout_s = (double)opts.cache_ttl,
		.negative_timeout_s = (double)negative_ttl_s,
	};
	se = fuse_session_new(&args, &sepayfs_ll_ops, sizeof(sepayfs_ll_ops), &adapter);
	if (!se)
		goto out_curl;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, cmd.mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(cmd.foreground) != 0)
		goto out_unmount;
	if (!cmd.foreground)
		log_to_syslog(); /* stderr is /dev/null now */
	/* Threads start only now: fuse_daemonize() forks.  Every thread from
	 * here on inherits the blocked SIGHUP/SIGUSR1, taken by its own thread. */
	signals_block();
	fs.readahead = readahead_start(cache, opts.max_conns,
				       opts.max_conns * READAHEAD_ACCOUNTS_PER_CONN);
	struct signal_targets targets = { se, &fs, cache, &api };
	struct signal_thread *signals = signals_start(&targets);
	log_info("mounted %s on %s", opts.base_url, cmd.mountpoint);
	/* libfuse ends its loop with the number of the signal that ended it:
	 * SIGTERM and SIGINT are how a mount is asked to stop, not failures. */
	int loop_rc = run_loop(se, &cmd);
	status = loop_rc == 0 || loop_rc == SIGTERM || loop_rc == SIGINT ? 0 : 1;
	signals_stop(signals);
	readahead_stop(fs.readahead);
	fs.readahead = NULL;
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_curl:
	if (fs_ready)
		fs_destroy(&fs);
	cache_free(cache);
	disk_cache_close(disk);
	if (source_ready)
		objects_source_destroy(&source);
	if (api_ready)
		sepay_api_destroy(&api);
	auth_free(auth);
	if (http)
		http->destroy(http);
	curl_global_cleanup();
out:
	secret_free(token);
	free(cmd.mountpoint);
	options_release(&opts);
	fuse_opt_free_args(&args);
	return status;
}
