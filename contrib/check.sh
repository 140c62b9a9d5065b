#!/bin/sh
# check.sh - build sepayfs and run the whole test suite three times: in a
# plain warnings-as-errors build, under AddressSanitizer + UBSan, and under
# ThreadSanitizer; then the unit tests under valgrind and each libFuzzer
# target for a short while (FUZZ_SECONDS, default 8).  Beside the fuzz
# targets, the Debian package is built, linted, installed into a fresh
# Debian 12 root and purged (the package suite, once, from the plain build).
# Unit tests need nothing; mount tests need /dev/fuse and fusermount3; the
# fresh root needs root and the Debian mirror.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

setup() { # dir, options...
	dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

status=0
passed=0
failed=0
run_suite() { # dir [meson test arguments]
	dir=$1
	shift
	if meson test -C "$dir" --print-errorlogs "$@"; then :; else status=1; fi
	count "$dir/meson-logs/testlog.json"
}
count() { # a meson test log (testlog.json): adds its tests to passed and failed
	counts=$(/usr/bin/python3 - "$1" <<'PY'
import json, re, sys
# A C test program counts as one test; the pytest run counts its cases.
ok = bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    passed = r["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
    out = r.get("stdout") or ""
    cases = re.search(r"(\d+) passed", out)
    if cases:
        failures = sum(int(n) for n in re.findall(r"(\d+) (?:failed|errors?)\b", out))
        ok += int(cases.group(1))
        bad += failures if failures or passed else 1
    elif passed:
        ok += 1
    else:
        bad += 1
print(ok, bad)
PY
)
	passed=$((passed + ${counts% *}))
	failed=$((failed + ${counts#* }))
}

echo "== build (-Werror)"
setup build -Dwerror=true
meson compile -C build
SEPAYFS_LOAD_SECONDS=15 run_suite build --no-suite package

echo "== build with AddressSanitizer and UndefinedBehaviorSanitizer"
# -O1, as the sanitizers' authors advise: a fraction of -O0's run time,
# and nothing they find is lost.
setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug \
	-Doptimization=1
meson compile -C build-asan
SEPAYFS_LOAD_SECONDS=10 run_suite build-asan

echo "== build with ThreadSanitizer: unit tests and the concurrent mount tests"
setup build-tsan -Dwerror=true -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug \
	-Doptimization=1
meson compile -C build-tsan
run_suite build-tsan --suite unit
# The mount tests where threads meet: single-flight, read-ahead, parallel
# pages, retries, token refresh, signals, load, the status reporter.
if SEPAYFS_BIN="$top/build-tsan/src/sepayfs" SEPAYFS_LOGIN_BIN="$top/build-tsan/src/sepayfs-login" \
	SEPAYFS_LOAD_SECONDS=10 /usr/bin/python3 -m pytest -q -p no:cacheprovider \
	tests/mount/test_speed.py tests/mount/test_faults.py tests/mount/test_load.py \
	tests/mount/test_tokens.py tests/mount/test_admin.py tests/mount/test_service.py >build-tsan/mount.log 2>&1; then
	result=passed
else
	result=failed
	status=1
	cat build-tsan/mount.log
fi
tail -n 1 build-tsan/mount.log
counts=$(tail -n 1 build-tsan/mount.log)
n=$(echo "$counts" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p; s/^\([0-9][0-9]*\) passed.*/\1/p' | head -n 1)
passed=$((passed + ${n:-0}))
[ "$result" = passed ] || failed=$((failed + 1))

echo "== unit tests under valgrind"
if meson test -C build --suite unit --print-errorlogs \
	--wrapper 'valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite -q'; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
	status=1
fi

# The package test spends its time fetching and unpacking Debian packages
# more than computing, and the fuzz targets run for a fixed time, one at a
# time: side by side they take little longer than the fuzz targets alone.
# Its own log base, as the plain build's other runs use testlog.
echo "== the Debian package, in the background"
meson test -C build --suite package --no-rebuild --logbase packagelog --verbose \
	>build/package.log 2>&1 &
package_test=$!

echo "== fuzz targets, ${FUZZ_SECONDS:-8} s each"
if "$top/contrib/fuzz.sh" "${FUZZ_SECONDS:-8}"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
	status=1
fi

echo "== the Debian package: built, linted, installed into a fresh Debian 12 and purged"
if wait "$package_test"; then :; else status=1; fi
cat build/package.log
count build/meson-logs/packagelog.json

echo "check: $passed passed, $failed failed"
exit $status
