"""Faults: retried within the deadline, waited out on 429, survived when the
server goes away, covered by stale content when asked to.  Content is
checked byte for byte against the mock's data; times only with generous
bounds."""

import errno
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from conftest import SEPAY_MOCK, Mock, errno_of, port_outside_ephemeral_range, read, wait_until


def detail(mock, acc_id):
    return next(a for a in mock.data()["accounts"] if a["id"] == acc_id)


@pytest.mark.parametrize("knob", [
    {"fail_next": {"count": 1, "status": 503}},
    {"fail_next": {"count": 1, "status": 502}},
    {"drop_next": 1},
    {"truncate_next": 1},
    {"garbage_next": 1},
], ids=["503", "502", "drop", "truncate", "garbage"])
def test_one_transient_fault_is_retried(mock, mount, knob):
    mnt = mount(mock, expect_quiet=False)
    os.listdir(os.path.join(mnt, "accounts"))
    mock.config(**knob)
    before = mock.log_len()
    data = read(os.path.join(mnt, "accounts", "21", "info.json"))
    assert json.loads(data) == detail(mock, 21)
    new = [e for e in mock.requests_since(before) if e["path"] == "/api/v1/bank-accounts/21"]
    assert len(new) == 2, new
    # A retried success is no failure: nothing to log.
    assert "bank-accounts/21" not in mount.stderr(mnt)


@pytest.mark.parametrize("header", ["Retry-After", "x-sepay-userapi-retry-after"])
def test_rate_limit_honours_retry_after(mock, mount, header):
    mnt = mount(mock, expect_quiet=False)
    os.listdir(os.path.join(mnt, "accounts"))
    mock.config(rate_limit={"next": 1, "retry_after": 1, "header": header})
    before = mock.log_len()
    assert json.loads(read(os.path.join(mnt, "accounts", "21", "info.json"))) == detail(mock, 21)
    new = [e for e in mock.requests_since(before) if e["path"] == "/api/v1/bank-accounts/21"]
    assert [e["status"] for e in new] == [429, 200]
    assert new[1]["t"] - new[0]["t"] >= 0.9, "retried before Retry-After: %s" % new


def test_server_gone_and_back(tmp_path, mount):
    """The server goes away: reads fail within the deadline, no thread stays
    stuck; it comes back on the same port: the mount recovers by itself."""
    mock = Mock(tmp_path / "mock", port=port_outside_ephemeral_range())
    try:
        server_gone_and_back(tmp_path, mock, mount)
    finally:
        mock.stop()


def server_gone_and_back(tmp_path, mock, mount):
    mnt = mount(mock, expect_quiet=False, extra_opts=["timeout=2"])
    ids = mock.account_ids()
    os.listdir(os.path.join(mnt, "accounts"))
    mock.proc.terminate()
    mock.proc.wait(10)
    results = {}

    def reader(acc_id):
        start = time.monotonic()
        got = errno_of(read, os.path.join(mnt, "accounts", str(acc_id), "info.json"))
        results[acc_id] = (got, time.monotonic() - start)

    threads = [threading.Thread(target=reader, args=(i,)) for i in ids[:8]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not any(t.is_alive() for t in threads), "a reader is stuck"
    for acc_id, (got, took) in results.items():
        assert got in (errno.EIO, errno.ETIMEDOUT), (acc_id, errno.errorcode.get(got))
        assert took < 8, "account %d took %.1f s with a 2 s deadline" % (acc_id, took)

    port_file = tmp_path / "back.port"
    back = subprocess.Popen([sys.executable, SEPAY_MOCK, "--port", str(mock.port),
                             "--port-file", str(port_file), "--accounts", "20",
                             "--token", mock.token, "--max-page-size", "50", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and back.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert back.poll() is None, "the mock did not restart: %s" % back.stderr.read()
        recovered = None
        while time.monotonic() < deadline:
            recovered = errno_of(read, os.path.join(mnt, "accounts", str(ids[0]), "info.json"))
            if recovered == 0:
                break
            time.sleep(0.2)
        assert recovered == 0, "no recovery in 10 s: %s" % errno.errorcode.get(recovered)
        data = read(os.path.join(mnt, "accounts", str(ids[1]), "info.json"))
        assert json.loads(data) == detail(mock, ids[1])
    finally:
        back.terminate()
        back.wait(10)
        back.stderr.close()


def test_stale_if_error_serves_last_good_content(mock, mount):
    mnt = mount(mock, cache_ttl=1, expect_quiet=False, extra_opts=["stale_if_error=60",
                                                                   "timeout=1"])
    info = os.path.join(mnt, "accounts", "19", "info.json")
    first = read(info)
    mock.config(fail_next={"count": 1000, "status": 503})
    # once the TTL has passed, a read tries a refresh, fails, and is served
    # the last good content, with a warning
    wait_until(lambda: read(info) == first and "serving /bank-accounts/19" in mount.stderr(mnt),
               what="a failed refresh served from the last good content")
    mock.config(fail_next={"count": 0, "status": 503})


def test_without_stale_if_error_a_failed_refresh_fails(mock, mount):
    mnt = mount(mock, cache_ttl=1, expect_quiet=False, extra_opts=["timeout=1"])
    info = os.path.join(mnt, "accounts", "19", "info.json")
    read(info)
    mock.config(fail_next={"count": 1000, "status": 503})
    wait_until(lambda: errno_of(read, info) == errno.EIO,
               what="a failed refresh after the TTL")
    mock.config(fail_next={"count": 0, "status": 503})


@pytest.mark.parametrize("url", ["http://example.com/api/v1", "ftp://127.0.0.1/api/v1"])
def test_plain_http_only_to_loopback(mock, mount, url):
    rc, err, mounted = mount.start_failure(mock, base_url=url)
    assert rc != 0 and not mounted
    assert "https://" in err, err


@pytest.mark.mock_opts(accounts=60, knobs={"rate_per_s": 20})
def test_walk_under_a_rate_limit_gets_few_429s(mock, mount):
    """A server allowing 20 requests a second: a cold walk of 60 accounts (121
    requests) learns the pace from the first 429s instead of hammering on,
    and every file arrives intact."""
    mnt = mount(mock, expect_quiet=False)
    before = mock.log_len()
    r = subprocess.run(["grep", "-rc", "--exclude-dir=transactions", "created_at", mnt],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    log = mock.requests_since(before)
    ok = [e for e in log if e["status"] == 200]
    limited = [e for e in log if e["status"] == 429]
    assert len(ok) == 1 + 60 * 2, "each object once: %d" % len(ok)
    print("429s: %d for %d answers" % (len(limited), len(ok)))
    assert len(limited) < len(ok) // 4, "%d 429s for %d answers" % (len(limited), len(ok))
