"""OAuth2 tokens: refresh at start, on expiry and on a 401, one refresh for many
readers, refresh-token rotation written back to the credentials file, failed
refreshes, file-mode checks, and no secret ever on stderr.

The daemon runs as
    sepayfs -f -o base_url=...,credentials=PATH,token_url=.../oauth/token MNT
with no SEPAY_ACCESS_TOKEN in its environment.  Counts come from the mock's
request log; every wait is bounded, so a hung daemon fails a test instead of
hanging the run.
"""

import errno
import json
import os
import stat
import threading
import time

import pytest

from conftest import _unmount, wait_until, bounded

TOKEN_PATH = "/oauth/token"

# Bounds: generous for a loaded CI machine, small enough to fail a hang.
OP_TIMEOUT = 30.0
WRITEBACK_TIMEOUT = 10.0


# ---------------------------------------------------------------- helpers

def write_credentials(tmp_path, mock, access_token=None, refresh_token=None,
                      token_url=None, mode=0o600, name="credentials.json"):
    """A credentials file in a directory of its own (so stray temp files show)."""
    d = tmp_path / "cfg"
    d.mkdir(mode=0o700, exist_ok=True)
    path = d / name
    obj = {"client_id": mock.client_id, "client_secret": mock.client_secret,
           "refresh_token": refresh_token or mock.refresh_token}
    if access_token is not None:
        obj["access_token"] = access_token
    if token_url is not None:
        obj["token_url"] = token_url
    path.write_text(json.dumps(obj, indent=2) + "\n")
    os.chmod(path, mode)
    return path


def cred_opts(mock, path, token_url=True):
    opts = ["credentials=%s" % path]
    if token_url:
        opts.append("token_url=%s" % mock.token_url)
    return opts


def mount_with(mount, mock, path, **kw):
    """Mount with a credentials file and no token in the environment."""
    token_url = kw.pop("token_url", True)
    extra = cred_opts(mock, path, token_url) + kw.pop("extra_opts", [])
    return mount(mock, token=False, expect_quiet=False, extra_opts=extra, **kw)



def _read(path):
    with open(path, "rb") as f:
        return f.read()


def read(path):
    return bounded(_read, path, timeout=OP_TIMEOUT)


def listdir(path):
    return bounded(os.listdir, path, timeout=OP_TIMEOUT)


def read_errno(path):
    try:
        read(path)
    except OSError as exc:
        return exc.errno
    return 0


def info_path(mnt, acc_id):
    return os.path.join(mnt, "accounts", str(acc_id), "info.json")


def detail_path(acc_id):
    return "/api/v1/bank-accounts/%d" % acc_id


def token_entries(log):
    return [e for e in log if e["path"] == TOKEN_PATH]


def api_entries(log):
    return [e for e in log if e["path"].startswith("/api/v1/")]


def statuses(log, path):
    return [e["status"] for e in log if e["path"] == path]


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.05)


def load_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def secrets_of(mock, *extra):
    """Every secret the daemon has had: refresh tokens, issued access tokens,
    the client secret, and any extra ones (e.g. an access token from the file)."""
    t = mock.tokens()
    out = set(t["refresh_tokens"]) | set(t["access_tokens"]) | {t["client_secret"]}
    out.update(x for x in extra if x)
    return out


def assert_no_secrets(text, secrets):
    leaked = sorted(s for s in secrets if s in text)
    assert not leaked, "secrets leaked into sepayfs's stderr: %s\n--- stderr ---\n%s" \
        % (leaked, text[-4000:])


def stop_daemon(mount, mnt):
    """Unmount and wait for the daemon to exit, so its stderr is complete."""
    d = mount.daemon(mnt)
    _unmount(mnt)
    try:
        d.proc.wait(timeout=10)
    except Exception:
        pytest.fail("sepayfs did not exit within 10 s of the unmount")
    return d.stderr_text()


def fresh_ids(mock, n):
    """The first n account ids in listing order (none read yet in a new mount).
    Reading two neighbours in a row starts read-ahead of the next ones, so
    tests that need an id uncached pick ids apart from each other."""
    ids = mock.account_ids()
    assert len(ids) >= n
    return ids[:n]


# ---------------------------------------------------------------- start

def test_refresh_before_mount_without_access_token(mock, mount, tmp_path):
    creds = write_credentials(tmp_path, mock)
    mnt = mount_with(mount, mock, creds)
    log = mock.requests()
    first_api = next((i for i, e in enumerate(log) if e["path"].startswith("/api/v1/")),
                     None)
    assert first_api is not None, "mounted without asking the API: %s" % log
    before = token_entries(log[:first_api])
    assert len(before) == 1, "want exactly 1 token request before the first API " \
        "request: %s" % log
    assert before[0]["status"] == 200 and before[0]["method"] == "POST"
    assert log[first_api]["status"] == 200, log
    names = listdir(os.path.join(mnt, "accounts"))
    assert sorted(int(n) for n in names) == sorted(mock.account_ids())
    assert read(info_path(mnt, 19))
    log = mock.requests()
    assert len(token_entries(log)) == 1, "refreshed again without cause: %s" % log
    assert 401 not in [e["status"] for e in api_entries(log)], log
    assert_no_secrets(mount.stderr(mnt), secrets_of(mock))


def test_valid_access_token_in_file_is_used(mock, mount, tmp_path):
    creds = write_credentials(tmp_path, mock, access_token=mock.token)
    mnt = mount_with(mount, mock, creds)
    log = mock.requests()
    assert log and log[0]["path"].startswith("/api/v1/") and log[0]["status"] == 200, \
        "a valid access token in the file should be used as is: %s" % log
    assert listdir(os.path.join(mnt, "accounts"))
    assert_no_secrets(mount.stderr(mnt), secrets_of(mock, mock.token))


def test_rejected_access_token_in_file_refreshes_before_mount(mock, mount, tmp_path):
    stale = "stale-access-token-5b1d0c"
    creds = write_credentials(tmp_path, mock, access_token=stale)
    mnt = mount_with(mount, mock, creds)
    log = mock.requests()
    kinds = [(e["path"] == TOKEN_PATH, e["status"]) for e in log]
    # the stale token is tried (401), then one refresh, then the API answers 200
    assert kinds[:3] == [(False, 401), (True, 200), (False, 200)], log
    assert len(token_entries(log)) == 1, log
    assert listdir(os.path.join(mnt, "accounts"))
    assert_no_secrets(mount.stderr(mnt), secrets_of(mock, stale))


def test_token_url_from_credentials_file(mock, mount, tmp_path):
    creds = write_credentials(tmp_path, mock, token_url=mock.token_url)
    mnt = mount_with(mount, mock, creds, token_url=False)
    log = mock.requests()
    assert len(token_entries(log)) == 1, log
    assert listdir(os.path.join(mnt, "accounts"))


def test_read_only_credentials_file_0400_is_accepted(mock, mount, tmp_path):
    creds = write_credentials(tmp_path, mock, mode=0o400)
    mnt = mount_with(mount, mock, creds)
    assert listdir(os.path.join(mnt, "accounts"))


# ---------------------------------------------------------------- expiry

def test_expired_token_refreshes_once_and_retries(mock, mount, tmp_path):
    creds = write_credentials(tmp_path, mock)
    mnt = mount_with(mount, mock, creds)
    listdir(os.path.join(mnt, "accounts"))
    acc = fresh_ids(mock, 3)[2]
    mock.config(expire_tokens_now=True)
    before = mock.log_len()
    data = json.loads(read(info_path(mnt, acc)))
    assert data["id"] == acc
    log = mock.requests_since(before)
    tokens = token_entries(log)
    assert len(tokens) == 1, "want one refresh: %s" % log
    assert tokens[0]["status"] == 200
    assert statuses(log, detail_path(acc)) == [401, 200], log
    i_401 = next(i for i, e in enumerate(log) if e["path"] == detail_path(acc))
    i_tok = log.index(tokens[0])
    i_200 = max(i for i, e in enumerate(log) if e["path"] == detail_path(acc))
    assert i_401 < i_tok < i_200, "want 401, refresh, retry in that order: %s" % log
    assert_no_secrets(mount.stderr(mnt), secrets_of(mock))


def test_token_refreshed_before_it_expires(mock, mount, tmp_path):
    """expires_in is honoured: a token past its lifetime is replaced before a
    request, so the API never answers 401."""
    mock.config(token_ttl_s=4)
    creds = write_credentials(tmp_path, mock)
    mnt = mount_with(mount, mock, creds)
    first = mock.tokens()["access_tokens"][-1]
    wait_until(lambda: first not in mock.tokens()["valid_access_tokens"],
               what="the first token's expiry at the mock")
    acc = fresh_ids(mock, 5)[4]
    before = mock.log_len()
    assert json.loads(read(info_path(mnt, acc)))["id"] == acc
    # A refresh ahead of the next expiry may be under way (logged with
    # status 0 until answered): wait for its answer.
    wait_until(lambda: all(e["status"] for e in token_entries(mock.requests())),
               what="refreshes under way to be answered")
    log = mock.requests()
    assert [e for e in api_entries(log) if e["status"] == 401] == [], \
        "the API saw an expired token: %s" % log
    assert token_entries(log[before:]) or len(token_entries(log)) >= 2, \
        "no refresh although expires_in passed: %s" % log
    assert all(e["status"] == 200 for e in token_entries(log)), log


def test_concurrent_401s_cause_one_refresh(mock, mount, tmp_path):
    creds = write_credentials(tmp_path, mock)
    mnt = mount_with(mount, mock, creds)
    listdir(os.path.join(mnt, "accounts"))
    ids = fresh_ids(mock, 16)
    mock.config(expire_tokens_now=True, refresh_latency_ms=300)
    before = mock.log_len()
    barrier = threading.Barrier(len(ids))
    results = {}

    def reader(acc):
        try:
            barrier.wait(timeout=OP_TIMEOUT)
            results[acc] = ("ok", _read(info_path(mnt, acc)))
        except BaseException as exc:
            results[acc] = ("err", exc)

    threads = [threading.Thread(target=reader, args=(acc,), daemon=True) for acc in ids]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    hung = [acc for acc, t in zip(ids, threads) if t.is_alive()]
    assert not hung, "readers still blocked after 60 s: %s" % hung
    failed = {acc: r[1] for acc, r in results.items() if r[0] != "ok"}
    assert not failed, "readers failed: %s" % failed
    for acc in ids:
        assert json.loads(results[acc][1])["id"] == acc
    log = mock.requests_since(before)
    tokens = token_entries(log)
    assert len(tokens) == 1, "want ONE refresh for 16 readers, got %d: %s" \
        % (len(tokens), [(e["path"], e["status"]) for e in log])
    assert tokens[0]["status"] == 200
    for acc in ids:
        assert statuses(log, detail_path(acc))[-1] == 200, log
    assert_no_secrets(mount.stderr(mnt), secrets_of(mock))


# ---------------------------------------------------------------- rotation

def test_rotated_refresh_token_is_written_back(mock, mount, tmp_path):
    mock.config(rotate_refresh_token=True)
    creds = write_credentials(tmp_path, mock, token_url=mock.token_url)
    ino = os.stat(creds).st_ino
    mnt = mount_with(mount, mock, creds)
    tok = mock.tokens()
    assert len(tok["refresh_tokens"]) == 2, tok["refresh_tokens"]
    r1 = tok["refresh_token"]
    assert r1 != mock.refresh_token

    def holds(rt):
        obj = load_json(creds)
        return obj is not None and obj.get("refresh_token") == rt and obj

    obj = wait_for(lambda: holds(r1), WRITEBACK_TIMEOUT,
                   "the new refresh token in %s" % creds)
    assert obj["client_id"] == mock.client_id
    assert obj["client_secret"] == mock.client_secret
    assert obj.get("token_url") == mock.token_url, "token_url was dropped: %s" % obj
    st = os.stat(creds)
    assert stat.S_IMODE(st.st_mode) == 0o600, "mode is now %04o" % stat.S_IMODE(st.st_mode)
    assert st.st_uid == os.geteuid()
    assert st.st_ino != ino, "rewritten in place, not replaced (temp file + rename)"
    # The advisory lock sepayfs-login shares stays, empty and private; no
    # temporary file does.
    lock = creds.parent / (creds.name + ".lock")
    leftovers = sorted(p.name for p in creds.parent.iterdir() if p not in (creds, lock))
    assert leftovers == [], "files left beside the credentials: %s" % leftovers
    assert lock.stat().st_size == 0 and stat.S_IMODE(lock.stat().st_mode) == 0o600

    # the next refresh must use r1: the initial token no longer works
    listdir(os.path.join(mnt, "accounts"))
    acc = fresh_ids(mock, 6)[5]
    mock.config(expire_tokens_now=True)
    before = mock.log_len()
    assert json.loads(read(info_path(mnt, acc)))["id"] == acc
    tokens = token_entries(mock.requests_since(before))
    assert [e["status"] for e in tokens] == [200], \
        "the refresh with the rotated token failed: %s" % tokens
    tok = mock.tokens()
    r2 = tok["refresh_token"]
    assert tok["refresh_tokens"] == [mock.refresh_token, r1, r2]
    obj = wait_for(lambda: holds(r2), WRITEBACK_TIMEOUT,
                   "the second refresh token in %s" % creds)
    assert obj["client_id"] == mock.client_id
    assert obj["client_secret"] == mock.client_secret
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    assert_no_secrets(mount.stderr(mnt), secrets_of(mock))


# ---------------------------------------------------------------- failed refresh

@pytest.mark.parametrize("status, error", [(400, "invalid_grant"), (401, "invalid_client")])
def test_rejected_refresh_gives_eacces_and_asks_to_log_in(mock, mount, tmp_path, status,
                                                          error):
    creds = write_credentials(tmp_path, mock)
    mnt = mount_with(mount, mock, creds)
    listdir(os.path.join(mnt, "accounts"))
    acc = fresh_ids(mock, 4)[3]
    mock.config(expire_tokens_now=True,
                refresh_fail={"count": 1000, "status": status, "error": error})
    before = mock.log_len()
    got = read_errno(info_path(mnt, acc))
    assert got == errno.EACCES, "got %s, want EACCES" % errno.errorcode.get(got, got)
    log = mock.requests_since(before)
    assert 1 <= len(token_entries(log)) <= 2, \
        "want one refresh attempt (a retry at most): %s" % log
    text = wait_for(lambda: "log in again" in mount.stderr(mnt).lower()
                    and mount.stderr(mnt), 5, "'log in again' on stderr")
    assert_no_secrets(text, secrets_of(mock))


def test_api_401_after_refresh_is_eacces_without_a_loop(mock, mount, tmp_path):
    """A 401 that a fresh token does not cure: one refresh, one retry, EACCES."""
    creds = write_credentials(tmp_path, mock)
    mnt = mount_with(mount, mock, creds)
    listdir(os.path.join(mnt, "accounts"))
    acc = fresh_ids(mock, 7)[6]
    mock.config(status_for_ids={str(acc): 401})
    before = mock.log_len()
    got = read_errno(info_path(mnt, acc))
    assert got == errno.EACCES, "got %s, want EACCES" % errno.errorcode.get(got, got)
    log = mock.requests_since(before)
    assert len(token_entries(log)) <= 1, log
    assert 1 <= len(statuses(log, detail_path(acc))) <= 2, \
        "the request was retried more than once: %s" % log


def test_token_endpoint_outage_is_not_fatal(mock, mount, tmp_path):
    """A 500 from the token endpoint fails (or retries) one operation; the next
    one works."""
    creds = write_credentials(tmp_path, mock)
    mnt = mount_with(mount, mock, creds)
    listdir(os.path.join(mnt, "accounts"))
    a, b = fresh_ids(mock, 15)[8::6]  # not neighbours: no read-ahead
    mock.config(expire_tokens_now=True, refresh_fail={"count": 1, "status": 500})
    got = read_errno(info_path(mnt, a))
    assert got in (0, errno.EIO, errno.EAGAIN, errno.EACCES), \
        "unexpected %s" % errno.errorcode.get(got, got)
    assert json.loads(read(info_path(mnt, b)))["id"] == b
    assert_no_secrets(mount.stderr(mnt), secrets_of(mock))


# ---------------------------------------------------------------- file modes

@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604], ids=lambda m: "%04o" % m)
def test_credentials_readable_by_others_refused(mock, mount, tmp_path, mode):
    creds = write_credentials(tmp_path, mock, mode=mode)
    rc, err, mounted = mount.start_failure(mock, token=False,
                                           extra_opts=cred_opts(mock, creds))
    assert not mounted, "mounted with a %04o credentials file" % mode
    assert rc != 0
    assert str(creds) in err, "stderr does not name the file:\n%s" % err
    assert "%04o" % mode in err, "stderr does not give the mode %04o:\n%s" % (mode, err)
    assert mock.requests() == [], "a request was sent with a refused file"
    assert_no_secrets(err, {mock.client_secret, mock.refresh_token})


@pytest.mark.parametrize("mode", [0o640, 0o644], ids=lambda m: "%04o" % m)
def test_token_file_readable_by_others_refused(mock, mount, tmp_path, mode):
    tf = tmp_path / "token"
    tf.write_text(mock.token + "\n")
    os.chmod(tf, mode)
    rc, err, mounted = mount.start_failure(mock, token=False,
                                           extra_opts=["token_file=%s" % tf])
    assert not mounted, "mounted with a %04o token file" % mode
    assert rc != 0
    assert str(tf) in err, "stderr does not name the file:\n%s" % err
    assert "%04o" % mode in err, "stderr does not give the mode %04o:\n%s" % (mode, err)
    assert mock.requests() == []
    assert_no_secrets(err, {mock.token})


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file away")
@pytest.mark.parametrize("kind", ["credentials", "token_file"])
def test_file_owned_by_another_user_refused(mock, mount, tmp_path, kind):
    if kind == "credentials":
        path = write_credentials(tmp_path, mock)
        opts = cred_opts(mock, path)
    else:
        path = tmp_path / "token"
        path.write_text(mock.token + "\n")
        os.chmod(path, 0o600)
        opts = ["token_file=%s" % path]
    os.chown(path, 65534, 65534)
    rc, err, mounted = mount.start_failure(mock, token=False, extra_opts=opts)
    assert not mounted, "mounted with a file owned by uid 65534"
    assert rc != 0
    assert str(path) in err, "stderr does not name the file:\n%s" % err
    assert mock.requests() == []


# ---------------------------------------------------------------- secrets

@pytest.mark.mock_opts(client_secret="cs-7f3a9e51-do-not-print",
                       refresh_token="rt-initial-0c92d4e8-do-not-print")
def test_no_secret_on_stderr_under_debug(mock, mount, tmp_path):
    """-d: libfuse's trace and every sepayfs message, through a stale token at
    start, two expiries with rotation: no token and no client secret shows."""
    stale = "at-stale-b61e27a4-do-not-print"
    mock.config(rotate_refresh_token=True)
    creds = write_credentials(tmp_path, mock, access_token=stale)
    mnt = mount_with(mount, mock, creds, args=["-d"])
    listdir(os.path.join(mnt, "accounts"))
    # ids apart from each other in the listing: neighbours would start read-ahead
    ids = fresh_ids(mock, 15)[::7]
    for acc in ids[:2]:
        mock.config(expire_tokens_now=True)
        assert json.loads(read(info_path(mnt, acc)))["id"] == acc
    # and a refused refresh, whose message must not quote the token either
    mock.config(expire_tokens_now=True, refresh_fail={"count": 1000, "status": 400})
    assert read_errno(info_path(mnt, ids[2])) == errno.EACCES
    secrets = secrets_of(mock, stale)
    assert len(mock.tokens()["access_tokens"]) >= 3
    text = stop_daemon(mount, mnt)
    assert "unique:" in text or "opcode" in text, \
        "no libfuse debug trace: was -d in effect?\n%s" % text[-2000:]
    assert_no_secrets(text, secrets)


# ---------------------------------------------------------------- memory

# A writable region larger than this is AddressSanitizer's shadow memory
# (terabytes reserved, a megabyte used): reading it would fault it all in.
# The heap, ASan's too, is in regions far smaller.
MAX_REGION = 1 << 30


def writable_memory(pid):
    """The daemon's writable memory, region by region: heaps, stacks, data.
    Root reads it though the daemon is not dumpable (CAP_SYS_PTRACE)."""
    regions = []
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if "w" not in fields[1] or (len(fields) > 5 and fields[5] == "[vvar]") \
                    or end - start > MAX_REGION:
                continue
            try:
                mem.seek(start)
                regions.append(mem.read(end - start))
            except OSError:
                continue  # a guard page, or gone meanwhile
    return regions


def pieces(secret):
    """What shows a secret in memory, a part of it too (a buffer grown out
    of keeps its first bytes): 16-byte pieces of it, of a JWT's signature
    alone (its header and most claims are the same in every token)."""
    s = secret.rsplit(".", 1)[-1].encode()
    if len(s) <= 16:
        return [s]
    return [s[i:i + 16] for i in range(0, len(s) - 16, 16)] + [s[-16:]]


def copies_in_memory(regions, secret):
    """How many times the piece of secret seen most often is in memory."""
    return max(sum(r.count(p) for r in regions) for p in pieces(secret))


@pytest.mark.mock_opts(knobs={"rotate_refresh_token": True, "token_style": "no_expires"})
def test_replaced_tokens_leave_no_copy_in_memory(mock, mount, tmp_path):
    """After a refresh, the access token and the refresh token it replaced
    are nowhere in the daemon's memory: not in libcurl's requests with the
    Authorization header, nor in a connection it keeps, not in the token
    request's form or its answer's buffers, not in what jansson parsed or
    dumped to the credentials file.  The tokens are JWTs: an answer longer
    than a buffer's first size."""
    no_copy_after_a_refresh(mock, mount, tmp_path, [])


@pytest.mark.mock_opts(tls=True, knobs={"rotate_refresh_token": True,
                                        "token_style": "no_expires"})
def test_replaced_tokens_leave_no_copy_in_memory_over_https(mock, mount, tmp_path):
    """The same over https, as SePay is reached: OpenSSL's read buffer kept
    the plaintext of the token answer until asked to cleanse it."""
    no_copy_after_a_refresh(mock, mount, tmp_path, ["cafile=%s" % mock.cafile])


def no_copy_after_a_refresh(mock, mount, tmp_path, extra_opts):
    if os.geteuid() != 0:
        pytest.skip("reading another process's memory needs root")
    creds = write_credentials(tmp_path, mock)
    mnt = mount_with(mount, mock, creds, extra_opts=extra_opts)
    pid = mount.daemon(mnt).proc.pid
    ids = fresh_ids(mock, 9)
    assert json.loads(read(info_path(mnt, ids[0])))["id"] == ids[0]
    tok = mock.tokens()
    old_access, old_refresh = tok["access_tokens"][-1], tok["refresh_token"]
    mock.config(expire_tokens_now=True)
    assert json.loads(read(info_path(mnt, ids[4])))["id"] == ids[4]
    assert json.loads(read(info_path(mnt, ids[8])))["id"] == ids[8]
    tok = mock.tokens()
    new_access, new_refresh = tok["access_tokens"][-1], tok["refresh_token"]
    assert new_access != old_access and new_refresh != old_refresh
    wait_for(lambda: load_json(creds) and load_json(creds)["refresh_token"] == new_refresh,
             WRITEBACK_TIMEOUT, "the new refresh token in %s" % creds)
    mock.wait_quiet()
    regions = writable_memory(pid)
    counts = {name: copies_in_memory(regions, secret) for name, secret in
              (("old access", old_access), ("old refresh", old_refresh),
               ("new access", new_access), ("new refresh", new_refresh),
               ("first refresh", mock.refresh_token),
               ("client secret", mock.client_secret))}
    # The tokens in use are found: the memory read sees what is there.
    assert counts["new access"] >= 1 and counts["new refresh"] >= 1, counts
    assert counts["old access"] == 0 and counts["old refresh"] == 0 \
        and counts["first refresh"] == 0, counts
