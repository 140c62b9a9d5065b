"""Errors: HTTP status to errno, names that are never sent, faults, read-only."""

import errno
import os
import threading
import time

import pytest

from conftest import errno_of, read, wait_until


def name(code):
    return errno.errorcode.get(code, str(code))


@pytest.mark.parametrize("status, want", [(401, errno.EACCES), (403, errno.EPERM),
                                          (404, errno.ENOENT), (500, errno.EIO)])
def test_status_to_errno(mock, mount, status, want):
    # A 500 is retried until the deadline: keep it short here.
    mnt = mount(mock, expect_quiet=False, extra_opts=["timeout=2"])
    ids = mock.account_ids()
    acc = ids[2]
    mock.config(status_for_ids={str(acc): status})
    info = os.path.join(mnt, "accounts", str(acc), "info.json")
    got = errno_of(read, info)
    assert got == want, "HTTP %d gave %s, want %s" % (status, name(got), name(want))
    subs = os.path.join(mnt, "accounts", str(acc), "sub-accounts")
    got = errno_of(os.listdir, subs)
    assert got == want, "sub-accounts: HTTP %d gave %s, want %s" % (status, name(got),
                                                                      name(want))
    # other accounts are not affected
    assert read(os.path.join(mnt, "accounts", str(ids[3]), "info.json"))
    if status != 404:
        assert mount.stderr(mnt).strip(), "a failure reaching the user logs a line"


def test_unknown_id_is_enoent(mock, mount):
    mnt = mount(mock, expect_quiet=False)
    os.listdir(os.path.join(mnt, "accounts"))
    assert 20 not in mock.account_ids()
    assert errno_of(os.stat, os.path.join(mnt, "accounts", "20")) == errno.ENOENT
    assert errno_of(read, os.path.join(mnt, "accounts", "20", "info.json")) == errno.ENOENT


def test_deleted_account_is_enoent_after_ttl(mock, mount):
    mnt = mount(mock, cache_ttl=1, expect_quiet=False)
    ids = mock.account_ids()
    victim = ids[4]
    assert read(os.path.join(mnt, "accounts", str(victim), "info.json"))
    mock.delete_account(victim)
    wait_until(lambda: str(victim) not in os.listdir(os.path.join(mnt, "accounts")),
               what="the listing's refresh after the TTL")
    assert str(victim) not in os.listdir(os.path.join(mnt, "accounts"))
    # Its detail, fetched a moment later than the listing, may still be
    # fresh (a hidden account is served from a fresh detail), and so may
    # the kernel's entry: within a TTL more, the read is ENOENT.
    wait_until(lambda: errno_of(read, os.path.join(mnt, "accounts", str(victim), "info.json"))
               == errno.ENOENT, what="ENOENT for the deleted account's info.json")


INVALID_ACCOUNT_NAMES = ["foo", ".git", "12abc", "-5", "0", "007", "99999999999999999999",
                         "+19", " 19", "19 ", "1e3", "autorun.inf", "19.json",
                         "0x13", "١٩"]


def test_invalid_names_send_no_request(mock, mount):
    mnt = mount(mock)
    acc = os.path.join(mnt, "accounts")
    os.listdir(acc)
    subs = os.path.join(acc, "19", "sub-accounts")
    sub_names = os.listdir(subs)
    assert read(os.path.join(acc, "19", "info.json"))
    before = mock.log_len()
    cases = [os.path.join(mnt, n) for n in ("foo", ".git", "accounts.json", "19")]
    cases += [os.path.join(acc, n) for n in INVALID_ACCOUNT_NAMES]
    cases += [os.path.join(acc, "19", n) for n in ("info.txt", "info", "INFO.JSON", ".git",
                                                   "sub-accounts.json", "26.json")]
    cases += [os.path.join(subs, n) for n in ("x.json", "007.json", "0.json", "-26.json",
                                              "26", "26.json.bak", ".json", "26.JSON",
                                              "99999999999999999999.json", ".git")]
    for path in cases:
        got = errno_of(os.stat, path)
        assert got == errno.ENOENT, "%s: %s" % (path, name(got))
        got = errno_of(read, path)
        assert got == errno.ENOENT, "%s: %s" % (path, name(got))
    new = mock.requests_since(before)
    assert new == [], "requests sent for invalid names: %s" % new
    assert sorted(os.listdir(subs)) == sorted(sub_names)


def test_sub_account_of_another_account_is_enoent(mock, mount):
    """A sub-account file name only exists under its own account."""
    mnt = mount(mock)
    subs = mock.data()["sub_accounts"]
    other = subs["24"][0]["id"]
    assert errno_of(os.stat, os.path.join(mnt, "accounts", "19", "sub-accounts",
                                          "%d.json" % other)) == errno.ENOENT


def test_read_only(mock, mount):
    mnt = mount(mock, expect_quiet=False)  # "mkdir accounts/20" looks 20 up: a 404
    acc = os.path.join(mnt, "accounts", "19")
    info = os.path.join(acc, "info.json")
    assert read(info)
    checks = {
        "open w": lambda: open(info, "w"),
        "open a": lambda: open(info, "a"),
        "open r+": lambda: open(info, "r+"),
        "create": lambda: open(os.path.join(acc, "new.txt"), "w"),
        "create in sub-accounts": lambda: open(os.path.join(acc, "sub-accounts", "1.json"),
                                               "w"),
        "mkdir": lambda: os.mkdir(os.path.join(acc, "newdir")),
        "mkdir account": lambda: os.mkdir(os.path.join(mnt, "accounts", "20")),
        "unlink": lambda: os.unlink(info),
        "rmdir": lambda: os.rmdir(os.path.join(acc, "sub-accounts")),
        "rename": lambda: os.rename(info, os.path.join(acc, "x.json")),
        "rename dir": lambda: os.rename(acc, os.path.join(mnt, "accounts", "20")),
        "utime": lambda: os.utime(info, (0, 0)),
        "touch now": lambda: os.utime(info),
        "chmod": lambda: os.chmod(info, 0o644),
        "chmod dir": lambda: os.chmod(acc, 0o755),
        "chown": lambda: os.chown(info, 1, 1),
        "truncate": lambda: os.truncate(info, 0),
        "symlink": lambda: os.symlink("info.json", os.path.join(acc, "link")),
        "link": lambda: os.link(info, os.path.join(acc, "hard")),
    }
    wrong = {}
    for what, fn in checks.items():
        got = errno_of(fn)
        if got != errno.EROFS:
            wrong[what] = name(got)
    assert wrong == {}, "expected EROFS: %s" % wrong
    # nothing changed
    assert sorted(os.listdir(acc)) == ["info.json", "sub-accounts", "transactions"]


def test_persistent_garbage_gives_eio(mock, mount):
    """A 200 whose body is never JSON: retried with backoff until the
    deadline (-o timeout=3), then EIO and one line naming path and attempts;
    the garbage is never served as content."""
    mnt = mount(mock, expect_quiet=False, extra_opts=["timeout=3"])
    os.listdir(os.path.join(mnt, "accounts"))
    mock.config(garbage_next=1000)
    start = time.monotonic()
    got = errno_of(read, os.path.join(mnt, "accounts", "21", "info.json"))
    elapsed = time.monotonic() - start
    mock.config(garbage_next=0)
    assert got == errno.EIO, name(got)
    # It stops when the next backoff would not fit before the deadline.
    assert 1.0 <= elapsed < 6.0, "the deadline is 3 s, the read took %.1f s" % elapsed
    tries = [e for e in mock.requests() if e["path"] == "/api/v1/bank-accounts/21"]
    assert 2 <= len(tries) <= 15, "retries must be bounded: %d" % len(tries)
    lines = [l for l in mount.stderr(mnt).splitlines() if "/bank-accounts/21" in l]
    assert len(lines) == 1 and "%d attempts" % len(tries) in lines[0], lines


def test_token_never_logged(mock, mount):
    mock.config(token="s3cr3t-T0KEN-xyz")
    mnt = mount(mock, token="s3cr3t-T0KEN-xyz", expect_quiet=False)
    os.listdir(os.path.join(mnt, "accounts"))
    mock.config(status_for_ids={"21": 401}, fail_next={"count": 3, "status": 500})
    errno_of(read, os.path.join(mnt, "accounts", "21", "info.json"))
    errno_of(read, os.path.join(mnt, "accounts", "24", "info.json"))
    assert "s3cr3t-T0KEN-xyz" not in mount.stderr(mnt)


def test_concurrent_readers_share_one_request(mock, mount):
    mock.config(latency_ms=300)
    mnt = mount(mock)
    os.listdir(os.path.join(mnt, "accounts"))
    before = mock.log_len()
    path = os.path.join(mnt, "accounts", "24", "info.json")
    results, errors = [], []

    def reader():
        try:
            results.append(read(path))
        except OSError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(results) == 8 and len(set(results)) == 1
    new = [e for e in mock.requests_since(before) if e["path"] == "/api/v1/bank-accounts/24"]
    assert len(new) == 1, "8 concurrent readers sent %d requests" % len(new)
