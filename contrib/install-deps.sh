#!/bin/sh
# install-deps.sh - install what sepayfs needs on Debian 12 (bookworm).
# Run as root (or with sudo).
#
#   contrib/install-deps.sh           build, package and run sepayfs and the
#                                     demo (contrib/demo.sh)
#   contrib/install-deps.sh --test    that, and what the test suite uses
#                                     (contrib/check.sh): sanitizers, fuzzing,
#                                     valgrind, backup tools, man page linters,
#                                     debootstrap and lintian for the package
set -eu

usage() {
	echo "usage: $0 [--test]" >&2
	exit 2
}

test_set=no
case $# in
0) ;;
1) [ "$1" = --test ] || usage; test_set=yes ;;
*) usage ;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root, e.g. sudo $0${1:+ $1}" >&2
	exit 1
fi

# Build: compiler, meson, the libraries' headers (libsystemd for sd_notify).
# Package: dpkg-dev (dpkg-buildflags, dpkg-shlibdeps for build-deb.sh).
# Run: fuse3 (fusermount3), CA certificates for https, attr (getfattr),
# man-db; the demo: python3 for the bundled mock API, bsdextrautils for
# column.
runtime="ca-certificates gcc libc6-dev pkg-config meson ninja-build
	libfuse3-dev libcurl4-openssl-dev libssl-dev libjansson-dev libsystemd-dev
	dpkg-dev fuse3 attr man-db python3 bsdextrautils"

# Tests: pytest; the tools the mount tests read the tree with (tar, grep,
# find, curl, openssl for the mock's TLS); backups (rsync, restic, borg) and
# libfaketime; clang and its sanitizer runtimes for fuzzing; valgrind;
# mandoc and groff for the man page checks; systemd-analyze for the units;
# debootstrap and lintian for the package test; Samba (smbd, smbclient)
# for the office share test.
tests="python3-pytest tar grep findutils curl openssl
	rsync restic borgbackup faketime
	clang libclang-rt-14-dev valgrind
	mandoc groff-base systemd
	debootstrap debian-archive-keyring lintian
	samba smbclient"

packages=$runtime
[ "$test_set" = no ] || packages="$runtime $tests"

export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086 # one word per package
apt-get install -y --no-install-recommends $packages
