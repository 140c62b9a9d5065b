"""test_busy.py - a busy shop's account: months larger than memory may hold.

One account takes thousands of transactions a month.  Its months are built
as pages arrive and kept in files (beside the disk cache, or unlinked under
$TMPDIR without one): each must still be the API's month byte for byte,
with the same inode and times after a remount.  What memory this takes is
the benchmark's (tests/bench/bench_busy.py), not a test's.
"""

import json
import os

import pytest

from conftest import month_files, read
from test_backups import private_dir, tree_stat, walk_bytes
from test_transactions import check_month_file, tx_dir

BUSY = dict(accounts=2, history_months=1, busy_tx=4000, max_page_size=1000)


@pytest.mark.mock_opts(**BUSY)
def test_busy_months_read_whole_without_a_disk_cache(mock, mount, tmp_path):
    tmp = private_dir(tmp_path / "tmp")
    mnt = mount(mock, extra_opts=["cache_dir=none", "cache_max_mb=1"],
                env={"TMPDIR": str(tmp)})
    acc = mock.account_ids()[0]
    tx = tx_dir(mnt, acc)
    months = month_files(tx)
    sizes = [len(check_month_file(mock, os.path.join(tx, name), acc, name[:7]))
             for name in months]
    assert max(sizes) > 1 << 20, sizes  # larger than a blob kept in memory
    assert os.listdir(tmp) == []  # unlinked files only
    # Read again through the kernel's cache and around it: the same.
    fd = os.open(os.path.join(tx, months[0]), os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    assert len(read(os.path.join(tx, months[0]))) == sizes[0]


@pytest.mark.mock_opts(**BUSY)
def test_busy_months_keep_their_bytes_and_times_across_a_remount(mock, mount, tmp_path):
    cache = private_dir(tmp_path / "cache")
    mnt = tmp_path / "m"
    mnt.mkdir()
    opts = ["cache_dir=%s" % cache, "cache_max_mb=1"]
    path = mount(mock, mountpoint=str(mnt), extra_opts=opts, cache_ttl=600)
    first = walk_bytes(path)
    first_stat = tree_stat(path)
    assert max(len(b) for b in first.values()) > 1 << 20
    mount.unmount(path)
    n = mock.log_len()
    path = mount(mock, mountpoint=str(mnt), extra_opts=opts, cache_ttl=600)
    assert walk_bytes(path) == first
    assert tree_stat(path) == first_stat
    assert len(mock.requests_since(n)) == 1  # the access check: months came from disk


# ---------------------------------------------------------------- the current month by what is new

from test_backups import faked  # noqa: E402  (grouped with the tests that use it)
from conftest import wait_until  # noqa: E402

MID_JUNE = "2026-06-20 05:00:00"  # noon in Vietnam: June has 19 days behind it
CURRENT = dict(accounts=2, history_months=1, busy_tx=4500, max_page_size=1000,
               env=faked(MID_JUNE))


def tx_asked(mock, since, acc):
    out = []
    for e in mock.requests_since(since):
        if e["path"].endswith("/transactions") and "bank_account_id=%d&" % acc in e["query"]:
            q = dict(p.split("=", 1) for p in e["query"].split("&"))
            out.append((q.get("from_date"), q.get("limit")))
    return out


def refresh(mock, path, since, acc):
    """Reads path until the month has been asked again (the TTL passed):
    what was asked for it."""
    wait_until(lambda: (read(path), tx_asked(mock, since, acc))[1],
               what="the month's refresh")
    mock.wait_quiet()
    return tx_asked(mock, since, acc)


@pytest.mark.mock_opts(**CURRENT)
def test_the_current_month_is_refreshed_by_what_is_new(mock, mount):
    """A day and a bit asked again and a count, not the month's 3,000
    transactions (three pages): the same bytes as a whole fetch, a new transaction
    included; nothing new keeps the inode and times."""
    mnt = mount(mock, cache_ttl=1, extra_opts=["follow_ttl=0"], env=faked(MID_JUNE))
    acc = mock.account_ids()[0]
    path = os.path.join(tx_dir(mnt, acc), "2026-06.jsonl")
    before = os.stat(path)
    check_month_file(mock, path, acc, "2026-06")
    n = mock.log_len()
    asked = refresh(mock, path, n, acc)
    assert asked == [("2026-06-19", "1000"), ("2026-06-01", "1")], asked
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == \
        (before.st_ino, before.st_mtime_ns, before.st_size)
    mock.config(add_transaction={"bank_account_id": acc})  # now: 20 June
    n = mock.log_len()
    asked = refresh(mock, path, n, acc)
    assert asked == [("2026-06-19", "1000"), ("2026-06-01", "1")], asked
    wait_until(lambda: os.stat(path).st_size != before.st_size, what="the new transaction")
    check_month_file(mock, path, acc, "2026-06")


@pytest.mark.mock_opts(**CURRENT)
def test_a_late_or_deleted_transaction_asks_the_whole_month(mock, mount):
    """A posting dated before the days asked again shows as a count that
    does not add up; a transaction held that is gone, as a doubt: either
    way the month is asked whole, and is the API's month again."""
    mnt = mount(mock, cache_ttl=1, extra_opts=["follow_ttl=0"], env=faked(MID_JUNE),
                expect_quiet=False)
    acc = mock.account_ids()[0]
    path = os.path.join(tx_dir(mnt, acc), "2026-06.jsonl")
    read(path)
    mock.config(add_transaction={"bank_account_id": acc,
                                 "transaction_date": "2026-06-10 09:00:00"})
    n = mock.log_len()
    asked = refresh(mock, path, n, acc)
    assert asked[-1] == ("2026-06-01", "1000"), asked  # after the count: the whole month
    check_month_file(mock, path, acc, "2026-06")
    held = [json.loads(line)["id"] for line in read(path).splitlines()]
    mock.config(delete_transactions=[held[-1]])
    n = mock.log_len()
    asked = refresh(mock, path, n, acc)
    assert asked[-1] == ("2026-06-01", "1000"), asked
    check_month_file(mock, path, acc, "2026-06")
