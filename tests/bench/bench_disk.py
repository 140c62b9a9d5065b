#!/usr/bin/python3
"""bench_disk.py - what a month of transactions takes in the disk cache, and
whether the default budget holds two years of a busy account.

-o cache_disk_mb's default is sized for what it protects: a settled month
the cache lets go is fetched again, page by page, against SePay's limit per
address.  Against the project's mock (40 accounts created 24 months ago, no
added latency), one cold `grep -r` through a mount with a disk cache fills
an entry per month; each month entry's size (its file's length) against the
transactions in it gives, by least squares, bytes = fixed + per_tx * n.
From that, for an account with BUSY transactions a month:
  - a month's entry, and two years of them;
  - the budget that still holds those two years after a trim (which goes
    down to 90% of the budget);
and the default `sepayfs --help` gives.  It exits non-zero if the default is
smaller than that budget.

    /usr/bin/python3 tests/bench/bench_disk.py [--busy N] [--accounts N]
    meson test -C build --benchmark

Needs /dev/fuse, fusermount3 and grep.  Everything runs on 127.0.0.1.
"""

import argparse
import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("sepayfs_bench", os.path.join(HERE, "bench.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
_spec = importlib.util.spec_from_file_location("sepayfs_bench_tx",
                                               os.path.join(HERE, "bench_transactions.py"))
bench_tx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_tx)

OBJ_TX_MONTH = 4  # src/objects.h: an entry file's name is "<kind>-<account>-<YYYYMM>"
TRIM_TO = 0.9     # src/diskcache.c TRIM_TO_PERCENT
MIB = 1 << 20


def month_entries(cache, mnt):
    """(transactions, entry bytes) of every month entry in the cache."""
    out = []
    for path in glob.glob(os.path.join(cache, "*", "%d-*" % OBJ_TX_MONTH)):
        _, acc, ym = os.path.basename(path).split("-")
        month = os.path.join(mnt, "accounts", acc, "transactions",
                             "%s-%s.jsonl" % (ym[:4], ym[4:]))
        with open(month, "rb") as f:
            lines = f.read().count(b"\n")
        out.append((lines, os.stat(path).st_size))
    return out


def least_squares(points):
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    slope = (sum((x - mx) * (y - my) for x, y in points)
             / sum((x - mx) ** 2 for x, _ in points))
    return my - slope * mx, slope


def default_budget_mib():
    r = subprocess.run([bench.SEPAYFS, "--help"], capture_output=True, text=True, check=True)
    m = re.search(r"cache_disk_mb=N.*?\(default (\d+)", r.stdout, re.S)
    if not m:
        raise SystemExit("bench: no cache_disk_mb default in sepayfs --help")
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=40)
    ap.add_argument("--busy", type=int, default=30000, help="transactions a month (30000)")
    args = ap.parse_args()
    bench.need_tools()
    workdir = tempfile.mkdtemp(prefix="sepayfs-bench-disk-")
    cache = os.path.join(workdir, "cache")
    os.mkdir(cache, 0o700)
    mock = bench_tx.Mock(workdir, args.accounts, 0, 24)
    try:
        m = bench.Mount(workdir, mock, "disk", ["cache_dir=" + cache])
        try:
            bench.timed(["grep", "-rc", "DH", m.path])
            points = month_entries(cache, m.path)
        finally:
            m.unmount()
    finally:
        mock.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    fixed, per_tx = least_squares(points)
    month = fixed + per_tx * args.busy
    two_years = 24 * month
    needed = two_years / TRIM_TO
    default = default_budget_mib()
    r = dict(months=len(points), transactions=sum(n for n, _ in points), fixed_bytes=fixed,
             bytes_per_tx=per_tx, busy=args.busy, month_mib=month / MIB,
             two_years_mib=two_years / MIB, needed_mib=needed / MIB, default_mib=default)
    print("sepayfs disk benchmark: %d month entries of %d accounts, %d transactions"
          % (r["months"], args.accounts, r["transactions"]))
    print("a month's entry: %.0f bytes + %.1f bytes a transaction" % (fixed, per_tx))
    print("%d transactions a month: %.1f MiB a month, %.0f MiB for two years, %.0f MiB to hold "
          "them after a trim to 90%%; the default is %d MiB"
          % (args.busy, r["month_mib"], r["two_years_mib"], r["needed_mib"], default))
    print("json: " + json.dumps(r, sort_keys=True))
    sys.exit(0 if default * MIB >= needed else 1)


if __name__ == "__main__":
    main()
