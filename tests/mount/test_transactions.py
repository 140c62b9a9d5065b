"""test_transactions.py - /accounts/<id>/transactions/YYYY-MM.jsonl.

A transactions folder holds one file per calendar month, from the month of the
account's created_at to the current month in Vietnam time (UTC+7).  A file is
GET /transactions?bank_account_id=<id>&from_date=YYYY-MM-01&to_date=<the 1st of the
next month> (every page; whatever to_date means, the month's last day is in the
answer), kept to the transactions dated in the month, as JSON lines: one compact
object per transaction, keys in the API's order, ordered by transaction_date then
id.  Past months are cached for
-o history_ttl, the current month for -o cache_ttl; a 403 on /transactions
(no transaction:read scope) makes the months and then the folder EPERM while
the rest of the tree keeps working.

Request counts come from the mock's log; the expected content from the mock's
control view GET /_mock/transactions.
"""

import calendar
import errno
import json
import os
import re
import subprocess
import tarfile
import time
import urllib.request
from collections import defaultdict
from urllib.parse import parse_qs, urlencode

import pytest

from conftest import LIST_PATH, dumps_as_sent, loads_as_sent, month_files, read, wait_until

TX_PATH = "/api/v1/transactions"
VN_OFFSET_S = 7 * 3600
MONEY_KEYS = ("amount_out", "amount_in", "accumulated")
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# A JSON string literal, to look at what lies between them.
JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


# ---------------------------------------------------------------- helpers

def vn_month_now():
    t = time.gmtime(time.time() + VN_OFFSET_S)
    return t.tm_year, t.tm_mon


def month_names(created_at):
    """The file names from created_at's month to the current month (UTC+7)."""
    year, month = int(created_at[0:4]), int(created_at[5:7])
    now = vn_month_now()
    out = []
    while (year, month) <= now:
        out.append("%04d-%02d.jsonl" % (year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def month_range(name):
    """("YYYY-MM-01", "YYYY-MM-<last day>") of a month file's name."""
    year, month = int(name[0:4]), int(name[5:7])
    return ("%04d-%02d-01" % (year, month),
            "%04d-%02d-%02d" % (year, month, calendar.monthrange(year, month)[1]))


def asked_range(name):
    """(from_date, to_date) sepayfs asks for a month file: its 1st up to the
    1st of the next month."""
    year, month = int(name[0:4]), int(name[5:7])
    nyear, nmonth = (year + 1, 1) if month == 12 else (year, month + 1)
    return ("%04d-%02d-01" % (year, month), "%04d-%02d-01" % (nyear, nmonth))


def current_month_name():
    return "%04d-%02d.jsonl" % vn_month_now()


def control_items(mock, acc_id, name, dates=None, as_sent=False):
    """The mock's transactions of that month (or of the range dates), each a
    list of (key, value) pairs (key order counts); as_sent: each a dict
    whose money keeps its text (loads_as_sent)."""
    from_date, to_date = dates or month_range(name)
    query = urlencode({"bank_account_id": acc_id, "from_date": from_date, "to_date": to_date})
    with NO_PROXY.open(mock.root + "/_mock/transactions?" + query, timeout=30) as resp:
        raw = resp.read().decode("utf-8")
    if as_sent:
        return loads_as_sent(raw)["data"]
    return dict(json.loads(raw, object_pairs_hook=list))["data"]


def tx_query(entry):
    q = parse_qs(entry["query"], keep_blank_values=True)
    return {k: v[0] for k, v in q.items()}


def tx_requests(entries):
    return [e for e in entries if e["path"] == TX_PATH]


def tx_dir(mnt, acc_id):
    return os.path.join(mnt, "accounts", str(acc_id), "transactions")


def check_month_file(mock, path, acc_id, name):
    """The file is the mock's month as JSON lines; returns the bytes."""
    st = os.stat(path)
    data = read(path)
    assert st.st_size == len(data), "%s: st_size %d, read %d" % (path, st.st_size, len(data))
    expected = control_items(mock, acc_id, name)
    if not expected:
        assert data == b"", "%s: an empty month must be an empty file: %r" % (path, data[:200])
        return data
    assert data.endswith(b"\n"), "%s does not end with a newline" % path
    assert b"\r" not in data
    lines = data.decode("utf-8").split("\n")[:-1]
    got = [json.loads(line, object_pairs_hook=list) for line in lines]
    assert got == expected, "%s differs from the API's month (order, keys or values)" % path
    for line, item in zip(lines, expected):
        between = JSON_STRING.sub('""', line)
        assert not re.search(r"\s", between), "not compact: %r" % line
        # Text as raw UTF-8 (no \u escapes), escaped as JSON needs.
        content = dict(item)["transaction_content"]
        assert '"transaction_content":%s' % json.dumps(content, ensure_ascii=False) in line, line
        # Money as the API wrote it: digits, a point, two digits.
        for key in MONEY_KEYS:
            m = re.search(r'"%s":([^,}]*)' % key, line)
            assert m and re.fullmatch(r"-?[0-9]+\.[0-9][0-9]", m.group(1)), (key, line)
    # Byte for byte the mock's items, every number as it wrote it.
    sent = [dumps_as_sent(item) for item in control_items(mock, acc_id, name, as_sent=True)]
    assert lines == sent, "%s: not the API's text" % path
    return data


# ---------------------------------------------------------------- tests

@pytest.mark.mock_opts(accounts=6)
def test_listing_is_the_months_since_created_at_without_requests(mock, mount):
    """Each transactions/ lists created_at's month to the current month; with
    /accounts listed, no listing waits for a request.  (Read-ahead may start
    fetching months in the background: the mock holds every request 5 s,
    and no request may have been answered when the listings are done.)"""
    mnt = mount(mock)
    accounts = mock.data()["accounts"]
    assert len(accounts) == 6
    os.listdir(os.path.join(mnt, "accounts"))
    mock.config(latency_ms=5000)  # longer than a sanitized daemon's stall
    before = mock.log_len()
    listed = {a["id"]: month_files(tx_dir(mnt, a["id"])) for a in accounts}
    during = mock.requests_since(before)
    mock.config(latency_ms=0)
    for a in accounts:
        expected = month_names(a["created_at"])
        assert listed[a["id"]] == expected, (a["id"], a["created_at"])
    assert sum(len(v) for v in listed.values()) > 6 * 6
    answered = [e for e in during if e["status"] != 0]
    assert answered == [], "listing transactions/ waited for requests: %s" % answered

    # Names outside the range, or not a month file, are not there, and cost nothing.
    acc = accounts[1]
    first = month_names(acc["created_at"])[0]
    year, month = int(first[:4]), int(first[5:7])
    before_month = "%04d-%02d.jsonl" % ((year - 1, 12) if month == 1 else (year, month - 1))
    now_y, now_m = vn_month_now()
    next_month = "%04d-%02d.jsonl" % ((now_y + 1, 1) if now_m == 12 else (now_y, now_m + 1))
    mock.wait_quiet()  # read-ahead's held requests and its queue run out first
    before = mock.log_len()
    for name in (before_month, next_month, "%04d-13.jsonl" % now_y, "%04d-00.jsonl" % now_y,
                 "%04d-1.jsonl" % now_y, first[:-6], first + ".bak",
                 first.replace(".jsonl", ".json"), ".git", "0%s" % first):
        with pytest.raises(FileNotFoundError):
            os.stat(os.path.join(tx_dir(mnt, acc["id"]), name))
    assert tx_requests(mock.requests_since(before)) == []


@pytest.mark.mock_opts(accounts=6, max_page_size=4)
def test_month_files_are_the_api_months_as_json_lines(mock, mount):
    """Every month file of every account equals the API's month, line by
    line, in order, with the keys in the API's order; empty months are empty
    files.  A walk asks each account's whole history as one range, page by
    page (pages of 4 here), from its first month's 1st to the next month's
    1st; a month looked at alone asks for that month only, and its bytes are
    the same."""
    mnt = mount(mock)
    accounts = mock.data()["accounts"]
    os.listdir(os.path.join(mnt, "accounts"))
    before = mock.log_len()
    sizes = defaultdict(int)
    walked = {}
    for a in accounts:
        names = month_files(tx_dir(mnt, a["id"]))
        assert names == month_names(a["created_at"])
        for name in names:
            data = check_month_file(mock, os.path.join(tx_dir(mnt, a["id"]), name),
                                    a["id"], name)
            walked[(a["id"], name)] = data
            sizes["empty" if not data else
                  "multi-page" if data.count(b"\n") > 4 else "one page"] += 1
    # The data set holds all three kinds; otherwise this test proves less.
    assert sizes["empty"] and sizes["one page"] and sizes["multi-page"], dict(sizes)

    pages = defaultdict(list)
    for e in tx_requests(mock.requests_since(before)):
        assert e["status"] == 200, e
        q = tx_query(e)
        pages[(int(q["bank_account_id"]), q["from_date"], q["to_date"])].append(
            int(q.get("page", "1")))
    expected_keys = {(a["id"], asked_range(month_names(a["created_at"])[0])[0],
                      asked_range(current_month_name())[1]) for a in accounts}
    assert set(pages) == expected_keys
    for key, got in pages.items():
        total = len(control_items(mock, key[0], None, dates=key[1:]))
        last = max(1, -(-total // 4))
        assert sorted(got) == list(range(1, last + 1)), (key, got)

    # The same months asked one by one (another mount, no walk: cat) are
    # byte for byte what the ranges gave.
    single = mount(mock)
    for (acc_id, name), data in walked.items():
        before = mock.log_len()
        assert read(os.path.join(tx_dir(single, acc_id), name)) == data
        asked = tx_requests(mock.requests_since(before))
        assert {tuple(tx_query(e)[k] for k in ("from_date", "to_date")) for e in asked} \
            == {asked_range(name)}, asked


@pytest.mark.mock_opts(accounts=6)
def test_grep_finds_a_transaction_by_reference(mock, mount):
    """grep -r over all accounts finds a reference number in exactly its month."""
    mnt = mount(mock)
    accounts = mock.data()["accounts"]
    acc = accounts[3]
    names = month_names(acc["created_at"])
    target = None
    for name in names[len(names) // 2:] + names[:len(names) // 2]:
        items = control_items(mock, acc["id"], name)
        if items:
            target = (name, dict(items[len(items) // 2])["reference_number"])
            break
    assert target is not None
    name, ref = target
    r = subprocess.run(["grep", "-rlF", ref, os.path.join(mnt, "accounts")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout.splitlines() == [os.path.join(tx_dir(mnt, acc["id"]), name)]


@pytest.mark.mock_opts(accounts=5)
def test_current_month_follows_cache_ttl_past_months_history_ttl(mock, mount):
    """cache_ttl=1, history_ttl=3600, settle_days=0 (every past month is
    settled; test_backups.py runs a day later to see the week's window): a
    transaction added now shows in the current month's file after the TTL,
    with a new mtime; re-reading past months asks nothing."""
    mnt = mount(mock, cache_ttl=1, extra_opts=["history_ttl=3600", "settle_days=0"])
    acc = mock.data()["accounts"][2]
    tdir = tx_dir(mnt, acc["id"])
    names = month_files(tdir)
    current = current_month_name()
    assert names[-1] == current and len(names) >= 2
    first = {name: read(os.path.join(tdir, name)) for name in names}
    old_mtime = os.stat(os.path.join(tdir, current)).st_mtime

    added = mock.config(add_transaction={"bank_account_id": acc["id"]})["transaction"]
    before = mock.log_len()
    wait_until(lambda: added["reference_number"].encode()
               in read(os.path.join(tdir, current)), what="the current month's refresh")
    data = check_month_file(mock, os.path.join(tdir, current), acc["id"], current)
    assert added["reference_number"].encode() in data
    assert data.startswith(first[current]) and len(data) > len(first[current])
    st = os.stat(os.path.join(tdir, current))
    assert st.st_mtime > old_mtime
    assert st.st_size == len(data)
    asked = tx_requests(mock.requests_since(before))
    assert [tx_query(e)["from_date"] for e in asked if e["status"] == 200] \
        and all(tx_query(e)["from_date"] == month_range(current)[0] for e in asked), asked

    before = mock.log_len()
    for name in names[:-1]:
        assert read(os.path.join(tdir, name)) == first[name], name
    assert os.listdir(tdir) and month_files(tdir) == names
    past = [e for e in tx_requests(mock.requests_since(before))
            if tx_query(e).get("from_date") != month_range(current)[0]]
    assert past == [], "past months were asked for again: %s" % past


@pytest.mark.mock_opts(accounts=5, knobs={"status_for_transactions": 403})
def test_forbidden_transactions_are_eperm_rest_of_tree_works(mock, mount):
    """Without transaction:read (403): a month is EPERM, then the folder is;
    info.json and sub-accounts still work."""
    mnt = mount(mock, expect_quiet=False)
    acc = mock.data()["accounts"][1]
    os.listdir(os.path.join(mnt, "accounts"))
    tdir = tx_dir(mnt, acc["id"])
    with pytest.raises(PermissionError) as exc:
        read(os.path.join(tdir, current_month_name()))
    assert exc.value.errno == errno.EPERM
    assert any(e["status"] == 403 for e in tx_requests(mock.requests()))
    with pytest.raises(PermissionError) as exc:
        os.listdir(tdir)
    assert exc.value.errno == errno.EPERM
    info = json.loads(read(os.path.join(mnt, "accounts", str(acc["id"]), "info.json")))
    assert info["id"] == acc["id"]
    os.listdir(os.path.join(mnt, "accounts", str(acc["id"]), "sub-accounts"))
    assert len(os.listdir(os.path.join(mnt, "accounts"))) == 5


@pytest.mark.mock_opts(accounts=12, knobs={"status_for_transactions": 403})
def test_forbidden_transactions_stop_asking(mock, mount):
    """Without transaction:read, a grep -r of the whole tree finds the
    account files; once one month of an account has answered 403, neither
    readers nor read-ahead ask for another of that account, and after the
    first 403 every other account is asked one month first: one refused
    request per account, and those already in flight."""
    mnt = mount(mock, expect_quiet=False)
    acc = mock.data()["accounts"][0]
    r = subprocess.run(["grep", "-rlF", acc["account_number"], mnt], capture_output=True,
                       text=True, timeout=120)
    assert os.path.join(mnt, "accounts", str(acc["id"]), "info.json") in r.stdout.splitlines()
    mock.wait_quiet()
    asked = tx_requests(mock.requests())
    assert asked and all(e["status"] == 403 for e in asked)
    # Read-ahead keeps at most max_conns (8) fetches in flight.
    assert len(asked) <= 12 + 8, "%d requests for transactions after a 403" % len(asked)


@pytest.mark.mock_opts(accounts=6)
def test_tar_of_the_whole_tree(mock, mount, tmp_path):
    """tar of everything exits 0 without a word, and holds every month file
    as the mount shows it."""
    mnt = mount(mock)
    archive = tmp_path / "tree.tar"
    r = subprocess.run(["tar", "cf", str(archive), "-C", mnt, "."], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    with tarfile.open(archive) as tar:
        members = {os.path.normpath(m.name): m for m in tar.getmembers() if m.isfile()}
        for a in mock.data()["accounts"]:
            for name in month_names(a["created_at"]):
                rel = os.path.join("accounts", str(a["id"]), "transactions", name)
                assert rel in members, rel
                content = tar.extractfile(members[rel]).read()
                assert content == read(os.path.join(mnt, rel)), rel
                expected = control_items(mock, a["id"], name)
                assert content.count(b"\n") == len(expected), rel
    log = mock.requests()
    assert all(e["status"] == 200 for e in log), [e for e in log if e["status"] != 200]
    assert len([e for e in log if e["path"] == LIST_PATH]) >= 1
