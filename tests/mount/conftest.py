"""conftest.py - fixtures for sepayfs's mount tests.

The tests mount the real daemon against tests/mock/sepay_mock.py and check the
tree with os calls and plain tools (ls, grep, tar, cp).  They assert request
counts from the mock's log, not times.

Run:
    SEPAYFS_BIN=build/src/sepayfs SEPAY_MOCK=tests/mock/sepay_mock.py \
        /usr/bin/python3 -m pytest -v tests/mount
(both variables default to those paths inside this repository).  Needs
/dev/fuse and fusermount3.

Fixtures:
    mock   - a fresh mock server per test.  Mark a test with
             @pytest.mark.mock_opts(accounts=120, max_page_size=50, history_months=3,
             ...) for other command-line options, or @pytest.mark.mock_opts(knobs={...}) for
             control knobs set before anything is mounted.  mock.token_url is the
             mock's OAuth2 token endpoint, mock.tokens() its token state.
    mount  - a factory: mount(mock, cache_ttl=60, page_size=None, extra_opts=[],
             env=None, token=None, expect_quiet=True, args=[]) -> mountpoint path
             (args: more command-line arguments, e.g. ["-d"]).
             Teardown unmounts, checks the daemon exited 0 and that its stderr holds
             no sanitizer report or crash (and nothing at all with expect_quiet).
             mount.start_failure(mock, ...) runs a daemon that must refuse to mount.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEPAYFS_BIN = os.environ.get("SEPAYFS_BIN") or str(REPO / "build" / "src" / "sepayfs")
SEPAY_MOCK = os.environ.get("SEPAY_MOCK") or str(REPO / "tests" / "mock" / "sepay_mock.py")
FUSERMOUNT = shutil.which("fusermount3") or "fusermount3"

# Bounded waits: generous for a loaded 2-core CI machine, small enough that a
# hang fails the test instead of the whole run.
MOCK_START_TIMEOUT = 15.0
MOUNT_TIMEOUT = 10.0
EXIT_TIMEOUT = 10.0
STARTUP_FAILURE_TIMEOUT = 30.0

CRASH_MARKERS = (
    "ERROR: AddressSanitizer",
    "runtime error:",
    "LeakSanitizer",
    "ThreadSanitizer",
    "Segmentation fault",
    "Aborted",
)

LIST_PATH = "/api/v1/bank-accounts"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cli: mounts nothing (the 'cli' suite, which runs without FUSE)")
    config.addinivalue_line(
        "markers", "needs_fuse: a cli test that mounts after all (runs with the mount suite)")
    config.addinivalue_line(
        "markers", "mock_opts(**kw): options for the mock server (accounts, seed, "
        "max_page_size, default_page_size, latency_ms, token, client_id, "
        "client_secret, refresh_token, history_months, env={...}, knobs={...}, tls, "
        "busy_tx)")


def _clean_env(extra=None):
    """The environment for children: no proxies (everything is on loopback)."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.pop("SEPAY_ACCESS_TOKEN", None)
    if extra:
        env.update(extra)
    return env


# A urllib opener that never uses a proxy.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Mock:
    """A running sepay_mock.py and a client for its control API."""

    def __init__(self, workdir, accounts=20, seed=1, token="demo-token", max_page_size=50,
                 default_page_size=20, latency_ms=0, client_id="demo-client",
                 client_secret="demo-secret", refresh_token="demo-refresh", port=0,
                 history_months=None, env=None, tls=False, busy_tx=0):
        self.token = token
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        port_file = self.workdir / "mock.port"
        self.stderr_path = self.workdir / "mock.stderr"
        cmd = [sys.executable, SEPAY_MOCK, "--host", "127.0.0.1", "--port", str(port),
               "--port-file", str(port_file), "--accounts", str(accounts),
               "--seed", str(seed), "--token", token,
               "--max-page-size", str(max_page_size),
               "--default-page-size", str(default_page_size),
               "--latency-ms", str(latency_ms), "--client-id", client_id,
               "--client-secret", client_secret, "--refresh-token", refresh_token,
               "--quiet"]
        if history_months is not None:
            cmd += ["--history-months", str(history_months)]
        if busy_tx:
            cmd += ["--busy-tx", str(busy_tx)]
        self.cafile = None
        if tls:
            # A certificate of its own for 127.0.0.1: the daemon is given
            # it as its cafile (verification stays on).
            self.cafile = str(self.workdir / "cert.pem")
            key = str(self.workdir / "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", self.cafile, "-days", "2",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                           check=True, capture_output=True, timeout=60)
            cmd += ["--tls-cert", self.cafile, "--tls-key", key]
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._stderr,
                                     env=_clean_env(env))
        deadline = time.monotonic() + MOCK_START_TIMEOUT
        while True:
            if port_file.exists():
                text = port_file.read_text().strip()
                if text:
                    self.port = int(text)
                    break
            if self.proc.poll() is not None:
                raise RuntimeError("sepay mock exited with %s: %s"
                                   % (self.proc.returncode, self.stderr_text()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("sepay mock did not start in %.0f s" % MOCK_START_TIMEOUT)
            time.sleep(0.02)
        self.root = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        self._opener = _OPENER if not tls else urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=self.cafile)))
        self.url = self.root + "/api/v1"
        self.token_url = self.root + "/oauth/token"

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._stderr.close()

    # ---- control API
    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.root + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with self._opener.open(req, timeout=30) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise AssertionError("mock control %s %s -> %s: %s"
                                 % (method, path, exc.code, exc.read()[:500])) from None

    def requests(self):
        """The request log: [{method, path, query, status, t}] in arrival order."""
        return self._call("GET", "/_mock/requests")["log"]

    def requests_since(self, n):
        return self.requests()[n:]

    def log_len(self):
        return self._call("GET", "/_mock/requests")["total"]

    def wait_quiet(self, settle=0.5, limit=60.0):
        """Waits until no request is in progress and none arrived for settle
        seconds (background read-ahead has run out), at most limit seconds."""
        deadline = time.monotonic() + limit
        seen, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            log = self.requests()
            if len(log) != seen or any(e["status"] == 0 for e in log):
                seen, since = len(log), time.monotonic()
            elif time.monotonic() - since >= settle:
                return
            time.sleep(0.05)
        raise AssertionError("the mock still gets requests after %.0f s" % limit)

    def reset(self):
        return self._call("POST", "/_mock/reset")

    def tokens(self):
        """The OAuth2 state: client_id, client_secret, refresh_token (newest valid),
        refresh_tokens, access_tokens (every one issued), valid_access_tokens, ..."""
        return self._call("GET", "/_mock/tokens")

    def config(self, **knobs):
        return self._call("POST", "/_mock/config", knobs)

    def data(self):
        """{"accounts": [...], "hidden_accounts": [...], "sub_accounts": {"id": [...]}}"""
        return self._call("GET", "/_mock/data")

    def data_ordered(self):
        """Like data() but every object as a list of (key, value) pairs: key order counts."""
        req = urllib.request.Request(self.root + "/_mock/data")
        with self._opener.open(req, timeout=30) as resp:
            raw = resp.read().decode("utf-8")
        return json.loads(raw, object_pairs_hook=list)

    def data_as_sent(self, styled=False):
        """Like data(), every number with a fraction a Decimal, which keeps
        its text (1777283273.00); styled: as the API sends it under the
        shape knobs (GET /_mock/data?styled=1)."""
        req = urllib.request.Request(self.root + "/_mock/data" + ("?styled=1" if styled else ""))
        with self._opener.open(req, timeout=30) as resp:
            return loads_as_sent(resp.read())

    def transactions_as_sent(self, acc_id, from_date=None, to_date=None, styled=False):
        """The account's transactions (GET /_mock/transactions, whole days,
        in the API's order), read as data_as_sent() reads."""
        query = {"bank_account_id": acc_id}
        query.update({k: v for k, v in (("from_date", from_date), ("to_date", to_date)) if v})
        if styled:
            query["styled"] = 1
        req = urllib.request.Request(self.root + "/_mock/transactions?" +
                                     urllib.parse.urlencode(query))
        with self._opener.open(req, timeout=30) as resp:
            return loads_as_sent(resp.read())["data"]

    def account_ids(self):
        return [a["id"] for a in self.data()["accounts"]]

    def add_account(self, obj):
        return self._call("POST", "/_mock/accounts", obj)

    def patch_account(self, acc_id, fields):
        return self._call("PATCH", "/_mock/accounts/%d" % acc_id, fields)

    def delete_account(self, acc_id):
        return self._call("DELETE", "/_mock/accounts/%d" % acc_id)

    def patch_sub_account(self, sub_id, fields):
        return self._call("PATCH", "/_mock/sub-accounts/%d" % sub_id, fields)

    def api_get(self, path, token=None):
        """(status, raw body) of an API request, as a client sees it (this is logged)."""
        req = urllib.request.Request(
            self.url + path,
            headers={"Authorization": "Bearer %s" % (token or self.token)})
        try:
            with self._opener.open(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


@pytest.fixture
def mock(request, tmp_path):
    marker = request.node.get_closest_marker("mock_opts")
    opts = dict(marker.kwargs) if marker else {}
    knobs = opts.pop("knobs", None)
    m = Mock(tmp_path / "mock", **opts)
    try:
        if knobs:
            m.config(**knobs)
        yield m
    finally:
        m.stop()


def port_outside_ephemeral_range():
    """A free loopback port (nothing listens on it) that the kernel never
    picks for an outgoing connection: a server started or restarted on it
    finds it still free, even after clients spent a while failing to
    connect to it, and a connect to it cannot meet itself."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    rnd = random.Random()
    for _ in range(200):
        port = rnd.randrange(max(1024, low - 8000), low)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port below %d" % low)


class Daemon:
    def __init__(self, proc, mountpoint, stderr_path, expect_quiet):
        self.proc = proc
        self.mountpoint = mountpoint
        self.stderr_path = stderr_path
        self.expect_quiet = expect_quiet

    def stderr_text(self):
        try:
            return Path(self.stderr_path).read_text(errors="replace")
        except OSError:
            return ""


def _unmount(path):
    """Unmount path: plain first (retried while busy), lazily as the fallback."""
    if not os.path.ismount(path):
        return True
    for _ in range(20):
        r = subprocess.run([FUSERMOUNT, "-u", path], capture_output=True)
        if r.returncode == 0 or not os.path.ismount(path):
            return True
        time.sleep(0.1)
    subprocess.run([FUSERMOUNT, "-u", "-z", path], capture_output=True)
    return False


class MountFactory:
    def __init__(self, tmp_path):
        self.tmp_path = Path(tmp_path)
        self.daemons = []
        self.count = 0

    def _command(self, mock, cache_ttl, page_size, extra_opts, mountpoint, base_url,
                 args=None, default_cache_dir=False):
        opts = ["base_url=%s" % (base_url or mock.url)]
        if cache_ttl is not None:
            opts.append("cache_ttl=%s" % cache_ttl)
        if page_size is not None:
            opts.append("page_size=%s" % page_size)
        opts.extend(extra_opts or [])
        if not any(o.startswith("max_rate=") for o in opts):
            # The mock on loopback has no rate limit unless a test gives it
            # one: no pace here (the default, 3 a second, is SePay's).
            opts.append("max_rate=0")
        if not default_cache_dir and not any(o.startswith("cache_dir=") for o in opts):
            # The disk cache is on, as by default, but each mount starts
            # cold: tests that count requests must not be served by another
            # mount's disk.  Tests of the disk cache pass their own.
            opts.append("cache_dir=%s" % (self.tmp_path / ("cache%d" % self.count)))
        return [SEPAYFS_BIN, "-f"] + list(args or []) + ["-o", ",".join(opts), mountpoint]

    def _env(self, mock, env, token):
        extra = {}
        if token is not False:
            extra["SEPAY_ACCESS_TOKEN"] = token if token is not None else mock.token
        extra.update(env or {})
        full = _clean_env(extra)
        for k, v in list(full.items()):
            if v is None:
                del full[k]
        return full

    def _prepare(self, mountpoint=None):
        self.count += 1
        if mountpoint is None:
            mountpoint = self.tmp_path / ("mnt%d" % self.count)
            mountpoint.mkdir()
        stderr_path = self.tmp_path / ("sepayfs%d.stderr" % self.count)
        return str(mountpoint), stderr_path

    def _spawn(self, mock, cache_ttl, page_size, extra_opts, env, token, base_url, args,
               expect_quiet, mountpoint=None, default_cache_dir=False):
        """Starts a daemon in the foreground, its output to a file; the
        teardown unmounts and checks it."""
        mountpoint, stderr_path = self._prepare(mountpoint)
        cmd = self._command(mock, cache_ttl, page_size, extra_opts, mountpoint, base_url,
                            args, default_cache_dir)
        with open(stderr_path, "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                    env=self._env(mock, env, token))
        daemon = Daemon(proc, mountpoint, stderr_path, expect_quiet)
        self.daemons.append(daemon)
        return daemon

    def __call__(self, mock, cache_ttl=60, page_size=None, extra_opts=None, env=None,
                 token=None, base_url=None, expect_quiet=True, args=None, mountpoint=None,
                 default_cache_dir=False):
        """Mount and return the mountpoint.  token=None: the mock's token through
        SEPAY_ACCESS_TOKEN; token=False: none in the environment.  mountpoint:
        an empty folder to mount on (again), instead of a new one; default_cache_dir: no
        cache_dir option unless extra_opts has one (else each mount gets a
        cold cache folder of its own)."""
        daemon = self._spawn(mock, cache_ttl, page_size, extra_opts, env, token, base_url,
                             args, expect_quiet, mountpoint, default_cache_dir)
        proc, mountpoint = daemon.proc, daemon.mountpoint
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not os.path.ismount(mountpoint):
            if proc.poll() is not None:
                pytest.fail("sepayfs exited with %s before mounting; stderr:\n%s"
                            % (proc.returncode, daemon.stderr_text()))
            if time.monotonic() > deadline:
                pytest.fail("sepayfs did not mount in %.0f s; stderr:\n%s"
                            % (MOUNT_TIMEOUT, daemon.stderr_text()))
            time.sleep(0.02)
        return mountpoint

    def unmount(self, mountpoint):
        """Unmount now and wait for the daemon to exit; the teardown still
        checks its exit status and stderr."""
        assert _unmount(str(mountpoint)), "%s was busy" % mountpoint
        self.daemon(mountpoint).proc.wait(timeout=EXIT_TIMEOUT)

    def daemon(self, mountpoint):
        """The newest daemon mounted on mountpoint."""
        for d in reversed(self.daemons):
            if d.mountpoint == str(mountpoint):
                return d
        raise KeyError(mountpoint)

    def stderr(self, mountpoint):
        return self.daemon(mountpoint).stderr_text()

    def start_failure(self, mock, cache_ttl=None, page_size=None, extra_opts=None, env=None,
                      token=None, base_url=None, args=None):
        """Run a daemon that must not mount.  Returns (exit code, stderr text,
        whether the mountpoint got mounted)."""
        daemon = self._spawn(mock, cache_ttl, page_size, extra_opts, env, token, base_url,
                             args, expect_quiet=False)
        proc, mountpoint = daemon.proc, daemon.mountpoint
        mounted = False
        deadline = time.monotonic() + STARTUP_FAILURE_TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            if os.path.ismount(mountpoint):
                mounted = True
                break
            time.sleep(0.05)
        if mounted:
            return None, daemon.stderr_text(), True
        if proc.poll() is None:
            pytest.fail("sepayfs neither mounted nor exited in %.0f s; stderr:\n%s"
                        % (STARTUP_FAILURE_TIMEOUT, daemon.stderr_text()))
        daemon.expected_exit = proc.returncode
        return proc.returncode, daemon.stderr_text(), os.path.ismount(mountpoint)

    def teardown(self):
        problems = []
        for d in self.daemons:
            clean = _unmount(d.mountpoint)
            if not clean:
                problems.append("%s was busy: unmounted lazily" % d.mountpoint)
            try:
                rc = d.proc.wait(timeout=EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                d.proc.send_signal(signal.SIGTERM)
                try:
                    d.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    d.proc.kill()
                    d.proc.wait(timeout=5)
                _unmount(d.mountpoint)
                problems.append("sepayfs did not exit within %.0f s of the unmount"
                                % EXIT_TIMEOUT)
                rc = None
            text = d.stderr_text()
            expected = getattr(d, "expected_exit", 0)
            if rc is not None and rc != expected:
                problems.append("sepayfs exited with %s, expected %s" % (rc, expected))
            crashes = [m for m in CRASH_MARKERS if m in text]
            if crashes:
                problems.append("sepayfs stderr shows %s" % ", ".join(crashes))
            if d.expect_quiet and text.strip():
                problems.append("sepayfs wrote to stderr although nothing failed")
            if problems:
                pytest.fail("%s\n--- sepayfs stderr (%s) ---\n%s"
                            % ("\n".join(problems), d.mountpoint, text), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach every daemon's stderr to the report of a failed test."""
    outcome = yield
    report = outcome.get_result()
    factory = getattr(item, "_sepayfs_mounts", None)
    if factory is None or not report.failed:
        return
    for d in factory.daemons:
        report.sections.append(("sepayfs stderr (%s, %s)" % (d.mountpoint, call.when),
                                d.stderr_text() or "(empty)"))


@pytest.fixture
def mount(request, tmp_path):
    # A missing daemon or /dev/fuse fails rather than skips: a suite that
    # silently mounts nothing would pass while proving nothing.
    if not os.path.exists(SEPAYFS_BIN):
        pytest.fail("sepayfs binary not built: %s" % SEPAYFS_BIN)
    if not os.path.exists("/dev/fuse"):
        pytest.fail("/dev/fuse is missing: the mount tests need FUSE")
    factory = MountFactory(tmp_path)
    request.node._sepayfs_mounts = factory
    try:
        yield factory
    finally:
        factory.teardown()


# ---------------------------------------------------------------- helpers for tests

def read(path):
    with open(path, "rb") as f:
        return f.read()


def bounded(fn, *args, timeout=60.0):
    """fn(*args) on a daemon thread: its result, its exception re-raised, or a
    test failure if it has not returned within timeout (a hung daemon)."""
    box = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        pytest.fail("%s%r did not return within %.0f s (daemon hung?)"
                    % (getattr(fn, "__name__", fn), args, timeout))
    if "error" in box:
        raise box["error"]
    return box.get("value")


def wait_until(check, limit=30.0, what="the condition"):
    """Polls check() until it is true (a refresh after a TTL, a log line),
    failing after limit seconds: a wait on an event, not on a guess of how
    long it takes on a busy machine."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("%s did not happen within %.0f s" % (what, limit))
        time.sleep(0.05)


def forget_all(mount, mnt):
    """SIGHUP: the daemon drops every cached answer (the next look at
    anything asks the API); returns once it has said so."""
    daemon = mount.daemon(mnt)
    daemon.expect_quiet = False
    seen = daemon.stderr_text().count("SIGHUP")
    daemon.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: daemon.stderr_text().count("SIGHUP") > seen, what="SIGHUP's notice")


def errno_of(fn, *args):
    try:
        fn(*args)
    except OSError as exc:
        return exc.errno
    return 0



def list_requests(entries):
    """The account-list requests among log entries."""
    return [e for e in entries if e["path"] == LIST_PATH]


def query_of(entry):
    return dict(p.split("=", 1) if "=" in p else (p, "") for p in entry["query"].split("&") if p)


VIEWS = ("balances.csv", "by-number", "transactions")


def walk_files(root, transactions=False, views=False):
    """Every regular file under root, as paths relative to root, sorted.
    Transaction months are left out unless asked for: test_transactions.py
    checks them against the mock; the other tests against the mount.  The
    views (balances.csv, by-number's links) too: test_views.py checks them."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            if not views and rel.split(os.sep)[0] in VIEWS:
                continue
            if transactions or "transactions" not in rel.split(os.sep):
                out.append(rel)
    return sorted(out)


def month_files(folder):
    """The YYYY-MM.jsonl names in a transactions folder, sorted (not
    totals.csv, nor the .csv of -o csv)."""
    return sorted(n for n in os.listdir(folder) if n.endswith(".jsonl"))


def transaction_files(root):
    """The accounts' transaction month files under root, relative, sorted
    (not the company's /transactions: test_views.py checks those)."""
    return [p for p in walk_files(root, transactions=True)
            if "transactions" in p.split(os.sep) and p.split(os.sep)[0] != "transactions"]


def expected_files(data):
    """The files the mount should show for the mock's data(): {relpath: object}."""
    out = {}
    for acc in data["accounts"]:
        out["accounts/%d/info.json" % acc["id"]] = acc
        for sub in data["sub_accounts"].get(str(acc["id"]), []):
            out["accounts/%d/sub-accounts/%d.json" % (acc["id"], sub["id"])] = sub
    return out


# ---------------------------------------------------------------- numbers as sent

def loads_as_sent(raw):
    """JSON text with every number that has a fraction or an exponent read as
    a Decimal, which keeps its text: str() of it is what the API wrote
    (for the mock's money; "1e400" would come back as "1E+400")."""
    return json.loads(raw, parse_float=Decimal)


_AS_SENT = "\x00as-sent:"
_AS_SENT_RE = re.compile(r'"\\u0000as-sent:([^"\\]*)\\u0000"')


def dumps_as_sent(obj, indent=None):
    """What sepayfs writes for obj (from loads_as_sent): json.dumps with raw
    UTF-8, Decimals bare as their text; indent=2 is a file, None a JSON
    Lines record (compact)."""
    text = json.dumps(obj, ensure_ascii=False, indent=indent,
                      separators=(",", ": ") if indent else (",", ":"),
                      default=lambda d: _AS_SENT + str(d) + "\x00")
    return _AS_SENT_RE.sub(r"\1", text)
