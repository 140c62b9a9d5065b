"""sepayfs-login: SePay's OAuth2 authorization-code flow against the mock.

Driven as a user would: the tool is started with --no-browser, the test reads
the authorize URL from its stdout and plays the browser (urllib GETs the URL
and follows the mock's 302 to the tool's loopback listener), then waits
(bounded) for the tool to exchange the code and exit.  A successful log-in is
then used to mount: `sepayfs -o credentials=PATH,token_url=...`.

The binary is $SEPAYFS_LOGIN_BIN (default: build/src/sepayfs-login in this
repository).  Every wait is bounded, so a hung tool fails a test instead of
hanging the run.
"""

import base64
import hashlib
import json
import os
import pty
import queue
import re
import secrets
import select
import socket
import stat
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import REPO, _clean_env, port_outside_ephemeral_range

pytestmark = pytest.mark.cli

LOGIN_BIN = os.environ.get("SEPAYFS_LOGIN_BIN") or str(REPO / "build" / "src" / "sepayfs-login")
TOKEN_PATH = "/oauth/token"
AUTHORIZE_PATH = "/oauth/authorize"
DEFAULT_SCOPE = "bank-account:read transaction:read"
# What an authorize request without a scope gets: every scope SePay knows.
ALL_SCOPES = ("bank-account:read transaction:read webhook:read webhook:write "
              "webhook:delete profile company")
CRED_KEYS = ["client_id", "client_secret", "refresh_token", "access_token", "token_url"]

# Bounds: generous for a loaded CI machine, small enough to fail a hang.
URL_TIMEOUT = 10.0      # until the tool prints the authorize URL
EXIT_TIMEOUT = 40.0     # until it exits once the browser came back (its exchange: 30 s)
BROWSER_TIMEOUT = 40.0  # one browser visit, which waits for the exchange

# A browser that never uses a proxy (everything is on loopback).
_BROWSER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---------------------------------------------------------------- helpers

def _drain(stream, lines, q=None):
    for raw in iter(stream.readline, b""):
        text = raw.decode("utf-8", "replace")
        lines.append(text)
        if q is not None:
            q.put(text)
    stream.close()
    if q is not None:
        q.put(None)


def _drain_tty(master, lines, secret):
    """Read the terminal (the tool's stderr); answer its prompt with secret."""
    seen, answered = "", False
    while True:
        try:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the tool closed the terminal
            break
        if not chunk:
            break
        text = chunk.decode("utf-8", "replace")
        lines.append(text)
        seen += text
        if not answered and "Client secret for " in seen:
            os.write(master, (secret + "\n").encode("utf-8"))
            answered = True
    os.close(master)


class Login:
    """A running sepayfs-login and the browser the test plays."""

    def __init__(self, tmp_path, mock, secret=None, secret_mode=0o600, stdin_secret=None,
                 timeout=60, args=(), client_id=None, tty_secret=None):
        """The secret comes from a file (mode secret_mode), or stdin_secret is
        piped to standard input, or tty_secret is typed at the prompt on a
        terminal (which is then also standard error)."""
        self.port = port_outside_ephemeral_range()
        self.redirect_uri = "http://127.0.0.1:%d/callback" % self.port
        self.cfg = tmp_path / "cfg"
        self.cfg.mkdir(mode=0o700, exist_ok=True)
        self.creds = self.cfg / "creds.json"
        self.secret = mock.client_secret if secret is None else secret
        cmd = [LOGIN_BIN, "--no-browser", "--port", str(self.port),
               "--authorize-url", mock.root + AUTHORIZE_PATH,
               "--token-url", mock.token_url,
               "--client-id", client_id or mock.client_id,
               "--credentials", str(self.creds),
               "--timeout", str(timeout)]
        if stdin_secret is None and tty_secret is None:
            self.secret_file = tmp_path / "secret"
            self.secret_file.write_text(self.secret + "\n")
            os.chmod(self.secret_file, secret_mode)
            cmd += ["--client-secret-file", str(self.secret_file)]
        cmd += list(args)
        env = _clean_env()
        for name in ("DISPLAY", "WAYLAND_DISPLAY"):
            env.pop(name, None)
        stdin, stderr = subprocess.DEVNULL, subprocess.PIPE
        if stdin_secret is not None:
            stdin = subprocess.PIPE
        if tty_secret is not None:
            master, slave = pty.openpty()
            stdin = stderr = slave
        self.started = time.monotonic()
        # A session of its own: a terminal given to it is not a controlling one.
        self.proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr,
                                     env=env, start_new_session=True)
        if stdin_secret is not None:
            self.proc.stdin.write(stdin_secret.encode("utf-8"))
            self.proc.stdin.close()
        self.out_lines, self.err_lines = [], []
        self._out_q = queue.Queue()
        self._threads = [
            threading.Thread(target=_drain, args=(self.proc.stdout, self.out_lines,
                                                  self._out_q), daemon=True)]
        if tty_secret is not None:
            os.close(slave)
            self._threads.append(threading.Thread(
                target=_drain_tty, args=(master, self.err_lines, tty_secret), daemon=True))
        else:
            self._threads.append(threading.Thread(
                target=_drain, args=(self.proc.stderr, self.err_lines), daemon=True))
        for t in self._threads:
            t.start()
        self.rc = None
        self.pages = []   # (status, final URL, body) of every visit

    @property
    def stdout(self):
        return "".join(self.out_lines)

    @property
    def stderr(self):
        return "".join(self.err_lines)

    def url(self):
        """The authorize URL the tool printed (after its announcement line)."""
        deadline = time.monotonic() + URL_TIMEOUT
        announced = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail("sepayfs-login printed no URL in %.0f s; stdout:\n%s\nstderr:\n%s"
                            % (URL_TIMEOUT, self.stdout, self.stderr))
            try:
                line = self._out_q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.finish()
                pytest.fail("sepayfs-login exited with %s before printing a URL; stderr:\n%s"
                            % (self.rc, self.stderr))
            if line.strip() == "Open this URL in a browser to log in to SePay:":
                announced = True
            elif announced:
                return line.strip()

    def browse(self, url):
        """GET url as a browser would, following redirects: (status, final URL, body)."""
        try:
            with _BROWSER.open(url, timeout=BROWSER_TIMEOUT) as resp:
                page = (resp.status, resp.geturl(), resp.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as exc:
            page = (exc.code, exc.geturl(), exc.read().decode("utf-8", "replace"))
        self.pages.append(page)
        return page

    def log_in(self):
        """Read the URL, visit it; the page the browser ended on."""
        return self.browse(self.url())

    def finish(self, timeout=EXIT_TIMEOUT):
        """Wait for the exit; the exit status."""
        if self.rc is None:
            try:
                self.rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail("sepayfs-login did not exit in %.0f s; stdout:\n%s\nstderr:\n%s"
                            % (timeout, self.stdout, self.stderr))
            self.elapsed = time.monotonic() - self.started
            for t in self._threads:
                t.join(timeout=5)
        return self.rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def credentials(self):
        with open(self.creds) as f:
            return json.load(f, object_pairs_hook=lambda pairs: pairs)


@pytest.fixture
def login(tmp_path):
    """A factory: login(mock, **kw) -> a started Login.  Teardown kills leftovers."""
    if not os.path.exists(LOGIN_BIN):
        pytest.fail("sepayfs-login binary not built: %s" % LOGIN_BIN)
    started = []

    def start(mock, **kw):
        started.append(Login(tmp_path, mock, **kw))
        return started[-1]

    try:
        yield start
    finally:
        for lg in started:
            lg.kill()


def token_requests(mock):
    return [e for e in mock.requests() if e["path"] == TOKEN_PATH]


def callback_query(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def assert_no_secrets(texts, secrets_):
    for text in texts:
        for s in secrets_:
            assert s not in text, "a secret (%s...) reached the output" % s[:6]


def run_tool(args, timeout=10):
    env = _clean_env()
    return subprocess.run([LOGIN_BIN] + args, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env)


def s256(verifier):
    """RFC 7636's S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def refused_lines(stderr):
    return [line for line in stderr.splitlines()
            if line.startswith("sepayfs-login: refused a callback ")]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


_NO_REDIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def authorize_location(mock, **params):
    """Where the mock's /oauth/authorize sends the browser for these parameters."""
    url = mock.root + AUTHORIZE_PATH + "?" + urllib.parse.urlencode(params)
    with pytest.raises(urllib.error.HTTPError) as exc:
        _NO_REDIRECT.open(url, timeout=30)
    assert exc.value.code == 302, exc.value.read()
    return exc.value.headers["Location"]


def exchange_code(mock, code, redirect_uri, **extra):
    """POSTs the authorization-code grant to the mock: (status, JSON answer)."""
    form = dict({"grant_type": "authorization_code", "code": code,
                 "redirect_uri": redirect_uri, "client_id": mock.client_id,
                 "client_secret": mock.client_secret}, **extra)
    data = urllib.parse.urlencode(form).encode()
    try:
        with _BROWSER.open(urllib.request.Request(mock.token_url, data=data),
                           timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def port_listening(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# ---------------------------------------------------------------- success

@pytest.mark.needs_fuse
def test_login_writes_credentials_that_mount(mock, mount, login):
    lg = login(mock)
    url = lg.url()
    parts = urllib.parse.urlsplit(url)
    assert url.startswith(mock.root + AUTHORIZE_PATH + "?")
    q = dict(urllib.parse.parse_qsl(parts.query))
    assert q["response_type"] == "code"
    assert q["client_id"] == mock.client_id
    assert q["redirect_uri"] == lg.redirect_uri
    # Encoded (libcurl writes %3a, RFC 3986 section 2.1 makes it %3A too).
    assert "redirect_uri=http%3a%2f%2f127.0.0.1%3a" in url.lower()
    assert q["scope"] == DEFAULT_SCOPE
    assert len(q["state"]) >= 32 and all(c in "0123456789abcdef" for c in q["state"])

    status, final, body = lg.browse(url)
    assert status == 200, body
    assert final.startswith(lg.redirect_uri + "?")
    assert "You are logged in" in body and "close this window" in body
    assert lg.finish() == 0, lg.stderr
    assert "Logged in: credentials written to %s" % lg.creds in lg.stdout
    assert "Mount with: sepayfs -o credentials=%s MOUNTPOINT" % lg.creds in lg.stdout
    assert lg.stderr == ""

    st = os.stat(lg.creds)
    assert stat.S_IMODE(st.st_mode) == 0o600
    # No temporary file left; the advisory lock a mount shares stays.
    assert sorted(os.listdir(lg.cfg)) == ["creds.json", "creds.json.lock"]
    pairs = lg.credentials()
    assert [k for k, _ in pairs] == CRED_KEYS
    creds = dict(pairs)
    assert creds["client_id"] == mock.client_id
    assert creds["client_secret"] == mock.client_secret
    assert creds["token_url"] == mock.token_url
    with open(lg.creds) as f:
        text = f.read()
    assert text.startswith('{\n  "client_id": ') and text.endswith("}\n")

    tokens = mock.tokens()
    assert creds["refresh_token"] in tokens["valid_refresh_tokens"]
    assert creds["refresh_token"] != mock.refresh_token
    assert creds["access_token"] in tokens["valid_access_tokens"]
    codes = tokens["authorization_codes"]
    assert len(codes) == 1 and codes[0]["used"] and codes[0]["redirect_uri"] == lg.redirect_uri
    assert codes[0]["code"] == callback_query(final)["code"]
    assert [e["status"] for e in token_requests(mock)] == [200]
    authorize = [e for e in mock.requests() if e["path"] == AUTHORIZE_PATH]
    assert [(e["status"], e["query"]) for e in authorize] == [(302, "")]

    mnt = mount(mock, extra_opts=["credentials=%s" % lg.creds,
                                  "token_url=%s" % mock.token_url], token=False)
    names = os.listdir(os.path.join(mnt, "accounts"))
    assert sorted(int(n) for n in names) == sorted(mock.account_ids())
    r = subprocess.run(["ls", os.path.join(mnt, "accounts")], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and r.stdout.split()
    assert_no_secrets([lg.stdout, lg.stderr, mount.stderr(mnt)],
                      [mock.client_secret, creds["refresh_token"], creds["access_token"]])


def test_refresh_token_from_login_is_good_for_refreshes(mock, login):
    """The refresh grant accepts what the log-in wrote, and the mount's first
    refresh would work: checked directly against the token endpoint."""
    lg = login(mock)
    lg.log_in()
    assert lg.finish() == 0, lg.stderr
    creds = dict(lg.credentials())
    form = urllib.parse.urlencode({"grant_type": "refresh_token",
                                   "refresh_token": creds["refresh_token"],
                                   "client_id": creds["client_id"],
                                   "client_secret": creds["client_secret"]}).encode()
    with _BROWSER.open(urllib.request.Request(mock.token_url, data=form), timeout=30) as resp:
        answer = json.loads(resp.read())
    assert resp.status == 200 and answer["access_token"]


@pytest.mark.parametrize("line", ["demo-secret\n", "demo-secret  \r\n", "demo-secret"])
def test_secret_from_stdin(mock, login, line):
    lg = login(mock, stdin_secret=line)
    status, _, body = lg.log_in()
    assert status == 200, body
    assert lg.finish() == 0, lg.stderr
    assert dict(lg.credentials())["client_secret"] == mock.client_secret
    assert_no_secrets([lg.stdout, lg.stderr], [mock.client_secret])


def test_secret_typed_on_a_terminal_is_not_echoed(mock, login):
    lg = login(mock, tty_secret=mock.client_secret)
    status, _, body = lg.log_in()
    assert status == 200, body
    assert lg.finish() == 0, lg.stderr
    assert "Client secret for %s: " % mock.client_id in lg.stderr
    assert mock.client_secret not in lg.stderr  # echo was off
    assert dict(lg.credentials())["client_secret"] == mock.client_secret


def test_wrong_secret_from_stdin_is_refused(mock, login):
    lg = login(mock, stdin_secret="not-the-secret\n")
    status, _, body = lg.log_in()
    assert status >= 400
    assert lg.finish() == 1
    assert "401" in lg.stderr and "invalid_client" in lg.stderr
    assert "client secret" in lg.stderr
    assert not lg.creds.exists()
    assert_no_secrets([lg.stdout, lg.stderr, body], ["not-the-secret"])


def test_other_requests_do_not_end_the_wait(mock, login):
    """A favicon, a stray page or a callback without a code is answered, and the
    tool goes on waiting for the real answer."""
    lg = login(mock)
    url = lg.url()
    base = "http://127.0.0.1:%d" % lg.port
    assert lg.browse(base + "/favicon.ico")[0] == 404
    assert lg.browse(base + "/")[0] == 404
    assert lg.browse(base + "/callback")[0] == 400
    # A connection that sends nothing must not block the listener either.
    idle = socket.create_connection(("127.0.0.1", lg.port), timeout=5)
    try:
        assert lg.proc.poll() is None
        status, _, body = lg.browse(url)
    finally:
        idle.close()
    assert status == 200, body
    assert lg.finish() == 0, lg.stderr


# ---------------------------------------------------------------- failures

def test_access_denied(mock, login):
    mock.config(authorize_deny=True)
    lg = login(mock)
    status, final, body = lg.log_in()
    assert status == 400
    assert callback_query(final)["error"] == "access_denied"
    assert "access_denied" in body
    assert lg.finish() == 1
    assert "access_denied" in lg.stderr
    assert "The user denied the request." in lg.stderr  # error_description, decoded
    assert not lg.creds.exists()
    assert token_requests(mock) == []


def test_wrong_state_is_refused(mock, login):
    """SePay's redirect with a state other than this run's (a CSRF attempt, an
    old tab) gets 400, its code is never exchanged, and the tool goes on
    waiting: the real answer still logs in."""
    mock.config(authorize_wrong_state=True)
    lg = login(mock)
    url = lg.url()
    status, final, body = lg.browse(url)
    assert status == 400
    assert "state does not match" in body
    # Still listening: the wait did not end (it used to close the listener
    # before answering this page).
    assert port_listening(lg.port)
    assert lg.proc.poll() is None
    wrong_code = callback_query(final)["code"]

    mock.config(authorize_wrong_state=False)
    status, final, body = lg.browse(url)
    assert status == 200, body
    assert lg.finish() == 0, lg.stderr
    assert refused_lines(lg.stderr) == [
        "sepayfs-login: refused a callback whose state does not match (possible CSRF; it "
        "carried a code); still waiting for SePay's answer"]
    assert [e["status"] for e in token_requests(mock)] == [200]  # the right code only
    codes = {c["code"]: c for c in mock.tokens()["authorization_codes"]}
    assert not codes[wrong_code]["used"]
    assert codes[callback_query(final)["code"]]["used"]
    assert_no_secrets([lg.stdout, lg.stderr, body], [wrong_code])


def test_wrong_state_waits_until_the_timeout(mock, login):
    """Only this run's answer ends the wait: with nothing but a wrong-state
    callback, the tool gives up at --timeout, not at the callback."""
    mock.config(authorize_wrong_state=True)
    lg = login(mock, timeout=3)
    status, _, _ = lg.log_in()
    assert status == 400
    assert lg.finish(timeout=15) == 1
    assert lg.elapsed >= 2.5, "gave up after %.1f s, before --timeout 3" % lg.elapsed
    assert "no answer from the browser within 3 s" in lg.stderr
    assert "SePay did not authorize" not in lg.stderr
    assert len(refused_lines(lg.stderr)) == 1
    assert not lg.creds.exists()
    assert token_requests(mock) == []


def test_forged_callbacks_do_not_end_the_wait(mock, login):
    """Anyone can send requests to the loopback port: a local user, or any web
    page (<img src="http://127.0.0.1:PORT/callback?error=...">).  Callbacks
    without this run's state, errors included, get 400 and a short, filtered
    line on the terminal; the real callback then logs in."""
    lg = login(mock)
    url = lg.url()
    state = callback_query(url)["state"]
    near = state[:-1] + ("1" if state[-1] == "0" else "0")
    cb = lg.redirect_uri
    forged = [
        cb + "?error=access_denied&error_description=Your+account+is+locked",  # no state
        cb + "?error=access_denied&state=" + near,
        cb + "?error=server_error&state=",
        cb + "?code=forged-code-1&state=" + near,
        cb + "?code=forged-code-2",
        cb + "?code=forged-code-3&state=" + state[:-1],
        cb + "?code=forged-code-4&state=" + state + "0",
        cb + "?code=forged-code-5&state=" + state.upper(),
        cb + "?state=" + near + "&error=%1b%5b31mevil%07%0d%0a%C3%A9%22" + "A" * 300,
    ]
    for u in forged:
        status, _, body = lg.browse(u)
        assert status == 400, u
        assert "does not belong" in body and "still waiting" in body
        assert "locked" not in body and "evil" not in body
    assert lg.proc.poll() is None and port_listening(lg.port)
    status, _, body = lg.browse(url)
    assert status == 200, body
    assert lg.finish() == 0, lg.stderr
    assert "SePay did not authorize" not in lg.stderr
    assert "locked" not in lg.stderr  # a forged description is not shown
    lines = refused_lines(lg.stderr)
    assert len(lines) == len(forged)
    assert lines[0] == ("sepayfs-login: refused a callback without a state (possible CSRF; "
                        "it carried error \"access_denied\"); still waiting for SePay's answer")
    assert "whose state does not match" in lines[2]  # an empty state is a wrong one
    assert "it carried a code" in lines[3]
    # Attacker text is shown as printable ASCII only, and short.
    assert 'it carried error "?[31mevil??????' + "A" * 25 + '...")' in lines[-1]
    assert "A" * 26 not in lines[-1]
    for line in lg.stderr.splitlines():
        assert len(line) <= 200 and all(0x20 <= ord(ch) < 0x7f for ch in line), repr(line)
    assert_no_secrets([lg.stdout, lg.stderr], ["forged-code"])
    assert_no_secrets([lg.stderr], [state])  # stdout has it, in the URL
    assert [e["status"] for e in token_requests(mock)] == [200]
    assert dict(lg.credentials())["client_secret"] == mock.client_secret


def test_refused_callback_lines_are_bounded(mock, login):
    """A page that fires callbacks in a loop fills no terminal: 20 lines, then
    one saying the rest are not shown."""
    lg = login(mock)
    url = lg.url()
    for i in range(25):
        assert lg.browse(lg.redirect_uri + "?error=e%d" % i)[0] == 400
    assert lg.browse(url)[0] == 200
    assert lg.finish() == 0, lg.stderr
    lines = refused_lines(lg.stderr)
    assert len(lines) == 20 and '"e19"' in lines[-1]
    assert lg.stderr.count("sepayfs-login: more callbacks were refused; not shown\n") == 1


def test_refused_code(mock, login):
    mock.config(code_exchange_fail={"count": 1, "status": 400})
    lg = login(mock)
    status, final, body = lg.log_in()
    assert status >= 400
    assert "refused" in body
    assert lg.finish() == 1
    assert "refused the authorization code" in lg.stderr
    assert "HTTP 400" in lg.stderr and "invalid_grant" in lg.stderr
    assert not lg.creds.exists()
    assert [e["status"] for e in token_requests(mock)] == [400]
    code = callback_query(final)["code"]
    assert_no_secrets([lg.stdout, lg.stderr, body], [code, mock.client_secret])


def test_answer_without_a_refresh_token(mock, login):
    """A token answer without a refresh token would leave sepayfs logged
    out within the hour: the log-in fails and says why, no file is written."""
    mock.config(token_style="minimal")
    lg = login(mock)
    status, _, body = lg.log_in()
    assert status == 502
    assert "without a refresh token" in body
    assert lg.finish() == 1
    assert ("the token endpoint %s answered without a refresh token, which sepayfs needs "
            "to stay logged in" % mock.token_url) in lg.stderr
    assert not lg.creds.exists()


def test_authorize_url_with_a_query_of_its_own(mock, login):
    """An --authorize-url that has a query already is extended, not broken."""
    lg = login(mock, args=["--authorize-url", mock.root + AUTHORIZE_PATH + "?prompt=login"])
    url = lg.url()
    assert "&&" not in url and "?&" not in url, url
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, strict_parsing=True)
    assert query["prompt"] == ["login"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == [lg.redirect_uri]


def test_timeout(mock, login):
    lg = login(mock, timeout=2)
    lg.url()  # printed, never visited
    assert lg.finish(timeout=10) == 1
    assert lg.elapsed < 6, "took %.1f s to give up after --timeout 2" % lg.elapsed
    assert "no answer from the browser within 2 s" in lg.stderr
    assert not lg.creds.exists()
    assert mock.requests() == []


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_secret_file_readable_by_others(mock, login, mode):
    lg = login(mock, secret_mode=mode)
    assert lg.finish(timeout=10) == 1
    assert str(lg.secret_file) in lg.stderr
    assert "%04o" % mode in lg.stderr
    assert lg.stdout == ""  # no URL: nothing was listened on
    assert not port_listening(lg.port)
    assert not lg.creds.exists()
    assert_no_secrets([lg.stderr], [mock.client_secret])


def test_port_in_use(mock, login):
    lg_port_holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lg_port_holder.bind(("127.0.0.1", 0))
    lg_port_holder.listen(1)
    port = lg_port_holder.getsockname()[1]
    try:
        lg = login(mock, args=["--port", str(port)])  # the last --port wins
        assert lg.finish(timeout=10) == 1
    finally:
        lg_port_holder.close()
    assert "cannot listen on 127.0.0.1:%d" % port in lg.stderr
    assert lg.stdout == ""


def test_secrets_never_printed(mock, login, tmp_path):
    """Neither the client secret, nor a code, nor a token reaches stdout or
    stderr, whether the log-in works or the code is refused."""
    ok = login(mock)
    _, ok_final, ok_body = ok.log_in()
    assert ok.finish() == 0, ok.stderr
    mock.config(code_exchange_fail={"count": 1, "status": 400})
    (tmp_path / "second").mkdir()
    bad = Login(tmp_path / "second", mock)
    try:
        _, bad_final, bad_body = bad.log_in()
        assert bad.finish() == 1
    finally:
        bad.kill()
    tokens = mock.tokens()
    secret_values = ([mock.client_secret, callback_query(ok_final)["code"],
                      callback_query(bad_final)["code"]]
                     + tokens["access_tokens"]
                     + [t for t in tokens["refresh_tokens"] if t != mock.refresh_token])
    assert len(secret_values) == 5
    assert_no_secrets([ok.stdout, ok.stderr, ok_body, bad.stdout, bad.stderr, bad_body],
                      secret_values)


# ---------------------------------------------------------------- PKCE

def test_login_uses_pkce(mock, login):
    """RFC 7636 S256: the authorize URL carries a challenge, the exchange the
    verifier it was made from (the mock refuses the code otherwise)."""
    lg = login(mock)
    url = lg.url()
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert q["code_challenge_method"] == "S256"
    challenge = q["code_challenge"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge), challenge
    status, _, body = lg.browse(url)
    assert status == 200, body
    assert lg.finish() == 0, lg.stderr
    codes = mock.tokens()["authorization_codes"]
    assert len(codes) == 1 and codes[0]["used"]
    assert codes[0]["code_challenge"] == challenge
    verifier = codes[0]["code_verifier"]
    assert re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", verifier), verifier
    assert s256(verifier) == challenge
    assert_no_secrets([lg.stdout, lg.stderr, body], [verifier])

    # Every run has a verifier of its own.
    mock.reset()
    again = login(mock)
    assert again.log_in()[0] == 200
    assert again.finish() == 0, again.stderr
    assert mock.tokens()["authorization_codes"][0]["code_verifier"] != verifier


def test_login_with_a_server_without_pkce(mock, login):
    """A server that ignores the PKCE parameters loses nothing."""
    mock.config(authorize_ignore_pkce=True)
    lg = login(mock)
    status, _, body = lg.log_in()
    assert status == 200, body
    assert lg.finish() == 0, lg.stderr
    codes = mock.tokens()["authorization_codes"]
    assert codes[0]["used"] and codes[0]["code_challenge"] is None


def test_mock_pkce_refuses_a_wrong_verifier(mock):
    """What the tool relies on: a code issued with a challenge is exchanged
    only with its verifier; S256 is the only method."""
    redirect_uri = "http://127.0.0.1:9/callback"
    verifier = secrets.token_urlsafe(32)
    params = {"response_type": "code", "client_id": mock.client_id,
              "redirect_uri": redirect_uri, "state": "s1"}
    location = authorize_location(mock, code_challenge=s256(verifier),
                                  code_challenge_method="S256", **params)
    code = callback_query(location)["code"]
    for wrong in ({}, {"code_verifier": secrets.token_urlsafe(32)},
                  {"code_verifier": s256(verifier)},   # the challenge ("plain") is no verifier
                  {"code_verifier": verifier + "x"}, {"code_verifier": ""}):
        status, body = exchange_code(mock, code, redirect_uri, **wrong)
        assert (status, body["error"]) == (400, "invalid_grant"), wrong
    status, body = exchange_code(mock, code, redirect_uri, code_verifier=verifier)
    assert status == 200 and body["refresh_token"]

    for bad in ({"code_challenge": verifier, "code_challenge_method": "plain"},
                {"code_challenge": s256(verifier)},
                {"code_challenge_method": "S256"},
                {"code_challenge": "short", "code_challenge_method": "S256"}):
        answer = callback_query(authorize_location(mock, **params, **bad))
        assert answer["error"] == "invalid_request" and answer["state"] == "s1", bad
        assert "code" not in answer

    # A code issued without a challenge needs no verifier (and ignores one).
    for extra in ({}, {"code_verifier": verifier}):
        code = callback_query(authorize_location(mock, **params))["code"]
        status, body = exchange_code(mock, code, redirect_uri, **extra)
        assert status == 200, body


PKCE_VECTORS = os.environ.get("SEPAYFS_PKCE_VECTORS")


def test_sha256_and_pkce_challenge():
    """sepayfs-login's own SHA-256 (no crypto library is linked) and
    base64url: FIPS 180-2's vectors, RFC 7636 appendix B, and every length
    around the padding boundaries against hashlib, through
    tests/unit/pkce_vectors.c, which meson builds from login_pkce.c."""
    if not PKCE_VECTORS:
        pytest.skip("SEPAYFS_PKCE_VECTORS is not set (meson test sets it)")

    rfc_octets = bytes([116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173,
                        187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83,
                        132, 141, 121])
    rfc_verifier = b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    fips = [b"abc", b"", b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"]
    inputs = fips + [rfc_octets, rfc_verifier] + [bytes(range(256))[:n] for n in range(1, 200)]
    inputs += [b"a" * 1000000, bytes(range(256)) * 300]
    r = subprocess.run([PKCE_VECTORS], input="".join(i.hex() + "\n" for i in inputs),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = [line.split(" ") for line in r.stdout.splitlines()]
    assert len(out) == len(inputs)
    assert out[0][0] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert out[1][0] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert out[2][0] == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    assert out[-2][0] == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    # RFC 7636 appendix B: the octets' base64url is the verifier, whose
    # S256 challenge is E9Melhoa...
    assert out[3][1] == rfc_verifier.decode()
    assert out[4][2] == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    for data, (digest, b64, challenge) in zip(inputs, out):
        assert digest == hashlib.sha256(data).hexdigest(), len(data)
        assert b64 == (base64.urlsafe_b64encode(data).rstrip(b"=").decode() or "-"), len(data)
        expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        assert challenge == ("-" if b"\0" in data else expected.decode()), len(data)


# ---------------------------------------------------------------- the command line

def test_help_lists_every_option():
    r = run_tool(["--help"])
    assert r.returncode == 0
    for opt in ("--client-id", "--credentials", "--client-secret-file", "--scope", "--port",
                "--authorize-url", "--token-url", "--timeout", "--no-browser", "--help",
                "--version"):
        assert opt in r.stdout, opt
    for default in (DEFAULT_SCOPE, "8765", "300", "https://my.sepay.vn/oauth/authorize",
                    "https://my.sepay.vn/oauth/token"):
        assert default in r.stdout, default
    r = run_tool(["--version"])
    assert r.returncode == 0 and "sepayfs-login version" in r.stdout


@pytest.mark.parametrize("args, complaint", [
    (["--credentials", "/tmp/x.json"], "--client-id"),
    (["--client-id", "demo-client"], "--credentials"),
    (["--client-id", "c", "--credentials", "/tmp/x.json", "--port", "0"], "--port"),
    (["--client-id", "c", "--credentials", "/tmp/x.json", "--port", "65536"], "--port"),
    (["--client-id", "c", "--credentials", "/tmp/x.json", "--timeout", "-1"], "--timeout"),
    (["--client-id", "c", "--credentials", "/tmp/x.json", "--token-url",
      "http://example.com/oauth/token"], "loopback"),
    (["--client-id", "c", "--credentials", "/tmp/x.json", "--authorize-url",
      "ftp://example.com/"], "https"),
    (["--client-id", "c", "--credentials", "/tmp/x.json", "v4lue"], "unexpected argument"),
    (["--client-id", "c", "--credentials", "/tmp/x.json", "--bogus=v4lue"], "--bogus"),
])
def test_usage_errors(args, complaint):
    r = run_tool(args)
    assert r.returncode == 2, r.stderr
    assert complaint in r.stderr
    assert "v4lue" not in r.stderr


@pytest.mark.parametrize("arg", ["--client-secret=hunter2-secret", "--client-secret",
                                 "--client-s=hunter2-secret"])
def test_secret_never_from_argv(arg):
    r = run_tool(["--client-id", "c", "--credentials", "/tmp/x.json", arg, "hunter2-secret"])
    assert r.returncode == 2
    assert "never taken from the command line" in r.stderr
    assert "hunter2" not in r.stderr + r.stdout


# ---------------------------------------------------------------- the mock's side

def test_mock_code_is_one_time_and_bound_to_redirect_uri(mock, login):
    """What the tool relies on: a used code, or one sent with another
    redirect_uri, is invalid_grant."""
    lg = login(mock)
    _, final, _ = lg.log_in()
    assert lg.finish() == 0, lg.stderr
    code = callback_query(final)["code"]

    status, body = exchange_code(mock, code, lg.redirect_uri)  # the tool used it already
    assert (status, body["error"]) == (400, "invalid_grant")

    # A fresh code, sent with another redirect_uri, then with the right one.
    q = {"response_type": "code", "client_id": mock.client_id,
         "redirect_uri": "http://127.0.0.1:9/callback", "state": "s1"}
    location = authorize_location(mock, **q)
    assert location.startswith("http://127.0.0.1:9/callback?code=")
    fresh = callback_query(location)
    assert fresh["state"] == "s1"
    status, body = exchange_code(mock, fresh["code"], "http://127.0.0.1:9/other")
    assert (status, body["error"]) == (400, "invalid_grant")
    status, body = exchange_code(mock, fresh["code"], "http://127.0.0.1:9/callback")
    assert status == 200 and body["refresh_token"] and body["scope"] == ALL_SCOPES

    # A client id the mock does not know gets a page, not a redirect.
    bad = dict(q, client_id="someone-else")
    with pytest.raises(urllib.error.HTTPError) as exc:
        _NO_REDIRECT.open(mock.root + AUTHORIZE_PATH + "?" + urllib.parse.urlencode(bad),
                          timeout=30)
    assert exc.value.code == 400
    # And a redirect_uri off loopback is refused the same way.
    far = dict(q, redirect_uri="https://example.com/callback")
    with pytest.raises(urllib.error.HTTPError) as exc:
        _NO_REDIRECT.open(mock.root + AUTHORIZE_PATH + "?" + urllib.parse.urlencode(far),
                          timeout=30)
    assert exc.value.code == 400
    # /_mock/reset forgets the codes.
    mock.reset()
    assert mock.tokens()["authorization_codes"] == []
