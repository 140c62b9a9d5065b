"""test_disk_cache.py - the disk under the cache: what a mount does when the
cache folder's disk is read-only or full, or a folder above it is another
user's; what the budget counts; which identity folders go; and a SIGHUP
that outlives the mount.

Needs root: tmpfs mounts for the read-only and full disks, a folder owned
by nobody (uid 65534).
"""

import errno
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import expected_files, forget_all, read, walk_files

NOBODY = 65534
MIB = 1 << 20


def needs_root():
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs or owns a folder as nobody: it needs root")


@pytest.fixture
def small_disk(tmp_path):
    """small_disk(name, options) -> the path of a tmpfs mounted for this test
    with those options (read-only, tiny); unmounted at teardown.  Ask for it
    before `mount`, so the daemons go first."""
    mounted = []

    def make(name, options):
        needs_root()
        path = tmp_path / name
        path.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "sepayfs-test", str(path)],
                       check=True, capture_output=True)
        mounted.append(path)
        return path

    yield make
    for path in reversed(mounted):
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def private_dir(path):
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def check_tree(mnt, mock):
    """Every account and sub-account file shows the mock's object."""
    want = expected_files(mock.data())
    assert walk_files(mnt) == sorted(want)
    for rel, obj in want.items():
        assert json.loads(read(os.path.join(mnt, rel))) == obj, rel


def only_line(text):
    lines = [l for l in text.splitlines() if l.strip()]
    assert len(lines) == 1, text
    return lines[0]


def disk_taken(path):
    """What du counts: allocated bytes of everything under path."""
    r = subprocess.run(["du", "-s", "--block-size=1", str(path)], capture_output=True,
                       text=True, check=True)
    return int(r.stdout.split()[0])


def files_taken(path):
    """What the budget counts: du less the folders' own blocks (which do not
    shrink when files go)."""
    folders = sum(os.lstat(d).st_blocks * 512 for d, _, _ in os.walk(path))
    return disk_taken(path) - folders


def folder_state(path):
    """{name: bytes} of the files in a folder."""
    return {p.name: p.read_bytes() for p in Path(path).iterdir()}


# ---------------------------------------------------------------- item 7: the disk's fault

@pytest.mark.mock_opts(accounts=3)
def test_a_read_only_disk_is_memory_only(mock, small_disk, mount):
    disk = small_disk("ro", "ro,size=64k")
    cache = disk / "sepayfs"
    mnt = mount(mock, extra_opts=["cache_dir=%s" % cache], expect_quiet=False)
    check_tree(mnt, mock)
    line = only_line(mount.stderr(mnt))
    assert "disk cache off" in line and str(cache) in line, line
    assert "Read-only file system" in line, line


@pytest.mark.mock_opts(accounts=3)
def test_a_full_disk_is_memory_only(mock, small_disk, mount):
    """A cache folder an earlier mount made on a disk now full: this
    identity's folder cannot be made."""
    disk = small_disk("full", "size=64k,nr_inodes=16")
    cache = private_dir(disk / "sepayfs")
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(OSError) as full:
            while True:
                os.write(fd, b"x" * 4096)
    finally:
        os.close(fd)
    assert full.value.errno == errno.ENOSPC
    with pytest.raises(OSError) as no_inodes:
        for i in range(100):
            (disk / ("empty%d" % i)).touch()
    assert no_inodes.value.errno == errno.ENOSPC
    mnt = mount(mock, extra_opts=["cache_dir=%s" % cache], expect_quiet=False)
    check_tree(mnt, mock)
    line = only_line(mount.stderr(mnt))
    assert "disk cache off" in line and str(cache) in line, line
    assert "No space left on device" in line, line
    assert os.listdir(cache) == []


# ---------------------------------------------------------------- item 8: other users' folders

@pytest.mark.mock_opts(accounts=3)
def test_a_cache_below_another_users_folder_is_memory_only(mock, mount, tmp_path):
    """A root daemon whose cache folder sits in a folder nobody owns: nobody
    could swap the cache folder for one of theirs holding a link, named
    after the identity, to a folder of root's.  The mount keeps nothing on
    disk and says why; the swap writes nothing there and deletes nothing."""
    needs_root()
    # The identity folder's name, from a mount with its cache in a safe place.
    safe = private_dir(tmp_path / "safe")
    mnt = mount(mock, extra_opts=["cache_dir=%s" % safe])
    os.listdir(os.path.join(mnt, "accounts"))
    mount.unmount(mnt)
    [identity] = [p.name for p in safe.iterdir()]

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chown(shared, NOBODY, NOBODY)
    cache = private_dir(shared / "cache")
    target = private_dir(tmp_path / "root-only")
    for name in ("2-1-0", "3-0-0", "born", "keep"):
        (target / name).write_bytes(b"precious")
    before = folder_state(target)
    theirs = shared / "theirs"
    theirs.mkdir(mode=0o700)
    os.symlink(target, theirs / identity)
    os.lchown(theirs / identity, NOBODY, NOBODY)
    os.chown(theirs, NOBODY, NOBODY)

    mnt = mount(mock, extra_opts=["cache_dir=%s" % cache], expect_quiet=False)
    os.listdir(os.path.join(mnt, "accounts"))
    # What nobody may do to a folder of theirs: swap its contents.
    os.rename(cache, shared / "was-cache")
    os.rename(theirs, cache)
    check_tree(mnt, mock)
    assert folder_state(target) == before
    line = only_line(mount.stderr(mnt))
    assert "disk cache off" in line and str(cache) in line, line
    assert "%s, which belongs to uid %d" % (shared, NOBODY) in line, line


# ---------------------------------------------------------------- item 9: the budget

def identity_folders(cache):
    return sorted(p for p in Path(cache).iterdir() if p.is_dir())


@pytest.mark.mock_opts(accounts=30, history_months=18)
def test_the_budget_is_the_disk_every_identity_takes(mock, mount, tmp_path):
    """cache_disk_mb counts the allocated blocks of the files in the whole
    cache folder: another identity's entries count too, a folder over budget
    from an earlier mount is trimmed at the next mount, and a walk keeps du
    within the budget (and the few blocks of the folders themselves)."""
    cache = private_dir(tmp_path / "cache")
    mnt = mount(mock, extra_opts=["cache_dir=%s" % cache, "cache_disk_mb=64"])
    first = {p: read(os.path.join(mnt, p)) for p in walk_files(mnt, transactions=True)}
    mock.wait_quiet()
    mount.unmount(mnt)
    assert disk_taken(cache) > 2 * MIB
    # The same API by another name is another identity.
    other_url = mock.url.replace("127.0.0.1", "localhost")
    mnt = mount(mock, base_url=other_url, extra_opts=["cache_dir=%s" % cache, "cache_disk_mb=1"])
    assert len(identity_folders(cache)) == 2
    assert files_taken(cache) <= MIB
    again = {p: read(os.path.join(mnt, p)) for p in walk_files(mnt, transactions=True)}
    assert again == first
    mock.wait_quiet()
    assert files_taken(cache) <= MIB
    assert disk_taken(cache) <= MIB + 64 * 1024  # and the three folders themselves


def test_identity_folders_unused_for_history_ttl_go(mock, mount, tmp_path):
    cache = private_dir(tmp_path / "cache")
    now = time.time()
    old, recent = cache / "00000000000000aa", cache / "00000000000000bb"
    for folder, used in ((old, now - 7200), (recent, now - 600)):
        private_dir(folder)
        (folder / "2-1-0").write_bytes(b"entry")
        (folder / "born").write_bytes(b"1700000000\n")
        os.utime(folder, (used, used))
    mnt = mount(mock, extra_opts=["cache_dir=%s" % cache, "history_ttl=3600"])
    os.listdir(os.path.join(mnt, "accounts"))
    assert not old.exists()
    assert folder_state(recent) == {"2-1-0": b"entry", "born": b"1700000000\n"}
    assert len(identity_folders(cache)) == 2  # recent, and the mount's own


# ---------------------------------------------------------------- item 10: SIGHUP outlives the mount

@pytest.mark.mock_opts(accounts=3)
def test_a_sighup_is_remembered_across_a_remount(mock, mount, tmp_path):
    """After kill -HUP, an unmount and a mount with the same disk cache and a
    long TTL, a file SePay changed shows its new content: what the disk
    held from before the SIGHUP is stale."""
    cache = private_dir(tmp_path / "cache")
    where = tmp_path / "m"
    where.mkdir()
    opts = ["cache_dir=%s" % cache]
    mnt = mount(mock, mountpoint=str(where), cache_ttl=600, extra_opts=opts)
    acc = mock.account_ids()[0]
    info = os.path.join(mnt, "accounts", str(acc), "info.json")
    old = read(info)
    mock.patch_account(acc, {"label": "Đổi tên sau SIGHUP"})
    forget_all(mount, mnt)
    mount.unmount(mnt)
    n = mock.log_len()
    mnt = mount(mock, mountpoint=str(where), cache_ttl=600, extra_opts=opts)
    new = read(info)
    assert new != old
    assert json.loads(new)["label"] == "Đổi tên sau SIGHUP"
    asked = [e["path"] for e in mock.requests_since(n)]
    assert "/api/v1/bank-accounts/%d" % acc in asked, asked
