#!/bin/sh
# install-deps.sh - install what sepayfs needs to build, run and test on
# Debian 12 (bookworm).  Run as root (or with sudo).
set -eu
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root, e.g. sudo $0" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
	ca-certificates gcc libc6-dev pkg-config meson ninja-build \
	fuse3 libfuse3-dev libcurl4-openssl-dev libssl-dev libjansson-dev \
	python3 python3-pytest curl tar grep findutils bsdextrautils rsync restic borgbackup faketime \
	clang libclang-rt-14-dev valgrind mandoc man-db groff-base
