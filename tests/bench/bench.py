#!/usr/bin/python3
"""bench.py - sepayfs against the best a careful admin scripts by hand.

Runs, side by side in one run, against the project's mock API (1,000
accounts with 0-4 sub-accounts, pages capped at 100, 20 ms added to every
request):
  1. cold `ls -l /accounts`: wall time, round trips, requests;
  2. cold `grep -r <account number>` over the mount's bank-account files
     (--exclude-dir=transactions: bench_transactions.py measures those) vs.
     the same data fetched by `curl --parallel --parallel-max 8` (list pages,
     then every detail and sub-account list) as a ratio, at max_conns 8 (the
     default) and 16;
  3. warm `grep -r` over the mount vs. over a copy on local disk, as a ratio;
  4. the daemon's RSS with everything cached, and at 100,000 accounts the
     listing time and RSS per account.
Ratios, not absolute times, are the result: these machines are shared.

    /usr/bin/python3 tests/bench/bench.py [--quick]
    meson test -C build --benchmark

Needs /dev/fuse, fusermount3, curl and grep.  Everything runs on 127.0.0.1.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEPAYFS = os.environ.get("SEPAYFS_BIN") or os.path.join(REPO, "build", "src", "sepayfs")
MOCK = os.environ.get("SEPAY_MOCK") or os.path.join(REPO, "tests", "mock", "sepay_mock.py")
PYTHON = "/usr/bin/python3"
TOKEN = "bench-token"
LATENCY_MS = 20
PAGE = 100
NUMBER = "0071000888888"  # account 19's number: grep finds one file
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Mock:
    def __init__(self, workdir, accounts, latency_ms, extra_args=(), env=None):
        port_file = os.path.join(workdir, "mock.%d.port" % accounts)
        if os.path.exists(port_file):
            os.unlink(port_file)
        full_env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [PYTHON, MOCK, "--port", "0", "--port-file", port_file, "--accounts", str(accounts),
             "--max-sub-accounts", "4", "--max-page-size", str(PAGE), "--token", TOKEN,
             "--latency-ms", str(latency_ms)] + list(extra_args),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=full_env)
        deadline = time.monotonic() + 60
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench: the mock API did not start")
            time.sleep(0.05)
        self.root = "http://127.0.0.1:%s" % open(port_file).read().strip()
        self.url = self.root + "/api/v1"
        # The mock builds accounts on first use; build them all now, so the
        # runs measure sepayfs and curl, not the mock warming up.
        self.control("GET", "/_mock/data")

    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.root + path, data=data, method=method)
        with NO_PROXY.open(req, timeout=120) as resp:
            return json.loads(resp.read().decode())

    def requests(self):
        return self.control("GET", "/_mock/requests")["log"]

    def reset_log(self):
        self.control("POST", "/_mock/reset")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Mount:
    def __init__(self, workdir, mock, name, opts=(), default_pace=False, env=None, binary=None):
        self.path = os.path.join(workdir, name)
        os.makedirs(self.path, exist_ok=True)
        options = ["base_url=" + mock.url] + list(opts)
        if not any(o.startswith("cache_dir=") for o in options):
            # Each mount starts cold, as the figures say: no disk cache
            # left by an earlier mount of this benchmark.
            options.append("cache_dir=none")
        if not default_pace and not any(o.startswith("max_rate=") for o in options):
            # The mock on loopback has no limit unless one is set: no pace
            # (bench_rate.py measures the pace against a limit, and the
            # default pace with default_pace).
            options.append("max_rate=0")
        full_env = dict(os.environ, SEPAY_ACCESS_TOKEN=TOKEN)
        full_env.update(env or {})
        self.stderr = open(os.path.join(workdir, name + ".stderr"), "wb")
        self.proc = subprocess.Popen([binary or SEPAYFS, "-f", "-o", ",".join(options),
                                      self.path],
                                     stdin=subprocess.DEVNULL, stderr=self.stderr, env=full_env)
        deadline = time.monotonic() + 30
        while not os.path.ismount(self.path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench: sepayfs did not mount; see %s.stderr" % name)
            time.sleep(0.01)

    def rss_kib(self, field="VmRSS"):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def peak_rss_kib(self):
        """The most memory the daemon has held at once (the kernel's high
        water mark of its resident set)."""
        return self.rss_kib("VmHWM")

    def unmount(self):
        subprocess.run(["fusermount3", "-u", self.path], check=False)
        self.proc.wait(30)
        self.stderr.close()


def need_tools():
    """The tools every benchmark runs, or an exit saying which is missing."""
    for tool in ("curl", "grep", "fusermount3"):
        if not shutil.which(tool):
            raise SystemExit("bench: %s is needed" % tool)


def timed(cmd, **kw):
    start = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    elapsed = time.monotonic() - start
    if r.returncode not in (0, 1):  # grep: 1 is "no match"
        raise SystemExit("bench: %s failed: %s" % (cmd[0], r.stderr.decode()[-500:]))
    return elapsed, r.stdout


def no_proxy_env():
    return {k: v for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}


def curl(args, **kw):
    return subprocess.run(["curl", "-sf", "--no-progress-meter", "--noproxy", "*"] + args,
                          check=True, env=no_proxy_env(), **kw)


# The start of every curl config file: the bearer token.
CURL_AUTH = 'header = "Authorization: Bearer %s"\n' % TOKEN


def curl_list_pages(mock, workdir):
    """Every listed account as curl by hand gets them: page 1, then the other
    pages in parallel from one config file.  Returns (accounts, pages)."""
    first = curl(["-H", "Authorization: Bearer " + TOKEN,
                  "%s/bank-accounts?page=1&limit=%d" % (mock.url, PAGE)],
                 stdout=subprocess.PIPE).stdout
    page1 = json.loads(first)
    last = page1["meta"]["pagination"]["last_page"]
    accounts = list(page1["data"])
    if last > 1:
        pages_dir = os.path.join(workdir, "curl-pages")
        os.makedirs(pages_dir, exist_ok=True)
        cfg = os.path.join(workdir, "pages.cfg")
        with open(cfg, "w") as f:
            f.write(CURL_AUTH)
            for p in range(2, last + 1):
                f.write('url = "%s/bank-accounts?page=%d&limit=%d"\noutput = "%s/%d.json"\n'
                        % (mock.url, p, PAGE, pages_dir, p))
        curl(["--parallel", "--parallel-max", "8", "-K", cfg])
        for p in range(2, last + 1):
            with open(os.path.join(pages_dir, "%d.json" % p)) as f:
                accounts += json.load(f)["data"]
    return accounts, last


def curl_by_hand(mock, workdir):
    """The best a careful admin scripts with curl: page 1, the other pages in
    parallel, then every detail and sub-account list in parallel."""
    start = time.monotonic()
    accounts, last = curl_list_pages(mock, workdir)
    pages_seconds = time.monotonic() - start
    ids = [a["id"] for a in accounts]
    out_dir = os.path.join(workdir, "curl-out")
    os.makedirs(out_dir, exist_ok=True)
    cfg = os.path.join(workdir, "details.cfg")
    with open(cfg, "w") as f:
        f.write(CURL_AUTH)
        for i in ids:
            f.write('url = "%s/bank-accounts/%d"\noutput = "%s/%d.json"\n' % (mock.url, i, out_dir, i))
            f.write('url = "%s/bank-accounts/%d/sub-accounts?page=1&limit=%d"\noutput = "%s/%d.subs.json"\n'
                    % (mock.url, i, PAGE, out_dir, i))
    curl(["--parallel", "--parallel-max", "8", "-K", cfg])
    found = subprocess.run(["grep", "-rl", NUMBER, out_dir], stdout=subprocess.PIPE).stdout
    return (time.monotonic() - start, pages_seconds, 1 + (last - 1) + 2 * len(ids),
            found.count(b"\n"))


def median_time(cmd, runs=5):
    return statistics.median(timed(cmd)[0] for _ in range(runs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--big", type=int, default=100000, help="accounts for the listing-scale run")
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = ap.parse_args()
    if args.quick:
        args.accounts, args.big = 200, 5000
    need_tools()
    n = args.accounts
    rt = LATENCY_MS / 1000.0
    results = {}
    workdir = tempfile.mkdtemp(prefix="sepayfs-bench-")
    mock = Mock(workdir, n, LATENCY_MS)
    try:
        # 1. cold ls -l and cold plain ls (the listing alone), each the
        #    median of three fresh mounts, alternating; requests are counted
        #    from the mount on (its access check is page 1 of the listing).
        cold = {"ls -l": [], "ls": []}
        for run in range(3):
            for name, cmd in (("ls -l", ["ls", "-l"]), ("ls", ["ls"])):
                mock.reset_log()
                m = Mount(workdir, mock, "ls%d%s" % (run, "l" if "-l" in cmd else ""))
                t, out = timed(cmd + [os.path.join(m.path, "accounts")])
                log = mock.requests()
                lists = sum(1 for e in log if e["path"] == "/api/v1/bank-accounts")
                cold[name].append((t, out.count(b"\n"), lists, len(log) - lists))
                if run == 0 and name == "ls -l":
                    # The same ls -l warm asks the API nothing: what is left
                    # is ls's own statx and three getxattr calls (ACLs,
                    # SELinux label) per entry, each a round trip to the daemon.
                    warm_ls = median_time(cmd + [os.path.join(m.path, "accounts")])
                m.unmount()
        ls_l = statistics.median(c[0] for c in cold["ls -l"])
        names = statistics.median(c[0] for c in cold["ls"])
        results["ls"] = dict(seconds=ls_l, round_trips=ls_l / rt,
                             entries=min(c[1] for c in cold["ls -l"]) - 1,
                             # every run must cost exactly the pages: the
                             # fewest and the most list requests of all six
                             list_requests=max(c[2] for c in cold["ls -l"] + cold["ls"]),
                             list_requests_min=min(c[2] for c in cold["ls -l"] + cold["ls"]),
                             other_requests=max(c[3] for c in cold["ls -l"] + cold["ls"]),
                             pages=-(-n // PAGE), warm_seconds=warm_ls, names_seconds=names,
                             names_requests=cold["ls"][0][2])

        # 2. cold grep -r vs curl by hand, side by side.
        mock.reset_log()
        curl_s, pages_s, curl_requests, curl_found = curl_by_hand(mock, workdir)
        results["curl"] = dict(seconds=curl_s, pages_seconds=pages_s, requests=curl_requests,
                               found=curl_found)
        for conns in (8, 16):
            mock.reset_log()
            m = Mount(workdir, mock, "grep%d" % conns, ["max_conns=%d" % conns])
            # The bank-accounts tree; transactions have their own benchmark.
            t, out = timed(["grep", "-rl", "--exclude-dir=transactions", NUMBER, m.path])
            log = mock.requests()
            results["grep%d" % conns] = dict(seconds=t, requests=len(log),
                                             found=out.count(b"\n"), ratio=t / curl_s)
            if conns == 8:
                # 3. warm grep vs local disk; 4. RSS with everything cached.
                local = os.path.join(workdir, "local")
                shutil.copytree(m.path, local, ignore=shutil.ignore_patterns("transactions"))
                warm = median_time(["grep", "-r", "--exclude-dir=transactions", NUMBER, m.path])
                disk = median_time(["grep", "-r", NUMBER, local])
                results["warm"] = dict(mount_seconds=warm, local_seconds=disk, ratio=warm / disk)
                rss = m.rss_kib()
                results["rss"] = dict(kib=rss, accounts=n,
                                      target_kib=16 * 1024 + 2 * n)
            m.unmount()
    finally:
        mock.stop()

    # 4b. the listing at scale.
    big = Mock(workdir, args.big, LATENCY_MS)
    try:
        m = Mount(workdir, big, "big")
        base = m.rss_kib()
        t, out = timed(["ls", os.path.join(m.path, "accounts")])
        rss = m.rss_kib()
        results["big"] = dict(accounts=args.big, entries=out.count(b"\n"), seconds=t,
                              round_trips=t / rt, rss_kib=rss, rss_growth_kib=rss - base,
                              kib_per_account=(rss - base) / args.big)
        m.unmount()
    finally:
        big.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    report(results, n)


def report(r, n):
    ls, curl, g8, g16 = r["ls"], r["curl"], r["grep8"], r["grep16"]
    print("sepayfs benchmark: %d accounts, 0-4 sub-accounts each, pages of %d, %d ms a request"
          % (n, PAGE, LATENCY_MS))
    print("1. cold ls -l /accounts (median of 3): %.3f s = %.1f round trips; %d entries; list requests %d "
          "(pages %d), other requests %d"
          % (ls["seconds"], ls["round_trips"], ls["entries"], ls["list_requests"], ls["pages"],
             ls["other_requests"]))
    print("   the same ls -l warm (no API request): %.3f s = %.1f round trips; cold plain ls (median of 3): "
          "%.3f s = %.1f round trips, %d requests"
          % (ls["warm_seconds"], ls["warm_seconds"] / (LATENCY_MS / 1000.0), ls["names_seconds"],
             ls["names_seconds"] / (LATENCY_MS / 1000.0), ls["names_requests"]))
    print("   curl by hand, the same pages (page 1, then the rest in parallel): %.3f s = %.1f "
          "round trips" % (curl["pages_seconds"], curl["pages_seconds"] / (LATENCY_MS / 1000.0)))
    print("2. cold grep -r: curl by hand (parallel-max 8) %.3f s, %d requests, found %d"
          % (curl["seconds"], curl["requests"], curl["found"]))
    for name, g in (("max_conns=8 ", g8), ("max_conns=16", g16)):
        print("   sepayfs %s %.3f s, %d requests, found %d: %.2fx curl"
              % (name, g["seconds"], g["requests"], g["found"], g["ratio"]))
    w = r["warm"]
    print("3. warm grep -r: mount %.4f s, local disk %.4f s: %.2fx"
          % (w["mount_seconds"], w["local_seconds"], w["ratio"]))
    rss = r["rss"]
    print("4. RSS with %d accounts cached: %d KiB (target <= %d KiB = 16 MiB + 2 KiB/account)"
          % (rss["accounts"], rss["kib"], rss["target_kib"]))
    b = r["big"]
    print("   %d accounts: ls %.2f s = %.0f round trips, %d entries; RSS %d KiB, "
          "%.2f KiB per account over the mount's start (target <= 2 KiB + 16 MiB)"
          % (b["accounts"], b["seconds"], b["round_trips"], b["entries"], b["rss_kib"],
             b["kib_per_account"]))
    print("json: " + json.dumps(r, sort_keys=True))
    ok = (ls["list_requests"] == ls["pages"] and ls["other_requests"] == 0
          and ls["list_requests_min"] == ls["pages"]
          and g8["requests"] == curl["requests"] and g8["found"] == curl["found"] == 1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
