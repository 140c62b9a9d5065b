#!/usr/bin/python3
"""bench_cpu.py - what a page and a request cost, in instructions.

Runs tests/bench/bench_cpu.c under callgrind, which counts only the
function doing the work (--toggle-collect=measured_*): instruction counts
are repeatable where times on a shared 2-core machine are not.
  1. a 14.6 MB page of transactions parsed and freed, against the same
     page with 100 values jansson cannot hold (invalid UTF-8, evenly
     spread) salvaged: salvage.c leaves them out in a constant
     number of passes (target: at most 4 times a clean parse; parsing the
     body again after each one left out cost 62 times);
  2. the same clean page with the daemon's allocators (scrubbing_alloc.c:
     jansson's frees go through a hook that scrubs inside a scope only)
     against libc's (target: at most 2% more);
  3. the same clean page read as the daemon reads a body: every number
     marked with its text first (numtext.c), then parsed (target: at most
     1.3 times the parse alone);
  4. 200 GETs of a page of 20 accounts from the mock API, through the
     libcurl transport, with the daemon's allocators (every block libcurl
     frees is scrubbed) against libc's (target: at most 3% more a request).
It prints the counts and ratios, and exits non-zero when one misses its
target.

    /usr/bin/python3 tests/bench/bench_cpu.py
    meson test -C build --benchmark bench-cpu

Needs valgrind.  BENCH_CPU_BIN is the bench_cpu program (default
build/tests/bench_cpu); the mock runs on 127.0.0.1.  It reuses
tests/bench/bench.py's Mock.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BENCH_CPU = os.environ.get("BENCH_CPU_BIN") or os.path.join(REPO, "build", "tests", "bench_cpu")
REQUESTS = 200

SALVAGE_TARGET = 4.0     # times a clean parse
PAGE_SCRUB_TARGET = 1.02
NUMBERS_TARGET = 1.3
REQUEST_SCRUB_TARGET = 1.03

spec = importlib.util.spec_from_file_location("bench", os.path.join(HERE, "bench.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def instructions(*args):
    """Instructions callgrind counted in measured_*, and what the program printed."""
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                        "--toggle-collect=measured_*", BENCH_CPU] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=1800)
    if r.returncode != 0:
        raise SystemExit("bench: bench_cpu %s failed: %s" % (" ".join(map(str, args)),
                                                              r.stderr[-2000:]))
    refs = re.search(r"I\s+refs:\s+([\d,]+)", r.stderr)
    if not refs:
        raise SystemExit("bench: no instruction count from callgrind: %s" % r.stderr[-2000:])
    return int(refs.group(1).replace(",", "")), r.stdout.strip()


def main():
    if not shutil.which("valgrind"):
        raise SystemExit("bench: valgrind is needed")
    if not os.path.exists(BENCH_CPU):
        raise SystemExit("bench: %s is not built" % BENCH_CPU)
    failed = []
    print("sepayfs CPU benchmark: instructions counted by callgrind")

    clean, what = instructions("page-clean", "plain")
    salvaged, _ = instructions("page-salvage", "plain")
    ratio = salvaged / clean
    print("1. a page (%s) parsed and freed: %.0f M instructions" % (what, clean / 1e6))
    print("   with 100 values jansson cannot hold, salvaged: %.0f M = %.2fx a clean parse "
          "(target <= %.1fx)" % (salvaged / 1e6, ratio, SALVAGE_TARGET))
    if ratio > SALVAGE_TARGET:
        failed.append("salvage")

    scrubbed, _ = instructions("page-clean", "scrub")
    ratio = scrubbed / clean
    print("2. the same page with the daemon's allocators: %.0f M = %+.2f%% (target <= %+.0f%%)"
          % (scrubbed / 1e6, (ratio - 1) * 100, (PAGE_SCRUB_TARGET - 1) * 100))
    if ratio > PAGE_SCRUB_TARGET:
        failed.append("page allocators")

    numbers, _ = instructions("page-numbers", "plain")
    ratio = numbers / clean
    print("3. the same page with its numbers marked first: %.0f M = %.2fx (target <= %.1fx)"
          % (numbers / 1e6, ratio, NUMBERS_TARGET))
    if ratio > NUMBERS_TARGET:
        failed.append("numbers")

    with tempfile.TemporaryDirectory() as tmp:
        mock = bench.Mock(tmp, accounts=20, latency_ms=0)
        try:
            plain, _ = instructions("requests", "plain", mock.url, REQUESTS)
            scrubbed, _ = instructions("requests", "scrub", mock.url, REQUESTS)
        finally:
            mock.stop()
    ratio = scrubbed / plain
    print("4. a GET of 20 accounts through libcurl: %.0f k instructions with libc's allocator, "
          "%.0f k with the daemon's: %+.2f%% (target <= %+.0f%%)"
          % (plain / REQUESTS / 1e3, scrubbed / REQUESTS / 1e3, (ratio - 1) * 100,
             (REQUEST_SCRUB_TARGET - 1) * 100))
    if ratio > REQUEST_SCRUB_TARGET:
        failed.append("request allocators")

    if failed:
        print("missed: %s" % ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
