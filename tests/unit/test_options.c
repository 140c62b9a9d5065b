/* test_options.c - -o options: defaults, ranges, paths, the fstab words. */
#include "check.h"
#include "options.h"

#include <stdlib.h>
#include <unistd.h>

/* Parses argv (NULL-terminated); the options and what is left for libfuse. */
static int parse(struct sepayfs_options *o, struct fuse_args *args, const char *const *argv)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	*args = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	for (int i = 0; i < argc; i++)
		fuse_opt_add_arg(args, argv[i]);
	return options_parse(args, o);
}

static bool left_has(const struct fuse_args *args, const char *word)
{
	for (int i = 0; i < args->argc; i++)
		if (strstr(args->argv[i], word))
			return true;
	return false;
}

#define PARSE(...) parse(&o, &args, (const char *const[]){ "sepayfs", __VA_ARGS__, NULL })

int main(void)
{
	struct sepayfs_options o;
	struct fuse_args args;
	setenv("HOME", "/home/someone", 1);
	unsetenv("XDG_CACHE_HOME");
	unsetenv("CACHE_DIRECTORY");

	/* Defaults. */
	CHECK_INT(PARSE("/mnt"), 0);
	CHECK_INT(o.cache_ttl, 60);
	CHECK(o.max_rate == 2.5);
	CHECK_INT(o.page_size, 0); /* not given: as large as the server grants (sepay.h) */
	CHECK_INT(o.max_conns, 8);
	CHECK_INT(o.timeout, 20);
	CHECK_INT(o.history_ttl, 30 * 86400);
	CHECK_INT(o.settle_days, 7);
	CHECK_INT(o.cache_disk_mb, 320);
	CHECK(o.cache_disk_mb_arg == NULL); /* not given: bounded by the room at mount */
	CHECK_STR(o.base_url, "https://my.sepay.vn/api/v1");
	CHECK_STR(o.cache_dir, "/home/someone/.cache/sepayfs");
	CHECK_STR(o.mountpoint, "/mnt");
	CHECK(!o.has_uid && o.umask == 0);
	options_release(&o);
	fuse_opt_free_args(&args);

	/* Values, at the edges of their ranges; base_url loses its slash. */
	CHECK_INT(PARSE("-o", "cache_ttl=86400,max_rate=0,max_conns=64,settle_days=0,"
			"base_url=http://127.0.0.1:9/api/v1/,cache_dir=none,uid=0,umask=027,"
			"log_level=debug,cache_disk_mb=1024", "/mnt"), 0);
	CHECK(o.cache_disk_mb == 1024 && o.cache_disk_mb_arg != NULL); /* taken as given */
	CHECK_INT(o.cache_ttl, 86400);
	CHECK(o.max_rate == 0);
	CHECK_INT(o.max_conns, 64);
	CHECK_INT(o.settle_days, 0);
	CHECK_STR(o.base_url, "http://127.0.0.1:9/api/v1");
	CHECK(o.cache_dir == NULL);
	CHECK(o.has_uid && o.uid == 0);
	CHECK_INT(o.umask, 027);
	CHECK_INT(o.log_level, 3);
	options_release(&o);
	fuse_opt_free_args(&args);

	/* A pace in hundredths of a request a second. */
	static const struct { const char *arg; double rate; } rates[] = {
		{ "max_rate=2.5", 2.5 }, { "max_rate=0.75", 0.75 }, { "max_rate=3", 3 },
		{ "max_rate=10000.00", 10000 }, { "max_rate=0.0", 0 },
	};
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		CHECK_INT(PARSE("-o", rates[i].arg, "/mnt"), 0);
		if (o.max_rate != rates[i].rate)
			CHECK_STR(rates[i].arg, "(another rate)");
		options_release(&o);
		fuse_opt_free_args(&args);
	}

	/* Out of range, not a number, not a loopback http, not a level: refused. */
	static const char *const bad[] = {
		"cache_ttl=0", "cache_ttl=86401", "max_conns=65", "max_rate=-1", "page_size=1e3",
		"timeout=20s", "cache_disk_mb=", "base_url=http://example.com/api",
		"log_level=loud", "umask=999", "uid=x", "cache_dir=",
		"max_rate=2.555", "max_rate=2.", "max_rate=.5", "max_rate=1e1",
		"max_rate=inf", "max_rate=nan", "max_rate=10000.01", "max_rate= 2", "max_rate=",
		"max_rate=2.5.1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (PARSE("-o", bad[i], "/mnt") == 0)
			CHECK_STR(bad[i], "(refused)");
		options_release(&o);
		fuse_opt_free_args(&args);
	}

	/* Paths are made absolute; allow_other narrows the modes and goes on
	 * to libfuse, as does an option sepayfs does not know; the words of
	 * mount(8), fstab and systemd are dropped; SOURCE MOUNTPOINT. */
	char cwd[4096];
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK_INT(PARSE("-o", "cafile=.,cache_dir=rel,allow_other,max_threads=4,_netdev,nofail,"
			"x-systemd.automount", "sepay", "/mnt"), 0);
	CHECK_STR(o.cafile, cwd);
	char want[4200];
	snprintf(want, sizeof(want), "%s/rel", cwd);
	CHECK_STR(o.cache_dir, want);
	CHECK(o.allow_other && o.umask == 0227);
	CHECK(left_has(&args, "allow_other") && left_has(&args, "max_threads=4"));
	CHECK(!left_has(&args, "_netdev") && !left_has(&args, "nofail") &&
	      !left_has(&args, "x-systemd"));
	CHECK_STR(o.mountpoint, "/mnt");
	options_release(&o);
	fuse_opt_free_args(&args);

	/* Where the cache goes without cache_dir. */
	setenv("XDG_CACHE_HOME", "/xdg", 1);
	CHECK_INT(PARSE("/mnt"), 0);
	CHECK_STR(o.cache_dir, "/xdg/sepayfs");
	options_release(&o);
	fuse_opt_free_args(&args);
	setenv("CACHE_DIRECTORY", "/var/cache/sepayfs", 1);
	CHECK_INT(PARSE("/mnt"), 0);
	CHECK_STR(o.cache_dir, "/var/cache/sepayfs");
	options_release(&o);
	fuse_opt_free_args(&args);
	return check_report("options");
}
