/* main.c - sepayfs: mount SePay's Bank Accounts API as a read-only tree.
 *
 *   sepayfs [options] MOUNTPOINT
 *
 * Parses options, checks the token against the API before mounting (so a
 * wrong URL, token or scope fails here, on the terminal), then runs the
 * multi-threaded libfuse low-level loop until unmounted. */
#include "activity.h"
#include "auth.h"
#include "cache.h"
#include "diskcache.h"
#include "fs.h"
#include "fuse_ops.h"
#include "http.h"
#include "inodeindex.h"
#include "log.h"
#include "notify.h"
#include "objects.h"
#include "options.h"
#include "pages.h"
#include "scrubbing_alloc.h"
#include "sdnotify.h"
#include "secretfile.h"
#include "sepay.h"
#include "signals.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
/* Versions a refresh replaced while files were open stay readable within
 * this share of cache_max_mb: enough for every file a walk holds open,
 * small beside the cache it comes out of. */
#define KEEP_SHARE_OF_CACHE 8
/* What month builds under way may hold in memory together (their order
 * records and the lines put aside before a file takes them): a busy
 * month of 230,000 transactions needs 15 MiB of records.  Part of the
 * headroom over cache_max_mb, not of it: a small cache still reads a
 * large month, through files. */
#define MONTH_BUILD_MEMORY (48u << 20)
/* Values kept in files the cache holds at most: each holds a file open
 * (a busy account's months, a few dozen). */
#define FILE_VALUES_MAX 256
/* The deadline of the access check before mounting. */
#define PROBE_TIMEOUT_S 5
/* Disk caches of earlier users a mount keeps open after new log-ins;
 * past that, a further switch serves from memory only. */
#define MAX_IDENTITY_SWITCHES 16
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
	json_t *root;
	*page1 = NULL;
	int rc = sepay_first_page(api, "check access", "/bank-accounts", &root, path, sizeof(path));
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

/* The disk cache of this API and this token's user, in *disk.  Its
 * account listing must share an account with what the API just answered:
 * a folder that does not (a token of another company that hashed alike, a
 * copied folder) is emptied rather than served.  A disk that cannot hold
 * the cache (read-only, full, below a folder another user could swap)
 * leaves *disk NULL after one warning: memory serves.  -1 after printing
 * why when the folder is not private: bank data must not go there.  Its
 * budget is -o cache_disk_mb as given, or the default within the room the
 * file system has. */
static void identity_of(const struct sepayfs_options *opts, struct auth *auth, char *identity,
			size_t size)
{
	char who[320];
	auth_identity(auth, who, sizeof(who));
	snprintf(identity, size, "%s\n%s", opts->base_url, who);
}

static int open_disk_cache(const struct sepayfs_options *opts, const char *identity,
			   json_t *page1, struct disk_cache **disk)
{
	char why[1200];
	enum disk_cache_failure failure;
	*disk = disk_cache_open(opts->cache_dir, identity, (uint64_t)opts->cache_disk_mb << 20,
				opts->history_ttl, &failure, why, sizeof(why));
	if (!*disk && failure == DISK_CACHE_NOT_PRIVATE) {
		fprintf(stderr, "sepayfs: %s\n", why);
		return -1;
	}
	if (!*disk) {
		log_warn("disk cache off, serving from the API and memory only: %s", why);
		return 0;
	}
	if (opts->cache_disk_mb_arg)
		log_info("disk cache budget: %u MiB, as -o cache_disk_mb gives", opts->cache_disk_mb);
	else
		disk_cache_fit_room(*disk, NULL);
	struct obj_key list_key = { OBJ_ACCOUNT_LIST, 0, 0 };
	struct snapshot *cached = disk_cache_load(*disk, &list_key);
	if (!objects_listing_matches_page(cached, page1)) {
		log_warn("disk cache %s held accounts the API does not list for this token: "
			 "emptied", disk_cache_dir(*disk));
		disk_cache_wipe(*disk);
	}
	snapshot_unref(cached);
	return 0;
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

/* Everything a mount holds, released in one place (daemon_release). */
struct daemon {
	struct fuse_args args;
	struct fuse_cmdline_opts cmd;
	struct sepayfs_options opts;
	char *token;
	bool curl_ready;
	struct http_transport *http;
	struct auth *auth;
	struct activity *activity;
	struct sepay_api api;
	bool api_ready;
	struct disk_cache *disk;
	int spill_dir;            /* $TMPDIR without a disk cache, else -1 */
	struct objects_source source;
	bool source_ready;
	struct objects_ttl ttls;
	struct cache *cache;
	struct fs fs;
	bool fs_ready;
	struct fuse_adapter adapter;
	struct fuse_session *se;
	struct kernel_notify *notify;
	struct inode_index *index;
	bool signals_set, mounted;
	/* Whose data the caches hold: the API and the token's user.  A new
	 * log-in naming another user moves the mount to that user's disk
	 * cache (switch_identity); the old ones stay open until unmount,
	 * since a request under way may still hold them. */
	pthread_mutex_t identity_lock;
	char identity[1024];
	struct disk_cache *retired[MAX_IDENTITY_SWITCHES];
	unsigned n_retired;
	_Atomic(struct signal_thread *) signals;
};

/* The command line: -1 to go on, or the exit status (help, version, a
 * usage error). */
static int read_command_line(struct daemon *d, const char *prog)
{
	if (options_parse(&d->args, &d->opts) != 0 ||
	    fuse_parse_cmdline(&d->args, &d->cmd) != 0) {
		fprintf(stderr, "Try 'sepayfs --help' for more information.\n");
		return 2;
	}
	if (d->cmd.show_help) {
		printf("usage: %s [options] MOUNTPOINT\n\n", prog);
		options_print_help(stdout);
		printf("FUSE options:\n");
		fflush(stdout);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		return 0;
	}
	if (d->cmd.show_version) {
		print_versions();
		return 0;
	}
	if (!d->cmd.mountpoint) {
		fprintf(stderr, "usage: %s [options] MOUNTPOINT\n"
				"Try 'sepayfs --help' for more information.\n", prog);
		return 2;
	}
	log_set_level(d->cmd.debug ? LOG_LEVEL_DEBUG : (enum log_level)d->opts.log_level);
	if (!d->opts.credentials && !(d->token = options_load_token(&d->opts)))
		return 1;
	return -1;
}

/* auth's hook: the credentials or token file changed and was taken.
 * When it names another user, the signal thread moves the mount to that
 * user's cache (a request's thread may not wait on the kernel). */
static void credentials_taken(void *ctx)
{
	struct daemon *d = ctx;
	char now[sizeof(d->identity)];
	identity_of(&d->opts, d->auth, now, sizeof(now));
	pthread_mutex_lock(&d->identity_lock);
	bool moved = strcmp(now, d->identity) != 0;
	pthread_mutex_unlock(&d->identity_lock);
	struct signal_thread *signals = atomic_load(&d->signals);
	if (moved && signals)
		signals_reload(signals);
}

/* SIGHUP, before the caches are dropped: the credentials or token file
 * read again, and the disk cache of the user it names now. */
static void switch_identity(void *ctx)
{
	struct daemon *d = ctx;
	auth_reload(d->auth);
	char now[sizeof(d->identity)];
	identity_of(&d->opts, d->auth, now, sizeof(now));
	pthread_mutex_lock(&d->identity_lock);
	if (strcmp(now, d->identity) == 0) {
		pthread_mutex_unlock(&d->identity_lock);
		return;
	}
	snprintf(d->identity, sizeof(d->identity), "%s", now);
	struct disk_cache *next = NULL;
	char why[1200] = "no disk cache (-o cache_dir=none)";
	if (d->opts.cache_dir && d->n_retired < MAX_IDENTITY_SWITCHES) {
		enum disk_cache_failure failure;
		next = disk_cache_open(d->opts.cache_dir, now, (uint64_t)d->opts.cache_disk_mb << 20,
				       d->opts.history_ttl, &failure, why, sizeof(why));
	} else if (d->opts.cache_dir) {
		snprintf(why, sizeof(why), "%d users' caches are open already",
			 MAX_IDENTITY_SWITCHES);
	}
	if (d->disk)
		d->retired[d->n_retired++] = d->disk;
	d->disk = next;
	cache_set_disk(d->cache, next);
	pthread_mutex_unlock(&d->identity_lock);
	if (next)
		log_notice("the credentials now name another user: their cache is %s",
			   disk_cache_dir(next));
	else
		log_notice("the credentials now name another user: serving from memory only (%s)",
			   why);
}

/* HTTP, the token, the API client; the access check; the disk cache of
 * this API and user.  0, or -1 after saying why. */
static int connect_api(struct daemon *d)
{
	const struct sepayfs_options *o = &d->opts;
	/* libcurl's copies of the token, and jansson's of a token answer,
	 * are scrubbed when freed. */
	if (!scrubbing_alloc_install(SCRUB_JANSSON_IN_SCOPES)) {
		fprintf(stderr, "sepayfs: cannot initialise libcurl\n");
		return -1;
	}
	d->curl_ready = true;
	struct http_curl_config hc = {
		.base_url = o->base_url,
		.cafile = o->cafile,
		.max_conns = o->max_conns,
		.connect_timeout_s = CONNECT_TIMEOUT_S,
		.max_body = MAX_RESPONSE_BYTES,
	};
	int err;
	if (!(d->http = http_curl_new(&hc, &err))) {
		fprintf(stderr, "sepayfs: cannot set up HTTP: %s\n", strerror(err));
		return -1;
	}
	d->auth = o->credentials ? auth_new_from_credentials(o->credentials, o->token_url, d->http)
				 : auth_new_fixed(d->token);
	if (!d->auth)
		return -1;
	if (!o->credentials && o->token_file)
		auth_watch_token_file(d->auth, o->token_file);
	auth_on_taken(d->auth, credentials_taken, d);
	d->activity = activity_new();
	struct sepay_api_config ac = {
		.http = d->http,
		.auth = d->auth,
		.activity = d->activity,
		.token_remedy = o->credentials ? "run sepayfs-login"
			      : o->token_file ? "write a new token to the token file"
					      : "mount again with a new token",
		.page_size = o->page_size,
		.parallel = o->max_conns,
		.max_rate = o->max_rate,
		/* The check before mounting answers within a few seconds:
		 * someone is waiting at a terminal, and a wrong URL should not
		 * take the whole request deadline to report. */
		.timeout_ms = o->timeout < PROBE_TIMEOUT_S ? o->timeout * 1000 : PROBE_TIMEOUT_S * 1000,
	};
	sepay_api_init(&d->api, &ac);
	d->api_ready = true;
	json_t *page1;
	if (probe_api(&d->api, o->base_url, (uint64_t)o->cache_ttl * 1000, &page1) != 0)
		return -1;
	d->api.cfg.timeout_ms = o->timeout * 1000;
	identity_of(o, d->auth, d->identity, sizeof(d->identity));
	int rc = o->cache_dir ? open_disk_cache(o, d->identity, page1, &d->disk) : 0;
	json_decref(page1);
	return rc;
}

static unsigned negative_ttl_s(const struct sepayfs_options *o)
{
	return o->cache_ttl < NEGATIVE_TTL_S ? o->cache_ttl : NEGATIVE_TTL_S;
}

/* $TMPDIR (or /tmp) for months kept in unlinked files when there is no
 * disk cache; -1 (memory only, logged) when it cannot be opened. */
static int open_spill_dir(void)
{
	const char *dir = getenv("TMPDIR");
	if (!dir || dir[0] != '/')
		dir = "/tmp";
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		log_warn("cannot open %s for months larger than memory may hold: %s; such a month "
			 "will read as an I/O error", dir, strerror(errno));
	return fd;
}

static uint64_t token_epoch(void *ctx)
{
	return auth_token_epoch(ctx);
}

/* The objects, the cache and the tree over them.  0, or -1. */
static int build_tree(struct daemon *d)
{
	const struct sepayfs_options *o = &d->opts;
	d->ttls = (struct objects_ttl){
		.ttl_ms = (uint64_t)o->cache_ttl * 1000,
		.history_ttl_ms = (uint64_t)o->history_ttl * 1000,
		.settle_ms = (uint64_t)o->settle_days * 86400 * 1000,
		.follow_ms = (uint64_t)o->follow_ttl * 1000,
		.src = &d->source,
	};
	/* Months that do not fit in memory go beside the disk cache, or, with
	 * none, to unlinked files under $TMPDIR (gone with the daemon). */
	if (!d->disk)
		d->spill_dir = open_spill_dir();
	objects_source_init(&d->source, &d->api, (uint64_t)o->cache_ttl * 1000,
			    auth_lacks_scope(d->auth, "transaction:read"), (int)o->history_months,
			    MONTH_BUILD_MEMORY, d->disk ? disk_cache_dir_fd(d->disk) : d->spill_dir);
	d->source.settle_ms = d->ttls.settle_ms;
	d->source_ready = true;
	struct cache_config cc = {
		.ttl_for = objects_ttl_ms,
		.prepare = objects_prepare,
		.ttl_ctx = &d->ttls,
		.negative_ttl_ms = (uint64_t)negative_ttl_s(o) * 1000,
		.refusal_ttl_ms = (uint64_t)o->cache_ttl * 1000,
		.max_bytes = (size_t)o->cache_max_mb << 20,
		/* Months kept in files take disk as the disk cache does, and
		 * an open file each. */
		.max_file_bytes = (uint64_t)o->cache_disk_mb << 20,
		.max_file_values = FILE_VALUES_MAX,
		.stale_if_error_ms = (uint64_t)o->stale_if_error * 1000,
		.describe = objects_path,
		.token_epoch = token_epoch,
		.token_epoch_ctx = d->auth,
		.fetch = objects_fetch,
		.fetch_ctx = &d->source,
		.disk = d->disk,
	};
	struct fs_config fc = {
		.uid = o->has_uid ? (uid_t)o->uid : getuid(),
		.gid = o->has_gid ? (gid_t)o->gid : getgid(),
		.file_mode = 0444 & ~(mode_t)o->umask,
		.dir_mode = 0555 & ~(mode_t)o->umask,
		.objects = &d->source,
		.base_time = { d->disk ? disk_cache_born(d->disk) : 0, 0 },
		.keep_bytes = ((size_t)o->cache_max_mb << 20) / KEEP_SHARE_OF_CACHE,
		.csv = o->csv,
	};
	if ((d->cache = cache_new(&cc)))
		d->source.cache = d->cache;
	if (!d->cache || fs_init(&d->fs, &fc, d->cache) != 0) {
		fprintf(stderr, "sepayfs: out of memory\n");
		return -1;
	}
	d->fs_ready = true;
	/* Beside the disk cache, so handles outlive a remount; in memory
	 * without one. */
	d->index = inode_index_open(d->disk ? disk_cache_dir_fd(d->disk) : -1, 0);
	d->fs.index = d->index;
	return 0;
}

/* The FUSE session, mounted (and daemonized unless -f).  0, or -1. */
static int mount_tree(struct daemon *d)
{
	const struct sepayfs_options *o = &d->opts;
	/* Read-only in the kernel too: writes fail there with EROFS.  Other
	 * users, when let in, are held to the modes by the kernel. */
	if (fuse_opt_add_arg(&d->args, "-oro") != 0 ||
	    fuse_opt_add_arg(&d->args, "-ofsname=sepayfs,subtype=sepayfs") != 0 ||
	    (o->allow_other && fuse_opt_add_arg(&d->args, "-odefault_permissions") != 0))
		return -1;
	d->adapter = (struct fuse_adapter){
		.fs = &d->fs,
		.timeout_s = (double)o->cache_ttl,
		.negative_timeout_s = (double)negative_ttl_s(o),
	};
	d->se = fuse_session_new(&d->args, &sepayfs_ll_ops, sizeof(sepayfs_ll_ops), &d->adapter);
	if (!d->se || fuse_set_signal_handlers(d->se) != 0)
		return -1;
	d->signals_set = true;
	if (fuse_session_mount(d->se, d->cmd.mountpoint) != 0)
		return -1;
	d->mounted = true;
	if (fuse_daemonize(d->cmd.foreground) != 0)
		return -1;
	if (!d->cmd.foreground)
		log_to_syslog(); /* stderr is /dev/null now */
	return 0;
}

/* Serves until unmounted or asked to stop: the exit status. */
static int serve(struct daemon *d)
{
	/* Threads start only now: fuse_daemonize() forks.  Every thread from
	 * here on inherits the blocked SIGHUP/SIGUSR1, taken by its own thread. */
	signals_block();
	if ((d->notify = kernel_notify_start(d->se)))
		d->fs.kernel = (struct fs_kernel){ kernel_notify_forget_name, d->notify };
	d->fs.readahead = readahead_start(d->cache, d->opts.max_conns,
					  d->opts.max_conns * READAHEAD_ACCOUNTS_PER_CONN, d->activity);

	struct signal_targets targets = { d->se, &d->fs, d->cache, &d->api, d->activity,
					  switch_identity, d };
	struct signal_thread *signals = signals_start(&targets);
	atomic_store(&d->signals, signals);
	log_info("mounted %s on %s", d->opts.base_url, d->cmd.mountpoint);
	sdnotify_ready(d->opts.base_url, d->cmd.mountpoint);
	/* After READY: its first line would otherwise come before it. */
	struct status_reporter *reporter = d->activity ? status_reporter_start(d->activity) : NULL;
	/* libfuse ends its loop with the number of the signal that ended it:
	 * SIGTERM and SIGINT are how a mount is asked to stop, not failures. */
	int loop_rc = run_loop(d->se, &d->cmd);
	sdnotify_stopping();
	/* Read-ahead's fetchers are the last threads that may ask for a
	 * token, and so call credentials_taken: gone before the signals. */
	readahead_stop(d->fs.readahead);
	d->fs.readahead = NULL;
	status_reporter_stop(reporter);
	atomic_store(&d->signals, NULL);
	signals_stop(signals);
	d->fs.kernel = (struct fs_kernel){ NULL, NULL };
	kernel_notify_stop(d->notify);
	d->notify = NULL;
	return loop_rc == 0 || loop_rc == SIGTERM || loop_rc == SIGINT ? 0 : 1;
}

static void daemon_release(struct daemon *d)
{
	if (d->mounted)
		fuse_session_unmount(d->se);
	if (d->signals_set)
		fuse_remove_signal_handlers(d->se);
	if (d->se)
		fuse_session_destroy(d->se);
	if (d->fs_ready)
		fs_destroy(&d->fs);
	inode_index_close(d->index);
	cache_free(d->cache);
	disk_cache_close(d->disk);
	for (unsigned i = 0; i < d->n_retired; i++)
		disk_cache_close(d->retired[i]);
	pthread_mutex_destroy(&d->identity_lock);
	if (d->spill_dir >= 0)
		close(d->spill_dir);
	if (d->source_ready)
		objects_source_destroy(&d->source);
	if (d->api_ready)
		sepay_api_destroy(&d->api);
	auth_free(d->auth);
	activity_free(d->activity);
	if (d->http)
		d->http->destroy(d->http);
	if (d->curl_ready)
		curl_global_cleanup();
	secret_free(d->token);
	free(d->cmd.mountpoint);
	options_release(&d->opts);
	fuse_opt_free_args(&d->args);
}

int main(int argc, char *argv[])
{
	/* No core dump, no ptrace by others of the same uid: memory holds the
	 * token (and with -o credentials the client secret). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Months kept in files, connections, FUSE: more open files than the
	 * customary soft limit of 1024, never more than the hard one. */
	struct rlimit files;
	if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
		files.rlim_cur = files.rlim_max < 65536 ? files.rlim_max : 65536;
		setrlimit(RLIMIT_NOFILE, &files);
	}
	struct daemon d = { .args = FUSE_ARGS_INIT(argc, argv), .spill_dir = -1 };
	pthread_mutex_init(&d.identity_lock, NULL);
	int status = read_command_line(&d, argv[0]);
	if (status < 0)
		status = connect_api(&d) || build_tree(&d) || mount_tree(&d) ? 1 : serve(&d);
	daemon_release(&d);
	return status;
}
