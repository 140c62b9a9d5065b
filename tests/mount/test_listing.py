"""Listing /accounts: completeness over pages, request economy, hidden accounts."""

import json
import os
import subprocess

import pytest

from conftest import LIST_PATH, forget_all, list_requests, month_files, query_of


def listed_ids(mnt):
    names = os.listdir(os.path.join(mnt, "accounts"))
    return names, sorted(int(n) for n in names)


@pytest.mark.mock_opts(accounts=120, max_page_size=50)
def test_listing_spans_pages(mock, mount):
    mnt = mount(mock)
    before = mock.log_len()
    names, ids = listed_ids(mnt)
    assert len(names) == len(set(names)), "a listing must not show an id twice"
    assert ids == mock.account_ids()
    assert len(ids) == 120

    new = list_requests(mock.requests_since(before))
    pages = [int(query_of(e)["page"]) for e in new]
    # 120 accounts, 50 a page at most: 3 pages.  Page 1 may come from the
    # mount-time probe; every page is asked for at most once.
    assert len(pages) == len(set(pages)), "a page was requested twice: %s" % pages
    assert set(pages) <= {1, 2, 3}
    assert set(pages) | {1} == {1, 2, 3}
    assert len(new) in (2, 3)
    all_list = list_requests(mock.requests())
    assert len(all_list) <= 4  # the probe and the three pages
    assert all(e["status"] == 200 for e in mock.requests())


@pytest.mark.mock_opts(accounts=120, max_page_size=50)
def test_ls_long_and_find_cost_only_the_list(mock, mount):
    mnt = mount(mock)
    before = mock.log_len()
    r = subprocess.run(["ls", "-l", os.path.join(mnt, "accounts")], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 121  # "total" + 120 entries
    r = subprocess.run(["find", os.path.join(mnt, "accounts"), "-maxdepth", "1", "-type", "d"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.split()) == 121
    new = mock.requests_since(before)
    others = [e for e in new if e["path"] != LIST_PATH]
    assert others == [], "ls -l / find over /accounts sent per-account requests"
    assert len(new) <= 3


@pytest.mark.mock_opts(accounts=120, max_page_size=7)
def test_server_pages_smaller_than_asked(mock, mount):
    mnt = mount(mock, page_size=100)
    names, ids = listed_ids(mnt)
    assert len(names) == len(set(names))
    assert ids == mock.account_ids()
    pages = [int(query_of(e)["page"]) for e in list_requests(mock.requests())]
    assert set(pages) == set(range(1, 19))  # ceil(120 / 7) = 18
    assert len(pages) <= 19  # each page once, page 1 maybe twice (probe)


@pytest.mark.mock_opts(accounts=30, max_page_size=50)
def test_page_size_option_sets_limit(mock, mount):
    mnt = mount(mock, page_size=7)
    names, ids = listed_ids(mnt)
    assert ids == mock.account_ids()
    entries = list_requests(mock.requests())
    assert entries and all(query_of(e).get("limit") == "7" for e in entries), entries
    assert {int(query_of(e)["page"]) for e in entries} == {1, 2, 3, 4, 5}


@pytest.mark.mock_opts(accounts=120, max_page_size=7)
def test_listing_with_account_added_during_walk(mock, mount):
    """An account inserted before page 2 is read shifts every later page by
    one: the last id of page 1 comes again on page 2.  No duplicates shown."""
    mnt = mount(mock, expect_quiet=False)
    ids_before = mock.account_ids()
    # an id between the first two: every later item moves one place on
    new_id = next(i for i in range(ids_before[0] + 1, ids_before[1]))
    mock.config(after_list_page={"page": 1, "add": [{"id": new_id, "label": "Mới thêm",
                                                     "accumulated": 1.0}]})
    forget_all(mount, mnt)  # the listing is walked afresh, page 1 first
    names, ids = listed_ids(mnt)
    assert len(names) == len(set(names)), "duplicate ids in the listing"
    assert new_id in mock.account_ids(), "the mock's hook did not fire"
    assert set(ids_before) <= set(ids) <= set(ids_before) | {new_id}
    pages_after = [e for e in list_requests(mock.requests()) if query_of(e)["page"] != "1"]
    assert pages_after, "the listing was not walked again after the TTL"


@pytest.mark.mock_opts(accounts=120, max_page_size=7)
def test_listing_with_account_removed_during_walk(mock, mount):
    """One account removed after page 1 is read: later pages shift back, the
    total drops to 119 and page 18 comes back empty.  The account that slid
    onto page 1 must not go missing: the list is walked again."""
    mnt = mount(mock, expect_quiet=False)
    ids_before = mock.account_ids()
    mock.config(after_list_page={"page": 1, "delete": [ids_before[3]]})
    forget_all(mount, mnt)
    names, ids = listed_ids(mnt)
    assert len(names) == len(set(names))
    assert ids_before[3] not in mock.account_ids(), "the mock's hook did not fire"
    assert ids == mock.account_ids()


# ---------------------------------------------------------------- lists that shift

@pytest.mark.mock_opts(accounts=20)
def test_an_account_removed_after_page_1_hides_no_other(mock, mount):
    """20 accounts, 5 a page: the third is removed right after page 1 was
    served, so every later page moves up one and the sixth would vanish
    from ls.  The total falls from 20 to 19 between pages: walk again."""
    mnt = mount(mock, page_size=5)
    ids = mock.account_ids()
    mock.config(after_list_page={"page": 1, "delete": [ids[2]]})
    forget_all(mount, mnt)
    _, got = listed_ids(mnt)
    assert ids[2] not in mock.account_ids(), "the mock's hook did not fire"
    assert got == ids[:2] + ids[3:]
    pages = [query_of(e)["page"] for e in list_requests(mock.requests())]
    assert pages.count("1") >= 2, pages  # walked again from page 1


@pytest.mark.mock_opts(accounts=2)
def test_a_sub_account_removed_after_page_1_hides_no_other(mock, mount):
    subs = [{"id": 5000 + i, "account_number": "VA%03d" % i, "label": "Quầy %d" % i}
            for i in range(12)]
    mock.add_account({"id": 7001, "label": "Nhiều VA", "sub_accounts": subs})
    mnt = mount(mock, page_size=5)
    folder = os.path.join(mnt, "accounts", "7001", "sub-accounts")
    mock.config(after_list_page={"list": "sub-accounts", "page": 1, "delete": [5001]})
    names = sorted(os.listdir(folder))
    assert [s["id"] for s in mock.data()["sub_accounts"]["7001"]] == \
        [5000] + list(range(5002, 5012)), "the mock's hook did not fire"
    assert names == sorted("%d.json" % i for i in [5000] + list(range(5002, 5012)))


@pytest.mark.mock_opts(accounts=2)
def test_a_transaction_removed_after_page_1_hides_no_other(mock, mount):
    mock.add_account({"id": 7002, "label": "Bận"})
    added = [mock.config(add_transaction={"bank_account_id": 7002})["transaction"]
             for _ in range(12)]
    month = added[0]["transaction_date"][:7]
    mnt = mount(mock, page_size=5)
    gone = added[1]["id"]
    mock.config(after_list_page={"list": "transactions", "page": 1, "delete": [gone]})
    path = os.path.join(mnt, "accounts", "7002", "transactions", month + ".jsonl")
    with open(path, "rb") as f:
        got = [json.loads(line)["id"] for line in f.read().splitlines()]
    assert got == [t["id"] for t in added if t["id"] != gone]


@pytest.mark.mock_opts(accounts=20, knobs={"hide_from_list": [38]})
def test_hidden_account_reachable_by_path(mock, mount):
    mnt = mount(mock)
    names, ids = listed_ids(mnt)
    assert 38 not in ids
    assert ids == mock.account_ids()
    hidden = mock.data()["hidden_accounts"]
    assert [a["id"] for a in hidden] == [38]
    path = os.path.join(mnt, "accounts", "38", "info.json")
    with open(path, "rb") as f:
        assert json.loads(f.read()) == hidden[0]
    assert os.listdir(os.path.join(mnt, "accounts", "38", "sub-accounts")) == []
    assert any(e["path"] == "/api/v1/bank-accounts/38" for e in mock.requests())
    # reaching it by path does not add it to the listing
    _, ids_again = listed_ids(mnt)
    assert 38 not in ids_again


def test_root_layout(mock, mount):
    mnt = mount(mock)
    assert sorted(os.listdir(mnt)) == ["accounts", "balances.csv", "by-number", "transactions"]
    assert sorted(os.listdir(os.path.join(mnt, "accounts", "19"))) == ["info.json",
                                                                        "sub-accounts",
                                                                        "transactions"]


@pytest.mark.mock_opts(accounts=3)
def test_the_largest_ids_list_once(mock, mount):
    """An id near INT64_MAX (the largest sepay_parse_id accepts) lists once:
    readdir cookies used to saturate there, and ls -f printed it forever."""
    top = 2**63 - 1
    big = [top - 3, top - 2, top - 1, top]
    for acc_id in big[:3]:
        mock.add_account({"id": acc_id, "label": "Lớn"})
    mock.add_account({"id": top, "label": "Lớn nhất",
                      "sub_accounts": [{"id": i, "account_number": "VA%d" % (top - i)}
                                       for i in big]})
    mnt = mount(mock)

    def ls_f(folder):
        r = subprocess.run(["ls", "-f", folder], capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        return r.stdout.split()

    names = ls_f(os.path.join(mnt, "accounts"))
    assert sorted(n for n in names if n not in (".", "..")) == \
        sorted(str(i) for i in mock.account_ids())
    assert len(names) == len(set(names)) == len(mock.account_ids()) + 2
    subs = ls_f(os.path.join(mnt, "accounts", str(top), "sub-accounts"))
    assert sorted(subs) == sorted([".", ".."] + ["%d.json" % i for i in big])


# ---------------------------------------------------------------- page size

def limits(entries):
    return [query_of(e).get("limit") for e in entries if e["path"].startswith("/api/v1/")]


@pytest.mark.mock_opts(accounts=30, max_page_size=1000, history_months=2)
def test_lists_ask_a_thousand_a_page(mock, mount):
    mnt = mount(mock)
    _, ids = listed_ids(mnt)
    assert ids == mock.account_ids()
    tx = os.path.join(mnt, "accounts", str(ids[0]), "transactions")
    for name in month_files(tx):
        with open(os.path.join(tx, name), "rb") as f:
            f.read()
    os.listdir(os.path.join(mnt, "accounts", str(ids[0]), "sub-accounts"))
    assert set(limits(mock.requests())) - {None} == {"1000"}


@pytest.mark.mock_opts(accounts=30, history_months=2, knobs={"refuse_limit_over": 100})
def test_a_server_refusing_a_thousand_is_asked_a_hundred(mock, mount):
    """The mount's first page asks 1000, gets 400, asks 100; every list from
    then on asks 100, and nothing is missing."""
    mnt = mount(mock, page_size=None)
    _, ids = listed_ids(mnt)
    assert ids == mock.account_ids()
    os.listdir(os.path.join(mnt, "accounts", str(ids[0]), "sub-accounts"))
    tx = os.path.join(mnt, "accounts", str(ids[0]), "transactions")
    for name in month_files(tx):
        with open(os.path.join(tx, name), "rb") as f:
            f.read()
    log = mock.requests()
    refused = [e for e in log if e["status"] == 400]
    assert [query_of(e)["limit"] for e in refused] == ["1000"], refused
    assert set(limits(log[log.index(refused[0]) + 1:])) - {None} == {"100"}


@pytest.mark.mock_opts(accounts=1200, max_page_size=1000, knobs={"item_padding": 17000})
def test_a_page_over_the_body_limit_is_asked_smaller(mock, mount):
    """1000 items of 17 kB are over the 16 MiB body limit: refused as too
    large, then asked 100 at a time, complete."""
    mnt = mount(mock)
    _, ids = listed_ids(mnt)
    assert ids == mock.account_ids()
    assert set(limits(mock.requests())) == {"1000", "100"}
