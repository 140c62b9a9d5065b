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
import os

import pytest

from conftest import errno_of, read, wait_until

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
    months = sorted(os.listdir(tx))
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
    settled = os.path.join(tx, sorted(os.listdir(tx))[0])
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
    settled = os.path.join(tx, sorted(os.listdir(tx))[0])
    read(settled)
    mock.config(expire_tokens_now=True)  # a fixed token: nothing can cure the 401
    wait_until(lambda: errno_of(read, settled) == errno.EACCES,
               what="EACCES for a settled month held in the cache")


@pytest.mark.mock_opts(**MOCK)
def test_a_403_on_the_detail_holds_for_an_open_info_json(mock, mount):
    """Opened before the 403, read after it was answered: EPERM, not the
    bytes held in memory.  Sub-accounts and transactions read on."""
    mnt = mount(mock, cache_ttl=1, expect_quiet=False)
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
    read(os.path.join(tx, sorted(os.listdir(tx))[-1]))


@pytest.mark.mock_opts(accounts=3, history_months=3, knobs={"status_for_ids": {}})
def test_a_403_on_sub_accounts_holds_for_an_open_sub_account_file(mock, mount):
    a = next(i for i, subs in sorted((int(k), v) for k, v in
                                     mock.data()["sub_accounts"].items()) if subs)
    mnt = mount(mock, cache_ttl=1, expect_quiet=False)
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
