"""test_walks.py - what a walk costs in requests, and what a stopped walk costs.

SePay counts requests per IP address at about 3 a second, so what a walk
asks is what a user waits for.  These tests count the mock's requests:
    - a cold cat of one month asks for that month alone;
    - a walk (grep -r) asks each account's history as one range, not a
      request per month;
    - a walk that skips transactions/ (grep -r --exclude-dir) asks no month,
      even after an earlier walk went into transactions folders;
    - a walk stopped halfway (Ctrl-C) stops asking within a couple of
      seconds: only requests already in flight still go out.
"""

import os
import signal
import subprocess
import time

import pytest

from conftest import month_files, read

TX_PATH = "/api/v1/transactions"


def tx_requests(entries):
    return [e for e in entries if e["path"] == TX_PATH]


@pytest.mark.mock_opts(accounts=6, history_months=12)
def test_cold_cat_of_one_month_asks_for_that_month(mock, mount):
    mnt = mount(mock)
    acc = mock.account_ids()[2]
    before = mock.log_len()
    tx = os.path.join(mnt, "accounts", str(acc), "transactions")
    month = time.strftime("%Y-%m", time.gmtime(time.time() + 7 * 3600))
    read(os.path.join(tx, month + ".jsonl"))
    mock.wait_quiet()
    asked = tx_requests(mock.requests_since(before))
    assert len(asked) == 1, asked
    assert "from_date=%s-01" % month in asked[0]["query"]


@pytest.mark.mock_opts(accounts=20, history_months=18)
def test_a_repeated_walk_costs_no_more_than_a_cold_one(mock, mount):
    """The same grep -r again once the TTL has passed, nothing changed: the
    kernel still holds each transactions folder's listing (its mtime did
    not move), so no readdir marks the walk, and the months that expired
    were asked one by one instead of as the account's range (a request
    more per account)."""
    mnt = mount(mock, cache_ttl=2)

    def walk():
        r = subprocess.run(["grep", "-rc", "DH", mnt], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode in (0, 1), r.stderr
        mock.wait_quiet()

    walk()
    cold = mock.requests()  # the mount's first page of accounts included
    time.sleep(2.5)  # past the TTL: that is the point, and a slow machine only adds to it
    walk()
    again = mock.requests_since(len(cold))
    assert len(again) <= len(cold), (len(cold), len(again))
    per_account = {}
    for e in tx_requests(again):
        q = dict(p.split("=", 1) for p in e["query"].split("&"))
        per_account.setdefault(q.get("bank_account_id", "company"), set()).add(q["from_date"])
    assert all(len(starts) == 1 for starts in per_account.values()), per_account


def kinds(entries):
    """{kind: count} of API requests: list, detail, subs, tx (an account's
    transactions), company (the company's, /transactions)."""
    out = {"list": 0, "detail": 0, "subs": 0, "tx": 0, "company": 0}
    for e in entries:
        p = e["path"]
        if p == "/api/v1/bank-accounts":
            out["list"] += 1
        elif p.endswith("/sub-accounts"):
            out["subs"] += 1
        elif p == TX_PATH and "bank_account_id=" not in e["query"]:
            out["company"] += 1
        elif p == TX_PATH:
            out["tx"] += 1
        elif p.startswith("/api/v1/bank-accounts/"):
            out["detail"] += 1
    return out


def walk_kinds(mock, mnt, timeout):
    """kinds() of the requests a grep -r of the mount asks."""
    before = mock.log_len()
    r = subprocess.run(["grep", "-rc", "DH", mnt], capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode in (0, 1), r.stderr
    mock.wait_quiet()
    return kinds(mock.requests_since(before))


@pytest.mark.mock_opts(accounts=10, history_months=3)
def test_a_working_day_asks_the_list_and_what_changed(mock, mount):
    """Commands minutes apart (here: past a 2 s TTL).  An account whose list
    item did not change keeps its detail, sub-accounts and current month
    (follow_ttl), so a walk asks the list and one check per account whose
    months it reads; one whose balance moved is asked again at once."""
    mnt = mount(mock, cache_ttl=2, extra_opts=["follow_ttl=600"])

    def walk():
        return walk_kinds(mock, mnt, timeout=120)

    walk()
    time.sleep(2.5)  # past the TTL: that is the point; a slow machine only adds to it
    again = walk()
    # The list once, or again each TTL a slow walk outlasts; the company's
    # months not settled, as one range (its pages).
    assert again["list"] >= 1 and again == dict(again, detail=0, subs=0, tx=10), again
    assert again["company"] >= 1, again
    moved = mock.account_ids()[3]
    mock.patch_account(moved, {"accumulated": 1234.5})
    time.sleep(2.5)
    third = walk()
    assert third["list"] >= 1 and third == dict(third, detail=1, subs=1, tx=10), third
    info = os.path.join(mnt, "accounts", str(moved), "info.json")
    assert b"1234.5" in read(info)


@pytest.mark.mock_opts(accounts=8, history_months=2, latency_ms=400)
def test_a_walk_longer_than_the_ttl_asks_the_list_not_each_account(mock, mount):
    """A walk outlasts cache_ttl (each request here takes 400 ms; a slow
    machine only adds to it).  Past the TTL the list is asked again, once
    for every account, and an account whose item did not change keeps its
    detail and sub-accounts: they are not asked one by one."""
    mnt = mount(mock, cache_ttl=1, extra_opts=["follow_ttl=600"])

    def walk():
        return walk_kinds(mock, mnt, timeout=300)

    first = walk()
    assert first["detail"] == 8 and first["subs"] == 8, first
    time.sleep(1.5)  # past the TTL
    again = walk()
    assert again["detail"] == 0 and again["subs"] == 0, again
    assert again["list"] >= 1, again


@pytest.mark.mock_opts(accounts=10, history_months=18)
def test_a_walk_asks_each_history_as_one_range(mock, mount):
    mnt = mount(mock)
    r = subprocess.run(["grep", "-rc", "DH", mnt], capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 1), r.stderr
    mock.wait_quiet()
    asked = tx_requests(mock.requests())
    per_account = {}
    for e in asked:
        q = dict(p.split("=", 1) for p in e["query"].split("&"))
        per_account.setdefault(q.get("bank_account_id", "company"), set()).add(
            (q["from_date"], q["to_date"]))
    # 19 months each (created 18 months back, and this one): one range each,
    # in pages of 100 (these histories fit one or two); the company's
    # /transactions one range too, in a few pages more.
    assert len(per_account) == 10 + 1 and "company" in per_account, per_account
    assert all(len(ranges) == 1 for ranges in per_account.values()), per_account
    assert len(asked) <= 2 * 10 + 10, len(asked)
    # Every month file is there, and equals a month asked alone.
    single = mount(mock)
    acc = mock.account_ids()[3]
    tx = os.path.join(mnt, "accounts", str(acc), "transactions")
    names = month_files(tx)
    assert len(names) == 19
    for name in names:
        assert read(os.path.join(tx, name)) == \
            read(os.path.join(single, "accounts", str(acc), "transactions", name))


@pytest.mark.mock_opts(accounts=12, history_months=6)
def test_a_walk_that_skips_transactions_asks_no_month(mock, mount):
    """An earlier walk went into transactions folders; the next one skips
    them: read-ahead belongs to the walk, and asks no month for it."""
    mnt = mount(mock, expect_quiet=False)
    acc = mock.account_ids()
    for a in acc[:3]:
        tx = os.path.join(mnt, "accounts", str(a), "transactions")
        for name in month_files(tx):
            read(os.path.join(tx, name))
    mock.wait_quiet()
    mount.daemon(mnt).proc.send_signal(signal.SIGHUP)  # everything is asked again
    deadline = time.monotonic() + 30
    while "SIGHUP" not in mount.stderr(mnt) and time.monotonic() < deadline:
        time.sleep(0.05)
    before = mock.log_len()
    r = subprocess.run(["grep", "-r", "--exclude-dir=transactions", "-c", "x", mnt],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 1), r.stderr
    mock.wait_quiet()
    assert tx_requests(mock.requests_since(before)) == []


@pytest.mark.mock_opts(accounts=150, history_months=12, latency_ms=100)
def test_a_stopped_walk_stops_asking(mock, mount):
    """grep -r on a slow server, interrupted once it is well under way: the
    requests after the interrupt are those in flight and what read-ahead had
    queued within its window, never the rest of the walk."""
    mnt = mount(mock)
    grep = subprocess.Popen(["grep", "-r", "DH", mnt], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while mock.log_len() < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert grep.poll() is None, "the walk ended before it could be stopped"
    grep.send_signal(signal.SIGINT)
    grep.wait(timeout=30)
    at_stop = mock.log_len()
    mock.wait_quiet(settle=3)
    after = mock.log_len() - at_stop
    # The most a stopped walk can still cost, whatever the machine's speed:
    # read-ahead queues at most a window of accounts (2 x max_conns) ahead
    # of the last visit, in each of its two orders, three objects each
    # (detail, sub-accounts, one range page here), and max_conns requests
    # are in flight.  How soon the idle drop empties the queue is timing;
    # test_readahead checks it on a fake clock.
    max_conns = 8
    bound = 2 * (2 * max_conns) * 3 + max_conns
    assert after <= bound, "%d requests after the walk stopped" % after
    # The rest of the walk (3 requests an account) was not asked.
    whole_walk = 150 * 3
    assert mock.log_len() < whole_walk // 2
