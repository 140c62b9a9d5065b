"""One mount for the office, served by Samba (README "Serve an office",
contrib/smb.conf.example).

smbd from Debian serves a mount on a port of its own on loopback, with a
configuration folder of its own under the test's folder (nothing is
written to /etc/samba, /var/lib/samba, /var/cache/samba or /var/log/samba:
smbd's -l keeps even its first log lines here), and shares it with the
[sepay] section of contrib/smb.conf.example as written there (only path=
and valid users= changed).  The reader is a system user (daemon) in a private Samba
password database, so the share works only through allow_other and the
mount's gid=, as in the office.  A recursive smbclient download is the tree
byte for byte, by-number's links are neither followed nor copied, a
download after a warm walk asks SePay nothing, and writes, unencrypted
clients and a share whose mount is missing are refused.

Skipped only when Samba (smbd, smbclient, smbpasswd) is not installed.
"""

import grp
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO, bounded, port_outside_ephemeral_range, read, walk_files, wait_until


def _tool(name):
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        path = os.path.join(folder, name)
        if os.access(path, os.X_OK):
            return path
    return None


SMBD = _tool("smbd")
SMBCLIENT = _tool("smbclient")
SMBPASSWD = _tool("smbpasswd")

pytestmark = pytest.mark.skipif(
    not (SMBD and SMBCLIENT and SMBPASSWD),
    reason="Samba is not installed (smbd, smbclient, smbpasswd: "
           "apt-get install samba smbclient)")

EXAMPLE = REPO / "contrib" / "smb.conf.example"

# Bounded waits for a loaded 2-core machine.
SMBD_START_TIMEOUT = 30.0
SMBD_STOP_TIMEOUT = 15.0
CLIENT_TIMEOUT = 120.0

ACCOUNTS = 20


def example_share(name="sepay"):
    """The [name] section of contrib/smb.conf.example: {parameter: value}."""
    section, out = None, {}
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("["):
            section = s.strip("[]").strip()
            continue
        if section == name:
            key, sep, value = s.partition("=")
            assert sep, "%s: not a parameter line: %r" % (EXAMPLE, line)
            out[key.strip().lower()] = value.strip()
    assert out, "%s has no [%s] section" % (EXAMPLE, name)
    return out


def office_user():
    """(user, group, gid): a system user every Debian has, who is neither
    root nor the mount's owner; the share is for its primary group."""
    for name in ("daemon", "bin", "sys"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return pw.pw_name, grp.getgrgid(pw.pw_gid).gr_name, pw.pw_gid
    pytest.fail("no system user (daemon, bin, sys) to connect to the share as")


def _conf_text(sections):
    lines = []
    for name, params in sections.items():
        lines.append("[%s]" % name)
        lines.extend("   %s = %s" % (k, v) for k, v in params.items())
        lines.append("")
    return "\n".join(lines)


def _group_members(pgid):
    """Pids of the processes in process group pgid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and int(fields[2]) == pgid:
            out.append(int(entry))
    return out


class Samba:
    """smbd in the foreground with a configuration folder of its own, and
    smbclient with another: both under folder."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.proc = None
        self.port = None
        self.server = self.folder / "server"
        self.client_dir = self.folder / "client"
        for base in (self.server, self.client_dir):
            for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc", "binddns",
                        "log"):
                (base / sub).mkdir(parents=True, exist_ok=True)
            os.chmod(base / "private", 0o700)
        self.conf = self.server / "smb.conf"
        self.client_conf = self.client_dir / "smb.conf"
        self.authfile = self.client_dir / "auth"
        self.client_conf.write_text(_conf_text({"global": self._dirs(self.client_dir, {
            "workgroup": "WORKGROUP",
            "log file": self.client_dir / "log" / "smbclient.log",
        })}))

    @staticmethod
    def _dirs(base, params):
        out = {"private dir": base / "private", "lock directory": base / "lock",
               "state directory": base / "state", "cache directory": base / "cache",
               "pid directory": base / "pid", "ncalrpc dir": base / "ncalrpc",
               "binddns dir": base / "binddns"}
        out.update(params)
        return out

    def _write_conf(self, shares):
        glob = self._dirs(self.server, {
            "server role": "standalone server",
            "workgroup": "WORKGROUP",
            "netbios name": "SEPAYFSTEST",
            "smb ports": self.port,
            "interfaces": "lo",
            "bind interfaces only": "yes",
            "disable netbios": "yes",
            "passdb backend": "tdbsam:%s" % (self.server / "private" / "passdb.tdb"),
            "map to guest": "never",
            "load printers": "no",
            "printing": "bsd",
            "printcap name": "/dev/null",
            "disable spoolss": "yes",
            "log file": self.server / "log" / "smbd.log",
            "logging": "file",
            "log level": "1",
        })
        self.conf.write_text(_conf_text(dict({"global": glob}, **shares)))

    def log_text(self):
        texts = []
        for path in sorted((self.server / "log").glob("*")) + [self.folder / "smbd.out"]:
            if path.is_file():
                texts.append("--- %s\n%s" % (path, path.read_text(errors="replace")))
        return "\n".join(texts)

    def start(self, user, shares):
        """Makes user a Samba user with a random password and starts smbd
        with shares ({name: {parameter: value}}); returns once smbd accepts
        connections on its port."""
        password = secrets.token_hex(16)
        self.authfile.write_text("username = %s\npassword = %s\ndomain = WORKGROUP\n"
                                 % (user, password))
        os.chmod(self.authfile, 0o600)
        for attempt in range(3):
            self.port = port_outside_ephemeral_range()
            self._write_conf(shares)
            if attempt == 0:
                r = subprocess.run([SMBPASSWD, "-c", str(self.conf), "-a", "-s", user],
                                   input="%s\n%s\n" % (password, password),
                                   capture_output=True, text=True, timeout=60)
                assert r.returncode == 0, "smbpasswd -a %s: %s%s" % (user, r.stdout, r.stderr)
            # A session of its own: smbd stops its whole process group
            # when it exits (with or without --no-process-group), which
            # must not be pytest's.
            with open(self.folder / "smbd.out", "ab") as out:
                self.proc = subprocess.Popen(
                    [SMBD, "--foreground", "--no-process-group", "-s", str(self.conf),
                     "-l", str(self.server / "log")],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)

            def up():
                if self.proc.poll() is not None:
                    return True
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return True
                except OSError:
                    return False

            wait_until(up, SMBD_START_TIMEOUT, "smbd accepting connections on port %d"
                       % self.port)
            if self.proc.poll() is None:
                return
            # Another process took the port between the check and smbd's bind.
        pytest.fail("smbd exited with %s three times:\n%s"
                    % (self.proc.returncode, self.log_text()))

    def client(self, share, commands, cwd=None, args=()):
        """smbclient //127.0.0.1/share -c commands: the CompletedProcess."""
        cmd = [SMBCLIENT, "//127.0.0.1/%s" % share, "-p", str(self.port),
               "-s", str(self.client_conf), "-A", str(self.authfile),
               "-l", str(self.client_dir / "log")] + list(args) + ["-c", commands]
        return subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=CLIENT_TIMEOUT)

    def stop(self):
        """SIGTERM, which smbd passes to its children; then waits for every
        process of its group (its children hold files of the mount open)."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=SMBD_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                # Not reaped: the group is still the one this test made.
                os.killpg(pgid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        # A group id is not reused while the group has members.
        deadline = time.monotonic() + SMBD_STOP_TIMEOUT
        while _group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in _group_members(pgid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None


@pytest.fixture
def office_dir():
    """A folder the office user may pass through (the test's own folder is
    below pytest's root-only one): mnt/ to mount on, and empty/, a folder
    with nothing mounted.  Requested before mount, so removed after it."""
    folder = Path(tempfile.mkdtemp(prefix="sepayfs-office-", dir="/tmp"))
    os.chmod(folder, 0o755)
    (folder / "mnt").mkdir()
    (folder / "empty").mkdir()
    try:
        yield folder
    finally:
        for path in (folder / "mnt", folder / "empty", folder):
            try:
                os.rmdir(path)
            except OSError:
                pass


@pytest.fixture
def samba(tmp_path, mount):
    """A Samba factory; smbd is stopped before the mount's teardown."""
    server = Samba(tmp_path / "samba")
    try:
        yield server
    finally:
        server.stop()


def serve(office_dir, mock, mount, samba):
    """Mounts as the office server does (allow_other, gid= of the readers'
    group, a long cache_ttl so nothing expires during the test), and
    serves it with the example's [sepay] share, a [links] share that only
    does not follow links (what by-number looks like without the veto) and
    an [unmounted] share: the example's, on a folder with nothing mounted.
    Returns (mountpoint, user)."""
    user, group, gid = office_user()
    mnt = mount(mock, cache_ttl=600, extra_opts=["allow_other", "gid=%d" % gid],
                mountpoint=office_dir / "mnt")
    share = example_share()
    share.update({"path": mnt, "valid users": "@" + group})
    unmounted = dict(share, path=office_dir / "empty")
    links = {"path": mnt, "read only": "yes", "follow symlinks": "no",
             "valid users": "@" + group}
    samba.start(user, {"sepay": share, "links": links, "unmounted": unmounted})
    return mnt, user


def folders(root):
    out = set()
    for dirpath, dirnames, _ in os.walk(root):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                out.add(os.path.relpath(path, root))
    return out


def output(r):
    return r.stdout + r.stderr


@pytest.mark.mock_opts(accounts=ACCOUNTS)
def test_smbclient_download_is_the_tree_once_and_asks_nothing(office_dir, mock, mount, samba,
                                                               tmp_path):
    mnt, _ = serve(office_dir, mock, mount, samba)

    # The office server's mount, warm: every file read once (this is what
    # SePay is asked for, once for everyone).
    start = time.monotonic()
    files = bounded(walk_files, mnt, True, True, timeout=120)
    tree = bounded(lambda: {rel: read(os.path.join(mnt, rel)) for rel in files
                            if rel.split(os.sep)[0] != "by-number"}, timeout=120)
    mock.wait_quiet()
    walk_seconds = time.monotonic() - start
    walk_requests = mock.log_len()
    links = sorted(os.listdir(os.path.join(mnt, "by-number")))
    assert links and all(os.path.islink(os.path.join(mnt, "by-number", n)) for n in links)
    assert any(f.startswith("by-number" + os.sep) for f in files)  # links to sub-account files

    before = mock.log_len()
    dest = tmp_path / "download"
    dest.mkdir()
    start = time.monotonic()
    r = samba.client("sepay", "recurse ON; prompt OFF; mget *", cwd=dest)
    download_seconds = time.monotonic() - start
    assert r.returncode == 0, output(r) + samba.log_text()
    assert "NT_STATUS" not in output(r), output(r)
    mock.wait_quiet()
    assert mock.requests_since(before) == [], "the download asked SePay"

    # Byte for byte, every file once; by-number neither followed nor copied.
    assert not os.path.lexists(dest / "by-number")
    got = walk_files(dest, transactions=True, views=True)
    assert got == sorted(tree)
    for rel, data in tree.items():
        assert read(dest / rel) == data, rel
    assert folders(dest) == folders(mnt) - {"by-number"}
    size = sum(len(d) for d in tree.values())
    assert sum(os.path.getsize(dest / rel) for rel in got) == size

    # Without the veto, by-number is an empty folder: the links are not
    # listed, nor reachable by name.
    r = samba.client("links", r"ls by-number\*")
    assert r.returncode == 0, output(r)
    for name in links:
        assert name not in r.stdout, r.stdout
    account_link = next(n for n in links
                        if os.path.isdir(os.path.join(mnt, "by-number", n)))
    r = samba.client("links", r'get by-number\%s\info.json "%s"'
                     % (account_link, tmp_path / "through-link.json"))
    assert "NT_STATUS_OBJECT_PATH_NOT_FOUND" in output(r), output(r)
    assert not (tmp_path / "through-link.json").exists()
    mock.wait_quiet()
    assert mock.requests_since(before) == []

    print("\nsamba: %d files, %d bytes, %d by-number links; warm walk %d requests in %.1f s; "
          "smbclient download %d requests in %.1f s"
          % (len(tree), size, len(links), walk_requests, walk_seconds,
             len(mock.requests_since(before)), download_seconds))


@pytest.mark.mock_opts(accounts=3)
def test_share_refuses_writes_plain_clients_and_a_missing_mount(office_dir, mock, mount, samba,
                                                                 tmp_path):
    mnt, _ = serve(office_dir, mock, mount, samba)
    probe = tmp_path / "probe.txt"
    probe.write_text("not for the bank\n")

    r = samba.client("sepay", 'put "%s" probe.txt' % probe)
    assert r.returncode != 0, output(r)
    assert re.search(r"NT_STATUS_(ACCESS_DENIED|MEDIA_WRITE_PROTECTED)", output(r)), output(r)
    r = samba.client("sepay", "mkdir probe")
    assert re.search(r"NT_STATUS_(ACCESS_DENIED|MEDIA_WRITE_PROTECTED)", output(r)), output(r)
    r = samba.client("sepay", "rm balances.csv")
    assert re.search(r"NT_STATUS_(ACCESS_DENIED|MEDIA_WRITE_PROTECTED|CANNOT_DELETE)",
                     output(r)), output(r)
    assert sorted(os.listdir(mnt)) == ["accounts", "balances.csv", "by-number", "transactions"]

    # An SMB 2.1 client cannot encrypt: refused by the share, served by
    # [links] (which does not require encryption).
    r = samba.client("sepay", "ls balances.csv", args=["-m", "SMB2_10"])
    assert r.returncode != 0 and "NT_STATUS_ACCESS_DENIED" in output(r), output(r)
    r = samba.client("links", "ls balances.csv", args=["-m", "SMB2_10"])
    assert r.returncode == 0 and "balances.csv" in r.stdout, output(r)
    r = samba.client("sepay", "ls balances.csv")
    assert r.returncode == 0 and "balances.csv" in r.stdout, output(r)

    # The same share on a folder where nothing is mounted: refused by the
    # root preexec check, not served empty.
    r = samba.client("unmounted", "ls")
    assert r.returncode != 0 and "NT_STATUS_ACCESS_DENIED" in output(r), output(r)
    wait_until(lambda: "root preexec gave" in samba.log_text(), 10,
               "smbd's log line for the refused root preexec")
