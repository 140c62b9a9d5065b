"""The views in the users' terms: /balances.csv (a row per account of the
listing) and /by-number (a symlink per account and sub-account number),
checked against the mock's own data, with the requests they cost, and
through rsync and restic across a remount."""

import csv
import errno
import json
import io
import os
import signal
import subprocess
import time
from decimal import Decimal

import pytest

from conftest import errno_of, loads_as_sent, month_files, read, wait_until
from test_backups import private_dir, remount, restic, restic_summary, rsync_changes, tree_stat

ACCOUNTS = 8


def balances(mnt):
    with open(os.path.join(mnt, "balances.csv"), newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def money(value):
    """What balances.csv writes for a balance: two places, whatever shape."""
    return "%.2f" % Decimal(str(value))


def flag(value):
    return {True: "true", False: "false"}.get(value, "" if value is None else str(value))


def expected_rows(mock):
    rows = []
    for acc in sorted(mock.data_as_sent(styled=True)["accounts"], key=lambda a: int(a["id"])):
        bank = acc.get("bank") if isinstance(acc.get("bank"), dict) else {}
        rows.append([str(acc["id"]), str(acc.get("account_number") or ""),
                     bank.get("short_name", acc.get("bank_short_name", "")) or "",
                     bank.get("code", acc.get("bank_code", "")) or "",
                     acc.get("account_holder_name") or "", acc.get("label") or "",
                     money(acc["accumulated"]), flag(acc.get("active"))])
    return rows


HEADER = ["id", "account_number", "bank", "bank_code", "account_holder_name", "label",
          "accumulated", "active"]


@pytest.mark.mock_opts(accounts=ACCOUNTS)
@pytest.mark.parametrize("style", ["documented", "legacy", "flat"])
def test_balances_csv_is_the_listing_and_asks_nothing_after_ls(mock, mount, style):
    if style == "flat":
        mock.config(detail_style="flat")
    else:
        mock.config(value_style=style)
    acc = mock.account_ids()[0]
    # A label holding a comma, a quote and a newline, and Vietnamese text.
    mock.patch_account(acc, {"label": 'Kho "A", tầng 2\nHà Nội'})
    mnt = mount(mock)
    os.listdir(os.path.join(mnt, "accounts"))
    n = mock.log_len()
    rows = balances(mnt)
    assert mock.log_len() == n, mock.requests_since(n)
    assert rows[0] == HEADER
    assert rows[1:] == expected_rows(mock)
    assert rows[1][5] == 'Kho "A", tầng 2\nHà Nội'
    raw = read(os.path.join(mnt, "balances.csv"))
    assert raw.startswith(b"id,") and b"\r\n" in raw  # no byte-order mark; RFC 4180 records
    st = os.stat(os.path.join(mnt, "balances.csv"))
    assert st.st_size == len(raw)


@pytest.mark.mock_opts(accounts=ACCOUNTS)
def test_balances_csv_moves_when_a_row_does_and_only_then(mock, mount, tmp_path):
    mnt = mount(mock, cache_ttl=600, expect_quiet=False)
    path = os.path.join(mnt, "balances.csv")
    first = os.stat(path)
    before = read(path)
    accs = mock.account_ids()
    daemon = mount.daemon(mnt)

    def refreshed():
        """A SIGHUP, then the listing asked again by a look at /accounts."""
        n = mock.log_len()
        daemon.proc.send_signal(signal.SIGHUP)

        def asked():
            os.listdir(os.path.join(mnt, "accounts"))
            return any(e["path"].endswith("/bank-accounts") for e in mock.requests_since(n))
        wait_until(asked, what="the account list asked again")
        return os.stat(path), read(path)

    # A field the rows do not show: the same file.
    mock.patch_account(accs[0], {"created_at": "2020-01-01 00:00:00"})
    st, data = refreshed()
    assert data == before
    assert (st.st_ino, st.st_mtime_ns, st.st_ctime_ns) == (first.st_ino, first.st_mtime_ns,
                                                           first.st_ctime_ns)
    # A balance: a new version, dated later.
    time.sleep(0.01)
    mock.patch_account(accs[1], {"accumulated": 1234.5})
    st, data = refreshed()
    assert data != before and b",1234.50," in data
    assert st.st_ino != first.st_ino and st.st_mtime_ns > first.st_mtime_ns


def sub_numbers(mock):
    """{number: "../accounts/<id>/sub-accounts/<sub>.json"} of the mock's data."""
    out = {}
    for acc_id, subs in mock.data()["sub_accounts"].items():
        for s in subs:
            out[s["account_number"]] = "../accounts/%s/sub-accounts/%d.json" % (acc_id, s["id"])
    return out


@pytest.mark.mock_opts(accounts=ACCOUNTS)
def test_by_number_links_every_account_and_sub_account(mock, mount):
    mnt = mount(mock)
    data = mock.data()
    want = {a["account_number"]: "../accounts/%d" % a["id"] for a in data["accounts"]}
    want.update(sub_numbers(mock))
    by = os.path.join(mnt, "by-number")
    n = mock.log_len()
    names = os.listdir(by)
    asked = mock.requests_since(n)
    # Each account's sub-accounts once (the list is the mount's own), nothing else.
    subs_asked = sorted(e["path"] for e in asked if e["path"].endswith("/sub-accounts"))
    assert len(set(subs_asked)) == ACCOUNTS and len(asked) == ACCOUNTS, asked
    assert sorted(names) == sorted(want)
    for name in names:
        path = os.path.join(by, name)
        assert os.path.islink(path)
        assert os.readlink(path) == want[name]
        assert os.path.samefile(path, os.path.join(by, want[name]))
    # Listed again, and each link looked up: nothing asked.
    n = mock.log_len()
    assert sorted(os.listdir(by)) == sorted(want)
    assert mock.log_len() == n


@pytest.mark.mock_opts(accounts=ACCOUNTS)
def test_a_lookup_by_account_number_asks_only_the_list(mock, mount):
    mnt = mount(mock)
    acc = mock.data()["accounts"][3]
    n = mock.log_len()
    link = os.path.join(mnt, "by-number", acc["account_number"])
    assert os.readlink(link) == "../accounts/%d" % acc["id"]
    asked = [e["path"] for e in mock.requests_since(n)]
    assert all(p.endswith("/bank-accounts") for p in asked), asked
    n = mock.log_len()
    assert os.readlink(os.path.join(mnt, "by-number", acc["account_number"]))
    assert not os.path.lexists(os.path.join(mnt, "by-number", ".hidden"))
    assert mock.log_len() == n


@pytest.mark.mock_opts(accounts=ACCOUNTS)
def test_a_shared_number_is_named_by_bank_and_an_unsafe_one_left_out(mock, mount):
    data = mock.data()
    first = data["accounts"][0]
    mock.add_account({"id": 900001, "account_number": first["account_number"],
                      "accumulated": 5.0, "bank": {"short_name": "TPBank", "code": "TPB"}})
    mock.add_account({"id": 900002, "account_number": "../../etc/passwd", "accumulated": 1.0,
                      "bank": {"short_name": "ACB", "code": "ACB"}})
    mnt = mount(mock, expect_quiet=False)
    names = set(os.listdir(os.path.join(mnt, "by-number")))
    number = first["account_number"]
    assert number not in names
    assert "%s-%s" % (first["bank"]["code"], number) in names
    assert "TPB-%s" % number in names
    assert os.readlink(os.path.join(mnt, "by-number", "TPB-" + number)) == "../accounts/900001"
    assert not any("passwd" in n for n in names)
    log = mount.stderr(mnt)
    assert "account 900002: its number is no safe file name; left out" in log
    # The account itself is still there, in the listing and in balances.csv.
    assert "900002" in os.listdir(os.path.join(mnt, "accounts"))
    assert any(r[0] == "900002" for r in balances(mnt))


@pytest.mark.mock_opts(accounts=ACCOUNTS)
def test_grep_r_does_not_follow_by_number(mock, mount):
    mnt = mount(mock)
    acc = mock.data()["accounts"][2]
    os.listdir(os.path.join(mnt, "by-number"))
    r = subprocess.run(["grep", "-rl", acc["account_number"], mnt], capture_output=True,
                       text=True, timeout=120)
    found = sorted(os.path.relpath(p, mnt) for p in r.stdout.split())
    assert "accounts/%d/info.json" % acc["id"] in found and "balances.csv" in found, found
    assert not any(p.startswith("by-number") for p in found), found


@pytest.mark.mock_opts(accounts=ACCOUNTS)
def test_rsync_and_restic_see_the_views_unchanged_across_a_remount(mock, mount, tmp_path):
    cache = private_dir(tmp_path / "disk-cache")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mnt = mount(mock, mountpoint=str(mnt), cache_ttl=600, extra_opts=["cache_dir=%s" % cache])
    os.listdir(os.path.join(mnt, "by-number"))
    dst, repo = tmp_path / "copy", tmp_path / "restic"
    first = rsync_changes(mnt, dst)
    assert any(l.endswith("balances.csv") for l in first)
    assert any("by-number/" in l and l.startswith("cL") for l in first), first
    restic(repo, "init")
    restic_summary(repo, mnt)
    before = tree_stat(mnt)
    mnt = remount(mount, mock, mnt, cache, cache_ttl=600)
    after = tree_stat(mnt)
    assert {p for p in after if after[p] != before.get(p)} == set()
    assert rsync_changes(mnt, dst) == []
    second = restic_summary(repo, mnt)
    assert (second["files_new"], second["files_changed"], second["dirs_new"],
            second["dirs_changed"]) == (0, 0, 0, 0), second


def company_requests(entries):
    """The /transactions requests without bank_account_id (the company's)."""
    out = []
    for e in entries:
        if e["path"].endswith("/transactions") and "bank_account_id=" not in e["query"]:
            out.append(dict(p.split("=", 1) for p in e["query"].split("&") if "=" in p))
    return out


@pytest.mark.mock_opts(accounts=ACCOUNTS, history_months=3)
def test_company_months_hold_every_accounts_transactions_in_order(mock, mount):
    """/transactions/YYYY-MM.jsonl: the company's month, in the per-account
    files' format and order; a walk of the folder asks the company's range
    once (one from_date, its pages)."""
    mnt = mount(mock)
    company = os.path.join(mnt, "transactions")
    n = mock.log_len()
    names = month_files(company)
    months = {}
    for name in names:
        months[name] = read(os.path.join(company, name))
    asked = company_requests(mock.requests_since(n))
    assert asked and len({(q["from_date"], q["to_date"]) for q in asked}) == 1, asked
    assert len(mock.requests_since(n)) == len(asked), mock.requests_since(n)
    # Each company month is every account's month, merged by date then id.
    accounts = [a["id"] for a in mock.data()["accounts"]]
    for name in names:
        lines = []
        for acc in accounts:
            path = os.path.join(mnt, "accounts", str(acc), "transactions", name)
            if os.path.exists(path):
                lines += read(path).splitlines(keepends=True)
        lines.sort(key=lambda l: (json.loads(l)["transaction_date"], json.loads(l)["id"]))
        assert months[name] == b"".join(lines), name
    assert any(months.values())
    # The oldest month is the oldest account's.
    firsts = [month_files(os.path.join(mnt, "accounts", str(a), "transactions"))[0]
              for a in accounts]
    assert names[0] == min(firsts)


@pytest.mark.mock_opts(accounts=ACCOUNTS, history_months=3)
def test_a_403_on_the_company_range_is_the_company_months_alone(mock, mount):
    mock.config(status_for_transactions={"company": 403})
    mnt = mount(mock, expect_quiet=False)
    with pytest.raises(PermissionError):
        for name in month_files(os.path.join(mnt, "transactions")):
            read(os.path.join(mnt, "transactions", name))
    # The folder listed before the 403 leaves the kernel's cache as the
    # daemon's notice arrives (from a thread of its own): wait for it.
    company = os.path.join(mnt, "transactions")
    wait_until(lambda: errno_of(os.listdir, company) == errno.EPERM,
               what="the company's folder to say EPERM")
    acc = mock.account_ids()[0]
    assert os.listdir(os.path.join(mnt, "accounts", str(acc), "transactions"))


CSV_COLUMNS = ["id", "transaction_date", "bank_account_id", "account_number", "amount_in",
               "amount_out", "accumulated", "transaction_content", "reference_number", "code",
               "sub_account", "bank_brand_name"]


def csv_cell(value, money_field):
    if value is None:
        return ""
    if money_field:
        return money(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.mark.mock_opts(accounts=4, history_months=3)
@pytest.mark.parametrize("style", ["documented", "legacy"])
def test_csv_months_beside_each_jsonl(mock, mount, style):
    mock.config(value_style=style)
    acc = mock.account_ids()[0]
    mock.config(add_transaction={"bank_account_id": acc,
                                 "transaction_content": 'Tiền hàng, "gấp"\nđợt 2',
                                 "amount_in": "2705000.0" if style == "legacy" else 2705000.0})
    mnt = mount(mock, extra_opts=["csv"])
    folder = os.path.join(mnt, "accounts", str(acc), "transactions")
    names = sorted(os.listdir(folder))
    jsonl = month_files(folder)
    assert sorted(n for n in names if n.endswith(".csv") and n != "totals.csv") == \
        [n[:-6] + ".csv" for n in jsonl]
    found_text = empty = False
    for name in jsonl:
        lines = [loads_as_sent(l) for l in read(os.path.join(folder, name)).splitlines()]
        path = os.path.join(folder, name[:-6] + ".csv")
        raw = read(path)
        assert os.stat(path).st_size == len(raw)
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        assert rows[0][:len(CSV_COLUMNS)] == CSV_COLUMNS
        assert len(rows) == len(lines) + 1
        empty = empty or not lines
        for line, row in zip(lines, rows[1:]):
            want = [csv_cell(line.get(c), c in ("amount_in", "amount_out", "accumulated"))
                    for c in CSV_COLUMNS]
            assert row[:len(CSV_COLUMNS)] == want, (name, row)
            found_text = found_text or row[7] == 'Tiền hàng, "gấp"\nđợt 2'
    assert found_text
    # The company's months have theirs too.
    company = sorted(os.listdir(os.path.join(mnt, "transactions")))
    assert any(n.endswith(".csv") for n in company)


@pytest.mark.mock_opts(accounts=2, history_months=3)
def test_no_csv_without_the_option(mock, mount):
    mnt = mount(mock)
    acc = mock.account_ids()[0]
    folder = os.path.join(mnt, "accounts", str(acc), "transactions")
    names = month_files(folder)
    assert names and not any(n.endswith(".csv") and n != "totals.csv"
                             for n in os.listdir(folder))
    assert not os.path.exists(os.path.join(folder, names[0][:-6] + ".csv"))


def expected_totals(folder, with_balance):
    """totals.csv's rows from the month files themselves: count, the sums of
    money in and out, and the last transaction's balance (carried over a
    month without any)."""
    rows, carried = [], ""
    for name in sorted(n for n in os.listdir(folder) if n.endswith(".jsonl")):
        lines = [loads_as_sent(l) for l in read(os.path.join(folder, name)).splitlines()]
        total_in = sum(Decimal(str(t.get("amount_in") or 0)) for t in lines)
        total_out = sum(Decimal(str(t.get("amount_out") or 0)) for t in lines)
        if lines:
            carried = money(lines[-1]["accumulated"])
        row = [name[:7], str(len(lines)), money(total_in), money(total_out)]
        rows.append(row + [carried] if with_balance else row)
    return rows


@pytest.mark.mock_opts(accounts=4, history_months=5)
@pytest.mark.parametrize("style", ["documented", "legacy"])
def test_totals_csv_sums_each_month(mock, mount, style):
    mock.config(value_style=style)
    mnt = mount(mock)
    os.listdir(os.path.join(mnt, "accounts"))
    acc = mock.account_ids()[1]
    folder = os.path.join(mnt, "accounts", str(acc), "transactions")
    n = mock.log_len()
    with open(os.path.join(folder, "totals.csv"), newline="") as f:
        rows = list(csv.reader(f))
    asked = mock.requests_since(n)
    # The account's months: one range (its pages), nothing else.
    assert asked and all("bank_account_id=%d&" % acc in e["query"] for e in asked), asked
    assert len({e["query"].split("&page=")[0] for e in asked}) == 1, asked
    assert rows[0] == ["month", "count", "amount_in", "amount_out", "balance"]
    assert rows[1:] == expected_totals(folder, True)
    assert any(int(r[1]) for r in rows[1:])
    # The company's: the same sums over every account, no balance.
    company = os.path.join(mnt, "transactions")
    with open(os.path.join(company, "totals.csv"), newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["month", "count", "amount_in", "amount_out"]
    assert rows[1:] == expected_totals(company, False)


@pytest.mark.mock_opts(accounts=ACCOUNTS)
def test_an_account_refused_in_detail_keeps_its_row_and_its_link(mock, mount):
    acc = mock.data()["accounts"][2]
    mock.config(status_for_ids={str(acc["id"]): 403})
    mnt = mount(mock, expect_quiet=False)
    with pytest.raises(PermissionError):
        read(os.path.join(mnt, "accounts", str(acc["id"]), "info.json"))
    assert any(r[0] == str(acc["id"]) and r[1] == acc["account_number"] for r in balances(mnt))
    names = os.listdir(os.path.join(mnt, "by-number"))
    assert acc["account_number"] in names
    assert os.readlink(os.path.join(mnt, "by-number", acc["account_number"])) == \
        "../accounts/%d" % acc["id"]
    # The other accounts' sub-accounts are all there.
    subs = {n: t for n, t in sub_numbers(mock).items()
            if not t.startswith("../accounts/%d/" % acc["id"])}
    assert set(subs) <= set(names)
