#!/bin/sh
# build-deb.sh - build the Debian package sepayfs_<version>_<arch>.deb.
#
#   contrib/build-deb.sh [BUILDDIR]       (default: build-deb)
#
# A meson build of its own in BUILDDIR (prefix /usr, Debian's compiler flags
# and hardening), staged with "meson install --destdir", stripped, with the
# package's own files from contrib/deb/ (control, maintainer scripts,
# copyright) and a changelog, then packed by dpkg-deb.  Depends: is what
# dpkg-shlibdeps finds the programs link, and fuse3 (fusermount3).  The last
# line printed is the absolute path of the .deb, in BUILDDIR:
#
#   sudo apt-get install ./build-deb/sepayfs_0.1.0_amd64.deb
#
# Needs dpkg-dev besides the build's own needs (contrib/install-deps.sh
# installs both); any user may run it: the files in the package belong to
# root whoever built it.  The version is meson.build's project version.
# Maintainer: is "$DEBFULLNAME <$DEBEMAIL>" when DEBEMAIL is set, else the
# author of the commit built.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
umask 022

case $# in
0) build=$top/build-deb ;;
1) build=$1 ;;
*)
	echo "usage: $0 [BUILDDIR]" >&2
	exit 2
	;;
esac
case $build in
/*) ;;
*) build=$top/$build ;;
esac

# Every date in the package (file times, the changelog's) is the commit's,
# so the same commit builds the same package.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

# Debian's flags, as debhelper passes them: -O2 -g, the stack protector,
# _FORTIFY_SOURCE, format checks, relro and bindnow (hardening=+all), and
# source paths made relative (the build runs in $top).
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cflags="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS)"
ldflags=$(dpkg-buildflags --get LDFLAGS)

# buildtype=plain: the optimization and debug flags are dpkg-buildflags'
# alone.  The system units go where Debian 12's systemd.pc and debhelper
# put them (/lib/systemd/system; systemd reads /usr/lib/systemd/system too),
# the user units to /usr/lib/systemd/user.
reconfigure=
[ ! -f "$build/build.ninja" ] || reconfigure=--reconfigure
meson setup $reconfigure "$build" --prefix=/usr --buildtype=plain \
	-Dc_args="$cflags" -Dc_link_args="$ldflags" \
	-Dsystemdsystemunitdir=/lib/systemd/system \
	-Dsystemduserunitdir=/usr/lib/systemd/user >/dev/null
# The programs alone: the tests and benchmarks are not packaged.
meson compile -C "$build" sepayfs sepayfs-login >/dev/null

stage=$build/stage
rm -rf "$stage"
meson install -C "$build" --no-rebuild --quiet --destdir "$stage"

version=$(meson introspect --projectinfo "$build" |
	/usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
arch=$(dpkg --print-architecture)
if [ -n "${DEBEMAIL:-}" ]; then
	maintainer="${DEBFULLNAME:-$DEBEMAIL} <$DEBEMAIL>"
else
	maintainer=$(git -C "$top" log -1 --format='%an <%ae>' 2>/dev/null) || maintainer=
	if [ -z "$maintainer" ]; then
		echo "build-deb.sh: not a git checkout: set DEBEMAIL (and DEBFULLNAME) for Maintainer:" >&2
		exit 1
	fi
fi

# As dh_strip does: symbols unneeded to run go, and with them the build's
# paths; the build id stays.
for prog in "$stage/usr/bin/sepayfs" "$stage/usr/bin/sepayfs-login"; do
	strip --remove-section=.comment --remove-section=.note --strip-unneeded "$prog"
done

# Manual pages and documentation compressed, as Debian policy wants them
# (-n: no name or time in the gzip header).
find "$stage/usr/share/man" -type f -name '*.[1-9]' -exec gzip -9n {} +
doc=$stage/usr/share/doc/sepayfs
install -d "$doc"
install -m 0644 contrib/deb/copyright "$doc/copyright"
gzip -9n <README.md >"$doc/README.md.gz"
# A native package's changelog: this version, built from the meson build.
{
	printf 'sepayfs (%s) bookworm; urgency=medium\n\n' "$version"
	printf '  * sepayfs %s, packaged from the meson build by contrib/build-deb.sh.\n' "$version"
	printf '    README.md.gz tells what it does and how to mount.\n\n'
	printf ' -- %s  %s\n' "$maintainer" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.gz"

# Modes as Debian wants them, whatever the checkout's were.
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f -exec chmod 0644 {} +
chmod 0755 "$stage/usr/bin/sepayfs" "$stage/usr/bin/sepayfs-login"

# Depends: dpkg-shlibdeps reads the libraries' shlibs and symbols files.  It
# knows the package's root by its DEBIAN folder, and wants a debian/control
# naming the package in the folder it runs in: a throwaway one.
mkdir "$stage/DEBIAN"
shlib=$(mktemp -d)
trap 'rm -rf "$shlib"' EXIT
mkdir "$shlib/debian"
printf 'Source: sepayfs\n\nPackage: sepayfs\nArchitecture: any\n' >"$shlib/debian/control"
shlibs=$(cd "$shlib" && dpkg-shlibdeps -O "$stage/usr/bin/sepayfs" "$stage/usr/bin/sepayfs-login")
depends="${shlibs#shlibs:Depends=}, fuse3"

# Installed-Size: KiB, as dpkg-gencontrol counts it (each file rounded up
# to a KiB, anything else a KiB).
installed_size=$(find "$stage" -mindepth 1 -path "$stage/DEBIAN" -prune -o -printf '%y %s\n' |
	awk '{ n += $1 == "f" ? int(($2 + 1023) / 1024) : 1 } END { print n }')

sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
	-e "s|@INSTALLED_SIZE@|$installed_size|" -e "s|@DEPENDS@|$depends|" \
	contrib/deb/control.in >"$stage/DEBIAN/control"
install -m 0755 contrib/deb/postinst contrib/deb/postrm "$stage/DEBIAN/"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
	LC_ALL=C sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"

deb=$build/sepayfs_${version}_${arch}.deb
rm -f "$deb"
dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
echo "$deb"
