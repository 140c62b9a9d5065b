"""Caching: no request within the TTL, refresh after it, honest mtimes."""

import json
import os
import time

from conftest import read, wait_until


def test_second_ls_within_ttl_sends_nothing(mock, mount):
    mnt = mount(mock, cache_ttl=60)
    acc = os.path.join(mnt, "accounts")
    first = os.listdir(acc)
    before = mock.log_len()
    assert os.listdir(acc) == first
    for n in first:
        os.stat(os.path.join(acc, n))
    assert mock.requests_since(before) == []


def test_second_read_within_ttl_sends_nothing(mock, mount):
    mnt = mount(mock, cache_ttl=60)
    info = os.path.join(mnt, "accounts", "19", "info.json")
    subs = os.path.join(mnt, "accounts", "19", "sub-accounts")
    a = read(info)
    names = os.listdir(subs)
    before = mock.log_len()
    assert read(info) == a
    assert os.listdir(subs) == names
    os.stat(info)
    assert mock.requests_since(before) == []


def test_refresh_after_ttl_changes_content_and_mtime(mock, mount):
    # follow_ttl=0: an unchanged info.json too is asked again at the TTL
    mnt = mount(mock, cache_ttl=1, extra_opts=["follow_ttl=0"])
    info19 = os.path.join(mnt, "accounts", "19", "info.json")
    info21 = os.path.join(mnt, "accounts", "21", "info.json")
    old19, old21 = read(info19), read(info21)
    st19, st21 = os.stat(info19), os.stat(info21)
    assert b"1777283273.00," in old19
    # same length, different content: only the mtime tells rsync it changed
    mock.patch_account(19, {"accumulated": 1777283274.00})
    wait_until(lambda: read(info19) != old19, what="the refresh of info.json after the TTL")
    new19 = read(info19)
    assert b'"accumulated": 1777283274.00,' in new19
    assert len(new19) == len(old19)
    nst19 = os.stat(info19)
    assert nst19.st_mtime != st19.st_mtime, "content changed but mtime did not"
    assert nst19.st_mtime > st19.st_mtime
    assert nst19.st_size == len(new19)
    asked21 = lambda: [e["path"] for e in mock.requests()].count("/api/v1/bank-accounts/21")
    wait_until(lambda: read(info21) is not None and asked21() >= 2,
               what="the refresh of the unchanged info.json")
    new21 = read(info21)
    assert new21 == old21
    assert os.stat(info21).st_mtime == st21.st_mtime, "content same but mtime moved"
    # the refresh really went to the server
    paths = [e["path"] for e in mock.requests()]
    assert paths.count("/api/v1/bank-accounts/19") >= 2
    assert paths.count("/api/v1/bank-accounts/21") >= 2


def test_refresh_changes_size(mock, mount):
    mnt = mount(mock, cache_ttl=1)
    info = os.path.join(mnt, "accounts", "19", "info.json")
    old = read(info)
    mock.patch_account(19, {"accumulated": 5.00, "label": "Nhãn mới dài hơn nhiều"})
    wait_until(lambda: read(info) != old, what="the refresh after the TTL")
    st = os.stat(info)
    new = read(info)
    assert st.st_size == len(new) != len(old)
    obj = json.loads(new)
    assert obj["accumulated"] == 5.0 and obj["label"] == "Nhãn mới dài hơn nhiều"


def test_listing_refresh_after_ttl(mock, mount):
    mnt = mount(mock, cache_ttl=3)
    acc = os.path.join(mnt, "accounts")
    start = time.monotonic()
    ids = sorted(int(n) for n in os.listdir(acc))
    mock.add_account({"id": 20, "label": "Tài khoản mới", "accumulated": 0})
    mock.delete_account(ids[-1])
    # within the TTL nothing changes (a machine stalled past it proves nothing)
    within = sorted(int(n) for n in os.listdir(acc))
    if time.monotonic() - start < 3:
        assert within == ids
    wait_until(lambda: sorted(int(n) for n in os.listdir(acc)) == mock.account_ids(),
               what="the listing's refresh after the TTL")
    now = sorted(int(n) for n in os.listdir(acc))
    assert now == mock.account_ids()
    assert 20 in now and ids[-1] not in now


def test_sub_account_refresh_after_ttl(mock, mount):
    # follow_ttl=0: a sub-account is refreshed at the TTL (not in the list)
    mnt = mount(mock, cache_ttl=1, extra_opts=["follow_ttl=0"])
    subs = mock.data()["sub_accounts"]["24"]
    path = os.path.join(mnt, "accounts", "24", "sub-accounts", "%d.json" % subs[0]["id"])
    old = json.loads(read(path))
    assert old == subs[0]
    mock.patch_sub_account(subs[0]["id"], {"label": "Đã đổi tên", "active": False})
    wait_until(lambda: json.loads(read(path)) != old, what="the sub-account's refresh")
    new = json.loads(read(path))
    assert new["label"] == "Đã đổi tên" and new["active"] is False


def test_file_pinned_to_open_handle(mock, mount):
    """A refresh between open and read never mixes two versions: what one
    open file gives is exactly the old or exactly the new rendering."""
    mnt = mount(mock, cache_ttl=1)
    info = os.path.join(mnt, "accounts", "19", "info.json")
    with open(info, "rb") as f:
        old = read(info)
        first = f.read(10)
        mock.patch_account(19, {"label": "Một nhãn hoàn toàn khác và dài hơn"})
        # the new version gets fetched for others, once the TTL has passed
        wait_until(lambda: read(info) != old, what="the new version for other readers")
        new = read(info)
        rest = f.read()
    assert new != old and "Một nhãn".encode() in new
    whole = first + rest
    assert whole in (old, new), "one open file mixed two versions: %r" % whole[-120:]


def _refreshed(mock, since, folder, path_end):
    """stat of folder (which refreshes its listing past the TTL), and
    whether the mock has seen the listing's request since `since`."""
    os.stat(folder)
    return any(e["path"].endswith(path_end) for e in mock.requests_since(since))


def test_a_file_open_across_a_refresh_reads_the_version_it_opened(mock, mount):
    """Opened but not read yet (the kernel holds no pages of it), then a
    refresh brings the file new bytes: the open file still reads the
    version it opened, whole.  It used to fail with ESTALE."""
    # follow_ttl=0: a sub-account is refreshed at the TTL (not in the list)
    mnt = mount(mock, cache_ttl=1, extra_opts=["follow_ttl=0"])
    sub = mock.data()["sub_accounts"]["24"][0]
    folder = os.path.join(mnt, "accounts", "24", "sub-accounts")
    fd = os.open(os.path.join(folder, "%d.json" % sub["id"]), os.O_RDONLY)
    try:
        mock.patch_sub_account(sub["id"], {"label": "Đã đổi tên"})
        n = mock.log_len()
        wait_until(lambda: _refreshed(mock, n, folder, "/sub-accounts"),
                   what="the folder's refresh")
        got = os.read(fd, 1 << 20)
    finally:
        os.close(fd)
    assert json.loads(got) == sub


def test_an_open_by_name_after_a_refresh_is_never_stale(mock, mount):
    """The kernel keeps a file's name for the entry timeout.  A refresh that
    brings the file new bytes within it (stat of its folder) makes the name
    go, so the next open finds the new inode: never "Stale file handle"."""
    # follow_ttl=0: a sub-account is refreshed at the TTL (not in the list)
    mnt = mount(mock, cache_ttl=4, extra_opts=["follow_ttl=0"])
    sub = mock.data()["sub_accounts"]["24"][0]
    folder = os.path.join(mnt, "accounts", "24", "sub-accounts")
    path = os.path.join(folder, "%d.json" % sub["id"])
    os.stat(folder)  # the listing is fetched now (a lookup: no names handed out)
    # Only so that the old fault shows: the file's name, looked up half a
    # TTL later, outlives the listing's refresh in the kernel.  The test
    # holds however long this takes.
    time.sleep(2)
    os.stat(path)
    mock.patch_sub_account(sub["id"], {"label": "Đã đổi tên"})
    n = mock.log_len()
    wait_until(lambda: _refreshed(mock, n, folder, "/sub-accounts"),
               what="the folder's refresh")
    new = dict(sub, label="Đã đổi tên")

    def shows_new():
        got = json.loads(read(path))  # an OSError (ESTALE) fails the test
        assert got in (sub, new)
        return got == new
    wait_until(shows_new, what="the new version by name")
