"""test_access.py - access that was taken away stays taken away.

A 403 (or a 401 a new token does not cure) holds for what the cache holds
too: settled months are kept for weeks, and an open file or a cached page
must not be a way around a revocation.  Each kind of object follows its own
endpoint's verdict: a 403 on an account's transactions leaves its info.json
and sub-accounts readable.  Whether cached months may still be read is asked
again once per TTL while they are read (one request: the current month);
network trouble then serves what is cached, as before.
"""

import errno
import json
import os

import pytest

from conftest import errno_of, month_files, read, wait_until

MOCK = dict(accounts=3, history_months=3)


def tree(mnt, acc):
    base = os.path.join(mnt, "accounts", str(acc))
    return base, os.path.join(base, "transactions")


def tx_requests(mock, since, acc):
    return [e for e in mock.requests_since(since) if e["path"].endswith("/transactions")
            and "bank_account_id=%d&" % acc in e["query"] + "&"]


@pytest.mark.mock_opts(**MOCK)
def test_a_403_on_transactions_holds_for_cached_months(mock, mount):
    mnt = mount(mock, cache_ttl=2, expect_quiet=False)
    a, b = mock.account_ids()[:2]
    base, tx = tree(mnt, a)
    months = month_files(tx)
    settled = os.path.join(tx, months[0])  # kept for history_ttl: 30 days
    read(settled)
    n = mock.log_len()
    mock.config(status_for_transactions={str(a): 403})
    # Past the TTL, reading it asks once whether the account's months may
    # still be read: the 403 makes them, and the folder, EPERM.
    wait_until(lambda: errno_of(read, settled) == errno.EPERM, limit=30,
               what="EPERM for a settled month held in the cache")
    # The kernel may hold the folder's listing; its name is forgotten at
    # once (or at the entry timeout, the TTL, at the latest).
    wait_until(lambda: errno_of(os.listdir, tx) == errno.EPERM, what="EPERM for the folder")
    asked = tx_requests(mock, n, a)
    assert 1 <= len(asked) <= 2, asked  # the check (and maybe one more past a TTL)
    assert all(e["status"] == 403 for e in asked)
    # Each kind follows its own endpoint: the rest of a, and b, read on.
    read(os.path.join(base, "info.json"))
    os.listdir(os.path.join(base, "sub-accounts"))
    read(os.path.join(tree(mnt, b)[1], months[0]))


@pytest.mark.mock_opts(**MOCK)
def test_cached_months_are_served_through_network_trouble(mock, mount):
    mnt = mount(mock, cache_ttl=1, extra_opts=["timeout=2"], expect_quiet=False)
    a = mock.account_ids()[0]
    _, tx = tree(mnt, a)
    settled = os.path.join(tx, month_files(tx)[0])
    want = read(settled)
    n = mock.log_len()
    mock.config(status_for_transactions=503)  # the rest of the API answers
    wait_until(lambda: read(settled) == want and tx_requests(mock, n, a),
               what="a check that met a 503, and the month served anyway")
    assert all(e["status"] == 503 for e in tx_requests(mock, n, a))


@pytest.mark.mock_opts(**MOCK)
def test_a_token_refused_for_good_is_eacces_for_cached_months(mock, mount):
    mnt = mount(mock, cache_ttl=1, expect_quiet=False)
    a = mock.account_ids()[0]
    _, tx = tree(mnt, a)
    settled = os.path.join(tx, month_files(tx)[0])
    read(settled)
    mock.config(expire_tokens_now=True)  # a fixed token: nothing can cure the 401
    wait_until(lambda: errno_of(read, settled) == errno.EACCES,
               what="EACCES for a settled month held in the cache")


@pytest.mark.mock_opts(**MOCK)
def test_a_403_on_the_detail_holds_for_an_open_info_json(mock, mount):
    """Opened before the 403, read after it was answered: EPERM, not the
    bytes held in memory.  Sub-accounts and transactions read on."""
    # follow_ttl=0: the detail is asked again at the TTL, and the 403 comes
    # then (following the list, it comes within follow_ttl).
    mnt = mount(mock, cache_ttl=1, extra_opts=["follow_ttl=0"], expect_quiet=False)
    a = mock.account_ids()[0]
    base, tx = tree(mnt, a)
    info = os.path.join(base, "info.json")
    fd = os.open(info, os.O_RDONLY)
    try:
        mock.config(status_for_paths={"/api/v1/bank-accounts/%d" % a: 403})
        wait_until(lambda: errno_of(os.stat, info) == errno.EPERM, what="the detail's 403")
        assert errno_of(os.read, fd, 1 << 16) == errno.EPERM
    finally:
        os.close(fd)
    os.listdir(os.path.join(base, "sub-accounts"))
    read(os.path.join(tx, month_files(tx)[-1]))


@pytest.mark.mock_opts(accounts=3, history_months=3, knobs={"status_for_ids": {}})
def test_a_403_on_sub_accounts_holds_for_an_open_sub_account_file(mock, mount):
    a = next(i for i, subs in sorted((int(k), v) for k, v in
                                     mock.data()["sub_accounts"].items()) if subs)
    # follow_ttl=0: sub-accounts are asked again at the TTL, and the 403
    # comes then (following the list, it comes within follow_ttl).
    mnt = mount(mock, cache_ttl=1, extra_opts=["follow_ttl=0"], expect_quiet=False)
    base, _ = tree(mnt, a)
    folder = os.path.join(base, "sub-accounts")
    fd = os.open(os.path.join(folder, sorted(os.listdir(folder))[0]), os.O_RDONLY)
    try:
        mock.config(status_for_paths={"/api/v1/bank-accounts/%d/sub-accounts" % a: 403})
        wait_until(lambda: errno_of(os.listdir, folder) == errno.EPERM,
                   what="the sub-accounts' 403")
        assert errno_of(os.read, fd, 1 << 16) == errno.EPERM
    finally:
        os.close(fd)
    read(os.path.join(base, "info.json"))


# ---------------------------------------------------------------- whose cache it is

def identity_folders(cache):
    return sorted(p.name for p in cache.iterdir() if p.is_dir())


def second_login(mock):
    """A refresh token of a second person logged in through the same OAuth
    app: the mock's authorize and code exchange, as sepayfs-login does."""
    from test_login import authorize_location, exchange_code
    redirect = "http://127.0.0.1:8765/callback"
    where = authorize_location(mock, response_type="code", client_id=mock.client_id,
                               redirect_uri=redirect, state="s")
    code = dict(p.split("=", 1) for p in where.split("?", 1)[1].split("&"))["code"]
    status, answer = exchange_code(mock, code, redirect)
    assert status == 200, answer
    return answer["refresh_token"]


@pytest.mark.mock_opts(**MOCK)
def test_another_user_of_the_same_oauth_app_never_reads_your_cache(mock, mount, tmp_path):
    """Opaque tokens, one client_id, two people: the cache was keyed by the
    client, so the second read the first's cached months of an account
    SePay refuses the second."""
    from test_tokens import mount_with, write_credentials
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    opts = ["cache_dir=%s" % cache]
    first = write_credentials(tmp_path, mock, name="first.json")
    mnt = mount_with(mount, mock, first, extra_opts=opts)
    a = mock.account_ids()[0]
    _, tx = tree(mnt, a)
    settled = os.path.join(tx, month_files(tx)[0])
    read(settled)
    mount.unmount(mnt)
    mock.config(status_for_transactions={str(a): 403})  # SePay refuses the second
    second = write_credentials(tmp_path, mock, refresh_token=second_login(mock),
                               name="second.json")
    mnt = mount_with(mount, mock, second, extra_opts=opts)
    assert errno_of(read, os.path.join(tree(mnt, a)[1], os.path.basename(settled))) == \
        errno.EPERM
    assert len(identity_folders(cache)) == 2


@pytest.mark.mock_opts(**MOCK)
def test_a_rotation_keeps_the_cache_and_a_new_log_in_starts_another(mock, mount, tmp_path):
    from test_tokens import mount_with, write_credentials
    from test_backups import tree_stat
    mock.config(rotate_refresh_token=True)
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    opts = ["cache_dir=%s" % cache]
    creds = write_credentials(tmp_path, mock)
    mnt = mount_with(mount, mock, creds, extra_opts=opts)
    os.listdir(os.path.join(mnt, "accounts"))
    # The mount refreshed (no access token in the file) and rotated: the
    # file now holds a refresh token this mount has never been started with.
    wait_until(lambda: json.loads(open(creds).read())["refresh_token"] ==
               mock.tokens()["refresh_token"], what="the rotated refresh token on disk")
    before = tree_stat(mnt)
    folders = identity_folders(cache)
    mount.unmount(mnt)
    mnt = mount_with(mount, mock, creds, extra_opts=opts, mountpoint=mnt)
    assert tree_stat(mnt) == before
    assert identity_folders(cache) == folders
    mount.unmount(mnt)
    # A new log-in (the file written afresh, as sepayfs-login does) is a new
    # line of descent: a cache of its own.
    relogin = write_credentials(tmp_path, mock, refresh_token=second_login(mock),
                                name="relogin.json")
    mnt = mount_with(mount, mock, relogin, extra_opts=opts, mountpoint=mnt)
    os.listdir(os.path.join(mnt, "accounts"))
    assert len(identity_folders(cache)) == 2
