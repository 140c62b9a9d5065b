"""test_busy.py - a busy shop's account: months larger than memory may hold.

One account takes thousands of transactions a month.  Its months are built
as pages arrive and kept in files (beside the disk cache, or unlinked under
$TMPDIR without one): each must still be the API's month byte for byte,
with the same inode and times after a remount.  What memory this takes is
the benchmark's (tests/bench/bench_busy.py), not a test's.
"""

import os

import pytest

from conftest import read
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
    months = sorted(os.listdir(tx))
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
