"""File handles that outlive the kernel's memory: what the kernel's NFS
server (nfsd) does with a mount it exports, done here with the same two
system calls it uses, name_to_handle_at(2) and open_by_handle_at(2).

nfsd hands a client a handle per file and folder, and answers the client's
later requests by opening that handle, often after the kernel has forgotten
the inode (memory pressure, drop_caches) or after the server rebooted and
mounted sepayfs again.  These tests stand in for the NFS server (this
machine's containers cannot run nfsd): a handle taken before drop_caches or
a remount must open the same node with the same bytes, and one whose
content has changed since must fail with ESTALE, as NFS expects of a
replaced file.

Needs CAP_DAC_READ_SEARCH (open_by_handle_at): run as root.
"""

import ctypes
import errno
import os
import signal

import pytest

from conftest import bounded, forget_all, wait_until

AT_FDCWD = -100
MAX_HANDLE_SZ = 128

_libc = ctypes.CDLL(None, use_errno=True)


class FileHandle(ctypes.Structure):
    _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int),
                ("f_handle", ctypes.c_ubyte * MAX_HANDLE_SZ)]


def handle_of(path):
    """The handle of path itself (a link's own: without AT_SYMLINK_FOLLOW)."""
    fh = FileHandle()
    fh.handle_bytes = MAX_HANDLE_SZ
    mount_id = ctypes.c_int()
    if _libc.name_to_handle_at(AT_FDCWD, os.fsencode(path), ctypes.byref(fh),
                               ctypes.byref(mount_id), 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)
    return bytes(fh)


def open_handle(mount_fd, handle, flags):
    fh = FileHandle.from_buffer_copy(handle)
    fd = _libc.open_by_handle_at(mount_fd, ctypes.byref(fh), flags)
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return fd


def readlink_fd(fd):
    buf = ctypes.create_string_buffer(4096)
    n = _libc.readlinkat(fd, b"", buf, len(buf))
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return buf.raw[:n].decode()


def content_by_path(path):
    if os.path.islink(path):
        return ("link", os.readlink(path))
    if os.path.isdir(path):
        return ("dir", sorted(os.listdir(path)))
    with open(path, "rb") as f:
        return ("file", f.read())


def content_by_handle(mnt, handle, kind):
    """What the handle opens to, read through the fd it gives."""
    mount_fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if kind == "link":
            fd = open_handle(mount_fd, handle, os.O_PATH | os.O_NOFOLLOW)
            try:
                return ("link", readlink_fd(fd))
            finally:
                os.close(fd)
        if kind == "dir":
            fd = open_handle(mount_fd, handle, os.O_RDONLY | os.O_DIRECTORY)
            try:
                return ("dir", sorted(os.listdir(fd)))
            finally:
                os.close(fd)
        fd = open_handle(mount_fd, handle, os.O_RDONLY)
        try:
            chunks = []
            while True:
                b = os.read(fd, 1 << 20)
                if not b:
                    break
                chunks.append(b)
            return ("file", b"".join(chunks))
        finally:
            os.close(fd)
    finally:
        os.close(mount_fd)


def errno_by_handle(mnt, handle, kind):
    try:
        bounded(content_by_handle, mnt, handle, kind, timeout=30.0)
    except OSError as exc:
        return exc.errno
    return 0


def inodes_held(mount, mnt):
    """The daemon's count of inodes the kernel holds (SIGUSR1's line)."""
    daemon = mount.daemon(mnt)
    seen = daemon.stderr_text().count("notice: stats:")
    daemon.proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: daemon.stderr_text().count("notice: stats:") > seen, 10, "the stats")
    line = [x for x in daemon.stderr_text().splitlines() if "notice: stats:" in x][-1]
    return int(line.split(" inodes ")[1].split(",")[0].split(";")[0])


def drop_caches():
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def nodes(mnt, mock):
    """One path of every kind of node: the root, an account, each listing,
    info.json, a sub-account, a month (JSON Lines and CSV), totals.csv,
    and each view's files."""
    acc = mock.account_ids()[2]
    base = os.path.join("accounts", str(acc))
    subs = sorted(os.listdir(os.path.join(mnt, base, "sub-accounts")))
    months = sorted(os.listdir(os.path.join(mnt, base, "transactions")))
    jsonl = [m for m in months if m.endswith(".jsonl")]
    csv = [m for m in months if m.endswith(".csv") and m != "totals.csv"]
    company = sorted(m for m in os.listdir(os.path.join(mnt, "transactions"))
                     if m.endswith(".jsonl"))
    numbers = sorted(os.listdir(os.path.join(mnt, "by-number")))
    assert subs and jsonl and csv and company and numbers
    paths = ["", "accounts", base, os.path.join(base, "info.json"),
             os.path.join(base, "sub-accounts"), os.path.join(base, "sub-accounts", subs[0]),
             os.path.join(base, "transactions"), os.path.join(base, "transactions", jsonl[0]),
             os.path.join(base, "transactions", jsonl[-1]),
             os.path.join(base, "transactions", csv[0]),
             os.path.join(base, "transactions", "totals.csv"),
             "balances.csv", "by-number", os.path.join("by-number", numbers[0]),
             "transactions", os.path.join("transactions", company[0])]
    return [p for p in paths]


def take(mnt, paths):
    out = {}
    for p in paths:
        full = os.path.join(mnt, p)
        kind, value = content_by_path(full)
        out[p] = (handle_of(full), kind, value)
    return out


def test_handles_outlive_drop_caches_and_a_remount(mock, mount, tmp_path):
    cache_dir = tmp_path / "cache"
    opts = ["csv", "cache_dir=%s" % cache_dir]
    mnt = mount(mock, extra_opts=opts, expect_quiet=False)
    taken = take(mnt, nodes(mnt, mock))
    held = inodes_held(mount, mnt)

    # The kernel forgets every inode it can.
    drop_caches()
    wait_until(lambda: inodes_held(mount, mnt) < held / 2, 10, "the kernel's forgets")
    for path, (handle, kind, value) in taken.items():
        got = bounded(content_by_handle, mnt, handle, kind, timeout=30.0)
        assert got == (kind, value), "%r after drop_caches" % path

    # Unmounted and mounted again on the same disk cache (a reboot of the
    # server): the same handles open the same bytes.
    mount.unmount(mnt)
    mnt = mount(mock, extra_opts=opts, mountpoint=mnt, expect_quiet=False)
    for path, (handle, kind, value) in taken.items():
        got = bounded(content_by_handle, mnt, handle, kind, timeout=30.0)
        assert got == (kind, value), "%r after a remount" % path
    text = mount.stderr(mnt)
    assert "error" not in text, text


def test_a_handle_of_changed_content_is_stale(mock, mount, tmp_path):
    mnt = mount(mock, expect_quiet=False)
    acc = mock.account_ids()[2]
    base = os.path.join(mnt, "accounts", str(acc))
    sub = sorted(os.listdir(os.path.join(base, "sub-accounts")))[0]
    info, balances = os.path.join(base, "info.json"), os.path.join(mnt, "balances.csv")
    sub_file = os.path.join(base, "sub-accounts", sub)
    before = {p: (handle_of(p), content_by_path(p)) for p in (info, balances, sub_file, base)}

    mock.patch_account(acc, {"label": "Renamed for the handle test"})
    forget_all(mount, mnt)
    drop_caches()
    # What changed is stale; what did not still opens.
    assert errno_by_handle(mnt, before[info][0], "file") == errno.ESTALE
    assert errno_by_handle(mnt, before[balances][0], "file") == errno.ESTALE
    for p in (sub_file, base):
        handle, (kind, value) = before[p]
        assert bounded(content_by_handle, mnt, handle, kind, timeout=30.0) == (kind, value), p
    # The new content has a handle of its own, which opens.
    kind, value = content_by_path(info)
    assert b"Renamed for the handle test" in value
    assert bounded(content_by_handle, mnt, handle_of(info), kind, timeout=30.0) == (kind, value)


def test_a_handle_unknown_to_the_mount_is_stale(mock, mount, tmp_path):
    mnt = mount(mock, expect_quiet=False)
    info = os.path.join(mnt, "accounts", str(mock.account_ids()[0]), "info.json")
    handle = bytearray(handle_of(info))
    # Another node number in the same handle (FUSE's: the number, then
    # the generation): the kernel asks the daemon, which knows nothing of it.
    handle[8] ^= 0x5a
    assert errno_by_handle(mnt, bytes(handle), "file") == errno.ESTALE


@pytest.mark.parametrize("what", ["number", "generation"])
def test_a_forged_handle_never_opens_another_node(mock, mount, tmp_path, what):
    """A handle whose generation does not match the node its number names
    now (a number given again after a collision) is refused: the kernel
    compares the generation the daemon answers with the handle's."""
    mnt = mount(mock, expect_quiet=False)
    ids = mock.account_ids()
    a = os.path.join(mnt, "accounts", str(ids[0]), "info.json")
    b = os.path.join(mnt, "accounts", str(ids[1]), "info.json")
    ha, hb = handle_of(a), handle_of(b)
    content_by_path(a), content_by_path(b)
    # FUSE's handle: 8 bytes of header, then the node number's two halves
    # and the generation (struct fuse_inode_handle, as u32 words).
    forged = bytearray(ha)
    if what == "number":
        forged[8:16] = hb[8:16]      # b's number with a's generation
    else:
        forged[16:20] = hb[16:20]    # a's number with b's generation
    drop_caches()
    assert errno_by_handle(mnt, bytes(forged), "file") == errno.ESTALE
    assert bounded(content_by_handle, mnt, ha, "file", timeout=30.0) == content_by_path(a)
