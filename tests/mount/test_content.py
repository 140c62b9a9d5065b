"""What the files hold: info.json, sub-account files, their format and stat."""

import calendar
import json
import os
import re
import stat

import pytest

from conftest import dumps_as_sent, expected_files, read, walk_files


def pairs(raw):
    """A JSON text as nested lists of (key, value) pairs: key order counts."""
    return json.loads(raw, object_pairs_hook=list)


def to_pairs(obj):
    """A parsed object (dicts) turned into the pairs form, keeping dict order."""
    if isinstance(obj, dict):
        return [[k, to_pairs(v)] for k, v in obj.items()]
    if isinstance(obj, list):
        return [to_pairs(v) for v in obj]
    return obj


def norm(p):
    """pairs() gives tuples-as-lists; make both sides comparable."""
    if isinstance(p, list):
        return [norm(x) for x in p]
    if isinstance(p, tuple):
        return [norm(x) for x in p]
    return p


def test_info_json_content_and_format(mock, mount):
    mnt = mount(mock)
    data = dict(mock.data_ordered())
    for acc in data["accounts"]:
        acc_id = dict(acc)["id"]
        raw = read(os.path.join(mnt, "accounts", str(acc_id), "info.json"))
        text = raw.decode("utf-8")
        assert norm(pairs(text)) == norm(acc), "account %d differs from the API" % acc_id
        assert text.endswith("}\n") and not text.endswith("\n\n")
        lines = text.split("\n")
        assert lines[0] == "{"
        assert lines[1] == '  "id": %d,' % acc_id, "not 2-space indented: %r" % lines[1]
        assert "\\u" not in text, "non-ASCII text must be raw UTF-8"
    info19 = read(os.path.join(mnt, "accounts", "19", "info.json")).decode("utf-8")
    assert '"accumulated": 1777283273.00,' in info19
    assert "e+" not in info19.lower()
    assert "Ngân hàng TMCP Ngoại Thương Việt Nam" in info19


def test_info_json_matches_canonical_rendering(mock, mount):
    """Byte for byte what json.dumps(indent=2, ensure_ascii=False) + newline
    gives, every number as the API wrote it (money with its two decimals)."""
    mnt = mount(mock)
    data = mock.data_as_sent()
    for acc in data["accounts"]:
        raw = read(os.path.join(mnt, "accounts", str(acc["id"]), "info.json"))
        assert raw.decode("utf-8") == dumps_as_sent(acc, indent=2) + "\n"
    for acc_id, subs in data["sub_accounts"].items():
        for sub in subs:
            raw = read(os.path.join(mnt, "accounts", acc_id, "sub-accounts",
                                    "%d.json" % sub["id"]))
            assert raw.decode("utf-8") == dumps_as_sent(sub, indent=2) + "\n"


def test_money_values(mock, mount):
    """Zero, cents below one, cents and a large balance, as the API wrote
    them: two decimals, never in exponent form."""
    mnt = mount(mock)
    seen = {}
    for acc in mock.data()["accounts"]:
        text = read(os.path.join(mnt, "accounts", str(acc["id"]), "info.json")).decode()
        line = [l for l in text.split("\n") if l.startswith('  "accumulated": ')][0]
        seen[acc["id"]] = line.split(": ", 1)[1].rstrip(",")
        assert "e" not in seen[acc["id"]].lower(), line
        assert float(seen[acc["id"]]) == acc["accumulated"]
    values = set(seen.values())
    for want in ("1777283273.00", "0.00", "0.10", "12345.67", "1234567890123.45"):
        assert want in values, "no account shows %s: %s" % (want, sorted(values))


@pytest.mark.parametrize("style", ["documented", "legacy"])
def test_money_as_the_api_wrote_it(mock, mount, style):
    """The mock writes money with exactly two decimals (1777283273.00), or,
    as SePay's legacy API does, as strings ("1777283273.00"): info.json and a
    month of transactions show that text, byte for byte (jansson alone would
    give 1777283273.0)."""
    mock.config(value_style=style)
    mnt = mount(mock)
    quote = '"' if style == "legacy" else ""
    info = read(os.path.join(mnt, "accounts", "19", "info.json")).decode()
    assert info == dumps_as_sent(mock.data_as_sent(styled=True)["details"]["19"], indent=2) + "\n"
    assert '"accumulated": %s1777283273.00%s,' % (quote, quote) in info
    first = mock.transactions_as_sent(19)[0]["transaction_date"]
    year, month = int(first[:4]), int(first[5:7])
    last_day = calendar.monthrange(year, month)[1]
    items = mock.transactions_as_sent(19, "%04d-%02d-01" % (year, month),
                                      "%04d-%02d-%02d" % (year, month, last_day), styled=True)
    text = read(os.path.join(mnt, "accounts", "19", "transactions",
                             "%04d-%02d.jsonl" % (year, month))).decode()
    assert text == "".join(dumps_as_sent(item) + "\n" for item in items)
    assert re.search(r'"amount_in":%s[0-9]+\.[0-9]{2}%s,' % (quote, quote), text), text


def test_large_and_odd_values(mock, mount):
    """Balances at the edges of double precision still print without exponent."""
    mock.add_account({"id": 20, "label": "Số lớn", "accumulated": 98765432109876.5,
                      "active": True})
    mock.add_account({"id": 23, "label": "Âm", "accumulated": -12.34, "active": False})
    mnt = mount(mock)
    a20 = read(os.path.join(mnt, "accounts", "20", "info.json")).decode()
    assert '"accumulated": 98765432109876.50,' in a20
    a23 = read(os.path.join(mnt, "accounts", "23", "info.json")).decode()
    assert '"accumulated": -12.34,' in a23


def test_sub_accounts(mock, mount):
    mnt = mount(mock)
    data = mock.data()
    counts = {}
    for acc in data["accounts"]:
        subs = data["sub_accounts"][str(acc["id"])]
        d = os.path.join(mnt, "accounts", str(acc["id"]), "sub-accounts")
        names = os.listdir(d)
        assert len(names) == len(set(names))
        assert sorted(names) == sorted("%d.json" % s["id"] for s in subs)
        for s in subs:
            raw = read(os.path.join(d, "%d.json" % s["id"]))
            assert norm(pairs(raw)) == norm(to_pairs(s))
            assert raw.endswith(b"}\n")
        counts[acc["id"]] = len(subs)
    assert 0 in counts.values() and 5 in counts.values()
    empty = [i for i, c in counts.items() if c == 0]
    for acc_id in empty:
        assert os.listdir(os.path.join(mnt, "accounts", str(acc_id), "sub-accounts")) == []


def test_sub_accounts_cost_one_list_request(mock, mount):
    """Reading every sub-account file costs the sub-account list, not a
    request per file."""
    mnt = mount(mock)
    os.listdir(os.path.join(mnt, "accounts"))
    d = os.path.join(mnt, "accounts", "24", "sub-accounts")
    before = mock.log_len()
    names = os.listdir(d)
    assert len(names) == 5
    for n in names:
        read(os.path.join(d, n))
    new = mock.requests_since(before)
    assert [e["path"] for e in new] == ["/api/v1/bank-accounts/24/sub-accounts"]


def test_stat_matches_content(mock, mount):
    mnt = mount(mock)
    uid, gid = os.getuid(), os.getgid()
    for dirpath, dirnames, filenames in os.walk(mnt):
        st = os.stat(dirpath)
        assert stat.S_ISDIR(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o555, dirpath
        assert (st.st_uid, st.st_gid) == (uid, gid), dirpath
        for name in filenames:
            path = os.path.join(dirpath, name)
            st = os.stat(path)  # before the first read: the size must already be exact
            data = read(path)
            assert stat.S_ISREG(st.st_mode)
            assert stat.S_IMODE(st.st_mode) == 0o444, path
            assert (st.st_uid, st.st_gid) == (uid, gid), path
            assert st.st_size == len(data), path
            # Only a month without transactions is an empty file.
            assert len(data) > 0 or name.endswith(".jsonl"), path
            assert st.st_blocks * 512 >= st.st_size, path
            assert (st.st_blocks > 0) == (st.st_size > 0), path
            st2 = os.stat(path)
            assert st2.st_size == st.st_size and st2.st_mtime == st.st_mtime


def test_whole_tree_equals_mock(mock, mount):
    mnt = mount(mock)
    want = expected_files(mock.data())
    got = walk_files(mnt)
    assert got == sorted(want)
    for rel, obj in want.items():
        assert json.loads(read(os.path.join(mnt, rel))) == obj, rel


@pytest.mark.mock_opts(accounts=20)
def test_hostile_items(mock, mount):
    """Unknown fields are kept; odd strings survive; a missing field is fine."""
    mock.add_account({"id": 20, "label": "tab\tquote\"back\\slash\u00e9\U0001F4B0",
                      "account_holder_name": "", "accumulated": 0,
                      "bank": {"brand_name": "Vietcombank", "code": "VCB"},
                      "extra": {"nested": [1, 2.5, None, True, "x"]}, "tags": []})
    mock.add_account({"id": 22})
    mnt = mount(mock)
    data = {a["id"]: a for a in mock.data()["accounts"]}
    for acc_id in (20, 22):
        raw = read(os.path.join(mnt, "accounts", str(acc_id), "info.json"))
        assert json.loads(raw) == data[acc_id]
        assert norm(pairs(raw)) == norm(to_pairs(data[acc_id]))
