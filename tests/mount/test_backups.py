"""test_backups.py - nightly backups with the tools people run: rsync, restic, borg.

A backup tool decides what changed from a file's inode, mtime, ctime, size
and attributes.  These tests back the tree up twice, with an unmount and a
mount (on the same mount point, with the same disk cache) or a forced kernel
forget (echo 2 > /proc/sys/vm/drop_caches) between the runs, and check that
the second run finds nothing changed, and asks the API almost nothing; that a
changed balance moves exactly that file; that the disk cache survives kill -9
and damage; that it is private; and, under libfaketime, what a mount a day
later asks and what happens at midnight of the 1st in Vietnam.

Needs rsync, restic, borgbackup and libfaketime (contrib/install-deps.sh) and,
for drop_caches, root.
"""

import io
import json
import os
import re
import signal
import stat
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from conftest import forget_all, month_files, read, wait_until

ACCOUNTS = 8
MOCK = dict(accounts=ACCOUNTS, history_months=3)
TOOL_TIMEOUT = 300
ENV = {k: v for k, v in os.environ.items()
       if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}


def private_dir(path):
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def run(cmd, env=None, check=True):
    full = dict(ENV)
    full.update(env or {})
    r = subprocess.run(cmd, capture_output=True, text=True, env=full, timeout=TOOL_TIMEOUT)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (cmd[0], r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
    return r


def tree_stat(root):
    """{relpath: (ino, mtime_ns, ctime_ns, size, mode, xattrs)} of everything under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [""] + dirnames + filenames:
            path = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            if name == "" and rel != ".":
                continue
            out[rel] = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_mode,
                        tuple(sorted(os.listxattr(path))))
    return out


def walk_bytes(root):
    """{relpath: bytes} of every regular file under root (a symlink, as
    by-number's, is a link: tar and rsync keep its target, not bytes)."""
    out = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                out[os.path.relpath(path, root)] = read(path)
    return out


def remount(mount, mock, mnt, cache, **kw):
    mount.unmount(mnt)
    return mount(mock, mountpoint=mnt, extra_opts=["cache_dir=%s" % cache] +
                 kw.pop("extra_opts", []), **kw)


@pytest.fixture
def backup_mount(mock, mount, tmp_path):
    """A mount with its own disk cache, on a mount point that outlives it."""
    cache = private_dir(tmp_path / "disk-cache")
    mnt = tmp_path / "backup-mnt"
    mnt.mkdir()
    path = mount(mock, mountpoint=str(mnt), cache_ttl=600, extra_opts=["cache_dir=%s" % cache])
    return path, cache


def restic(repo, *args, cwd=None):
    full = dict(ENV, RESTIC_PASSWORD="test-password")
    r = subprocess.run(["restic", "--repo", str(repo), "--no-cache"] + list(args),
                       capture_output=True, text=True, env=full, cwd=cwd, timeout=TOOL_TIMEOUT)
    if r.returncode != 0:
        raise AssertionError("restic exited %d\n%s\n%s" % (r.returncode, r.stdout[-3000:],
                                                           r.stderr[-3000:]))
    return r


def restic_summary(repo, mnt):
    """The summary of a backup of the mount's contents ("." inside it: the
    folders above the mount point are the test's, and change as it runs)."""
    r = restic(repo, "backup", "--json", "--host", "sepayfs-test", ".", cwd=mnt)
    for line in reversed(r.stdout.splitlines()):
        msg = json.loads(line)
        if msg.get("message_type") == "summary":
            return msg
    raise AssertionError("no restic summary:\n" + r.stdout[-2000:])


def borg(repo_parent, *args):
    env = {"BORG_BASE_DIR": str(repo_parent / "borg-base"),
           "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
           "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes", "BORG_PASSPHRASE": ""}
    return run(["borg"] + list(args), env=env)


def borg_settle(mnt):
    """borg leaves out of its files cache (and so reads again next time) a
    file modified within about a second of the backup, against timestamp
    granularity: wait until every mtime in the tree is that old."""
    newest = max(st[1] for st in tree_stat(mnt).values()) / 1e9
    while time.time() < newest + 2:
        time.sleep(0.1)


def borg_changes(tmp_path, repo, name, mnt):
    """The lines of borg create --list for added (A), modified (M) and
    erroneous (E) files, and any line about inode numbers, less the files
    with the newest ctime in the tree: borg never keeps those in its files
    cache (cache.py: "avoid issues with ... cmtime granularity"), so it reads
    them again on every run, on any filesystem."""
    newest = max(st[2] for st in tree_stat(mnt).values() if stat.S_ISREG(st[4]))
    always = {os.path.join(mnt, p) for p, st in tree_stat(mnt).items() if st[2] == newest}
    r = borg(tmp_path, "create", "--list", "--filter=AME", "%s::%s" % (repo, name), mnt)
    lines = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
    return [l for l in lines
            if (l[:2] in ("A ", "M ", "E ") and l[2:] not in always) or "inode" in l]


def rsync_changes(src, dst):
    """rsync -a's itemized changes: one line per file it would transfer."""
    r = run(["rsync", "-a", "--itemize-changes", src + "/", str(dst) + "/"])
    return [l for l in r.stdout.splitlines() if l.strip()]


@pytest.mark.mock_opts(**MOCK)
def test_second_backups_after_remount_change_nothing(mock, mount, backup_mount, tmp_path):
    """rsync, restic and borg: a second run after an unmount and a mount with
    the same disk cache transfers, stores and re-reads nothing; the remount
    asks the API only its access check."""
    mnt, cache = backup_mount
    dst, repo, brepo = tmp_path / "rsync-copy", tmp_path / "restic", tmp_path / "borg"
    assert len(rsync_changes(mnt, dst)) > 5 * ACCOUNTS
    restic(repo, "init")
    first = restic_summary(repo, mnt)
    assert first["files_new"] > 5 * ACCOUNTS
    borg(tmp_path, "init", "--encryption=none", str(brepo))
    borg_settle(mnt)
    borg(tmp_path, "create", "%s::one" % brepo, mnt)
    before_stat = tree_stat(mnt)
    before_bytes = walk_bytes(mnt)

    n = mock.log_len()
    device = os.stat(mnt).st_dev
    mnt = remount(mount, mock, mnt, cache, cache_ttl=600)
    assert rsync_changes(mnt, dst) == []
    second = restic_summary(repo, mnt)
    assert (second["files_new"], second["files_changed"], second["dirs_new"]) == (0, 0, 0), second
    assert second["data_blobs"] == 0, second
    if os.stat(mnt).st_dev == device:
        assert (second["dirs_changed"], second["data_added"]) == (0, 0), second
    # else the kernel gave this mount another device number (another FUSE
    # mount took the last one): restic 0.14 records every node's, so it
    # stores every folder's metadata again, never file data.
    assert borg_changes(tmp_path, brepo, "two", mnt) == []
    assert tree_stat(mnt) == before_stat
    assert walk_bytes(mnt) == before_bytes
    asked = mock.requests_since(n)
    assert len(asked) == 1, asked  # the access check before mounting


@pytest.mark.mock_opts(**MOCK)
def test_second_backups_after_kernel_forget_change_nothing(mock, mount, backup_mount, tmp_path):
    """The kernel forgets every inode (memory pressure); the numbers come back
    the same, so restic and borg re-read nothing."""
    if os.geteuid() != 0:
        pytest.fail("dropping the kernel's caches needs root")
    mnt, _ = backup_mount
    repo, brepo = tmp_path / "restic", tmp_path / "borg"
    restic(repo, "init")
    restic_summary(repo, mnt)
    borg(tmp_path, "init", "--encryption=none", str(brepo))
    borg_settle(mnt)
    borg(tmp_path, "create", "%s::one" % brepo, mnt)
    before = tree_stat(mnt)
    Path("/proc/sys/vm/drop_caches").write_text("2\n")
    assert tree_stat(mnt) == before
    second = restic_summary(repo, mnt)
    assert (second["files_changed"], second["dirs_changed"], second["data_added"]) == (0, 0, 0)
    assert borg_changes(tmp_path, brepo, "two", mnt) == []


@pytest.mark.mock_opts(**MOCK)
def test_a_changed_balance_moves_exactly_that_file(mock, mount, backup_mount, tmp_path):
    mnt, _ = backup_mount
    dst, repo = tmp_path / "rsync-copy", tmp_path / "restic"
    rsync_changes(mnt, dst)
    restic(repo, "init")
    restic_summary(repo, mnt)
    before = tree_stat(mnt)
    acc = mock.account_ids()[0]
    mock.patch_account(acc, {"accumulated": 1234.5})
    daemon = mount.daemon(mnt)
    daemon.expect_quiet = False  # SIGHUP's notice
    daemon.proc.send_signal(signal.SIGHUP)  # a refresh now, not after the TTL
    changed = "accounts/%d/info.json" % acc
    deadline = time.monotonic() + 30
    while tree_stat(mnt).get(changed) == before[changed] and time.monotonic() < deadline:
        time.sleep(0.1)
    # The balance shows in two files: the account's own and balances.csv.
    wait_until(lambda: tree_stat(mnt).get("balances.csv") != before["balances.csv"],
               what="balances.csv to move")
    after = tree_stat(mnt)
    assert {p for p in after if after[p] != before.get(p)} == {changed, "balances.csv"}
    assert sorted(l.split()[-1] for l in rsync_changes(mnt, dst)) == sorted([changed,
                                                                            "balances.csv"])
    second = restic_summary(repo, mnt)
    assert (second["files_new"], second["files_changed"]) == (0, 2), second


@pytest.mark.mock_opts(**MOCK)
def test_disk_cache_survives_kill_9_and_damage(mock, mount, backup_mount, tmp_path):
    """A daemon killed with SIGKILL leaves a usable cache; truncated and
    garbled entries are misses: a tar of the tree is complete and correct."""
    mnt, cache = backup_mount
    expected = walk_bytes(mnt)
    stats = tree_stat(mnt)
    d = mount.daemon(mnt)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(timeout=10)
    d.expected_exit = -signal.SIGKILL
    subprocess.run(["fusermount3", "-u", mnt], capture_output=True)
    entries = sorted(p for p in Path(cache).rglob("*") if p.is_file() and p.name[0].isdigit())
    assert len(entries) > 3 * ACCOUNTS
    for i, p in enumerate(entries):
        if i % 3 == 0:
            data = p.read_bytes()
            p.write_bytes(data[: len(data) // 2])
        elif i % 3 == 1:
            data = bytearray(p.read_bytes())
            data[len(data) // 3] ^= 0x5A
            p.write_bytes(bytes(data))
    n = mock.log_len()
    mnt = mount(mock, mountpoint=mnt, cache_ttl=600, extra_opts=["cache_dir=%s" % cache])
    archive = tmp_path / "tree.tar"
    with open(archive, "wb") as out:
        subprocess.run(["tar", "-C", mnt, "-cf", "-", "."], stdout=out, check=True,
                       timeout=TOOL_TIMEOUT)
    with tarfile.open(archive) as t:
        got = {os.path.normpath(m.name): t.extractfile(m).read()
               for m in t.getmembers() if m.isfile()}
    assert got == expected
    # Untouched entries were served from disk; damaged ones were asked again.
    asked = len(mock.requests_since(n))
    assert 1 < asked < len(entries) + 1, asked
    # Unchanged content keeps its inode, damage or not (a damaged entry lost
    # its version record with its bytes: its times start again).
    after = tree_stat(mnt)
    assert {p: (st[0], st[3]) for p, st in after.items()} == \
        {p: (st[0], st[3]) for p, st in stats.items()}


@pytest.mark.mock_opts(**MOCK)
def test_cache_folder_is_private(mock, mount, tmp_path):
    open_dir = tmp_path / "open-cache"
    open_dir.mkdir(mode=0o755)
    open_dir.chmod(0o755)
    rc, err, mounted = mount.start_failure(mock, extra_opts=["cache_dir=%s" % open_dir])
    assert not mounted and rc != 0
    assert "mode 755" in err and str(open_dir) in err, err
    # The default: $XDG_CACHE_HOME/sepayfs, made 0700, files 0600.
    xdg = tmp_path / "xdg"
    mnt = mount(mock, env={"XDG_CACHE_HOME": str(xdg)}, default_cache_dir=True)
    os.listdir(os.path.join(mnt, "accounts"))
    read(os.path.join(mnt, "accounts", str(mock.account_ids()[0]), "info.json"))
    root = xdg / "sepayfs"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    for p in root.rglob("*"):
        if p.is_dir():
            assert stat.S_IMODE(p.stat().st_mode) == 0o700, p
    # cache_dir=none writes nothing anywhere.
    none_home = tmp_path / "none-home"
    mnt = mount(mock, extra_opts=["cache_dir=none"], env={"XDG_CACHE_HOME": str(none_home)},
                default_cache_dir=True)
    os.listdir(os.path.join(mnt, "accounts"))
    assert not none_home.exists()


@pytest.mark.mock_opts(**MOCK)
def test_one_accounts_403_on_transactions_is_that_accounts_alone(mock, mount, tmp_path):
    ids = mock.account_ids()
    mock.config(status_for_transactions={str(ids[0]): 403})
    mnt = mount(mock, expect_quiet=False)
    forbidden = os.path.join(mnt, "accounts", str(ids[0]), "transactions")
    with pytest.raises(PermissionError):
        for name in os.listdir(forbidden):
            read(os.path.join(forbidden, name))
    r = subprocess.run(["tar", "-C", mnt, "-cf", "-", "."], capture_output=True,
                       timeout=TOOL_TIMEOUT)
    members = tarfile.open(fileobj=io.BytesIO(r.stdout)).getnames()
    # The accounts' months (the company's /transactions holds them all
    # again, as SePay's company-wide list gives them).
    months = [m for m in members if m.endswith(".jsonl") and m.startswith("./accounts/")]
    others = [m for m in months if "/%d/" % ids[0] not in m]
    assert len(others) == 4 * (ACCOUNTS - 1), months  # 3 months back and this one
    assert not [m for m in months if "/%d/" % ids[0] in m]
    assert "Operation not permitted" in r.stderr.decode()


@pytest.mark.mock_opts(**MOCK)
def test_plain_ls_shows_removed_and_added_accounts_after_the_ttl(mock, mount):
    """Lookups between two ls calls (which refresh accounts/'s attributes)
    must not keep a stale listing alive past the TTL."""
    mnt = mount(mock, cache_ttl=1)
    acc = os.path.join(mnt, "accounts")
    ids = sorted(mock.account_ids())
    assert sorted(int(x) for x in os.listdir(acc)) == ids
    mock.delete_account(ids[-1])
    mock.add_account({"id": 9001, "label": "Mới"})
    deadline = time.monotonic() + 30
    want = sorted(ids[:-1] + [9001])
    while time.monotonic() < deadline:
        os.stat(os.path.join(acc, str(ids[0]), "info.json"))
        os.stat(acc)
        if sorted(int(x) for x in os.listdir(acc)) == want:
            break
        time.sleep(0.2)
    assert sorted(int(x) for x in os.listdir(acc)) == want


# ---------------------------------------------------------------- another day, another month

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


def faked(when):
    """The environment that runs a program under libfaketime (preloaded, so
    the program is its own process: the faketime command forks, and killing
    it would leave the program running): its clock starts at `when` (UTC)
    and runs on from there; monotonic clocks stay real (timeouts, the mock's
    log).  A sanitizer build tolerates the preload."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    return {"LD_PRELOAD": LIBFAKETIME, "FAKETIME": "@" + when,
            "FAKETIME_DONT_FAKE_MONOTONIC": "1", "DONT_FAKE_MONOTONIC": "1",
            "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}


DAY_ONE = "2026-06-20 05:00:00"   # 12:00 in Vietnam
DAY_TWO = "2026-06-21 05:00:00"


@pytest.mark.mock_opts(accounts=ACCOUNTS, history_months=3, env=faked(DAY_ONE))
def test_a_nightly_backup_a_day_later_asks_only_what_can_change(mock, mount, tmp_path):
    """A day later: the listings, each account's detail and sub-accounts, and
    the current month; months over for more than a week when they were
    fetched are settled and come from the disk cache."""
    cache = private_dir(tmp_path / "disk-cache")
    mnt = tmp_path / "m"
    mnt.mkdir()
    opts = ["cache_dir=%s" % cache]
    path = mount(mock, mountpoint=str(mnt), extra_opts=opts, env=faked(DAY_ONE))
    first = walk_bytes(path)
    months = sorted({p.split("/")[-1] for p in first if p.endswith(".jsonl")})
    assert months == ["2026-03.jsonl", "2026-04.jsonl", "2026-05.jsonl", "2026-06.jsonl"]
    mount.unmount(path)
    n = mock.log_len()
    path = mount(mock, mountpoint=str(mnt), extra_opts=opts, env=faked(DAY_TWO))
    assert walk_bytes(path) == first
    asked = mock.requests_since(n)
    tx = [e for e in asked if e["path"].endswith("/transactions")]
    # Each account's current month, and the company's (/transactions).
    assert sorted(e["query"].split("from_date=")[1][:7] for e in tx) == \
        ["2026-06"] * (ACCOUNTS + 1)
    assert len([e for e in tx if "bank_account_id=" not in e["query"]]) == 1
    details = [e for e in asked if re.fullmatch(r"/api/v1/bank-accounts/\d+", e["path"])]
    subs = [e for e in asked if e["path"].endswith("/sub-accounts")]
    assert len(details) == ACCOUNTS and len(subs) == ACCOUNTS
    # the access check and the account list, whose first page it is
    lists = [e for e in asked if e["path"] == "/api/v1/bank-accounts"]
    assert len(lists) == 1
    assert len(asked) == 1 + 3 * ACCOUNTS + 1


MIDNIGHT_SOON = "2026-06-30 16:59:40"  # July in Vietnam comes 20 s in: room for a slow start


@pytest.mark.mock_opts(accounts=2, history_months=1, env=faked(MIDNIGHT_SOON))
def test_a_new_month_appears_at_midnight_in_vietnam(mock, mount):
    """A transactions folder already listed gains its new month once the 1st
    begins in Vietnam: no remount, no SIGHUP."""
    mnt = mount(mock, cache_ttl=1, env=faked(MIDNIGHT_SOON))
    tx = os.path.join(mnt, "accounts", str(mock.account_ids()[0]), "transactions")
    assert month_files(tx) == ["2026-05.jsonl", "2026-06.jsonl"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and "2026-07.jsonl" not in os.listdir(tx):
        time.sleep(0.2)
    assert month_files(tx) == ["2026-05.jsonl", "2026-06.jsonl", "2026-07.jsonl"]
    assert read(os.path.join(tx, "2026-07.jsonl")) == b""


EARLY_DAY_ONE = "2026-06-03 05:00:00"  # May ended 2 days before: not settled yet
EARLY_DAY_TWO = "2026-06-04 06:00:00"


@pytest.mark.mock_opts(accounts=ACCOUNTS, history_months=3, env=faked(EARLY_DAY_ONE))
def test_same_bytes_keep_their_times_across_refreshes_remounts_and_days(mock, mount,
                                                                        tmp_path):
    """A month's times are when its bytes were first seen, whatever path put
    it in the cache again: a range after SIGHUP, a remount, a day later.
    Early in a month the month before is not settled, so a range starts
    there, and the current month, not loaded from disk first, took the
    moment of the refetch as its time."""
    cache = private_dir(tmp_path / "disk-cache")
    mnt = tmp_path / "m"
    mnt.mkdir()
    opts = ["cache_dir=%s" % cache]
    path = mount(mock, mountpoint=str(mnt), extra_opts=opts, env=faked(EARLY_DAY_ONE))
    first_bytes = walk_bytes(path)
    first = tree_stat(path)
    assert any(p.endswith("2026-06.jsonl") for p in first)
    forget_all(mount, path)  # every object asked again: the same bytes
    assert walk_bytes(path) == first_bytes
    assert tree_stat(path) == first
    mount.unmount(path)
    path = mount(mock, mountpoint=str(mnt), extra_opts=opts, env=faked(EARLY_DAY_ONE))
    assert walk_bytes(path) == first_bytes
    assert tree_stat(path) == first
    mount.unmount(path)
    n = mock.log_len()
    path = mount(mock, mountpoint=str(mnt), extra_opts=opts, env=faked(EARLY_DAY_TWO))
    assert walk_bytes(path) == first_bytes
    moved = {p for p, st in tree_stat(path).items() if st != first.get(p)}
    assert moved == set(), sorted(moved)
    asked = [e for e in mock.requests_since(n) if e["path"].endswith("/transactions")]
    assert asked, "the day-later walk asked no month: nothing was tested"
