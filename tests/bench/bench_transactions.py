#!/usr/bin/python3
"""bench_transactions.py - a cold grep through every month of transactions:
sepayfs against the best a careful admin scripts by hand with curl.

Against the project's mock API (50 accounts, each created exactly 24 months
ago so each has 25 monthly files, pages capped at 100, 20 ms added to every
request), side by side in one run:
  - curl by hand: the account list pages (page 1, then the others in
    parallel), then every month of every account from one config file with
    `curl --parallel --parallel-max 8`, then grep over the files;
  - sepayfs, a fresh mount each: `grep -rlF <reference number>
    MOUNT/accounts/*/transactions`, at max_conns 8 (the default) and 16.
It prints wall times, the ratio to curl and the request counts, and exits
non-zero if a mount asks for more (or fewer) than the list pages and one
range per account (in pages of 100), or grep does not find exactly the one
file.  curl asks a request per month, as sepayfs did before ranges.
Ratios, not absolute times, are the result: these machines are shared.

    /usr/bin/python3 tests/bench/bench_transactions.py [--accounts N] [--history-months M]

Needs /dev/fuse, fusermount3, curl and grep.  Everything runs on 127.0.0.1.
It reuses tests/bench/bench.py's Mock, Mount and timed().
"""

import argparse
import calendar
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("sepayfs_bench", os.path.join(HERE, "bench.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

PAGE = bench.PAGE
LATENCY_MS = bench.LATENCY_MS
TX_PATH = "/api/v1/transactions"
LIST_PATH = "/api/v1/bank-accounts"
VN_OFFSET_S = 7 * 3600


class Mock(bench.Mock):
    """bench.py's mock, with every account created history_months ago."""

    def __init__(self, workdir, accounts, latency_ms, history_months):
        super().__init__(workdir, accounts, latency_ms,
                         ["--history-months", str(history_months)])
        # Build every account and its transactions now (the mock makes them
        # on first use), so the runs measure sepayfs and curl.
        self.accounts = self.control("GET", "/_mock/data")["accounts"]
        for a in self.accounts:
            self.transactions(a["id"])

    def transactions(self, acc_id, from_date=None, to_date=None):
        q = {"bank_account_id": acc_id}
        if from_date:
            q.update(from_date=from_date, to_date=to_date)
        return self.control("GET", "/_mock/transactions?" + urlencode(q))["data"]


def months_since(created_at):
    """(from_date, to_date) of every month from created_at's to now (UTC+7)."""
    now = time.gmtime(time.time() + VN_OFFSET_S)
    year, month = int(created_at[0:4]), int(created_at[5:7])
    out = []
    while (year, month) <= (now.tm_year, now.tm_mon):
        out.append(("%04d-%02d-01" % (year, month),
                    "%04d-%02d-%02d" % (year, month, calendar.monthrange(year, month)[1])))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def curl_by_hand(mock, workdir, ref):
    """The list pages (page 1, then the rest in parallel), then every month
    of every account in parallel from one config file, then grep."""
    start = time.monotonic()
    accounts, last = bench.curl_list_pages(mock, workdir)
    out_dir = os.path.join(workdir, "curl-months")
    cfg = os.path.join(workdir, "months.cfg")
    requests = last
    with open(cfg, "w") as f:
        f.write(bench.CURL_AUTH)
        for a in accounts:
            acc_dir = os.path.join(out_dir, str(a["id"]))
            os.makedirs(acc_dir, exist_ok=True)
            for from_date, to_date in months_since(a["created_at"]):
                f.write('url = "%s/transactions?%s"\noutput = "%s/%s.json"\n'
                        % (mock.url, urlencode({"bank_account_id": a["id"],
                                                "from_date": from_date, "to_date": to_date,
                                                "page": 1, "limit": PAGE}),
                           acc_dir, from_date[:7]))
                requests += 1
    bench.curl(["--parallel", "--parallel-max", "8", "-K", cfg])
    found = subprocess.run(["grep", "-rlF", ref, out_dir], stdout=subprocess.PIPE).stdout
    return time.monotonic() - start, requests, found.decode().splitlines()


def settled_log(mock, quiet_s=0.5, limit_s=30):
    """The request log once nothing new has arrived for quiet_s (read-ahead
    may still be running when grep exits)."""
    deadline = time.monotonic() + limit_s
    log = mock.requests()
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        again = mock.requests()
        if len(again) == len(log) and all(e["status"] for e in again):
            return again
        log = again
    return log


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=50)
    ap.add_argument("--history-months", type=int, default=24,
                    help="every account created this many months ago (24)")
    args = ap.parse_args()
    bench.need_tools()
    workdir = tempfile.mkdtemp(prefix="sepayfs-bench-tx-")
    mock = Mock(workdir, args.accounts, LATENCY_MS, args.history_months)
    results = {}
    ok = True
    try:
        accounts = mock.accounts
        months = sum(len(months_since(a["created_at"])) for a in accounts)
        pages = max(1, -(-len(accounts) // PAGE))
        minimum = pages + months
        # sepayfs asks each account's history as one range, in pages.
        ranges = sum(max(1, -(-len(mock.transactions(a["id"])) // PAGE)) for a in accounts)
        # The needle: a reference number from the middle of the data set.
        acc = accounts[len(accounts) // 2]
        spans = months_since(acc["created_at"])
        ref = target = None
        for from_date, to_date in spans[len(spans) // 2:] + spans[:len(spans) // 2]:
            items = mock.transactions(acc["id"], from_date, to_date)
            if items:
                ref = items[len(items) // 2]["reference_number"]
                target = os.path.join("accounts", str(acc["id"]), "transactions",
                                      from_date[:7] + ".jsonl")
                break
        if ref is None:
            raise SystemExit("bench: account %d has no transactions" % acc["id"])
        results["setup"] = dict(accounts=len(accounts), months=months, list_pages=pages,
                                minimum_requests=minimum, range_requests=pages + ranges,
                                reference=ref, file=target)

        mock.reset_log()
        seconds, requests, found = curl_by_hand(mock, workdir, ref)
        logged = len(mock.requests())
        results["curl"] = dict(seconds=seconds, requests=requests, logged=logged,
                               found=len(found))
        ok &= logged == minimum and len(found) == 1

        for conns in (8, 16):
            mock.reset_log()
            m = bench.Mount(workdir, mock, "tx%d" % conns,
                            ["max_conns=%d" % conns, "max_rate=0"])
            try:
                t, out = bench.timed(["sh", "-c",
                                      'exec grep -rlF -- "$0" "$1"/accounts/*/transactions',
                                      ref, m.path])
                log = settled_log(mock)
            finally:
                m.unmount()
            lines = out.decode().splitlines()
            kinds = dict(lists=sum(e["path"] == LIST_PATH for e in log),
                         months=sum(e["path"] == TX_PATH for e in log),
                         details=sum(e["path"].startswith(LIST_PATH + "/")
                                     and not e["path"].endswith("/sub-accounts") for e in log),
                         sub_lists=sum(e["path"].endswith("/sub-accounts") for e in log))
            kinds["other"] = len(log) - kinds["lists"] - kinds["months"]
            right = lines == [os.path.join(m.path, target)]
            results["grep%d" % conns] = dict(seconds=t, requests=len(log), found=len(lines),
                                             right_file=right, ratio=t / seconds, **kinds)
            ok &= len(log) == pages + ranges and right
            err = os.path.join(workdir, "tx%d.stderr" % conns)
            if os.path.getsize(err):
                print("sepayfs max_conns=%d stderr:\n%s" % (conns, open(err).read()[-2000:]))
    finally:
        mock.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    report(results, args.history_months)
    sys.exit(0 if ok else 1)


def report(r, history_months):
    s, curl_r = r["setup"], r["curl"]
    rt = LATENCY_MS / 1000.0
    print("sepayfs transactions benchmark: %d accounts created %d months ago, %d month files, "
          "pages of %d, %d ms a request"
          % (s["accounts"], history_months, s["months"], PAGE, LATENCY_MS))
    print("requests: a month each, %d list page(s) + %d months = %d; a range each, %d; "
          "needle %s in %s" % (s["list_pages"], s["months"], s["minimum_requests"],
                               s["range_requests"], s["reference"], s["file"]))
    print("cold grep -r through every month:")
    print("   curl by hand (parallel-max 8)  %.3f s = %.0f round trips, %d requests, found %d"
          % (curl_r["seconds"], curl_r["seconds"] / rt, curl_r["logged"], curl_r["found"]))
    for conns in (8, 16):
        g = r["grep%d" % conns]
        print("   sepayfs max_conns=%-2d %s %.3f s = %.0f round trips, %d requests (list %d, "
              "months %d, other %d), found %d%s: %.2fx curl"
              % (conns, " (default)" if conns == 8 else "          ", g["seconds"],
                 g["seconds"] / rt, g["requests"], g["lists"], g["months"], g["other"],
                 g["found"], "" if g["right_file"] else " (NOT the right file)", g["ratio"]))
        if g["other"]:
            print("      beyond the minimum: %d account details, %d sub-account lists, %d more"
                  % (g["details"], g["sub_lists"], g["other"] - g["details"] - g["sub_lists"]))
    print("   requests in flight on average (requests x %d ms / wall time): curl %.1f, "
          "sepayfs %.1f and %.1f"
          % (LATENCY_MS, curl_r["logged"] * rt / curl_r["seconds"],
             r["grep8"]["requests"] * rt / r["grep8"]["seconds"],
             r["grep16"]["requests"] * rt / r["grep16"]["seconds"]))
    print("json: " + json.dumps(r, sort_keys=True))


if __name__ == "__main__":
    main()
