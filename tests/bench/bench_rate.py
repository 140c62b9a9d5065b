#!/usr/bin/python3
"""bench_rate.py - a walk of the whole tree under a server-side rate limit.

SePay counts requests per IP address at about 3 a second, so what a walk
costs in requests is what users wait for.  Side by side, in one run, against
the project's mock (40 accounts, 18 months of history each, pages capped at
100, 20 ms a request):

  1. under a rate limit the mock enforces (R requests in any second, 429 with
     Retry-After beyond), cold `grep -r` of the whole tree through sepayfs
     paced at R (as the default 3 fits SePay's 3), beside:
       - a careful script: the list, each account's detail and sub-accounts,
         each account's whole history as one date range in pages of 100;
       - the floor: the same with one range over the whole company;
       - one request per month (how sepayfs asked before ranges);
     counting requests, 429 answers and wall time (and time against
     requests / R);
  2. a cold `cat` of one month: its requests;
  3. a cold `grep -r` under the limit interrupted a third of the way
     (SIGINT): the requests the daemon still makes after it;
  4. on the same data without a limit, cold `grep -r` through sepayfs
     (max_rate=0) against `curl --parallel --parallel-max 8` fetching what a
     request-per-month tree needs (list pages, details, sub-account lists,
     every month), as a ratio of wall times.
Ratios and counts, not absolute times, are the result: these machines are
shared.

    /usr/bin/python3 tests/bench/bench_rate.py [--rate R] [--accounts N]
    meson test -C build --benchmark

Needs /dev/fuse, fusermount3, curl and grep.  Everything runs on 127.0.0.1.
"""

import argparse
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("sepayfs_bench", os.path.join(HERE, "bench.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
_spec = importlib.util.spec_from_file_location("sepayfs_bench_tx",
                                               os.path.join(HERE, "bench_transactions.py"))
bench_tx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_tx)

PAGE = 100
TX_PATH = "/api/v1/transactions"


class Client:
    """A careful script's HTTP client: one request at a time, spaced 1/rate
    apart, waiting out a 429's Retry-After."""

    def __init__(self, mock, rate):
        self.mock, self.gap = mock, 1.0 / rate if rate else 0.0
        self.next = time.monotonic()
        self.requests = self.refused = 0

    def get(self, path, **query):
        while True:
            now = time.monotonic()
            if now < self.next:
                time.sleep(self.next - now)
            self.next = max(now, self.next) + self.gap
            self.requests += 1
            req = urllib.request.Request(
                self.mock.url + path + ("?" + urlencode(query) if query else ""),
                headers={"Authorization": "Bearer " + bench.TOKEN})
            try:
                with bench.NO_PROXY.open(req, timeout=60) as resp:
                    return json.loads(resp.read().decode())
            except urllib.error.HTTPError as exc:
                if exc.code != 429:
                    raise
                self.refused += 1
                self.next = time.monotonic() + float(exc.headers.get("Retry-After") or 1)

    def pages(self, path, **query):
        """Every item of a paginated list (pages of 100 while last_page says)."""
        out, page = [], 1
        while True:
            body = self.get(path, page=page, limit=PAGE, **query)
            out += body["data"]
            if page >= body["meta"]["pagination"]["last_page"]:
                return out
            page += 1


def month_starts(created_at):
    return [f for f, _ in bench_tx.months_since(created_at)]


def next_month(first):
    y, m = int(first[:4]), int(first[5:7])
    return "%04d-%02d-01" % ((y + 1, 1) if m == 12 else (y, m + 1))


def script(mock, rate, kind):
    """A careful script's walk: 'range' (one per account), 'company' (one
    over all), or 'month' (one request per month).  (requests, 429s, s)."""
    c = Client(mock, rate)
    start = time.monotonic()
    accounts = c.pages("/bank-accounts")
    for a in accounts:
        c.get("/bank-accounts/%d" % a["id"])
        c.pages("/bank-accounts/%d/sub-accounts" % a["id"])
    last = next_month(month_starts(accounts[0]["created_at"])[-1])
    if kind == "company":
        first = min(month_starts(a["created_at"])[0] for a in accounts)
        c.pages("/transactions", from_date=first, to_date=last)
    for a in accounts if kind != "company" else []:
        months = month_starts(a["created_at"])
        if kind == "range":
            c.pages("/transactions", bank_account_id=a["id"], from_date=months[0], to_date=last)
        else:
            for m in months:
                c.pages("/transactions", bank_account_id=a["id"], from_date=m,
                        to_date=next_month(m))
    return c.requests, c.refused, time.monotonic() - start


def log_counts(mock):
    log = bench_tx.settled_log(mock, quiet_s=1.5, limit_s=120)
    return len(log), sum(e["status"] == 429 for e in log)


def sepayfs_walk(mock, workdir, name, opts):
    """Cold grep -r of the whole tree: (requests, 429s, seconds)."""
    mock.reset_log()
    m = bench.Mount(workdir, mock, name, opts)
    try:
        t, _ = bench.timed(["grep", "-rc", "DH", m.path])
        requests, refused = log_counts(mock)
    finally:
        m.unmount()
    return requests, refused, t


def stopped_walk(mock, workdir, opts, expected):
    """grep -r interrupted after a third of the requests a walk needs: the
    requests after the interrupt."""
    mock.reset_log()
    m = bench.Mount(workdir, mock, "stopped", opts)
    try:
        grep = subprocess.Popen(["grep", "-rc", "DH", m.path], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while len(mock.requests()) < expected // 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        grep.send_signal(signal.SIGINT)
        grep.wait(60)
        at_stop = len(mock.requests())
        total, _ = log_counts(mock)
    finally:
        m.unmount()
    return at_stop, total - at_stop


def cold_cat(mock, workdir, acc, month):
    mock.reset_log()
    m = bench.Mount(workdir, mock, "cat", ["max_rate=0"])
    try:
        with open(os.path.join(m.path, "accounts", str(acc), "transactions",
                               month + ".jsonl"), "rb") as f:
            f.read()
        log = bench_tx.settled_log(mock)
    finally:
        m.unmount()
    return sum(e["path"] == TX_PATH for e in log), len(log)


def curl_per_month(mock, workdir, accounts):
    """What a request-per-month tree needs, by curl --parallel-max 8."""
    start = time.monotonic()
    listed, pages = bench.curl_list_pages(mock, workdir)
    cfg = os.path.join(workdir, "all.cfg")
    out = os.path.join(workdir, "curl-all")
    os.makedirs(out, exist_ok=True)
    n = pages
    with open(cfg, "w") as f:
        f.write(bench.CURL_AUTH)
        for a in listed:
            urls = ["/bank-accounts/%d" % a["id"],
                    "/bank-accounts/%d/sub-accounts?page=1&limit=%d" % (a["id"], PAGE)]
            urls += ["/transactions?" + urlencode({"bank_account_id": a["id"], "from_date": m,
                                                   "to_date": next_month(m), "page": 1,
                                                   "limit": PAGE})
                     for m in month_starts(a["created_at"])]
            for i, u in enumerate(urls):
                f.write('url = "%s%s"\noutput = "%s/%d-%d.json"\n' % (mock.url, u, out, a["id"], i))
            n += len(urls)
    bench.curl(["--parallel", "--parallel-max", "8", "-K", cfg])
    return time.monotonic() - start, n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=40)
    ap.add_argument("--history-months", type=int, default=18)
    ap.add_argument("--rate", type=int, default=20,
                    help="requests a second the mock allows (20; SePay's is 3)")
    args = ap.parse_args()
    bench.need_tools()
    workdir = tempfile.mkdtemp(prefix="sepayfs-bench-rate-")
    mock = bench_tx.Mock(workdir, args.accounts, bench.LATENCY_MS, args.history_months)
    r = {"rate": args.rate, "accounts": args.accounts, "history_months": args.history_months}
    ok = True
    try:
        accounts = mock.accounts
        r["months"] = sum(len(month_starts(a["created_at"])) for a in accounts)
        # 1. under the limit
        mock.control("POST", "/_mock/config", {"rate_per_s": args.rate})
        for kind in ("range", "company", "month"):
            mock.reset_log()
            r["script_" + kind] = dict(zip(("requests", "refused", "seconds"),
                                           script(mock, args.rate, kind)))
        r["sepayfs"] = dict(zip(("requests", "refused", "seconds"),
                                sepayfs_walk(mock, workdir, "paced", ["max_rate=%d" % args.rate])))
        s = r["sepayfs"]
        s["ideal_seconds"] = s["requests"] / args.rate
        s["time_ratio"] = s["seconds"] / s["ideal_seconds"]
        s["refused_share"] = s["refused"] / s["requests"]
        ok &= s["requests"] <= r["script_range"]["requests"]
        ok &= s["refused_share"] <= 0.05 and s["time_ratio"] <= 1.1
        # 3. a walk stopped a third of the way
        r["stopped"] = dict(zip(("at_stop", "after_stop"),
                                stopped_walk(mock, workdir, ["max_rate=%d" % args.rate],
                                             s["requests"])))
        ok &= r["stopped"]["after_stop"] <= 40
        mock.control("POST", "/_mock/config", {"rate_per_s": 0})
        # 2. one month, cold
        acc = accounts[len(accounts) // 2]
        month = month_starts(acc["created_at"])[-2][:7]
        r["cat"] = dict(zip(("month_requests", "requests"), cold_cat(mock, workdir, acc["id"],
                                                                       month)))
        ok &= r["cat"]["month_requests"] == 1
        # 4. a fast server, no limit
        mock.reset_log()
        curl_s, curl_n = curl_per_month(mock, workdir, accounts)
        fast = sepayfs_walk(mock, workdir, "fast", ["max_rate=0"])
        r["fast"] = dict(curl_seconds=curl_s, curl_requests=curl_n, sepayfs_requests=fast[0],
                         sepayfs_seconds=fast[2], ratio=fast[2] / curl_s)
        ok &= r["fast"]["ratio"] <= 0.6
    finally:
        mock.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    report(r)
    sys.exit(0 if ok else 1)


def report(r):
    R = r["rate"]
    print("sepayfs rate-limit benchmark: %d accounts, %d months of history each (%d month "
          "files), pages of %d, %d ms a request, the mock allowing %d requests a second"
          % (r["accounts"], r["history_months"] + 1, r["months"], PAGE, bench.LATENCY_MS, R))
    print("cold walk of the whole tree under the limit:")
    print("   %-44s %8s %6s %9s %12s" % ("", "requests", "429s", "seconds", "requests/R"))
    rows = [("a careful script, a range per account", r["script_range"]),
            ("the floor: one range for the company", r["script_company"]),
            ("a request per month", r["script_month"]),
            ("sepayfs grep -r, max_rate=%d" % R, r["sepayfs"])]
    for name, x in rows:
        print("   %-44s %8d %6d %9.2f %12.2f"
              % (name, x["requests"], x["refused"], x["seconds"], x["requests"] / R))
    s = r["sepayfs"]
    print("   sepayfs: %.1f%% of answers 429, wall time %.2fx requests/R"
          % (100 * s["refused_share"], s["time_ratio"]))
    print("cold cat of one month: %d month request(s), %d in all (the mount's access check "
          "included)" % (r["cat"]["month_requests"], r["cat"]["requests"]))
    print("grep -r interrupted after %d requests: %d more after the interrupt"
          % (r["stopped"]["at_stop"], r["stopped"]["after_stop"]))
    f = r["fast"]
    print("no limit, 20 ms a request: curl --parallel-max 8, a request per month: %.2f s, %d "
          "requests; sepayfs grep -r: %.2f s, %d requests: %.2fx curl"
          % (f["curl_seconds"], f["curl_requests"], f["sepayfs_seconds"], f["sepayfs_requests"],
             f["ratio"]))
    print("json: " + json.dumps(r, sort_keys=True))


if __name__ == "__main__":
    main()
