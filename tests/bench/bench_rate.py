#!/usr/bin/python3
"""bench_rate.py - a walk of the whole tree under a server-side rate limit.

SePay counts requests per IP address at about 3 a second, so what a walk
costs in requests is what users wait for.  Side by side, in one run, against
the project's mock (40 accounts, 18 months of history each, pages capped at
100, 20 ms a request):

  1. under a rate limit the mock enforces (R requests in any second, 429 with
     Retry-After beyond), cold `grep -r` of the whole tree through sepayfs
     paced at P, a little under R as the default 2.5 is under SePay's 3,
     beside, paced alike:
       - a careful script: the list, each account's detail and sub-accounts,
         each account's whole history as one date range in pages of 100;
       - the floor: the same with one range over the whole company;
       - one request per month (how sepayfs asked before ranges);
     counting requests, 429 answers and wall time (and time against
     requests / P);
  2. a cold `cat` of one month: its requests;
  3. a cold `grep -r` under the limit interrupted a third of the way
     (SIGINT): the requests the daemon still makes after it;
  4. on the same data without a limit, cold `grep -r` through sepayfs
     (max_rate=0) against `curl --parallel --parallel-max 8` fetching what a
     request-per-month tree needs (list pages, details, sub-account lists,
     every month), as a ratio of wall times.
  5. under SePay's own limit, 3 requests a second, counted by the mock in
     either way a server may count (rate_window "sliding": any second;
     "fixed": the seconds of the clock), with 0-100 ms of network jitter
     on top of the 20 ms, cold `grep -r` of the whole tree
     at the old default pace (max_rate=3, equal to the limit) and at the
     default (no max_rate given): requests, 429 answers and their share,
     and wall time against what the answers need at the limit (answers /
     3).  The default must draw under 2% of 429s in both windows.
Ratios and counts, not absolute times, are the result: these machines are
shared.

    /usr/bin/python3 tests/bench/bench_rate.py [--rate R] [--accounts N]
        [--window-runs N] [--windows-only]
    meson test -C build --benchmark

Needs /dev/fuse, fusermount3, curl and grep.  Everything runs on 127.0.0.1.
"""

import argparse
import importlib.util
import json
import math
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


# Walks under a limit count their requests from a mark in the mock's log,
# never after /_mock/reset: that puts every knob back, the limit too (and
# the data set is made again, on first use, while the walk runs).
def log_mark(mock):
    return len(mock.requests())


def log_counts(mock, mark):
    log = bench_tx.settled_log(mock, quiet_s=1.5, limit_s=120)[mark:]
    return len(log), sum(e["status"] == 429 for e in log)


def sepayfs_walk(mock, workdir, name, opts, default_pace=False):
    """Cold grep -r of the whole tree: (requests, 429s, seconds)."""
    mark = log_mark(mock)
    m = bench.Mount(workdir, mock, name, opts, default_pace=default_pace)
    try:
        t, _ = bench.timed(["grep", "-rc", "DH", m.path])
        requests, refused = log_counts(mock, mark)
    finally:
        m.unmount()
    return requests, refused, t


def stopped_walk(mock, workdir, opts, expected):
    """grep -r interrupted after a third of the requests a walk needs: the
    requests after the interrupt."""
    mark = log_mark(mock)
    m = bench.Mount(workdir, mock, "stopped", opts)
    try:
        grep = subprocess.Popen(["grep", "-rc", "DH", m.path], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while log_mark(mock) - mark < expected // 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        grep.send_signal(signal.SIGINT)
        grep.wait(60)
        at_stop = log_mark(mock) - mark
        total, _ = log_counts(mock, mark)
    finally:
        m.unmount()
    return at_stop, total - at_stop


def cold_cat(mock, workdir, acc, month):
    mark = log_mark(mock)
    m = bench.Mount(workdir, mock, "cat", ["max_rate=0"])
    try:
        with open(os.path.join(m.path, "accounts", str(acc), "transactions",
                               month + ".jsonl"), "rb") as f:
            f.read()
        log = bench_tx.settled_log(mock)[mark:]
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


# The default pace's share of SePay's limit (2.5 of 3): sections 1 and 3
# pace at this share of the mock's limit.
PACE_SHARE = 2.5 / 3

# SePay's limit per IP address, and the paces measured against it: the old
# default, equal to it, and the default (no max_rate given).
SEPAY_RATE = 3
# What the network and SePay's queue add to each request on top of the 20 ms,
# 0-100 ms at random: a server counting in the clock's seconds refuses a
# pace equal to its limit when a request is late enough to share a second
# with the three after it, which loopback alone never is.
WINDOW_JITTER_MS = 100
PACES = (("max_rate=3 (the old default)", ["max_rate=3"], False),
         ("the default pace", [], True))


def window_walks(mock, workdir, runs):
    """Section 5: each pace against each way of counting SePay's limit,
    runs times; a row per window and pace, its runs summed."""
    rows = []
    for window in ("sliding", "fixed"):
        mock.control("POST", "/_mock/config", {"rate_per_s": SEPAY_RATE, "rate_window": window,
                                                "latency_jitter_ms": WINDOW_JITTER_MS})
        for label, opts, default in PACES:
            row = dict(window=window, pace=label, requests=0, refused=0, seconds=0.0,
                       runs=runs)
            for run in range(runs):
                time.sleep(1.1)  # the last walk's requests out of every window
                n, refused, t = sepayfs_walk(mock, workdir, "window-%s-%d" % (window, run),
                                             opts, default_pace=default)
                row["requests"] += n
                row["refused"] += refused
                row["seconds"] += t
            answered = row["requests"] - row["refused"]
            row["refused_share"] = row["refused"] / row["requests"]
            row["floor_seconds"] = answered / SEPAY_RATE
            row["time_ratio"] = row["seconds"] / row["floor_seconds"]
            rows.append(row)
    mock.control("POST", "/_mock/config", {"rate_per_s": 0, "rate_window": "sliding",
                                            "latency_jitter_ms": 0})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=40)
    ap.add_argument("--history-months", type=int, default=18)
    ap.add_argument("--rate", type=int, default=20,
                    help="requests a second the mock allows in sections 1 and 3 (20; "
                         "SePay's is 3, section 5)")
    ap.add_argument("--window-runs", type=int, default=2,
                    help="walks of each pace in each window under SePay's limit (2)")
    ap.add_argument("--windows-only", action="store_true",
                    help="only the walks under SePay's limit (section 5)")
    args = ap.parse_args()
    bench.need_tools()
    workdir = tempfile.mkdtemp(prefix="sepayfs-bench-rate-")
    mock = bench_tx.Mock(workdir, args.accounts, bench.LATENCY_MS, args.history_months)
    r = {"rate": args.rate, "accounts": args.accounts, "history_months": args.history_months}
    ok = True
    try:
        r["months"] = sum(len(month_starts(a["created_at"])) for a in mock.accounts)
        if not args.windows_only:
            ok &= sections_1_to_4(mock, workdir, args.rate, r)
        # 5. under SePay's limit, each way of counting it
        r["windows"] = window_walks(mock, workdir, args.window_runs)
        ok &= all(w["refused_share"] < 0.02 for w in r["windows"] if w["pace"] == PACES[1][0])
    finally:
        mock.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    report(r)
    sys.exit(0 if ok else 1)


def sections_1_to_4(mock, workdir, rate, r):
    """Under the mock's limit of rate a second, and with no limit: whether
    each met its target."""
    ok = True
    accounts = mock.accounts
    # 1. under the limit, paced a little under it
    pace = math.floor(rate * PACE_SHARE * 100) / 100
    r["pace"] = pace
    mock.control("POST", "/_mock/config", {"rate_per_s": rate})
    for kind in ("range", "company", "month"):
        r["script_" + kind] = dict(zip(("requests", "refused", "seconds"),
                                       script(mock, pace, kind)))
    r["sepayfs"] = dict(zip(("requests", "refused", "seconds"),
                            sepayfs_walk(mock, workdir, "paced", ["max_rate=%.2f" % pace])))
    s = r["sepayfs"]
    s["ideal_seconds"] = s["requests"] / pace
    s["time_ratio"] = s["seconds"] / s["ideal_seconds"]
    s["refused_share"] = s["refused"] / s["requests"]
    ok &= s["requests"] <= r["script_range"]["requests"]
    ok &= s["refused_share"] <= 0.05 and s["time_ratio"] <= 1.1
    # 3. a walk stopped a third of the way
    r["stopped"] = dict(zip(("at_stop", "after_stop"),
                            stopped_walk(mock, workdir, ["max_rate=%.2f" % pace],
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
    curl_s, curl_n = curl_per_month(mock, workdir, accounts)
    fast = sepayfs_walk(mock, workdir, "fast", ["max_rate=0"])
    r["fast"] = dict(curl_seconds=curl_s, curl_requests=curl_n, sepayfs_requests=fast[0],
                     sepayfs_seconds=fast[2], ratio=fast[2] / curl_s)
    ok &= r["fast"]["ratio"] <= 0.6
    return ok


def report_windows(r):
    print("under SePay's limit, %d a second, cold grep -r of the whole tree (%d walk(s) each, "
          "summed):" % (SEPAY_RATE, r["windows"][0]["runs"]))
    print("   %-8s %-30s %8s %5s %6s %8s %9s %6s"
          % ("window", "pace", "requests", "429s", "share", "seconds", "answers/%d" % SEPAY_RATE,
             "ratio"))
    for w in r["windows"]:
        print("   %-8s %-30s %8d %5d %5.1f%% %8.1f %9.1f %5.2fx"
              % (w["window"], w["pace"], w["requests"], w["refused"], 100 * w["refused_share"],
                 w["seconds"], w["floor_seconds"], w["time_ratio"]))


def report(r):
    if "sepayfs" not in r:  # --windows-only
        report_windows(r)
        print("json: " + json.dumps(r, sort_keys=True))
        return
    R, P = r["rate"], r["pace"]
    print("sepayfs rate-limit benchmark: %d accounts, %d months of history each (%d month "
          "files), pages of %d, %d ms a request, the mock allowing %d requests a second"
          % (r["accounts"], r["history_months"] + 1, r["months"], PAGE, bench.LATENCY_MS, R))
    print("cold walk of the whole tree under the limit, each paced at P = %.2f a second:" % P)
    print("   %-44s %8s %6s %9s %12s" % ("", "requests", "429s", "seconds", "requests/P"))
    rows = [("a careful script, a range per account", r["script_range"]),
            ("the floor: one range for the company", r["script_company"]),
            ("a request per month", r["script_month"]),
            ("sepayfs grep -r, max_rate=%.2f" % P, r["sepayfs"])]
    for name, x in rows:
        print("   %-44s %8d %6d %9.2f %12.2f"
              % (name, x["requests"], x["refused"], x["seconds"], x["requests"] / P))
    s = r["sepayfs"]
    print("   sepayfs: %.1f%% of answers 429, wall time %.2fx requests/P"
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
    report_windows(r)
    print("json: " + json.dumps(r, sort_keys=True))


if __name__ == "__main__":
    main()
