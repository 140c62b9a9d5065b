"""test_shapes.py - the tree under every shape SePay's APIs are known to send.

shared/sepay-api.md ("Errors", "Value and pagination shapes") lists shapes
other than the documented v1 ones: ids, money and flags as strings (legacy
userapi) or integers (v2); pagination with has_more, a flat meta, page numbers
as strings, or no meta at all; flat bank fields; v2 sub-account fields;
fields missing, null or of another type; a to_date that may or may not
include its day; items of another account; other error bodies; a 200 with an
empty body for a refused token.  The mock sends each on request (its shape
knobs, see tests/mock/sepay_mock.py).

A shape test mounts the daemon with one shape set, walks the whole tree and
compares it with the mock's ground truth as the API sends it under that shape
(GET /_mock/data?styled=1 and /_mock/transactions?styled=1):
    - /accounts lists exactly the listed ids;
    - each info.json parses to the account's styled detail;
    - each sub-accounts/ lists exactly the account's sub-account ids, and each
      file parses to the styled sub-account item;
    - each transactions/ lists the months from created_at's month to now, and
      each month file holds, line by line and in order, the account's styled
      transactions of that month (ordered by transaction_date then id);
      with field_noise an account without a usable created_at may list any
      months (or no transactions/ at all), but each month it shows must be
      right.
Values compare as JSON: "1", 1 and true are three different values (a number
compares by value: 5, 5.0 and 5.00 are one).  Every difference is collected
and reported: 0 missing, 0 extra, 0 different.

45 accounts, pages of 4 (mock and -o page_size: 12 pages of accounts, sub-
account lists and months of one to three pages), created 3 months ago (four
month files each, with transactions on months' first and last seconds).  One
case asks for pages of 10 from a server that gives 4 without a meta to say so.
"""

import concurrent.futures
import errno
import json
import os
import re
import time
import urllib.request
from decimal import Decimal

import pytest

from conftest import errno_of, read, bounded

ACCOUNTS = 45
PAGE = 4
HISTORY_MONTHS = 3
SHAPE_MOCK = dict(accounts=ACCOUNTS, max_page_size=PAGE, history_months=HISTORY_MONTHS)

TOKEN_PATH = "/oauth/token"
TX_PATH = "/api/v1/transactions"
LIST_PATH = "/api/v1/bank-accounts"
VN_OFFSET_S = 7 * 3600
STAMP = re.compile(r"(\d{4})-(\d{2})-\d{2} \d{2}:\d{2}:\d{2}")
MONTH_FILE = re.compile(r"(\d{4})-(\d{2})\.jsonl")

# Bounds: a hung daemon fails a test instead of the run.
WALK_TIMEOUT = 120.0
OP_TIMEOUT = 60.0
# An endless list ends with the daemon's page cap (10,000 pages).
ENDLESS_TIMEOUT = 180.0

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---------------------------------------------------------------- helpers


def loads(data):
    """JSON with every real as a Decimal (exact money)."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return json.loads(data, parse_float=Decimal)


def control(mock, path):
    with NO_PROXY.open(mock.root + path, timeout=30) as resp:
        return loads(resp.read())


def ground_truth(mock):
    """What the API sends under the knobs in force: {"ids": [listed ids],
    "accounts": {id: list item}, "details": {id: detail}, "subs": {id:
    [items]}, "tx": {id: {"YYYY-MM": [items in order]}}}."""
    data = control(mock, "/_mock/data?styled=1")
    txs = control(mock, "/_mock/transactions?styled=1")["data"]
    ids = [int(a["id"]) for a in data["accounts"]]
    tx = {i: {} for i in ids}
    for t in txs:
        tx.setdefault(int(t["bank_account_id"]), {}).setdefault(
            t["transaction_date"][:7], []).append(t)
    return {"ids": ids,
            "accounts": {int(a["id"]): a for a in data["accounts"]},
            "details": {int(k): v for k, v in data["details"].items()},
            "subs": {int(k): v for k, v in data["sub_accounts"].items()},
            "tx": tx}


def kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float, Decimal)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def short(v, width=80):
    text = json.dumps(v, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[:width - 3] + "..."


def difference(got, want, where="$"):
    """None when got and want are the same JSON value; else where they differ."""
    if kind(got) != kind(want):
        return "%s: got %s %s, want %s %s" % (where, kind(got), short(got), kind(want),
                                              short(want))
    if isinstance(want, dict):
        missing = [k for k in want if k not in got]
        extra = [k for k in got if k not in want]
        if missing or extra:
            return "%s: missing keys %s, extra keys %s" % (where, missing, extra)
        for k in want:
            d = difference(got[k], want[k], "%s.%s" % (where, k))
            if d:
                return d
        return None
    if isinstance(want, list):
        if len(got) != len(want):
            return "%s: %d items, want %d" % (where, len(got), len(want))
        for i, (g, w) in enumerate(zip(got, want)):
            d = difference(g, w, "%s[%d]" % (where, i))
            if d:
                return d
        return None
    if got != want:
        return "%s: got %s, want %s" % (where, short(got), short(want))
    return None


def ename(code):
    return errno.errorcode.get(code, str(code))


def vn_month_now():
    t = time.gmtime(time.time() + VN_OFFSET_S)
    return t.tm_year, t.tm_mon


def month_names(created_at):
    """The month files from created_at's month to the current month, or None
    when created_at is not a usable "YYYY-MM-DD HH:MM:SS"."""
    m = STAMP.fullmatch(created_at) if isinstance(created_at, str) else None
    if m is None or not 1 <= int(m.group(2)) <= 12:
        return None
    year, month = int(m.group(1)), int(m.group(2))
    out = []
    while (year, month) <= vn_month_now():
        out.append("%04d-%02d.jsonl" % (year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def names_diff(what, got, want):
    """Problems of a listing: names missing, extra, or shown twice."""
    out = []
    dups = sorted({n for n in got if got.count(n) > 1})
    if dups:
        out.append("%s: shown twice: %s" % (what, dups[:10]))
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing:
        out.append("%s: %d missing: %s" % (what, len(missing), missing[:10]))
    if extra:
        out.append("%s: %d extra: %s" % (what, len(extra), extra[:10]))
    return out


def check_json_file(path, want, rel):
    try:
        data = read(path)
    except OSError as exc:
        return ["%s: read failed: %s" % (rel, ename(exc.errno))]
    try:
        got = loads(data)
    except ValueError as exc:
        return ["%s: not JSON (%s): %r" % (rel, exc, data[:120])]
    d = difference(got, want)
    return ["%s: %s" % (rel, d)] if d else []


def check_month(path, want, rel):
    try:
        data = read(path)
    except OSError as exc:
        return ["%s: read failed: %s" % (rel, ename(exc.errno))]
    if not want:
        return [] if data == b"" else ["%s: want an empty file, got %r" % (rel, data[:120])]
    if data == b"":
        return ["%s: an empty file, want %d lines" % (rel, len(want))]
    if not data.endswith(b"\n"):
        return ["%s: does not end with a newline: %r" % (rel, data[-80:])]
    lines = data.decode("utf-8", "replace").split("\n")[:-1]
    try:
        got = [loads(line) for line in lines]
    except ValueError as exc:
        return ["%s: a line is not JSON (%s)" % (rel, exc)]
    if len(got) != len(want):
        got_ids = [g.get("id") if isinstance(g, dict) else g for g in got]
        want_ids = [w["id"] for w in want]
        return ["%s: %d lines, want %d (ids %s, want %s)"
                % (rel, len(got), len(want), short(got_ids), short(want_ids))]
    for i, (g, w) in enumerate(zip(got, want)):
        d = difference(g, w)
        if d:
            return ["%s: line %d (id %s): %s" % (rel, i + 1, w["id"], d)]
    return []


def check_account(mnt, truth, acc_id):
    """Every problem of one account's directory, as text."""
    rel = "accounts/%d" % acc_id
    base = os.path.join(mnt, "accounts", str(acc_id))
    problems = []
    months = month_names(truth["accounts"][acc_id].get("created_at"))
    try:
        entries = os.listdir(base)
    except OSError as exc:
        return ["%s: ls failed: %s" % (rel, ename(exc.errno))]
    want = ["info.json", "sub-accounts", "transactions"]
    if months is None and "transactions" not in entries:
        want.remove("transactions")  # no usable created_at: may be left out
    problems += names_diff(rel, entries, want)

    problems += check_json_file(os.path.join(base, "info.json"),
                                truth["details"][acc_id], rel + "/info.json")

    subs = {"%d.json" % int(s["id"]): s for s in truth["subs"].get(acc_id, [])}
    try:
        names = os.listdir(os.path.join(base, "sub-accounts"))
    except OSError as exc:
        problems.append("%s/sub-accounts: ls failed: %s" % (rel, ename(exc.errno)))
        names = []
    problems += names_diff(rel + "/sub-accounts", names, list(subs))
    for name in sorted(set(names) & set(subs)):
        problems += check_json_file(os.path.join(base, "sub-accounts", name), subs[name],
                                    "%s/sub-accounts/%s" % (rel, name))

    if "transactions" not in entries:
        return problems
    tx = truth["tx"].get(acc_id, {})
    try:
        names = [n for n in os.listdir(os.path.join(base, "transactions"))
                 if n != "totals.csv"]
    except OSError as exc:
        return problems + ["%s/transactions: ls failed: %s" % (rel, ename(exc.errno))]
    if months is not None:
        problems += names_diff(rel + "/transactions", names, months)
        stray = sorted(m for m in tx if "%s.jsonl" % m not in months)
        assert not stray, "the mock has transactions of %d outside its months: %s" \
            % (acc_id, stray)
    else:
        now = "%04d-%02d.jsonl" % vn_month_now()
        bad = [n for n in names if not MONTH_FILE.fullmatch(n) or n > now]
        if bad:
            problems.append("%s/transactions: not months up to now: %s" % (rel, bad[:10]))
        months = [n for n in names if n not in bad]
    for name in sorted(set(names) & set(months)):
        problems += check_month(os.path.join(base, "transactions", name),
                                tx.get(name[:7], []), "%s/transactions/%s" % (rel, name))
    return problems


def walk(mnt, truth):
    """Every problem of the whole tree against the ground truth.  Accounts
    are checked 8 at a time, as a parallel tree walk would."""
    try:
        listed = os.listdir(os.path.join(mnt, "accounts"))
    except OSError as exc:
        return ["accounts: ls failed: %s" % ename(exc.errno)]
    problems = names_diff("accounts", listed, [str(i) for i in truth["ids"]])
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for found in pool.map(lambda i: check_account(mnt, truth, i), truth["ids"]):
            problems += found
    return problems


def assert_tree_matches(mnt, truth):
    problems = bounded(walk, mnt, truth, timeout=WALK_TIMEOUT)
    assert not problems, "%d differences from the API's data (first 30):\n  %s" % (
        len(problems), "\n  ".join(problems[:30]))


def info_path(mnt, acc_id):
    return os.path.join(mnt, "accounts", str(acc_id), "info.json")


def sub_dir(mnt, acc_id):
    return os.path.join(mnt, "accounts", str(acc_id), "sub-accounts")


def month_path(mnt, acc_id, month):
    return os.path.join(mnt, "accounts", str(acc_id), "transactions", month + ".jsonl")


def write_credentials(tmp_path, mock):
    """A credentials file (0600, in a 0700 directory) with the mock's client
    and refresh token."""
    d = tmp_path / "cfg"
    d.mkdir(mode=0o700, exist_ok=True)
    path = d / "credentials.json"
    path.write_text(json.dumps({"client_id": mock.client_id,
                                "client_secret": mock.client_secret,
                                "refresh_token": mock.refresh_token}) + "\n")
    os.chmod(path, 0o600)
    return path


def mount_with_credentials(mount, mock, tmp_path, extra_opts=()):
    creds = write_credentials(tmp_path, mock)
    return mount(mock, token=False, expect_quiet=False,
                 extra_opts=["credentials=%s" % creds, "token_url=%s" % mock.token_url]
                 + list(extra_opts))


def token_requests(log):
    return [e for e in log if e["path"] == TOKEN_PATH]


def knob(mock, name):
    return control(mock, "/_mock/config")[name]


# ---------------------------------------------------------------- the data's own checks

def check_shape_holds(knobs, truth):
    """The ground truth shows the shape asked for: otherwise a test of it
    proves nothing."""
    first = truth["details"][truth["ids"][0]]
    items = [t for months in truth["tx"].values() for ms in months.values() for t in ms]
    assert len(truth["ids"]) == ACCOUNTS and items
    values = knobs.get("value_style")
    if values == "legacy":
        assert first["id"] == str(truth["ids"][0]) and first["active"] in ("0", "1")
        assert isinstance(first["accumulated"], str) and "." in first["accumulated"]
        assert all(isinstance(t["bank_account_id"], str) for t in items)
        assert any(a.get("label") == "" for a in truth["accounts"].values())
    elif values == "v2":
        assert isinstance(first["accumulated"], int) and first["active"] in (0, 1)
    if knobs.get("detail_style") == "flat":
        assert "bank" not in first and "bank_short_name" in first
    if knobs.get("sub_style") == "v2":
        assert any("va" in s for subs in truth["subs"].values() for s in subs)
    if knobs.get("field_noise"):
        accounts = list(truth["accounts"].values())
        assert any(month_names(a.get("created_at")) is None for a in accounts)
        assert any(kind(a.get("label", "")) == "number" for a in accounts)
        assert any(kind(t.get("transaction_content", "")) == "array" for t in items)
    if "to_date_mode" in knobs:
        edges = [t for t in items if t["transaction_date"].endswith(" 23:59:59")
                 or t["transaction_date"][8:] == "01 00:00:00"]
        assert len(edges) >= 10, "too few transactions on months' edges: %d" % len(edges)


# ---------------------------------------------------------------- the tree under each shape

def shape(knobs, name, page_size=PAGE):
    """A case: (knobs, -o page_size)."""
    return pytest.param((knobs, page_size), id=name)


SHAPES = [
    shape({"value_style": "legacy"}, "values-legacy"),
    shape({"value_style": "v2"}, "values-v2"),
    shape({"pagination_style": "documented", "page_numbers_as_strings": True},
          "pages-documented-strings"),
    shape({"pagination_style": "has_more"}, "pages-has_more"),
    shape({"pagination_style": "has_more", "page_numbers_as_strings": True},
          "pages-has_more-strings"),
    shape({"pagination_style": "flat"}, "pages-flat"),
    shape({"pagination_style": "flat", "page_numbers_as_strings": True}, "pages-flat-strings"),
    shape({"pagination_style": "none"}, "pages-none"),
    # pages of 10 asked for, 4 given, and no meta to say so
    shape({"pagination_style": "none"}, "pages-none-fewer-than-asked", page_size=10),
    shape({"to_date_mode": "inclusive"}, "to_date-inclusive"),
    shape({"to_date_mode": "midnight"}, "to_date-midnight"),
    shape({"to_date_mode": "exclusive"}, "to_date-exclusive"),
    shape({"detail_style": "flat"}, "detail-flat"),
    shape({"sub_style": "v2"}, "sub-v2"),
    shape({"field_noise": True}, "field-noise"),
    shape({"value_style": "legacy", "detail_style": "flat", "sub_style": "v2",
           "pagination_style": "has_more", "page_numbers_as_strings": True,
           "to_date_mode": "midnight", "field_noise": True}, "all-at-once"),
]


@pytest.mark.mock_opts(**SHAPE_MOCK)
@pytest.mark.parametrize("shape", SHAPES)
def test_whole_tree_under_shape(mock, mount, shape):
    knobs, page_size = shape
    mock.config(**knobs)
    truth = ground_truth(mock)
    check_shape_holds(knobs, truth)
    # Noise may well be worth a log line; a clean shape is not.
    mnt = mount(mock, page_size=page_size, expect_quiet=not knobs.get("field_noise"))
    assert_tree_matches(mnt, truth)


@pytest.mark.mock_opts(**SHAPE_MOCK, knobs={"foreign_tx_items": True})
def test_items_of_another_account_are_dropped_and_logged(mock, mount):
    """Every /transactions answer also holds one item of another account:
    the month files hold none of them, and the daemon says so on stderr
    (a line naming a dropped item's id, or its account and the one asked
    for)."""
    truth = ground_truth(mock)
    mnt = mount(mock, page_size=PAGE, expect_quiet=False)
    assert_tree_matches(mnt, truth)
    sent = control(mock, "/_mock/foreign_items")["items"]
    assert sent, "the mock sent no item of another account"

    def named(line, item):
        words = set(re.findall(r"\d+", line))
        return str(item["id"]) in words or {str(item["bank_account_id"]),
                                            str(item["foreign_account_id"])} <= words

    text = mount.stderr(mnt)
    lines = [ln for ln in text.splitlines() if any(named(ln, i) for i in sent)]
    assert lines, "no stderr line names a dropped item (%d sent, e.g. %s):\n%s" % (
        len(sent), sent[0], text[-2000:])


# ---------------------------------------------------------------- errors

ERROR_STYLES = ["documented", "error_code", "error_object", "message", "empty", "html"]


@pytest.mark.parametrize("style", ERROR_STYLES)
def test_error_body_styles_map_to_errno(mock, mount, style):
    """A 403 is EPERM and a 404 ENOENT whatever the error body looks like
    (or if there is none)."""
    mnt = mount(mock, expect_quiet=False, extra_opts=["timeout=5"])
    ids = mock.account_ids()
    forbidden, gone, fine = ids[2], ids[5], ids[8]
    mock.config(error_style=style,
                status_for_ids={str(forbidden): 403, str(gone): 404})
    got = errno_of(read, info_path(mnt, forbidden))
    assert got == errno.EPERM, "403 gave %s" % ename(got)
    got = errno_of(os.listdir, sub_dir(mnt, forbidden))
    assert got == errno.EPERM, "403 on sub-accounts gave %s" % ename(got)
    got = errno_of(read, info_path(mnt, gone))
    assert got == errno.ENOENT, "404 gave %s" % ename(got)
    truth = ground_truth(mock)
    assert difference(loads(read(info_path(mnt, fine))), truth["details"][fine]) is None
    statuses = {e["path"]: e["status"] for e in mock.requests()}
    assert statuses["/api/v1/bank-accounts/%d" % forbidden] == 403
    assert statuses["/api/v1/bank-accounts/%d" % gone] == 404


@pytest.mark.mock_opts(knobs={"empty_200_for_bad_token": True})
def test_expired_token_answered_by_an_empty_200_is_refreshed(mock, mount, tmp_path):
    """The legacy way to refuse a token, HTTP 200 with an empty body: once
    the access token expired, files still read right (after a refresh), and
    no listing comes out empty."""
    mnt = mount_with_credentials(mount, mock, tmp_path, extra_opts=["timeout=5"])
    ids = mock.account_ids()
    assert sorted(int(n) for n in bounded(os.listdir, os.path.join(mnt, "accounts"), timeout=OP_TIMEOUT)) \
        == sorted(ids)
    truth = ground_truth(mock)
    with_subs = [i for i in ids if truth["subs"].get(i)]
    # apart from each other: no read-ahead has fetched them
    detail_id, subs_id = ids[4], with_subs[-1]
    assert subs_id != detail_id
    before_tokens = len(token_requests(mock.requests()))
    mock.config(expire_tokens_now=True)

    assert difference(loads(bounded(read, info_path(mnt, detail_id), timeout=OP_TIMEOUT)),
                      truth["details"][detail_id]) is None
    names = bounded(os.listdir, sub_dir(mnt, subs_id), timeout=OP_TIMEOUT)
    assert sorted(names) == sorted("%d.json" % s["id"] for s in truth["subs"][subs_id])
    for s in truth["subs"][subs_id]:
        got = loads(bounded(read, os.path.join(sub_dir(mnt, subs_id), "%d.json" % s["id"])))
        assert difference(got, s) is None
    log = mock.requests()
    tokens = token_requests(log)[before_tokens:]
    assert tokens and all(e["status"] == 200 for e in tokens), \
        "the daemon never refreshed the refused token: %s" % log[-20:]
    detail = [e["status"] for e in log if e["path"] == "/api/v1/bank-accounts/%d" % detail_id]
    assert len(detail) >= 2, "the empty 200 was taken for an answer: %s" % detail


FAULTS_200 = ["empty_200_next", "status_error_200_next"]


@pytest.mark.mock_opts(**SHAPE_MOCK)
@pytest.mark.parametrize("fault", FAULTS_200)
@pytest.mark.parametrize("target", ["accounts", "sub-accounts", "month"])
def test_one_error_200_never_gives_a_partial_list(mock, mount, fault, target):
    """One 200 that is not a page (an empty body, or "status": "error") in a
    list: the list comes out whole (after a retry) or fails with EIO or
    EACCES, and then comes out whole; never empty, never in part."""
    mnt = mount(mock, page_size=PAGE, expect_quiet=False, extra_opts=["timeout=5"])
    truth = ground_truth(mock)
    # /accounts: page 1 came with the mount's check, so the fault hits a later page.
    if target == "accounts":
        path, want = os.path.join(mnt, "accounts"), sorted(str(i) for i in truth["ids"])
        op = os.listdir
    else:
        os.listdir(os.path.join(mnt, "accounts"))
        if target == "sub-accounts":
            acc = max(truth["ids"], key=lambda i: len(truth["subs"].get(i, [])))
            path = sub_dir(mnt, acc)
            want = sorted("%d.json" % int(s["id"]) for s in truth["subs"][acc])
            op = os.listdir
        else:
            acc, month = max(((i, m) for i in truth["ids"] for m in truth["tx"][i]),
                             key=lambda p: len(truth["tx"][p[0]][p[1]]))
            os.listdir(os.path.join(mnt, "accounts", str(acc), "transactions"))
            path, want = month_path(mnt, acc, month), truth["tx"][acc][month]
            op = read
    assert want
    mock.config(**{fault: 1})

    def outcome():
        try:
            got = op(path)
        except OSError as exc:
            return exc.errno, None
        if op is read:
            return 0, [loads(line) for line in got.decode("utf-8").splitlines()]
        return 0, sorted(got)

    code, got = bounded(outcome, timeout=OP_TIMEOUT)
    assert knob(mock, fault) == 0, "the fault was not used: the test proves nothing"
    if code:
        assert code in (errno.EIO, errno.EACCES), ename(code)
        code, got = bounded(outcome, timeout=OP_TIMEOUT)
        assert code == 0, "still failing once the fault is over: %s" % ename(code)
    assert difference(got, want) is None, "a partial list: %s" % difference(got, want)


@pytest.mark.mock_opts(**SHAPE_MOCK)
@pytest.mark.parametrize("fault", FAULTS_200)
def test_lasting_error_200_on_the_list_is_an_error(mock, mount, fault):
    """Every page after the first answers a 200 that is not a page: the
    listing fails (EIO or EACCES) instead of showing the first page."""
    mnt = mount(mock, page_size=PAGE, expect_quiet=False, extra_opts=["timeout=2"])
    mock.config(**{fault: 1_000_000})
    got = bounded(errno_of, os.listdir, os.path.join(mnt, "accounts"), timeout=OP_TIMEOUT)
    assert got in (errno.EIO, errno.EACCES), "gave %s" % ename(got)
    mock.config(**{fault: 0})


@pytest.mark.mock_opts(**SHAPE_MOCK, knobs={"pagination_style": "none",
                                            "endless_pages": True})
def test_list_that_never_ends_is_eio(mock, mount):
    """No meta, and every page from the last on a full page again: the
    listing fails with EIO within the daemon's page cap, never shows part."""
    mnt = mount(mock, page_size=PAGE, expect_quiet=False)
    got = bounded(errno_of, os.listdir, os.path.join(mnt, "accounts"),
                  timeout=ENDLESS_TIMEOUT)
    assert got == errno.EIO, "an endless account list gave %s" % ename(got)
    # The same for a short list (one page of sub-accounts, served again and again).
    truth = ground_truth(mock)
    acc = next(i for i in truth["ids"] if truth["subs"].get(i))
    got = bounded(errno_of, os.listdir, sub_dir(mnt, acc), timeout=ENDLESS_TIMEOUT)
    assert got == errno.EIO, "an endless sub-account list gave %s" % ename(got)
    assert mount.stderr(mnt).strip(), "a failed listing logs a line"


# ---------------------------------------------------------------- 429 and token shapes

@pytest.mark.parametrize("style", ["Retry-After", "Retry-After-date",
                                   "x-sepay-userapi-retry-after", "X-RateLimit", "none"])
def test_rate_limit_header_styles_are_honoured(mock, mount, style):
    """A 429 asking for 1 s, in each header style (or naming no time, when at
    least 1 s is waited): the retry comes no sooner."""
    mnt = mount(mock, expect_quiet=False)
    os.listdir(os.path.join(mnt, "accounts"))
    acc = mock.account_ids()[3]
    truth = ground_truth(mock)
    mock.config(rate_limit={"next": 1, "retry_after": 1, "header": style})
    before = mock.log_len()
    assert difference(loads(bounded(read, info_path(mnt, acc), timeout=OP_TIMEOUT)),
                      truth["details"][acc]) is None
    new = [e for e in mock.requests_since(before)
           if e["path"] == "/api/v1/bank-accounts/%d" % acc]
    assert [e["status"] for e in new] == [429, 200], new
    assert new[1]["t"] - new[0]["t"] >= 0.9, "retried before the time asked: %s" % new


@pytest.mark.parametrize("style", ["documented", "expires_real", "expires_string",
                                   "no_expires", "minimal"])
def test_token_answer_styles(mock, mount, tmp_path, style):
    """Each shape of token answer mounts, and a refresh after the access
    token expired works (minimal: no refresh token in the answer, the old one
    stays in use)."""
    mock.config(token_style=style)
    mnt = mount_with_credentials(mount, mock, tmp_path, extra_opts=["timeout=10"])
    ids = mock.account_ids()
    truth = ground_truth(mock)
    assert difference(loads(bounded(read, info_path(mnt, ids[2]), timeout=OP_TIMEOUT)),
                      truth["details"][ids[2]]) is None
    mock.config(expire_tokens_now=True)
    assert difference(loads(bounded(read, info_path(mnt, ids[7]), timeout=OP_TIMEOUT)),
                      truth["details"][ids[7]]) is None
    tokens = token_requests(mock.requests())
    assert len(tokens) >= 2 and all(e["status"] == 200 for e in tokens), tokens
