"""The admin's workstation: mount(8) and fstab options, signals, extended
attributes, ownership and modes, logging."""

import os
import signal
import stat
import subprocess
import time

import pytest

from conftest import SEPAYFS_BIN, read


def token_file(tmp_path, mock):
    path = tmp_path / "token"
    path.write_text(mock.token + "\n")
    os.chmod(path, 0o600)
    return str(path)


@pytest.fixture
def sepayfs_on_path():
    """mount(8) runs helpers with its own PATH: put sepayfs where it looks."""
    if os.geteuid() != 0:
        pytest.skip("mount -t needs root")
    link = "/usr/local/bin/sepayfs"
    if os.path.lexists(link):
        if os.path.realpath(link) != os.path.realpath(SEPAYFS_BIN):
            pytest.skip("%s is another sepayfs; not replacing it" % link)
        yield
        return
    os.symlink(os.path.realpath(SEPAYFS_BIN), link)
    try:
        yield
    finally:
        os.unlink(link)


def test_mount_t_with_fstab_options(mock, tmp_path, sepayfs_on_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    opts = ",".join(["base_url=" + mock.url, "token_file=" + token_file(tmp_path, mock),
                     "_netdev", "nofail", "noauto", "users", "x-systemd.automount",
                     "x-systemd.mount-timeout=30"])
    r = subprocess.run(["mount", "-t", "fuse.sepayfs", "sepayfs", str(mnt), "-o", opts],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    try:
        assert os.path.ismount(mnt)
        assert sorted(os.listdir(mnt / "accounts"), key=int) == [str(i) for i in
                                                                 mock.account_ids()]
        line = [l for l in open("/proc/mounts") if " %s " % mnt in l][0]
        assert line.split()[0] == "sepayfs" and line.split()[2] == "fuse.sepayfs", line
        df = subprocess.run(["df", str(mnt)], capture_output=True, text=True, timeout=30)
        assert df.stdout.splitlines()[1].startswith("sepayfs"), df.stdout
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], timeout=30)
    assert not os.path.ismount(mnt)


def test_source_argument_as_mount_fuse3_passes_it(mock, mount):
    mnt = mount(mock, args=["sepayfs"])  # sepayfs SOURCE MOUNTPOINT
    assert os.listdir(os.path.join(mnt, "accounts"))


def test_sighup_makes_a_change_visible_at_once(mock, mount):
    mnt = mount(mock, cache_ttl=3600, expect_quiet=False)
    info = os.path.join(mnt, "accounts", "19", "info.json")
    names_before = os.listdir(os.path.join(mnt, "accounts"))
    assert b"Cty Demo" in read(info)
    mock.patch_account(19, {"label": "Nhãn mới sau SIGHUP"})
    mock.add_account({"id": 999999, "label": "new"})
    assert b"Cty Demo" in read(info), "served from cache within the TTL"
    mount.daemon(mnt).proc.send_signal(signal.SIGHUP)
    # The daemon logs once it has dropped its cache and told the kernel
    # to forget every entry: from then on, both changes show.
    deadline = time.monotonic() + 10
    while "SIGHUP" not in mount.stderr(mnt) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "SIGHUP" in mount.stderr(mnt)
    assert "Nhãn mới sau SIGHUP".encode() in read(info)
    names = os.listdir(os.path.join(mnt, "accounts"))
    assert "999999" in names and "999999" not in names_before


def test_file_open_across_sighup_keeps_its_version(mock, mount):
    """A file open across SIGHUP and a change of its content goes on
    reading the bytes it opened, whole, while a new open sees the change."""
    mnt = mount(mock, cache_ttl=3600, expect_quiet=False)
    info = os.path.join(mnt, "accounts", "19", "info.json")
    fd = os.open(info, os.O_RDONLY)
    try:
        opened = os.pread(fd, 1 << 20, 0)
        mock.patch_account(19, {"label": "Nhãn đổi khi tệp đang mở"})
        mount.daemon(mnt).proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "SIGHUP" not in mount.stderr(mnt) and time.monotonic() < deadline:
            time.sleep(0.05)
        changed = read(info)  # a new lookup: the new version, in the cache now
        assert "Nhãn đổi khi tệp đang mở".encode() in changed
        assert os.pread(fd, 1 << 20, 0) == opened
        assert os.fstat(fd).st_size == len(opened)
    finally:
        os.close(fd)
    assert "ESTALE" not in mount.stderr(mnt) and "changed since" not in mount.stderr(mnt)


def test_sigusr1_writes_one_statistics_line(mock, mount):
    mnt = mount(mock, expect_quiet=False)
    read(os.path.join(mnt, "accounts", "19", "info.json"))
    mount.daemon(mnt).proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while "stats:" not in mount.stderr(mnt) and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [l for l in mount.stderr(mnt).splitlines() if "stats:" in l]
    assert len(lines) == 1, mount.stderr(mnt)
    for word in ("requests", "retries", "in flight", "cache hits", "misses", "errors",
                 "cached bytes"):
        assert word in lines[0], lines[0]
    assert os.path.ismount(mnt), "SIGUSR1 must not end the daemon"


def test_extended_attributes(mock, mount):
    mnt = mount(mock)
    acc = os.path.join(mnt, "accounts")
    info = os.path.join(acc, "19", "info.json")
    read(info)
    subs = os.path.join(acc, "19", "sub-accounts")
    sub = os.path.join(subs, sorted(os.listdir(subs))[0])
    want = {info: "/bank-accounts/19", os.path.join(acc, "19"): "/bank-accounts/19",
            acc: "/bank-accounts", subs: "/bank-accounts/19/sub-accounts",
            sub: "/bank-accounts/19/sub-accounts"}
    for path, source in want.items():
        assert os.getxattr(path, "user.sepayfs.source").decode() == source
        # Listed: only what moves with the content (backup tools store
        # every listed attribute); the fetch time answers by name.
        assert os.listxattr(path) == ["user.sepayfs.source"]
    fetched = os.getxattr(info, "user.sepayfs.fetched").decode()
    assert time.strptime(fetched, "%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(OSError):
        os.getxattr(info, "user.other")
    with pytest.raises(OSError):
        os.setxattr(info, "user.x", b"1")


def test_allow_other_narrows_modes(mock, mount):
    mnt = mount(mock, extra_opts=["allow_other"])
    acc = os.path.join(mnt, "accounts")
    info = os.path.join(acc, "19", "info.json")
    assert stat.S_IMODE(os.stat(info).st_mode) == 0o440
    assert stat.S_IMODE(os.stat(acc).st_mode) == 0o550
    line = [l for l in open("/proc/mounts") if " %s " % mnt in l][0]
    assert "default_permissions" in line and "allow_other" in line


def test_uid_gid_umask(mock, mount):
    mnt = mount(mock, extra_opts=["uid=1234", "gid=5678", "umask=0027"])
    info = os.path.join(mnt, "accounts", "19", "info.json")
    st = os.stat(info)
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert stat.S_IMODE(st.st_mode) == 0o440
    assert stat.S_IMODE(os.stat(os.path.join(mnt, "accounts")).st_mode) == 0o550


def test_log_level_info_says_it_mounted(mock, mount):
    mnt = mount(mock, extra_opts=["log_level=info"], expect_quiet=False)
    assert "mounted" in mount.stderr(mnt)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_unmount_cleanly(mock, mount, sig):
    mnt = mount(mock)
    os.listdir(os.path.join(mnt, "accounts"))
    proc = mount.daemon(mnt).proc
    proc.send_signal(sig)
    assert proc.wait(10) == 0
    assert not os.path.ismount(mnt)


@pytest.mark.mock_opts(token="secret-token-in-env")
def test_token_is_not_left_in_the_environment(mock, mount):
    """SEPAY_ACCESS_TOKEN is read, then wiped: /proc/PID/environ (which
    shows the memory the environment started in) no longer holds it."""
    mnt = mount(mock)
    os.listdir(os.path.join(mnt, "accounts"))  # the token still works
    pid = mount.daemon(mnt).proc.pid
    with open("/proc/%d/environ" % pid, "rb") as f:
        environ = f.read()
    assert b"secret-token-in-env" not in environ
    assert b"SEPAY_ACCESS_TOKEN=secret" not in environ
