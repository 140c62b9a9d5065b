"""The mount as a service: what systemd hears (READY, STATUS, STOPPING over
$NOTIFY_SOCKET, read here from a socket of the test's own), what the log
says at info and debug, and logging in again without a restart (the
credentials or token file read again, under the lock sepayfs-login takes).
"""

import errno
import fcntl
import json
import os
import signal
import socket
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import pytest

import conftest
from conftest import bounded, errno_of, wait_until

OP_TIMEOUT = 30.0
TOKEN_PATH = "/oauth/token"


class NotifySocket:
    """An AF_UNIX datagram socket, as systemd's notify socket is; a thread
    keeps every message with the time it arrived."""

    def __init__(self):
        # sun_path holds 108 bytes: a short folder, not pytest's tmp_path.
        self.folder = tempfile.mkdtemp(prefix="sdn", dir="/tmp")
        self.path = os.path.join(self.folder, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append((time.monotonic(), data.decode("utf-8", "replace")))

    def fields(self, name):
        """Every value of NAME= sent so far, in order."""
        out = []
        with self.lock:
            for _, text in self.messages:
                for line in text.split("\n"):
                    if line.startswith(name + "="):
                        out.append(line[len(name) + 1:])
        return out

    def wait_for(self, name, check=lambda v: True, limit=30.0):
        """The first NAME= value check accepts, once it arrives."""
        found = []

        def seen():
            found[:] = [v for v in self.fields(name) if check(v)][:1]
            return found
        wait_until(seen, limit, "%s= matching on the notify socket" % name)
        return found[0]

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.folder)


@pytest.fixture
def notify():
    n = NotifySocket()
    yield n
    n.close()


def read(path):
    return bounded(conftest.read, path, timeout=OP_TIMEOUT)


def read_errno(path):
    return errno_of(read, path)


def walk_accounts(mnt):
    """What grep -r of /accounts reads, transactions aside."""
    def _walk():
        n = 0
        for acc in sorted(os.listdir(os.path.join(mnt, "accounts")), key=int):
            base = os.path.join(mnt, "accounts", acc)
            with open(os.path.join(base, "info.json"), "rb") as f:
                f.read()
            for sub in os.listdir(os.path.join(base, "sub-accounts")):
                with open(os.path.join(base, "sub-accounts", sub), "rb") as f:
                    f.read()
            n += 1
        return n
    return bounded(_walk, timeout=120.0)


def token_requests(mock, since):
    return [e for e in mock.requests_since(since) if e["path"] == TOKEN_PATH]


def refresh_grant(mock, refresh_token):
    """What another client of the same log-in does: a refresh grant, whose
    answer (with rotation on) ends the refresh token the mount holds."""
    body = urllib.parse.urlencode({
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": mock.client_id, "client_secret": mock.client_secret}).encode()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(urllib.request.Request(mock.token_url, data=body), timeout=10) as r:
        return json.loads(r.read())


def write_credentials(folder, mock, refresh_token, name="credentials.json"):
    """As sepayfs-login writes them: a new file renamed over the old one."""
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / name
    tmp = folder / (".new-" + name)
    tmp.write_text(json.dumps({"client_id": mock.client_id,
                               "client_secret": mock.client_secret,
                               "refresh_token": refresh_token}) + "\n")
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)
    return path


def identity_folders(cache_dir):
    return sorted(p for p in os.listdir(cache_dir) if not p.startswith("."))


# ------------------------------------------------------------ systemd

def test_ready_status_while_walking_and_stopping(mock, mount, notify, tmp_path):
    """READY=1 once mounted; while a walk runs, STATUS= says how far it is
    in a person's words, at most once a second; an idle line when it ends;
    STOPPING=1 at unmount.  The walk's start and end are in the info log."""
    # SePay's pace, a little faster: the walk takes seconds, so the status
    # is sent while it runs.
    mnt = mount(mock, extra_opts=["max_rate=6", "log_level=info"],
                env={"NOTIFY_SOCKET": notify.path}, expect_quiet=False)
    ready = notify.wait_for("READY", limit=10)
    assert ready == "1"
    with notify.lock:
        assert notify.messages[0][1].startswith("READY=1\n"), notify.messages
    assert any(mock.url in v and mnt in v for v in notify.fields("STATUS")), \
        notify.fields("STATUS")

    before = mock.log_len()
    started = time.monotonic()
    walked = walk_accounts(mnt)
    idle = notify.wait_for("STATUS", lambda v: v.startswith("idle"), limit=30)
    took = time.monotonic() - started
    asked = len([e for e in mock.requests_since(before) if e["path"].startswith("/api/")])

    statuses = notify.fields("STATUS")
    walking = [v for v in statuses if v.startswith("walking ")]
    assert walking, "no 'walking' status during a %.1f s walk: %s" % (took, statuses)
    last = walking[-1]
    # "walking 12 of 20 accounts, 31 requests, 5.9/s, 0 waits for 429, no errors"
    words = last.split()
    assert words[2] == "of" and int(words[1]) <= int(words[3]) == walked, last
    assert "requests," in last and "/s," in last and "waits for 429" in last, last
    assert "no errors" in last, last
    assert "requests since mounted" in idle, idle
    # At most one line a second (the READY line and the first of the work
    # aside): counted, not timed, so a slow machine cannot fail it.
    work_lines = len(statuses) - 1
    assert work_lines <= took + 2, "%d status lines in %.1f s: %s" % (work_lines, took,
                                                                       statuses)

    text = mount.stderr(mnt)
    assert "info: walk started at account" in text, text
    ended = [line for line in text.splitlines() if "info: walk ended at" in line]
    assert ended, text
    told = int(ended[-1].split("accounts: ")[1].split()[0])  # "... accounts: N requests in"
    assert 1 <= told <= asked, (ended, asked)

    # SIGUSR1's line ends with the same status.
    mount.daemon(mnt).proc.send_signal(signal.SIGUSR1)
    def stats():
        return [x for x in mount.stderr(mnt).splitlines() if "notice: stats:" in x]
    wait_until(stats, 10, "the stats line")
    line = stats()[0]
    assert "; status: idle, " in line, line

    mount.unmount(mnt)
    notify.wait_for("STOPPING", limit=10)


def test_debug_logs_each_request_and_never_a_token(mock, mount, tmp_path):
    mnt = mount(mock, extra_opts=["log_level=debug"], expect_quiet=False)
    acc = mock.account_ids()[3]
    mock.config(fail_next={"count": 1, "status": 503})
    read(os.path.join(mnt, "accounts", str(acc), "info.json"))
    os.listdir(os.path.join(mnt, "accounts", str(acc), "sub-accounts"))
    text = mount.stderr(mnt)
    # One account's files read one after another are no walk.
    assert "walk started" not in text, text
    path = "/bank-accounts/%d" % acc
    assert "debug: GET %s: HTTP 503" % path in text and ", attempt 1" in text, text
    lines = [x for x in text.splitlines() if ("GET %s: HTTP 200" % path) in x]
    assert lines and lines[-1].endswith("attempt 2"), text
    assert " ms, " in lines[-1], lines
    assert mock.token not in text


# ------------------------------------------------------- logging in again

def test_a_new_log_in_heals_the_mount_without_a_restart(mock, mount, notify, tmp_path):
    """The refresh token dies (another client rotated it): reads fail with
    EACCES, the status says to log in, and the dead token is not sent again
    at every read.  A new log-in written to the credentials file heals the
    mount at the next read, and, being a new log-in, moves it to a cache of
    its own."""
    mock.config(rotate_refresh_token=True)
    cfg = tmp_path / "cfg"
    creds = write_credentials(cfg, mock, mock.refresh_token)
    cache_dir = tmp_path / "cache"
    mnt = mount(mock, token=False, expect_quiet=False, env={"NOTIFY_SOCKET": notify.path},
                extra_opts=["credentials=%s" % creds, "token_url=%s" % mock.token_url,
                            "cache_dir=%s" % cache_dir])
    ids = mock.account_ids()
    read(os.path.join(mnt, "accounts", str(ids[0]), "info.json"))
    assert len(identity_folders(cache_dir)) == 1
    held = json.loads(creds.read_text())["refresh_token"]

    # Someone else refreshes with the same log-in: the mount's refresh
    # token is rotated away.
    stolen = refresh_grant(mock, held)["refresh_token"]
    mock.config(expire_tokens_now=True)
    before = mock.log_len()
    assert read_errno(os.path.join(mnt, "accounts", str(ids[5]), "info.json")) == errno.EACCES
    notify.wait_for("STATUS", lambda v: v.startswith("token refused: run sepayfs-login"),
                    limit=10)
    refused = len(token_requests(mock, before))
    assert 1 <= refused <= 2, mock.requests_since(before)
    # Refused once, the same refresh token is not sent again.
    again = mock.log_len()
    assert read_errno(os.path.join(mnt, "accounts", str(ids[10]), "info.json")) \
        == errno.EACCES
    assert token_requests(mock, again) == []

    # "sepayfs-login" writes a new log-in: the next read works.
    write_credentials(cfg, mock, stolen)
    healed = mock.log_len()
    assert read(os.path.join(mnt, "accounts", str(ids[10]), "info.json"))
    assert len(token_requests(mock, healed)) == 1
    notify.wait_for("STATUS", lambda v: not v.startswith("token refused"), limit=10)
    text = mount.stderr(mnt)
    assert "credentials file %s was changed" % creds in text, text
    # A new log-in is a new line of descent: its own cache folder.
    wait_until(lambda: len(identity_folders(cache_dir)) == 2, 10,
               "a second identity folder in %s" % cache_dir)
    assert "the credentials now name another user" in mount.stderr(mnt)
    assert read(os.path.join(mnt, "accounts", str(ids[0]), "info.json"))


def test_sighup_reads_the_credentials_again(mock, mount, tmp_path):
    cfg = tmp_path / "cfg"
    creds = write_credentials(cfg, mock, mock.refresh_token)
    mnt = mount(mock, token=False, expect_quiet=False,
                extra_opts=["credentials=%s" % creds, "token_url=%s" % mock.token_url])
    os.listdir(os.path.join(mnt, "accounts"))
    mock.config(rotate_refresh_token=True)
    fresh = refresh_grant(mock, mock.refresh_token)["refresh_token"]
    write_credentials(cfg, mock, fresh)
    mount.daemon(mnt).proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "credentials file %s was changed" % creds in mount.stderr(mnt), 10,
               "the SIGHUP to read the credentials again")
    # The token in hand is ended: the next refresh uses the new log-in's.
    mock.config(expire_tokens_now=True)
    before = mock.log_len()
    assert read(os.path.join(mnt, "accounts", str(mock.account_ids()[2]), "info.json"))
    assert [e["status"] for e in token_requests(mock, before)] == [200]


def test_a_new_token_in_the_token_file_is_taken(mock, mount, tmp_path):
    folder = tmp_path / "cfg"
    folder.mkdir(mode=0o700)
    token_file = folder / "token"
    token_file.write_text(mock.token + "\n")
    os.chmod(token_file, 0o600)
    mnt = mount(mock, token=False, expect_quiet=False,
                extra_opts=["token_file=%s" % token_file])
    ids = mock.account_ids()
    read(os.path.join(mnt, "accounts", str(ids[0]), "info.json"))
    mock.config(expire_tokens_now=True, token="second-token")
    assert read_errno(os.path.join(mnt, "accounts", str(ids[4]), "info.json")) == errno.EACCES
    tmp = folder / ".token.new"
    tmp.write_text("second-token\n")
    os.chmod(tmp, 0o600)
    os.rename(tmp, token_file)
    assert read(os.path.join(mnt, "accounts", str(ids[4]), "info.json"))
    assert "second-token" not in mount.stderr(mnt)


def test_a_refresh_waits_for_a_log_in_holding_the_lock(mock, mount, tmp_path):
    """sepayfs-login writes under credentials.json.lock; a refresh takes the
    same lock, so it reads the file only once the log-in is written."""
    cfg = tmp_path / "cfg"
    creds = write_credentials(cfg, mock, mock.refresh_token)
    mnt = mount(mock, token=False, expect_quiet=False,
                extra_opts=["credentials=%s" % creds, "token_url=%s" % mock.token_url])
    ids = mock.account_ids()
    read(os.path.join(mnt, "accounts", str(ids[0]), "info.json"))
    mock.config(rotate_refresh_token=True)
    # A log-in under way: it holds the lock while it writes.
    lock = os.open(str(creds) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    fresh = refresh_grant(mock, mock.refresh_token)["refresh_token"]
    mock.config(expire_tokens_now=True)
    before = mock.log_len()
    result = {}
    reader = threading.Thread(target=lambda: result.setdefault(
        "errno", read_errno(os.path.join(mnt, "accounts", str(ids[6]), "info.json"))))
    reader.start()
    # The read is waiting for a new token, and the refresh for the lock:
    # nothing reaches the token endpoint meanwhile.
    wait_until(lambda: any(e["path"].endswith("/bank-accounts/%d" % ids[6])
                           for e in mock.requests_since(before)), 10, "the 401")
    time.sleep(1.0)
    assert token_requests(mock, before) == [] and reader.is_alive()
    write_credentials(cfg, mock, fresh)
    fcntl.flock(lock, fcntl.LOCK_UN)
    os.close(lock)
    reader.join(timeout=OP_TIMEOUT)
    assert result.get("errno") == 0
    assert [e["status"] for e in token_requests(mock, before)] == [200]
