"""Real clients over the mount: grep -r, tar, cp -r, rsync."""

import json
import os
import shutil
import subprocess
from collections import Counter

import pytest

from conftest import LIST_PATH, expected_files, read, transaction_files, walk_files


def test_grep_finds_account_number(mock, mount):
    """The account's number is in its info.json, its own transactions, the
    company's and balances.csv, nowhere else (grep -r does not follow
    by-number's links)."""
    mnt = mount(mock)
    r = subprocess.run(["grep", "-rl", "0071000888888", mnt], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    found = r.stdout.splitlines()
    account = os.path.join(mnt, "accounts", "19")
    assert os.path.join(account, "info.json") in found
    assert os.path.join(mnt, "balances.csv") in found
    assert all(f in (os.path.join(account, "info.json"), os.path.join(mnt, "balances.csv")) or
               f.startswith(os.path.join(account, "transactions") + os.sep) or
               f.startswith(os.path.join(mnt, "transactions") + os.sep) for f in found), found


def test_grep_request_economy(mock, mount):
    """A tree walk costs the list pages, one detail per account and one
    sub-account list per account: nothing is fetched twice, nothing per file."""
    mnt = mount(mock)
    before = mock.log_len()
    r = subprocess.run(["grep", "-r", "-c", "--exclude-dir=transactions", "created_at", mnt],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    new = mock.requests_since(before)
    counts = Counter(e["path"] for e in new)
    ids = mock.account_ids()
    for acc_id in ids:
        assert counts.pop("/api/v1/bank-accounts/%d" % acc_id, 0) == 1
        assert counts.pop("/api/v1/bank-accounts/%d/sub-accounts" % acc_id, 0) == 1
    assert counts.pop(LIST_PATH, 0) <= 1
    assert counts == {}, "unexpected requests: %s" % counts
    assert all(e["status"] == 200 for e in new)


def test_tar_archive_equals_mock(mock, mount, tmp_path):
    mnt = mount(mock)
    archive = tmp_path / "accounts.tar"
    r = subprocess.run(["tar", "cf", str(archive), "-C", mnt, "accounts"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", "tar complained: %s" % r.stderr
    out = tmp_path / "extracted"
    out.mkdir()
    r = subprocess.run(["tar", "xf", str(archive), "-C", str(out)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    want = expected_files(mock.data())
    assert walk_files(out) == sorted(want)
    for rel, obj in want.items():
        got = read(out / rel)
        assert got == read(os.path.join(mnt, rel)), rel
        assert json.loads(got) == obj, rel
    months = transaction_files(out)
    assert months == transaction_files(mnt) and months
    for rel in months:
        assert read(out / rel) == read(os.path.join(mnt, rel)), rel


def test_cp_r_equals_mount(mock, mount, tmp_path):
    mnt = mount(mock)
    dest = tmp_path / "copy"
    r = subprocess.run(["cp", "-r", os.path.join(mnt, "accounts"), str(dest)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    want = expected_files(mock.data())
    got = walk_files(dest)
    assert ["accounts/" + p for p in got] == sorted(want)
    for rel, obj in want.items():
        data = read(dest / rel[len("accounts/"):])
        assert json.loads(data) == obj
        assert data == read(os.path.join(mnt, rel))
    for rel in transaction_files(dest):
        assert read(dest / rel) == read(os.path.join(mnt, "accounts", rel)), rel


@pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed")
def test_rsync_equals_mount(mock, mount, tmp_path):
    mnt = mount(mock)
    dest = tmp_path / "rsynced"
    r = subprocess.run(["rsync", "-a", os.path.join(mnt, "accounts") + "/", str(dest)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    want = expected_files(mock.data())
    assert ["accounts/" + p for p in walk_files(dest)] == sorted(want)
    for rel, obj in want.items():
        assert json.loads(read(dest / rel[len("accounts/"):])) == obj
    months = transaction_files(dest)
    assert ["accounts/" + p for p in months] == transaction_files(mnt) and months
