#!/bin/sh
# fuzz.sh - build the libFuzzer targets in tests/fuzz and run each for a while.
#
#   contrib/fuzz.sh [SECONDS]     (default 30 seconds per target)
#
# Each target is built with clang, libFuzzer, AddressSanitizer and UBSan into
# build-fuzz/, and runs on a copy of its seed corpus (tests/fuzz/corpus/<target>/
# stays as committed; what the run learns stays in build-fuzz/corpus/).  Prints
# one line per target; exits non-zero if any target crashed, leaving the
# crashing input (fuzz_<target>-crash-*, -leak-*, -timeout-*, -oom-*) and the
# log (fuzz_<target>.log) in build-fuzz/.  Reproduce with
#   build-fuzz/fuzz_<target> build-fuzz/fuzz_<target>-crash-...
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

seconds=${1:-30}
case $seconds in
'' | *[!0-9]* | 0 | 00*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

out=build-fuzz
mkdir -p "$out"

cc=${CC:-clang}
cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
# As the meson build defines them for every source (and a version string).
cflags="$cflags -std=c11 -D_GNU_SOURCE"
libs="$(pkg-config --cflags --libs jansson libcurl openssl) -lpthread -lm"

# The project sources each target links, besides its own file.  The page
# target needs sepay.c, which reaches into the HTTP and cache code: it links
# the whole core library, as src/meson.build lists it.
sources_of() {
	case $1 in
	page | token)
		sed -n '/^core_sources = files(/,/)/p' src/meson.build |
		sed -n "s/^ *'\([^']*\.c\)',\{0,1\}$/\1/p" ;;
	render) echo "render.c numtext.c strbuf.c scrubbing_alloc.c" ;;
	numtext) echo "numtext.c strbuf.c scrubbing_alloc.c" ;;
	names) echo "names.c" ;;
	retry_after) echo "retry_after.c" ;;
	cache_entry) echo "diskformat.c snapshot.c strbuf.c scrubbing_alloc.c" ;;
	dates) echo "months.c" ;;
	login) echo "login_callback.c login_pkce.c login_text.c strbuf.c scrubbing_alloc.c" ;;
	inode_index) echo "inodeindex.c htab.c log.c" ;;
	csv) echo "csv.c views.c monthcsv.c monthbuild.c months.c render.c numtext.c snapshot.c log.c strbuf.c scrubbing_alloc.c" ;;
	esac
}

targets="page render numtext names retry_after token cache_entry dates login csv inode_index"

for t in $targets; do
	srcs=
	for f in $(sources_of "$t"); do
		srcs="$srcs src/$f"
	done
	# shellcheck disable=SC2086 # word splitting of flag lists is intended
	$cc $cflags '-DSEPAYFS_VERSION="fuzz"' -Isrc -Itests/fuzz -o "$out/fuzz_$t" \
		"tests/fuzz/fuzz_$t.c" $srcs $libs
done

status=0
for t in $targets; do
	name=fuzz_$t
	corpus=$out/corpus/$name
	rm -rf "$corpus"
	mkdir -p "$corpus"
	cp tests/fuzz/corpus/"$name"/* "$corpus"/
	log=$out/$name.log
	if "$out/$name" -max_total_time="$seconds" -max_len=65536 -timeout=30 \
		-artifact_prefix="$out/$name-" "$corpus" >"$log" 2>&1; then
		runs=$(sed -n 's/^Done \([0-9][0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
		echo "$name: ${runs:-?} executions, clean"
	else
		status=1
		artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		echo "$name: FAILED (log: $log${artifact:+, input: $artifact})"
		tail -n 40 "$log" | sed 's/^/    /'
	fi
done
exit $status
