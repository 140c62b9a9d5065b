#!/bin/sh
# demo.sh - build sepayfs, start the bundled mock SePay API on 127.0.0.1
# with sample data, mount it, and show what is in it.
#
#   contrib/demo.sh            mount at ./demo-mnt (default)
#   contrib/demo.sh stop       unmount and stop the mock
#
# Everything stays on this machine: the mock binds to loopback only.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mnt=${SEPAYFS_DEMO_MNT:-$top/demo-mnt}
state=$top/build/demo
python=/usr/bin/python3

stop() {
	if grep -qs " $mnt fuse" /proc/mounts; then
		fusermount3 -u "$mnt" || fusermount3 -u -z "$mnt"
	fi
	if [ -f "$state/mock.pid" ]; then
		kill "$(cat "$state/mock.pid")" 2>/dev/null || true
		rm -f "$state/mock.pid"
	fi
}

if [ "${1:-}" = stop ]; then
	stop
	echo "demo stopped"
	exit 0
fi

cd "$top"
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null
stop
mkdir -p "$state" "$mnt"
rm -f "$state/port"
"$python" tests/mock/sepay_mock.py --accounts 12 --port 0 --port-file "$state/port" \
	--token demo-token >"$state/mock.log" 2>&1 &
echo $! >"$state/mock.pid"
i=0
while [ ! -s "$state/port" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "demo: the mock API did not start; see $state/mock.log" >&2
		exit 1
	fi
	sleep 0.1
done
url="http://127.0.0.1:$(cat "$state/port")/api/v1"
printf '%s\n' demo-token >"$state/token"
chmod 600 "$state/token"
# The bundled mock on loopback has no rate limit: no pace (SePay's is 3 a
# second, the default).
./build/src/sepayfs -o base_url="$url",token_file="$state/token",max_rate=0 "$mnt"

run() {
	echo "\$ $*"
	"$@"
	echo
}
cd "$mnt"
run ls accounts
run cat accounts/19/info.json
run ls -l accounts/19/sub-accounts
first_sub=$(ls accounts/19/sub-accounts | head -n 1)
[ -z "$first_sub" ] || run cat "accounts/19/sub-accounts/$first_sub"
run grep -rl 0071000888888 accounts
# The views: balances, accounts by their number, the company's months.
run ls
run column -s, -t balances.csv
run ls -l by-number
run ls transactions
run cat accounts/19/transactions/totals.csv
echo "Mounted the mock API ($url) at $mnt."
echo "Browse it with ls, cat, grep; stop with: contrib/demo.sh stop"
