#!/usr/bin/env python3
"""sepay_mock.py - a mock of SePay's Bank Accounts API (v1) for sepayfs.

It serves a deterministic data set of bank accounts, sub-accounts and their
transactions under /api/v1, answers like the real service as far as it is
known (see shared/sepay-api.md), counts every API request, and lets tests
inject faults through a small control API under /_mock/.  Python standard
library only; it binds to loopback addresses only.

The data set depends on --seed, --accounts, --max-sub-accounts,
--history-months and the month the mock started in (Vietnam time, UTC+7):
    - account 19 comes first, as in the API's example (created_at
      2025-02-12 21:09:49); every other account's created_at falls 6-30
      months before the start month (with --history-months N: every
      account's, 19's too, exactly N months before, same day-of-month rules);
    - each account's transactions run from its created_at to the moment the
      mock started (none in the future, none before created_at): 0-6 a month,
      a fifth of the months empty, drawn from the seed and the account id
      alone, made on first use.  About a third of the months (and the first
      that can have one) also hold a transaction on their first second
      ("YYYY-MM-01 00:00:00") and one on their last ("YYYY-MM-<last day>
      23:59:59"), each only when it is neither before created_at nor after
      the start (so the first month may have only its last second, the
      current month only its first).  Ids are unique across accounts and grow with
      transaction_date within an account; reference_number is unique
      ("677760.250225.040003": prefix, YYMMDD, the id); amounts are money with
      two decimals, one of amount_in/amount_out 0.00; accumulated is a running
      balance (not tied to the account's own accumulated); transaction_content
      is bank-style Vietnamese, with or without diacritics (some with quotes or
      a backslash); code is "DH" + 6 digits (and in the content) or null;
      sub_account one of the account's sub-account numbers or null.
      Accounts added through the control API start with no transactions.

Run:
    python3 tests/mock/sepay_mock.py --port 8080 --accounts 20 --seed 1
    curl -s -H 'Authorization: Bearer demo-token' \
        'http://127.0.0.1:8080/api/v1/bank-accounts?page=1&limit=3'
    curl -s -d grant_type=refresh_token -d refresh_token=demo-refresh \
        -d client_id=demo-client -d client_secret=demo-secret \
        http://127.0.0.1:8080/oauth/token
    curl -si 'http://127.0.0.1:8080/oauth/authorize?response_type=code&client_id=demo-client&redirect_uri=http://127.0.0.1:8765/callback&state=x'

API (all need "Authorization: Bearer <token>", else 401):
    GET /api/v1/bank-accounts?page=P&limit=L
    GET /api/v1/bank-accounts/{id}
    GET /api/v1/bank-accounts/{id}/sub-accounts?page=P&limit=L
    GET /api/v1/transactions?bank_account_id=ID&from_date=D&to_date=D&page=P&limit=L
        Every parameter is optional.  Without bank_account_id the answer holds
        the transactions of every listed account (hidden ones not); with it,
        that account's (404 for an unknown account; 400 when not digits).
        from_date and to_date ("YYYY-MM-DD", 400 when malformed) are compared
        with transaction_date: from_date counts from its 00:00:00; what
        to_date means is the to_date_mode knob (by default the whole day);
        other parameters are ignored.  Paginated like the lists, ordered by
        transaction_date then id.  Items, keys in this order: id,
        bank_account_id, bank_brand_name, account_number, transaction_date,
        amount_out, amount_in, accumulated, transaction_content,
        reference_number, code, sub_account.
Lists answer {"status": "success", "data": [...], "meta": {"pagination":
{"total", "per_page", "current_page", "last_page"}}} (other shapes: the
pagination_style knob); limit is capped to max_page_size (--max-page-size,
100 by default, as v2 documents).
A bearer token is accepted when it is the --token (or the "token" knob), or an
access token issued by /oauth/token that has not expired.

OAuth2 authorization endpoint (what a browser visits to log in; no auth):
    GET /oauth/authorize?response_type=code&client_id=C&redirect_uri=U&scope=S&state=X
        [&code_challenge=CH&code_challenge_method=S256]
    The user is "logged in" and approves at once:
        302 Location: U?code=<new one-time code>&state=X
    (state is echoed only when given; "&" instead of "?" when U has a query).
    A 400 HTML page, no redirect, when client_id is not --client-id, a parameter
    is repeated, or U is not an http(s) URL on a loopback address (the mock is no
    open redirect).  Redirected errors (error=..&error_description=..&state=X):
        unsupported_response_type     response_type other than code
        invalid_scope                 a scope SePay does not know (an empty or
                                      missing scope asks for every scope:
                                      all of KNOWN_SCOPES)
        access_denied                 the authorize_deny knob
        invalid_request               PKCE (RFC 7636) other than S256: a
                                      code_challenge without
                                      code_challenge_method=S256 (plain is
                                      refused), a method without a challenge,
                                      or a challenge that is not 43 base64url
                                      characters
    A code is good for one exchange, by the same client with the same
    redirect_uri, within 5 minutes (CODE_TTL_S).  A code issued with a
    code_challenge is exchanged only with the code_verifier it was made from;
    one issued without needs none (a code_verifier sent anyway is ignored).  Logged in the request log as
    {"method", "path": "/oauth/authorize", "query": "", "status", "t"}: the query
    (it holds the state) is never logged.

OAuth2 token endpoint (no bearer auth):
    POST /oauth/token   Content-Type: application/x-www-form-urlencoded
      refresh grant:
        grant_type=refresh_token&refresh_token=R&client_id=C&client_secret=S
        200 {"access_token": "<new random token>", "token_type": "Bearer",
             "expires_in": <token_ttl_s>, "refresh_token": "<R, or a new one with
             rotate_refresh_token>", "scope": "bank-account:read transaction:read"}
             (other shapes: the token_style knob, for both grants)
      authorization-code grant (the code from /oauth/authorize):
        grant_type=authorization_code&code=K&redirect_uri=U&client_id=C&client_secret=S
            [&code_verifier=V]
        200 {"access_token": "<new>", "token_type": "Bearer", "expires_in":
             <token_ttl_s>, "refresh_token": "<new>", "scope": "<as authorized>"};
             the new refresh token is valid for the refresh grant from then on.
    Errors: {"error": code, "error_description": ...} with
        400 invalid_request           missing or repeated parameter, not a form body
        400 unsupported_grant_type    grant_type other than those two
        401 invalid_client            wrong or missing client_id / client_secret
        400 invalid_grant             unknown, old (rotated) or missing refresh token;
                                      unknown, used or expired code, a
                                      redirect_uri other than the code's, or
                                      (a code with a code_challenge) a missing
                                      code_verifier or one whose
                                      BASE64URL(SHA256(V)) is not the challenge
                                      (the code stays unused)
        405 invalid_request           a method other than POST
    Client credentials go in the body only (no HTTP Basic).  The valid refresh
    token at start is --refresh-token.  Each token request is logged in the
    request log as {"method", "path": "/oauth/token", "query": "", "status", "t"};
    its body (secrets) is never logged or printed.  Order: refresh_latency_ms (a
    delay), refresh_fail, the method and form checks, code_exchange_fail (code
    grant only), the client, then the refresh token or code.

Control API (no auth, never counted in the request log):
    GET    /_mock/requests            {"total": n, "log": [{method, path, query, status, t}]}
                                      an API request that met an injected fault also
                                      has "fault": drop, rate_limit, fail, truncate, ...
    POST   /_mock/reset               log cleared, knobs, data (transactions too), tokens
                                      and authorization codes back to the start (the
                                      data set's clock stays at the mock's start)
    GET    /_mock/tokens              the OAuth2 state: {"client_id", "client_secret",
                                       "refresh_token" (the newest valid one),
                                       "refresh_tokens" (every one ever valid, in order),
                                       "valid_refresh_tokens", "access_tokens" (every one
                                       issued, in order), "valid_access_tokens",
                                       "static_token" (the --token/"token" knob, null once
                                       expired), "issued": [{"access_token",
                                       "refresh_token", "expires_in"}],
                                       "authorization_codes": [{"code", "client_id",
                                       "redirect_uri", "scope", "used",
                                       "code_challenge" (or null), "code_verifier"
                                       (the one that redeemed it, or null)}]}
    GET    /_mock/data                {"accounts": [...], "hidden_accounts": [...],
                                       "sub_accounts": {"<id>": [...]}}: the data
                                       set itself (accounts as detail objects)
    GET    /_mock/data?styled=1       the data set as the API sends it under the
                                      shape knobs in force (value_style,
                                      detail_style, sub_style, field_noise):
                                      {"accounts": [list items, in list order],
                                       "hidden_accounts": [list items],
                                       "sub_accounts": {"<id>": [sub-account items]},
                                       "details": {"<id>": detail answer's data}}
                                      (list items lack the detail-only fields,
                                      last_transaction; "details" and
                                      "sub_accounts" cover hidden accounts too)
    GET    /_mock/transactions[?bank_account_id=ID][&from_date=D][&to_date=D][&styled=1]
                                      {"total": n, "data": [...]}: every transaction
                                       of the account (without the id: of every
                                       listed account) in that range (whole days,
                                       inclusive, whatever to_date_mode says; open
                                       without a date), in the API's order, money
                                       as JSON numbers with two decimals; with
                                       styled=1 each item as the API sends it
                                       (value_style, field_noise); never the
                                       foreign_tx_items item; 404 for an unknown
                                       account
    GET    /_mock/foreign_items       {"total": n, "items": [{"bank_account_id"
                                       (the account asked for), "from_date",
                                       "to_date", "page", "id", "foreign_account_id"}]}:
                                       the foreign_tx_items items sent (the last 1000)
    GET    /_mock/config              the knobs in force
    POST   /_mock/config              merge knobs (below); each given knob replaces its value
    POST   /_mock/accounts            add an account (needs "id"; optional "sub_accounts")
    GET    /_mock/accounts/<id>       one account's detail object
    PATCH  /_mock/accounts/<id>       shallow-merge fields into the account
    DELETE /_mock/accounts/<id>       remove the account and its sub-accounts
    POST   /_mock/accounts/<id>/sub-accounts   add a sub-account (needs "id")
    PATCH  /_mock/sub-accounts/<id>   shallow-merge fields into the sub-account
    DELETE /_mock/sub-accounts/<id>   remove the sub-account

Knobs for POST /_mock/config (all optional; /_mock/reset restores the command line's):
    latency_ms: int               delay added to every API request
    latency_jitter_ms: int (0)    and a random extra below this, drawn afresh for
                                  each (a network's and a busy server's variation;
                                  rate_per_s counts a request after both delays)
    max_page_size: int            largest page served (limit is capped to it)
    default_page_size: int        page size when limit= is absent
    token: str                    the accepted bearer token (old ones then get 401)
    status_for_ids: {"<id>": s}   detail and sub-accounts of that account answer s
    status_for_paths: {"/p": s}   that exact path answers s, any query
    status_for_transactions: s or {"<id>": s}
                                  (a dict: only that account's /transactions;
                                  {"company": s}: only those without
                                  bank_account_id)
                                  every /transactions request answers s (e.g. 403:
                                  the token lacks transaction:read) while the bank
                                  account paths keep working; null: off.
                                  (status_for_ids also applies to /transactions
                                  of that account.)
    add_transaction: {"bank_account_id": id, ...fields}
                                  an action, not stored: append a transaction dated
                                  now (Vietnam time) to that account (its current
                                  month); missing fields are filled in (new unique
                                  id and reference_number, 250000.00 in, 0.00 out,
                                  accumulated carried on from the last one, the
                                  account's bank and number, code and sub_account
                                  null); fields given replace them, unknown ones
                                  are kept (after the standard keys).  The reply
                                  is {"ok": true, "transaction": {...}}
    delete_transactions: [ids]    an action, not stored: those transactions are gone
    fail_next: {"count": n, "status": s[, "retry_after": secs]}
    drop_next: n                  close the connection without any answer
    truncate_next: n              200, full Content-Length, half the body, close
    garbage_next: n               200 with a body that is not JSON
    empty_200_next: n             200 with an empty body (Content-Length: 0)
    status_error_200_next: n      200 with {"status": "error", "error_code":
                                  "server_error", "message": ...} (any error_style)
    rate_limit: {"next": n, "retry_after": secs, "header": style}
                                  the next n API requests get 429 asking for a
                                  wait of secs (null: names no time) in one of
                                  the 429 header styles:
        "Retry-After"                   Retry-After: <secs> (the default)
        "Retry-After-date"              Retry-After: <HTTP date, now + secs rounded up>
        "x-sepay-userapi-retry-after"   x-sepay-userapi-retry-after: <secs>
        "X-RateLimit"                   no Retry-After; X-RateLimit-Limit: <rate_per_s,
                                        or 3 when off>, X-RateLimit-Remaining: 0,
                                        X-RateLimit-Reset: <unix time, now + secs
                                        rounded up>
        "none"                          no time header at all
    rate_per_s: R                 a real rate limit: API requests beyond R in one
                                  second get 429 asking for 1 s (0: off); which
                                  seconds is rate_window.  Only requests let
                                  through are counted, not those refused
    rate_window: "sliding" | "fixed"   how rate_per_s counts a second:
        sliding   any second: a request is refused when R were let through
                  in the second before it (the default)
        fixed     the seconds of the clock (unix time, floor): a request is
                  refused when R were let through since the clock's second
                  began, as a counter keyed by the second does.  A pace of
                  exactly R meets it whenever R + 1 requests fall in one
                  such second
    rate_limit_header_style: style   the header style of rate_per_s's 429s
                                  ("Retry-After")
    hide_from_list: [ids]         reachable by detail/sub-accounts, not listed
    after_list_page: {"page": p, "add": [accounts], "delete": [ids], "list": kind}
                                  once, right after page p of a list is rendered: lets
                                  a test change the data between two page requests.
                                  kind "accounts" (the default): add and delete
                                  accounts; "sub-accounts": delete sub-accounts by id;
                                  "transactions": delete transactions by id, and add
                                  ones ({"bank_account_id", "transaction_date", ...}:
                                  as add_transaction, dated as given)
    refuse_limit_over: n (0: off)  a list request asking a limit over n is answered
                                  400 bad_request instead of being given fewer
    item_padding: n (0)           every account list item carries "padding", n
                                  characters: pages as large as a test needs
  Shapes (SePay's other APIs; shared/sepay-api.md "Value and pagination shapes").
  The first of each list is the default, the documented v1 shape:
    value_style: "documented" | "legacy" | "v2"
        documented: integer ids, money as JSON numbers with two decimals,
                    booleans; legacy: ids and bank_account_id as digit strings
                    ("25"), money as strings ("2525493.00"), flags as "1"/"0",
                    a null label as ""; v2: integer ids, money as JSON integers
                    (the cents cut off, towards zero), flags as 1/0.  For list
                    items, detail, sub-accounts and transactions alike.
    detail_style: "documented" | "flat"
        flat: no bank object; bank_short_name, bank_full_name, bank_bin,
        bank_code in its place (list items and detail)
    sub_style: "documented" | "v2"
        v2: sub-accounts also carry va (their account_number),
        sub_holder_name (the account's holder), official, static (flags from
        the id), bank_account_id and updated_at
    field_noise: bool (false)     on every object of an answer, about one field
                                  in six (never id, nor a transaction's
                                  transaction_date and bank_account_id) is
                                  missing, null or of another JSON type (label
                                  12345, created_at null or missing, bank a
                                  string, active "yes", transaction_content an
                                  array, a string's length for a string, ...),
                                  drawn from the seed, the kind of object, its
                                  id and the field's name: the same object has
                                  the same noise in every answer
    pagination_style: "documented" | "has_more" | "flat" | "none"
        documented: meta.pagination {total, per_page, current_page, last_page};
        has_more: meta.pagination {current_page, per_page, has_more};
        flat: meta {current_page, per_page, page_count, has_more};
        none: no meta at all.  For all three paginated lists.
    page_numbers_as_strings: bool (false)  every number in meta a digit string
    endless_pages: bool (false)   every page from the last on serves the list's
                                  last per_page items (a full page when there
                                  are that many) and has_more is always true: a
                                  list that never ends for a client that waits
                                  for a short or empty page
    to_date_mode: "inclusive" | "midnight" | "exclusive"   what /transactions'
                                  to_date=D means: the whole day D; up to
                                  "D 00:00:00" (that second included); before
                                  day D
    foreign_tx_items: bool (false)   every /transactions answer for an account
                                  also holds one item of another account (the
                                  first in range of the next account in list
                                  order that has one, at its place by date but
                                  on the first page; counted in the meta), so
                                  a client can be tested to drop it; the items
                                  sent are listed by GET /_mock/foreign_items
  Errors (API answers, not /oauth/token):
    error_style: "documented" | "error_code" | "error_object" | "message" |
                 "empty" | "html"     the body of every non-2xx API answer:
        documented   {"status": "error", "error": code, "message": ...}
        error_code   {"status": "error", "message": ..., "error_code": code} (v2)
        error_object {"status": "error", "error": {"code": code, "message": ...}}
        message      {"message": ...}
        empty        an empty body
        html         an HTML page (text/html)
    empty_200_for_bad_token: bool (false)
                                  a missing, refused or expired bearer token gets
                                  200 with an empty body (Content-Length: 0), as
                                  the legacy userapi does, instead of 401
  OAuth2 (/oauth/token):
    token_ttl_s: int (3600)       lifetime of access tokens issued from now on, and
                                  their expires_in (>= 1)
    rotate_refresh_token: bool (false)
                                  each refresh returns a NEW refresh token and the
                                  old one stops working (400 invalid_grant)
    refresh_fail: {"count": n, "status": 400|401|5xx, "error": code}
                                  the next n token requests fail so; status defaults
                                  to 400, error to invalid_grant (400),
                                  invalid_client (401) or server_error (others);
                                  an integer n is short for {"count": n}
    refresh_latency_ms: int (0)   delay before answering each token request
    token_style: "documented" | "expires_real" | "expires_string" | "no_expires" |
                 "minimal"        the token answers (both grants):
        documented      access_token, token_type, expires_in (an integer),
                        refresh_token, scope
        expires_real    expires_in as a real (3600.0)
        expires_string  expires_in as a string ("3600")
        no_expires      no expires_in; the access token is a JWT
                        (header.payload.signature, base64url) whose payload's
                        "exp" is the expiry (unix time, now + token_ttl_s)
        minimal         only access_token and expires_in
    expire_tokens_now: true       an action, not stored: every access token valid
                                  now (the issued ones and the --token/"token" one)
                                  gets 401 from now on; a "token" given in the same
                                  call stays valid.  Refresh tokens are unaffected.
    code_exchange_fail: {"count": n, "status": s, "error": code}
                                  the next n authorization_code exchanges fail so
                                  (the code stays unused); defaults as refresh_fail;
                                  an integer n is short for {"count": n}
  OAuth2 (/oauth/authorize):
    authorize_deny: bool (false)  the user says no: redirect with
                                  error=access_denied&error_description=..&state=X
    authorize_wrong_state: bool (false)
                                  redirect with a valid code but a state other than
                                  the one given (what a CSRF attempt looks like)
    authorize_ignore_pkce: bool (false)
                                  behave like a server without PKCE: code_challenge
                                  and code_challenge_method are ignored, the code
                                  needs no code_verifier
Error bodies: {"status": "error", "error": code, "message": ...} (other shapes:
error_style) with code unauthorized (401), forbidden (403), resource_not_found
(404), too_many_requests (429), bad_request (400), method_not_allowed (405),
server_error (anything else).  A knob with a value not described here is
refused: 400 {"ok": false, "error": "<what is wrong>"}, and nothing changes.

The API faults below (and latency_ms) do not apply to /oauth/token or
/oauth/authorize.
Faults are checked in this order for every API request: latency_ms (a delay),
drop_next, rate_limit, rate_per_s, fail_next, truncate_next, garbage_next,
empty_200_next, status_error_200_next, then the bearer token (401, or the
empty 200 of empty_200_for_bad_token), status_for_paths, the route (for
/transactions: status_for_transactions, then the query), and status_for_ids.
Shapes (value_style, detail_style, sub_style, field_noise, pagination_style)
are applied last, to the answer's objects, as GET /_mock/data?styled=1 shows
them.
"""

import argparse
import base64
import bisect
import calendar
import collections
import email.utils
import hashlib
import hmac
import html
import ipaddress
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import unicodedata
import zlib
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

API_PREFIX = "/api/v1"
TOKEN_PATH = "/oauth/token"
AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_SCOPE = "bank-account:read transaction:read"
KNOWN_SCOPES = ("bank-account:read", "transaction:read", "webhook:read", "webhook:write",
                "webhook:delete", "profile", "company")
# An authorize request without a scope gets every scope SePay knows.
ALL_SCOPES = " ".join(KNOWN_SCOPES)
# An authorization code is good for one exchange within this many seconds.
CODE_TTL_S = 300
MAX_FORM_BYTES = 64 * 1024

# Fields that only the detail answer carries, not the list items.
DETAIL_ONLY_KEYS = ("last_transaction",)

# Fields holding an amount of money: written with exactly two decimals.
MONEY_KEYS = ("accumulated", "amount_in", "amount_out")

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "resource_not_found",
    405: "method_not_allowed",
    429: "too_many_requests",
}

ERROR_MESSAGES = {
    401: "Unauthorized: the access token is invalid or expired.",
    403: "Forbidden: you do not have permission to access this resource.",
    404: "The requested resource was not found.",
    429: "Too many requests, please slow down.",
}


# ---------------------------------------------------------------- money + JSON

class Money:
    """An amount written with exactly two decimals, as the real API does."""

    __slots__ = ("text",)

    def __init__(self, value):
        if isinstance(value, Money):
            self.text = value.text
            return
        if isinstance(value, bool):
            raise ValueError("not a money value")
        if isinstance(value, float):
            value = repr(value)
        d = Decimal(str(value))
        if not d.is_finite():
            raise ValueError("not a finite number")
        self.text = format(d.quantize(Decimal("0.01")), "f")

    def __float__(self):
        return float(self.text)

    def __repr__(self):
        return "Money(%s)" % self.text


def as_money(value):
    """Money for numbers, anything else (null, strings, hostile values) as is."""
    if isinstance(value, (int, float, Decimal, Money)) and not isinstance(value, bool):
        try:
            return Money(value)
        except (ValueError, InvalidOperation):
            return value
    return value


# Money and Decimal leave json.dumps as marked strings and are unquoted
# after: the C encoder does the rest, several times faster than a Python
# walk, so the mock's page rendering does not dominate what a benchmark of
# its clients measures.
_BARE_MARK = "\x00sepay-mock-bare:"
_BARE_RE = re.compile(r'"\\u0000sepay-mock-bare:([^"\\]*)\\u0000"')


def _bare_number(obj):
    if isinstance(obj, Money):
        return _BARE_MARK + obj.text + "\x00"
    if isinstance(obj, Decimal):
        return _BARE_MARK + str(obj) + "\x00"
    raise TypeError("cannot write %r as JSON" % (obj,))


def to_json_bytes(obj):
    """Compact JSON, raw UTF-8, Money with two decimals.  Keys are strings:
    every object here was generated or arrived as JSON."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_bare_number)
    return _BARE_RE.sub(r"\1", text).encode("utf-8", "surrogatepass")


def money_fields(obj):
    """A copy of obj (an account or sub-account) with its money fields as Money."""
    return {k: (as_money(v) if k in MONEY_KEYS else v) for k, v in obj.items()}


# ---------------------------------------------------------------- data set

BANKS = [
    ("Vietcombank", "Ngân hàng TMCP Ngoại Thương Việt Nam", "VCB", "970436", "vietcombank"),
    ("MBBank", "Ngân hàng TMCP Quân đội", "MB", "970422", "mbbank"),
    ("Techcombank", "Ngân hàng TMCP Kỹ Thương Việt Nam", "TCB", "970407", "techcombank"),
    ("ACB", "Ngân hàng TMCP Á Châu", "ACB", "970416", "acb"),
    ("BIDV", "Ngân hàng TMCP Đầu tư và Phát triển Việt Nam", "BIDV", "970418", "bidv"),
    ("VietinBank", "Ngân hàng TMCP Công Thương Việt Nam", "ICB", "970415", "vietinbank"),
    ("TPBank", "Ngân hàng TMCP Tiên Phong", "TPB", "970423", "tpbank"),
    ("VPBank", "Ngân hàng TMCP Việt Nam Thịnh Vượng", "VPB", "970432", "vpbank"),
    ("Sacombank", "Ngân hàng TMCP Sài Gòn Thương Tín", "STB", "970403", "sacombank"),
]

SURNAMES = ["NGUYỄN", "TRẦN", "LÊ", "PHẠM", "HOÀNG", "HUỲNH", "PHAN", "VŨ", "VÕ",
            "ĐẶNG", "BÙI", "ĐỖ", "HỒ", "NGÔ", "DƯƠNG", "LÝ"]
MIDDLE_NAMES = ["VĂN", "THỊ", "HỮU", "ĐỨC", "MINH", "THANH", "NGỌC", "QUANG", "THU",
                "BẢO", "GIA", "XUÂN"]
GIVEN_NAMES = ["AN", "BÌNH", "CƯỜNG", "DŨNG", "GIANG", "HẢI", "HẠNH", "HÙNG", "HƯƠNG",
               "KHÁNH", "LAN", "LINH", "LONG", "MAI", "NAM", "NGỌC", "PHƯƠNG", "QUÂN",
               "SƠN", "TÂM", "THẢO", "TRANG", "TUẤN", "VY", "YẾN", "BÍCH NGỌC", "ĐỨC ANH"]
COMPANY_KINDS = ["CÔNG TY TNHH", "CÔNG TY CỔ PHẦN", "CÔNG TY TNHH MỘT THÀNH VIÊN",
                 "DOANH NGHIỆP TƯ NHÂN"]
COMPANY_TRADES = ["THƯƠNG MẠI", "DỊCH VỤ", "XUẤT NHẬP KHẨU", "CÔNG NGHỆ", "THỰC PHẨM",
                  "XÂY DỰNG", "VẬN TẢI", "THƯƠNG MẠI VÀ DỊCH VỤ", "ĐẦU TƯ"]
LABELS = ["Tài khoản chính", "Thu hộ", "Lương nhân viên", "Chi phí vận hành",
          "Bán hàng online", "Cửa hàng Hà Nội", "Cửa hàng Đà Nẵng", "Quỹ dự phòng",
          "Tiền điện nước", "Shopee", "Tiki", "Đối tác Nhật Bản", "Kho Bình Dương"]
SUB_LABELS = ["Cửa hàng Quận 1", "Cửa hàng Quận 3", "Chi nhánh Cầu Giấy", "Shop 1",
              "Đơn hàng online", "Quầy thu ngân số 2", "Chi nhánh Hải Phòng",
              "Thu tiền học phí", "Phòng khám Hoàn Kiếm", "Căn tin"]
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"

# Values placed at fixed positions so that every data set of at least 10 accounts
# holds them: zero, cents below one, cents, a large balance.
SPECIAL_AMOUNTS = {3: "0.00", 4: "0.10", 5: "12345.67", 7: "1234567890123.45",
                   8: "0.00"}
# Sub-account counts at fixed positions: several empty ones and a full one.
SPECIAL_SUB_COUNTS = {0: 3, 1: 0, 2: 5, 3: 0, 4: 1, 6: 0}


class _Rand:
    """Quick deterministic draws (random.Random's randint is slow for 100,000 accounts)."""

    def __init__(self, seed):
        self.random = random.Random(seed).random

    def int(self, low, high):
        return low + int(self.random() * (high - low + 1))

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def stamp(self, year_from, year_to):
        x = int(self.random() * (year_to - year_from + 1) * 12 * 28 * 86400)
        x, sec = divmod(x, 60)
        x, minute = divmod(x, 60)
        x, hour = divmod(x, 24)
        x, day = divmod(x, 28)
        year, month = divmod(x, 12)
        return "%04d-%02d-%02d %02d:%02d:%02d" % (
            year_from + year, month + 1, day + 1, hour, minute, sec)


def _money(text):
    m = Money.__new__(Money)
    m.text = text
    return m


def _bank_object(bank):
    short, full, code, bin_, slug = bank
    return {
        "short_name": short,
        "full_name": full,
        "code": code,
        "bin": bin_,
        "icon_url": "https://my.sepay.vn/assets/images/banklogo/%s-icon.png" % slug,
        "logo_url": "https://my.sepay.vn/assets/images/banklogo/%s.png" % slug,
    }


# Accounts are created between these many months before the data set's month
# (so each has a bounded number of monthly transaction files), unless
# --history-months says exactly how many.
CREATED_MONTHS_BACK = (6, 30)
MAX_HISTORY_MONTHS = 150
# foreign_tx_items looks this many accounts on for another account's item.
FOREIGN_SCAN = 64
# ... and GET /_mock/foreign_items shows the last this many it sent.
FOREIGN_SENT_KEPT = 1000

VN_OFFSET_S = 7 * 3600  # SePay's dates are Vietnam time (UTC+7), no zone


def vn_seconds(t=None):
    """Seconds since 1970 of the Vietnam wall clock (for time.gmtime)."""
    return int((time.time() if t is None else t) + VN_OFFSET_S)


def month_index(year, month):
    return year * 12 + month - 1


def month_of_index(k):
    """(year, month 1-12) of a month_index."""
    year, m0 = divmod(k, 12)
    return year, m0 + 1


def _created_stamp(x, now_month, history_months):
    """A created_at from one uniform draw x in [0, 1)."""
    low, high = CREATED_MONTHS_BACK
    span = 1 if history_months is not None else high - low + 1
    v = int(x * span * 28 * 86400)
    v, sec = divmod(v, 60)
    v, minute = divmod(v, 60)
    v, hour = divmod(v, 24)
    k, day = divmod(v, 28)
    back = history_months if history_months is not None else low + k
    year, month = month_of_index(now_month - back)
    return "%04d-%02d-%02d %02d:%02d:%02d" % (year, month, day + 1, hour, minute, sec)


def skeleton(n_accounts, seed, max_subs=5):
    """The data set's shape, quick for 100,000 accounts: ids in order, each
    account's position and sub-account ids (at most max_subs each).
    Returns (ids, {id: (index, sub ids)})."""
    r = random.Random(seed).random
    ids = []
    meta = {}
    next_id = 19
    next_sub_id = 25
    sub_counts = (0, 0, 1, 1, 2, 2, 3, 4, 5)
    for i in range(n_accounts):
        if i:
            next_id += 1 + int(r() * 5)
        count = SPECIAL_SUB_COUNTS.get(i)
        if count is None:
            count = sub_counts[int(r() * 9)]
        count = min(count, max_subs)
        sub_ids = []
        for _ in range(count):
            next_sub_id += 1 + int(r() * 3)
            sub_ids.append(next_sub_id)
        ids.append(next_id)
        meta[next_id] = (i, sub_ids)
    return ids, meta


def make_account(seed, index, acc_id, sub_ids, now_month, history_months=None):
    """One account's (detail object, sub-account items), made on first use:
    each account draws from its own generator, so the order of use does not matter.
    now_month: the month (a month_index) the data set is built in; created_at
    falls CREATED_MONTHS_BACK months before it, or exactly history_months."""
    rng = _Rand(seed * 1_000_003 + index)
    r = rng.random
    if index == 0:
        bank_i = 0
        label = "Cty Demo"
        holder = "CONG TY TNHH DEMO"
        number = "0071000888888"
        amount = _money("1777283273.00")
        active = True
        created = "2025-02-12 21:09:49"
        if history_months is not None:
            year, month = month_of_index(now_month - history_months)
            created = "%04d-%02d-12 21:09:49" % (year, month)
        last_tx = "2025-02-25 19:59:48"
    else:
        bank_i = int(r() * len(BANKS))
        label = None if index % 5 == 4 else rng.choice(LABELS)
        if r() < 0.6:
            holder = "%s %s %s %s" % (
                rng.choice(COMPANY_KINDS), rng.choice(COMPANY_TRADES),
                rng.choice(SURNAMES), rng.choice(GIVEN_NAMES))
        else:
            holder = "%s %s %s" % (rng.choice(SURNAMES), rng.choice(MIDDLE_NAMES),
                                   rng.choice(GIVEN_NAMES))
        # unique: the position is part of the number
        number = "%d%07d%03d" % (rng.int(1, 9), index, rng.int(0, 999))
        if index in SPECIAL_AMOUNTS:
            amount = _money(SPECIAL_AMOUNTS[index])
        elif r() < 0.3:
            amount = _money("%d.%02d" % (rng.int(0, 50_000_000), rng.int(0, 99)))
        else:
            amount = _money("%d000.00" % rng.int(1, 5_000_000))
        active = r() >= 0.2
        created = _created_stamp(r(), now_month, history_months)
        last_tx = None if r() < 0.25 else rng.stamp(2025, 2025)
    detail = {
        "id": acc_id,
        "label": label,
        "account_holder_name": holder,
        "account_number": number,
        "accumulated": amount,
        "active": active,
        "created_at": created,
        "bank": _bank_object(BANKS[bank_i]),
        "last_transaction": last_tx,
    }
    code = BANKS[bank_i][2]
    items = []
    for sub_id in sub_ids:
        items.append({
            "id": sub_id,
            "account_number": "%s%04d%s%s%s%03d" % (
                code, rng.int(0, 9999), rng.choice(LETTERS), rng.choice(LETTERS),
                rng.choice(LETTERS), rng.int(0, 999)),
            "label": None if r() < 0.2 else rng.choice(SUB_LABELS),
            "active": r() >= 0.15,
            "created_at": rng.stamp(2023, 2025),
        })
    return detail, items


# ---------------------------------------------------------------- transactions

# Transaction ids: account number `index` in the data set owns
# TX_ID_BASE + index * TX_IDS_PER_ACCOUNT onwards, in date order; transactions
# added later (add_transaction) get ids above every account's range.
TX_ID_BASE = 40_000
TX_IDS_PER_ACCOUNT = 1_000
# Transactions in one month: 0-6, a fifth of the months empty.
TX_PER_MONTH = (0, 0, 1, 1, 2, 2, 3, 4, 5, 6)
# The busy account's (--busy-tx) ids: above every other account's range.
BUSY_TX_ID_BASE = 1_000_000_000
BUSY_TX_IDS = 50_000_000
# The share of months that also get a transaction on their first second
# (YYYY-MM-01 00:00:00) and one on their last (YYYY-MM-<last> 23:59:59).
MONTH_EDGE_SHARE = 1 / 3
TX_KEYS = ("id", "bank_account_id", "bank_brand_name", "account_number", "transaction_date",
           "amount_out", "amount_in", "accumulated", "transaction_content",
           "reference_number", "code", "sub_account")

# Money in: {name} is a payer's name without diacritics, as banks send it.
TX_IN_WITH_CODE = [
    "{name} chuyen tien mua hang online {code}",
    "{name} chuyen khoan thanh toan {code}",
    "MBVCB.{n7}.{name} chuyen tien {code}.CT tu {acct}",
    "Thanh toán đơn hàng {code}",
    "Thanh toán \"gấp\" đơn hàng {code} - giao trước 17h",
    "{code} Thanh toan hoc phi thang {mm}/{yyyy}",
]
TX_IN_NO_CODE = [
    "{name} chuyen tien mua hang online",
    "{name} chuyen tien",
    "Nhận tiền từ {name_vn}",
    "IBFT {name} chuyen tien hoan ung",
    "Lãi tiền gửi tháng {mm}/{yyyy}",
]
TX_OUT = [
    "Chi tra nha cung cap HD{n4}/{yyyy}",
    "Thanh toán tiền điện tháng {mm}/{yyyy}",
    "Phí dịch vụ SMS Banking tháng {mm}",
    "Chuyen luong thang {mm}/{yyyy} cho {name}",
    "Rút tiền mặt tại ATM \\ quầy {n4}",
    "Hoàn tiền đơn hàng DH{n6} cho {name}",
]


def _ascii(text):
    """Vietnamese without diacritics ("NGUYỄN VĂN AN" -> "NGUYEN VAN AN")."""
    text = text.replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text)
                   if not unicodedata.combining(c))


def _cents_text(cents):
    return "%d.%02d" % divmod(cents, 100)


def _money_cents(value):
    """An amount (Money or number) in cents; 0 for anything else."""
    try:
        return int((Decimal(value.text if isinstance(value, Money) else str(value))
                    * 100).to_integral_value())
    except (InvalidOperation, ValueError, TypeError):
        return 0


def parse_stamp(text):
    """Vietnam-clock seconds of "YYYY-MM-DD HH:MM:SS" (a date alone is
    midnight), or None."""
    if not isinstance(text, str):
        return None
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2}))?", text.strip())
    if m is None:
        return None
    try:
        parts = [int(x) if x is not None else 0 for x in m.groups()]
        if not 1 <= parts[1] <= 12 or not 1 <= parts[2] <= calendar.monthrange(
                parts[0], parts[1])[1] or parts[3] > 23 or parts[4] > 59 or parts[5] > 59:
            return None
        return calendar.timegm(tuple(parts) + (0, 0, 0))
    except (ValueError, OverflowError):
        return None


def format_stamp(vn_secs):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(vn_secs))


def transaction_reference(prefix, vn_secs, tx_id):
    """Like "677760.250225.080001": a bank's prefix, the date (YYMMDD), and a
    serial that is the id, so references are unique."""
    return "%06d.%s.%06d" % (prefix, time.strftime("%y%m%d", time.gmtime(vn_secs)), tx_id)


def make_transactions(seed, index, account, sub_numbers, until_vn, per_month=None):
    """An account's transactions, oldest first, from the month of its
    created_at to until_vn (Vietnam-clock seconds), drawn from a generator of
    the seed and the account id alone.  Empty without a usable created_at.
    per_month: exactly that many a month (a busy shop's account: --busy-tx,
    ids from BUSY_TX_ID_BASE), instead of a handful."""
    created = parse_stamp(account.get("created_at"))
    if created is None or created > until_vn:
        return []
    acc_id = account["id"]
    rng = _Rand("sepay-mock transactions %d %d" % (seed, acc_id))
    r = rng.random
    bank = account.get("bank")
    brand = bank.get("short_name") if isinstance(bank, dict) else None
    number = account.get("account_number")
    first = time.gmtime(created)
    last = time.gmtime(until_vn)
    first_month = month_index(first.tm_year, first.tm_mon)
    last_month = month_index(last.tm_year, last.tm_mon)
    first_month = max(first_month, last_month - MAX_HISTORY_MONTHS)
    stamps = []
    # Month edges come from a generator of their own, so the rest of the
    # data set does not depend on them.
    edge_r = random.Random("sepay-mock month edges %d %d" % (seed, acc_id)).random
    edges = 0
    for k in range(first_month, last_month + 1):
        year, month = month_of_index(k)
        start = calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0))
        end = start + calendar.monthrange(year, month)[1] * 86400
        lo, hi = max(start, created), min(end, until_vn + 1)
        count = rng.choice(TX_PER_MONTH) if per_month is None else per_month
        if hi > lo:
            month_stamps = [lo + int(r() * (hi - lo)) for _ in range(count)]
            # The month's first and last second, in about a third of the
            # months (and in the first month that can have one, so that
            # every history of two months or more has some).
            if edge_r() < MONTH_EDGE_SHARE or edges == 0:
                for edge in (start, end - 1):
                    if created <= edge <= until_vn:
                        month_stamps.append(edge)
                        edges += 1
            stamps.extend(sorted(month_stamps))
    if per_month is None:
        del stamps[TX_IDS_PER_ACCOUNT:]  # the account's id range
        id_base = TX_ID_BASE + index * TX_IDS_PER_ACCOUNT
    else:
        del stamps[BUSY_TX_IDS:]
        id_base = BUSY_TX_ID_BASE
    balance = rng.int(0, 20_000) * 100_000 * 100  # up to 2 billion VND, in cents
    out = []
    for seq, when in enumerate(stamps):
        tx_id = id_base + seq
        x = r()
        if x < 0.05:
            cents = rng.int(1, 99_999_999)                    # with cents
        elif x < 0.15:
            cents = rng.int(1, 500_000) * 100_000             # large, up to 500 M
        else:
            cents = rng.int(1, 5_000) * 100_000               # up to 5 M VND
        incoming = r() < 0.65 or cents > balance
        balance += cents if incoming else -cents
        tm = time.gmtime(when)
        name_vn = "%s %s %s" % (rng.choice(SURNAMES), rng.choice(MIDDLE_NAMES),
                                rng.choice(GIVEN_NAMES))
        fill = {"name": _ascii(name_vn), "name_vn": name_vn, "mm": "%02d" % tm.tm_mon,
                "yyyy": "%04d" % tm.tm_year, "n4": "%04d" % rng.int(0, 9999),
                "n6": "%06d" % rng.int(0, 999_999), "n7": "%07d" % rng.int(0, 9_999_999),
                "acct": "%d%09d" % (rng.int(1, 9), rng.int(0, 999_999_999))}
        code = None
        sub = None
        if incoming:
            if r() < 0.55:
                code = "DH%06d" % rng.int(0, 999_999)
                template = rng.choice(TX_IN_WITH_CODE)
            else:
                template = rng.choice(TX_IN_NO_CODE)
            if sub_numbers and r() < 0.4:
                sub = rng.choice(sub_numbers)
        else:
            template = rng.choice(TX_OUT)
        fill["code"] = code or ""
        values = (tx_id, acc_id, brand, number, format_stamp(when),
                  _money("0.00") if incoming else _money(_cents_text(cents)),
                  _money(_cents_text(cents)) if incoming else _money("0.00"),
                  _money(_cents_text(balance)), template.format(**fill),
                  transaction_reference(rng.int(100_000, 999_999), when, tx_id), code, sub)
        out.append(dict(zip(TX_KEYS, values)))
    return out


TO_DATE_MODES = ("inclusive", "midnight", "exclusive")


def transactions_between(items, from_date, to_date, to_date_mode="inclusive", keys=None):
    """The items whose transaction_date is within the range (from_date or
    to_date None: open).  from_date counts from its 00:00:00; to_date_mode
    says what to_date means: "inclusive" the whole day, "midnight" up to
    its 00:00:00 (that second included), "exclusive" up to the day before.
    keys: every item's transaction_date, in the items' (sorted) order, to
    find the range by bisection (a busy account's history is 100,000s)."""
    if keys is not None:
        lo = 0 if from_date is None else bisect.bisect_left(keys, from_date)
        if to_date is None:
            hi = len(keys)
        elif to_date_mode == "inclusive":
            hi = bisect.bisect_right(keys, to_date + " \uffff")
        elif to_date_mode == "midnight":
            hi = bisect.bisect_right(keys, to_date + " 00:00:00")
        else:
            hi = bisect.bisect_left(keys, to_date)
        return items[lo:hi]
    out = []
    to_stamp = None if to_date is None else to_date + " 00:00:00"
    for t in items:
        stamp = str(t.get("transaction_date", ""))
        day = stamp[:10]
        if from_date is not None and day < from_date:
            continue
        if to_date is not None:
            if to_date_mode == "inclusive":
                if day > to_date:
                    continue
            elif to_date_mode == "midnight":
                if stamp > to_stamp:
                    continue
            elif day >= to_date:
                continue
        out.append(t)
    return out


def _tx_order(t):
    tx_id = t.get("id")
    return (str(t.get("transaction_date", "")),
            tx_id if isinstance(tx_id, int) and not isinstance(tx_id, bool) else 0)


# ---------------------------------------------------------------- shapes

# What the shape knobs may say (see the docstring).
VALUE_STYLES = ("documented", "legacy", "v2")
PAGINATION_STYLES = ("documented", "has_more", "flat", "none")
ERROR_STYLES = ("documented", "error_code", "error_object", "message", "empty", "html")
RATE_LIMIT_HEADER_STYLES = ("Retry-After", "Retry-After-date", "x-sepay-userapi-retry-after",
                            "X-RateLimit", "none")
RATE_WINDOWS = ("sliding", "fixed")
DETAIL_STYLES = ("documented", "flat")
SUB_STYLES = ("documented", "v2")
TOKEN_STYLES = ("documented", "expires_real", "expires_string", "no_expires", "minimal")

# Fields holding an id: strings of digits in the legacy style.
ID_KEYS = ("id", "bank_account_id")
# detail_style "flat": the bank object's fields as flat ones (SePay's other APIs).
FLAT_BANK_KEYS = (("bank_short_name", "short_name"), ("bank_full_name", "full_name"),
                  ("bank_bin", "bin"), ("bank_code", "code"))
# field_noise: one field in NOISE_ONE_IN gets noise; id never does, nor what a
# client needs to place a transaction.
NOISE_ONE_IN = 6
NOISE_PROTECTED = {"account": ("id",), "sub_account": ("id",),
                   "transaction": ("id", "transaction_date", "bank_account_id")}
_DROP = object()


def _noise_drop(value):
    return _DROP


def _noise_null(value):
    return None


def _noise_other_type(value):
    """The value as another JSON type."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Money):
        return value.text
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if value is None:
        return 0
    if isinstance(value, dict):
        return to_json_bytes(value).decode("utf-8")
    return {}


def _noise_bank_name(value):
    return value.get("short_name") if isinstance(value, dict) else "Vietcombank"


NOISE_GENERIC = (_noise_drop, _noise_null, _noise_other_type)
NOISE_VARIANTS = {
    "label": (_noise_drop, _noise_null, lambda v: 12345),
    "created_at": (_noise_drop, _noise_null),
    "bank": (_noise_drop, _noise_null, _noise_bank_name),
    "active": (lambda v: "yes", _noise_null, _noise_drop),
    "transaction_content": (lambda v: [v], _noise_null, _noise_drop),
}


class Styler:
    """What the API sends for the data set's objects under the shape knobs
    (value_style, detail_style, sub_style, field_noise): applied to every
    object where an answer is made, and by the control API's styled=1 views,
    so both show the same bytes.  Never changes the objects it is given."""

    def __init__(self, knobs, seed, until_vn):
        self.values = knobs["value_style"]
        self.detail = knobs["detail_style"]
        self.sub_style = knobs["sub_style"]
        self.noise = knobs["field_noise"]
        self.seed = seed
        self.until_vn = until_vn
        self.plain = (self.values == "documented" and self.detail == "documented"
                      and self.sub_style == "documented" and not self.noise)
        self.padding = knobs["item_padding"]

    def account(self, detail, list_item=False):
        """An account's detail answer, or (list_item) its item in the list."""
        obj = detail
        if not self.plain:
            obj = {}
            for key, value in detail.items():
                if key == "bank" and self.detail == "flat":
                    bank = value if isinstance(value, dict) else {}
                    for flat, inner in FLAT_BANK_KEYS:
                        obj[flat] = bank.get(inner)
                else:
                    obj[key] = value
            obj = self._noisy("account", self._values(obj))
        if list_item:
            item = {k: v for k, v in obj.items() if k not in DETAIL_ONLY_KEYS}
            if self.padding:
                item["padding"] = "x" * self.padding
            return item
        return obj

    def sub(self, item, parent):
        """A sub-account item of the account parent (its detail object)."""
        if self.plain:
            return item
        obj = dict(item)
        if self.sub_style == "v2":
            for key, value in self._v2_sub_fields(item, parent).items():
                obj.setdefault(key, value)
        return self._noisy("sub_account", self._values(obj))

    def tx(self, item):
        if self.plain:
            return item
        return self._noisy("transaction", self._values(item))

    def _v2_sub_fields(self, item, parent):
        """What SePay's v2 adds to a virtual account, drawn from its id."""
        sub_id = item.get("id") if isinstance(item.get("id"), int) else 0
        created = parse_stamp(item.get("created_at"))
        updated = None
        if created is not None:
            updated = format_stamp(min(created + (sub_id * 7919) % (90 * 86400),
                                       max(created, self.until_vn)))
        return {"va": item.get("account_number"),
                "sub_holder_name": parent.get("account_holder_name"),
                "official": sub_id % 3 == 0,
                "static": sub_id % 2 == 1,
                "bank_account_id": parent.get("id"),
                "updated_at": updated}

    def _values(self, obj):
        """value_style: ids, money and flags as the chosen API writes them."""
        if self.values == "documented":
            return obj
        legacy = self.values == "legacy"
        out = {}
        for key, value in obj.items():
            if isinstance(value, bool):
                value = ("1" if value else "0") if legacy else int(value)
            elif key in ID_KEYS and isinstance(value, int):
                value = str(value) if legacy else value
            elif key in MONEY_KEYS and isinstance(value, (Money, int, float, Decimal)):
                money = as_money(value)
                if isinstance(money, Money):
                    # v2: whole dong, the cents cut off (towards zero)
                    value = money.text if legacy else int(Decimal(money.text))
            elif key == "label" and value is None and legacy:
                value = ""
            out[key] = value
        return out

    def _noisy(self, kind, obj):
        """field_noise: some fields missing, null or of another type, drawn
        from the seed, the kind of object, its id and the field's name."""
        if not self.noise:
            return obj
        protected = NOISE_PROTECTED[kind]
        obj_id = obj.get("id")
        out = {}
        for key, value in obj.items():
            if key not in protected:
                h = zlib.crc32(("%d|%s|%s|%s" % (self.seed, kind, obj_id, key))
                               .encode("utf-8"))
                if h % NOISE_ONE_IN == 0:
                    variants = NOISE_VARIANTS.get(key, NOISE_GENERIC)
                    value = variants[(h // NOISE_ONE_IN) % len(variants)](value)
                    if value is _DROP:
                        continue
            out[key] = value
        return out


def envelope(knobs, data, total, per_page, page, last_page):
    """A list answer under pagination_style, page_numbers_as_strings and
    endless_pages (which says has_more on every page)."""
    body = {"status": "success", "data": data}
    style = knobs["pagination_style"]
    if style == "none":
        return body
    num = str if knobs["page_numbers_as_strings"] else int
    has_more = knobs["endless_pages"] or page < last_page
    if style == "documented":
        body["meta"] = {"pagination": {"total": num(total), "per_page": num(per_page),
                                       "current_page": num(page),
                                       "last_page": num(last_page)}}
    elif style == "has_more":
        body["meta"] = {"pagination": {"current_page": num(page), "per_page": num(per_page),
                                       "has_more": has_more}}
    else:
        body["meta"] = {"current_page": num(page), "per_page": num(per_page),
                        "page_count": num(last_page), "has_more": has_more}
    return body


class ApiError(dict):
    """An API error body in the documented shape, restyled by error_style
    where it is sent (Handler._send)."""

    def __init__(self, status, code, message):
        super().__init__(status="error", error=code, message=message)
        self.http_status = status


def styled_error(style, err):
    """(body bytes, content type) of an ApiError under error_style."""
    code, message = err["error"], err["message"]
    if style == "documented":
        body = dict(err)
    elif style == "error_code":
        body = {"status": "error", "message": message, "error_code": code}
    elif style == "error_object":
        body = {"status": "error", "error": {"code": code, "message": message}}
    elif style == "message":
        body = {"message": message}
    elif style == "empty":
        return b"", "application/json; charset=utf-8"
    else:
        title = "%d %s" % (err.http_status, code.replace("_", " ").title())
        page = ("<!DOCTYPE html>\n<html><head><title>%s</title></head>\n<body><h1>%s</h1>"
                "<p>%s</p></body></html>\n" % (title, title, html.escape(message)))
        return page.encode("utf-8"), "text/html; charset=utf-8"
    return to_json_bytes(body), "application/json; charset=utf-8"


def rate_limit_headers(style, seconds, limit):
    """The headers of a 429 that asks for a wait of seconds (None: names no
    time) in the style of rate_limit.header / rate_limit_header_style."""
    if seconds is None or style == "none":
        return {}
    if style == "Retry-After":
        return {"Retry-After": str(seconds)}
    if style == "x-sepay-userapi-retry-after":
        return {"x-sepay-userapi-retry-after": str(seconds)}
    # Whole seconds, rounded up: never sooner than the wait asked for.
    until = math.ceil(time.time() + seconds)
    if style == "Retry-After-date":
        return {"Retry-After": email.utils.formatdate(until, usegmt=True)}
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(until)}


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


JWT_KEY = secrets.token_bytes(32)


def jwt_access_token(client_id, expires_epoch):
    """A JWT-shaped access token (header.payload.signature, base64url) whose
    payload's "exp" is expires_epoch (token_style "no_expires")."""
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {"iss": "https://my.sepay.vn", "sub": client_id, "iat": int(time.time()),
               "exp": expires_epoch, "jti": secrets.token_hex(12)}
    signing = "%s.%s" % (_b64url(json.dumps(header, separators=(",", ":")).encode()),
                         _b64url(json.dumps(payload, separators=(",", ":")).encode()))
    signature = hmac.new(JWT_KEY, signing.encode("ascii"), hashlib.sha256).digest()
    return signing + "." + _b64url(signature)


# ---------------------------------------------------------------- state

class BadInput(Exception):
    pass


def _int_knob(value, name, minimum=0):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadInput("%s must be an integer >= %d" % (name, minimum))
    return value


def _status_knob(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise BadInput("%s must be an HTTP status (100-599)" % name)
    return value


def _bool_knob(value, name):
    if not isinstance(value, bool):
        raise BadInput("%s must be true or false" % name)
    return value


OAUTH_ERROR_FOR_STATUS = {400: "invalid_grant", 401: "invalid_client"}


def _refresh_fail_knob(value, name="refresh_fail"):
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"count": value}
    if not isinstance(value, dict):
        raise BadInput("%s must be {\"count\": n, \"status\": s, \"error\": code}" % name)
    status = _status_knob(value.get("status", 400), name + ".status")
    error = value.get("error", OAUTH_ERROR_FOR_STATUS.get(status, "server_error"))
    if not isinstance(error, str) or not error:
        raise BadInput("%s.error must be a non-empty string" % name)
    return {"count": _int_knob(value.get("count", 1), name + ".count"),
            "status": status, "error": error}


def _choice_knob(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise BadInput("%s must be one of: %s" % (name, ", ".join(choices)))
    return value


# Knobs that name a style, and the styles each may name.
CHOICE_KNOBS = {
    "value_style": VALUE_STYLES,
    "pagination_style": PAGINATION_STYLES,
    "error_style": ERROR_STYLES,
    "rate_limit_header_style": RATE_LIMIT_HEADER_STYLES,
    "rate_window": RATE_WINDOWS,
    "to_date_mode": TO_DATE_MODES,
    "detail_style": DETAIL_STYLES,
    "sub_style": SUB_STYLES,
    "token_style": TOKEN_STYLES,
}


def _id_of(text):
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise BadInput("not an integer id: %r" % (text,))
    return value


class State:
    """Data, knobs and the request log, all behind one lock."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        # The data set's clock, fixed for the life of the process (a reset
        # does not move it): created_at dates count back from its month, and
        # generated transactions end at it (none are in the future).
        self.started_vn = vn_seconds()
        started = time.gmtime(self.started_vn)
        self.now_month = month_index(started.tm_year, started.tm_mon)
        self.reset()

    def initial_knobs(self):
        return {
            "latency_ms": self.args.latency_ms,
            "latency_jitter_ms": 0,
            "max_page_size": self.args.max_page_size,
            "default_page_size": self.args.default_page_size,
            "token": self.args.token,
            "status_for_ids": {},
            "status_for_paths": {},
            "status_for_transactions": None,
            "fail_next": {"count": 0, "status": 503},
            "drop_next": 0,
            "truncate_next": 0,
            "garbage_next": 0,
            "empty_200_next": 0,
            "status_error_200_next": 0,
            "rate_limit": {"next": 0, "retry_after": 1, "header": "Retry-After"},
            "rate_per_s": 0,
            "rate_limit_header_style": "Retry-After",
            "rate_window": "sliding",
            "value_style": "documented",
            "pagination_style": "documented",
            "page_numbers_as_strings": False,
            "endless_pages": False,
            "error_style": "documented",
            "empty_200_for_bad_token": False,
            "to_date_mode": "inclusive",
            "foreign_tx_items": False,
            "detail_style": "documented",
            "sub_style": "documented",
            "field_noise": False,
            "token_style": "documented",
            "hide_from_list": [],
            "after_list_page": None,
            "refuse_limit_over": 0,
            "item_padding": 0,
            "token_ttl_s": 3600,
            "rotate_refresh_token": False,
            "refresh_fail": {"count": 0, "status": 400, "error": "invalid_grant"},
            "refresh_latency_ms": 0,
            "authorize_deny": False,
            "authorize_wrong_state": False,
            "authorize_ignore_pkce": False,
            "code_exchange_fail": {"count": 0, "status": 400, "error": "invalid_grant"},
        }

    def styler(self):
        """The Styler of the shape knobs in force."""
        return Styler(self.knobs, self.args.seed, self.started_vn)

    def reset(self):
        self.rate_window = collections.deque()
        self.tx_keys = {}
        self.rate_second = (None, 0)  # rate_window "fixed": (the second, let through)
        ids, meta = skeleton(self.args.accounts, self.args.seed, self.args.max_sub_accounts)
        sub_index = {}
        for acc_id, (_, sub_ids) in meta.items():
            for sub_id in sub_ids:
                sub_index[sub_id] = acc_id
        with self.lock:
            self.order = ids                 # every account id, ascending
            self.pending = meta              # ids not made yet: (index, sub ids)
            self.accounts = {}               # id -> detail object (made ones)
            self.subs = {}                   # id -> [sub-account items] (made ones)
            self.sub_index = sub_index       # sub-account id -> account id
            self.index_of = {i: spec[0] for i, spec in meta.items()}  # id -> position
            self.tx = {}                     # id -> [transactions] (made ones), in order
            self.next_tx_id = TX_ID_BASE + TX_IDS_PER_ACCOUNT * (len(ids) + 1)
            self.knobs = self.initial_knobs()
            self.hidden = set()
            self._listed = None
            self.log = []
            self.t0 = time.monotonic()
            # OAuth2: refresh tokens ever valid (in order) and the valid ones;
            # access tokens issued (in order) and the valid ones with their
            # expiry (time.monotonic()).
            self.refresh_all = [self.args.refresh_token]
            self.refresh_valid = {self.args.refresh_token}
            self.issued = []
            self.access = {}
            # Authorization codes issued by /oauth/authorize, in order:
            # code -> {"client_id", "redirect_uri", "scope", "used", "expires",
            # "challenge" (PKCE S256, or None), "verifier" (the one that redeemed it)}.
            self.codes = {}
            # foreign_tx_items: the items of other accounts sent, in order.
            self.foreign_sent = []

    # -- everything below must be called with the lock held
    def token_valid(self, given):
        """Whether an API request may use this bearer token."""
        if not given:
            return False
        static = self.knobs["token"]
        if static and given == static:
            return True
        expiry = self.access.get(given)
        if expiry is None:
            return False
        if time.monotonic() >= expiry:
            del self.access[given]
            return False
        return True

    def new_access_token(self):
        """(a new valid access token, its lifetime): a JWT whose "exp" tells
        the expiry with token_style "no_expires", an opaque string otherwise."""
        ttl = self.knobs["token_ttl_s"]
        if self.knobs["token_style"] == "no_expires":
            access = jwt_access_token(self.args.client_id, int(time.time()) + ttl)
        else:
            access = "mock-at-" + secrets.token_urlsafe(24)
        self.access[access] = time.monotonic() + ttl
        return access, ttl

    def token_answer(self, access, refresh, ttl, scope):
        """A token endpoint's success body under token_style."""
        style = self.knobs["token_style"]
        if style == "minimal":
            return {"access_token": access, "expires_in": ttl}
        answer = {"access_token": access, "token_type": "Bearer", "expires_in": ttl,
                  "refresh_token": refresh, "scope": scope}
        if style == "expires_real":
            answer["expires_in"] = float(ttl)
        elif style == "expires_string":
            answer["expires_in"] = str(ttl)
        elif style == "no_expires":
            del answer["expires_in"]
        return answer

    def issue_tokens(self, old_refresh):
        """A token answer for a valid refresh token (rotating it if asked)."""
        access, ttl = self.new_access_token()
        refresh = old_refresh
        if self.knobs["rotate_refresh_token"]:
            refresh = "mock-rt-" + secrets.token_urlsafe(24)
            self.refresh_valid.discard(old_refresh)
            self.refresh_valid.add(refresh)
            self.refresh_all.append(refresh)
        self.issued.append({"access_token": access, "refresh_token": refresh,
                            "expires_in": ttl})
        return self.token_answer(access, refresh, ttl, TOKEN_SCOPE)

    def issue_code(self, client_id, redirect_uri, scope, challenge=None):
        """A new one-time authorization code for /oauth/authorize (challenge:
        its PKCE S256 code_challenge, or None)."""
        code = "mock-code-" + secrets.token_urlsafe(18)
        self.codes[code] = {"client_id": client_id, "redirect_uri": redirect_uri,
                            "scope": scope, "used": False,
                            "expires": time.monotonic() + CODE_TTL_S,
                            "challenge": challenge, "verifier": None}
        return code

    def redeem_code(self, code, client_id, redirect_uri, verifier=None):
        """Token answer for an authorization code, or None (unknown, used,
        expired, another client's, another redirect_uri, or a code_verifier
        that does not match its code_challenge).  A good code is used up; the
        new refresh token joins the valid ones."""
        info = self.codes.get(code)
        if info is None or info["used"] or time.monotonic() >= info["expires"] \
                or info["client_id"] != client_id or info["redirect_uri"] != redirect_uri:
            return None
        if info["challenge"] is not None and not pkce_verifier_matches(verifier,
                                                                      info["challenge"]):
            return None
        info["used"] = True
        info["verifier"] = verifier
        access, ttl = self.new_access_token()
        refresh = "mock-rt-" + secrets.token_urlsafe(24)
        self.refresh_valid.add(refresh)
        self.refresh_all.append(refresh)
        self.issued.append({"access_token": access, "refresh_token": refresh,
                            "expires_in": ttl})
        return self.token_answer(access, refresh, ttl, info["scope"])

    def tokens_view(self):
        now = time.monotonic()
        valid_refresh = [r for r in self.refresh_all if r in self.refresh_valid]
        return {
            "client_id": self.args.client_id,
            "client_secret": self.args.client_secret,
            "refresh_token": valid_refresh[-1] if valid_refresh else None,
            "refresh_tokens": list(self.refresh_all),
            "valid_refresh_tokens": valid_refresh,
            "access_tokens": [i["access_token"] for i in self.issued],
            "valid_access_tokens": [i["access_token"] for i in self.issued
                                    if self.access.get(i["access_token"], 0) > now],
            "static_token": self.knobs["token"],
            "issued": [dict(i) for i in self.issued],
            "authorization_codes": [
                {"code": c, "client_id": i["client_id"], "redirect_uri": i["redirect_uri"],
                 "scope": i["scope"], "used": i["used"], "code_challenge": i["challenge"],
                 "code_verifier": i["verifier"]} for c, i in self.codes.items()],
        }

    def _make(self, acc_id):
        spec = self.pending.pop(acc_id, None)
        if spec is not None:
            detail, items = make_account(self.args.seed, spec[0], acc_id, spec[1],
                                         self.now_month, self.args.history_months)
            self.accounts[acc_id] = detail
            self.subs[acc_id] = items

    def has(self, acc_id):
        return acc_id in self.accounts or acc_id in self.pending

    def account(self, acc_id):
        """The detail object, or None."""
        self._make(acc_id)
        return self.accounts.get(acc_id)

    def sub_items(self, acc_id):
        self._make(acc_id)
        return self.subs.get(acc_id, [])

    def transactions(self, acc_id):
        """The account's transactions ordered by transaction_date then id
        (generated on first use; the list itself, not a copy), or None when
        there is no such account.  Accounts of the generated data set have
        transactions from their created_at on; added accounts start empty."""
        account = self.account(acc_id)
        if account is None:
            return None
        items = self.tx.get(acc_id)
        if items is None:
            index = self.index_of.get(acc_id)
            items = []
            if index is not None:
                subs = [s.get("account_number") for s in self.sub_items(acc_id)
                        if isinstance(s.get("account_number"), str)]
                busy = self.args.busy_tx if index == 0 and self.args.busy_tx else None
                items = make_transactions(self.args.seed, index, account, subs,
                                          self.started_vn, per_month=busy)
            self.tx[acc_id] = items
        return items

    def transaction_keys(self, acc_id, items):
        """The transaction_date of each of the account's items, for
        transactions_between's bisection; None when the list is not sorted
        by date (a hostile date added), so a scan decides instead."""
        cached = self.tx_keys.get(acc_id)
        if cached is not None and cached[0] is items and cached[1] == len(items):
            return cached[2]
        keys = [t.get("transaction_date") for t in items]
        if not all(isinstance(k, str) for k in keys) or keys != sorted(keys):
            keys = None
        self.tx_keys[acc_id] = (items, len(items), keys)
        return keys

    def all_transactions(self):
        """Every listed account's transactions, ordered by transaction_date
        then id (what /transactions answers without bank_account_id)."""
        out = []
        for acc_id in self.listed_ids():
            out.extend(self.transactions(acc_id) or ())
        out.sort(key=_tx_order)
        return out

    def foreign_transaction(self, acc_id, from_date, to_date, to_date_mode):
        """foreign_tx_items: the first transaction within the range of the
        first account after acc_id (in list order, wrapping round, at most
        FOREIGN_SCAN accounts) that has one; None if none has."""
        listed = self.listed_ids()
        pos = bisect.bisect_right(listed, acc_id)
        others = [i for i in (listed[pos:] + listed[:pos])[:FOREIGN_SCAN] if i != acc_id]
        for other in others:
            found = transactions_between(self.transactions(other) or (), from_date, to_date,
                                         to_date_mode)
            if found:
                return found[0]
        return None

    def add_transaction(self, fields):
        """Add a transaction dated now (Vietnam time) to an account: fields
        given replace the ones filled in (a new id and reference, 250,000 VND
        in, the balance carried on from the account's last transaction).
        Returns the new transaction."""
        if not isinstance(fields, dict):
            raise BadInput("add_transaction must be {\"bank_account_id\": id, ...}")
        acc_id = fields.get("bank_account_id")
        if isinstance(acc_id, bool) or not isinstance(acc_id, int):
            raise BadInput("add_transaction.bank_account_id must be an integer")
        items = self.transactions(acc_id)
        if items is None:
            raise BadInput("add_transaction: no account %d" % acc_id)
        account = self.account(acc_id)
        bank = account.get("bank")
        now = vn_seconds()
        tx_id = self.next_tx_id
        self.next_tx_id += 1
        amount_in = _money_cents(fields.get("amount_in", _money("250000.00")))
        amount_out = _money_cents(fields.get("amount_out", _money("0.00")))
        balance = _money_cents(items[-1].get("accumulated")) if items else 0
        filled = {
            "id": tx_id,
            "bank_account_id": acc_id,
            "bank_brand_name": bank.get("short_name") if isinstance(bank, dict) else None,
            "account_number": account.get("account_number"),
            "transaction_date": format_stamp(now),
            "amount_out": _money(_cents_text(amount_out)),
            "amount_in": _money(_cents_text(amount_in)),
            "accumulated": _money(_cents_text(balance + amount_in - amount_out)),
            "transaction_content": "KHACH HANG chuyen tien mua hang online",
            "reference_number": transaction_reference(900_000 + tx_id % 100_000, now, tx_id),
            "code": None,
            "sub_account": None,
        }
        filled.update(money_fields(fields))
        when = parse_stamp(filled.get("transaction_date"))
        if "reference_number" not in fields and when is not None:
            filled["reference_number"] = transaction_reference(900_000 + tx_id % 100_000,
                                                               when, tx_id)
        items.append(filled)
        if len(items) > 1 and _tx_order(items[-2]) > _tx_order(filled):
            items.sort(key=_tx_order)
        return filled

    def listed_ids(self):
        if self._listed is None:
            if self.hidden:
                self._listed = [i for i in self.order if i not in self.hidden]
            else:
                self._listed = self.order
        return self._listed

    def _changed(self):
        self._listed = None

    def add_account(self, obj):
        if not isinstance(obj, dict) or "id" not in obj:
            raise BadInput("an account object with an \"id\" is needed")
        acc_id = obj["id"]
        if isinstance(acc_id, bool) or not isinstance(acc_id, int):
            raise BadInput("\"id\" must be an integer")
        subs = obj.get("sub_accounts", [])
        if not isinstance(subs, list) or not all(
                isinstance(s, dict) and isinstance(s.get("id"), int) for s in subs):
            raise BadInput("\"sub_accounts\" must be a list of objects with an integer \"id\"")
        account = money_fields({k: v for k, v in obj.items() if k != "sub_accounts"})
        if self.has(acc_id):
            self.delete_account(acc_id)
        self.tx.pop(acc_id, None)
        self.accounts[acc_id] = account
        bisect.insort(self.order, acc_id)
        self.subs[acc_id] = []
        for s in subs:
            self.add_sub(acc_id, s)
        self._changed()

    def add_sub(self, acc_id, obj):
        if not isinstance(obj, dict) or isinstance(obj.get("id"), bool) \
                or not isinstance(obj.get("id"), int):
            raise BadInput("a sub-account object with an integer \"id\" is needed")
        self._make(acc_id)
        old = self.sub_index.get(obj["id"])
        if old is not None:
            self._make(old)
            self.subs[old] = [s for s in self.subs[old] if s["id"] != obj["id"]]
        self.subs[acc_id].append(money_fields(obj))
        self.sub_index[obj["id"]] = acc_id

    def delete_account(self, acc_id):
        self._make(acc_id)
        del self.accounts[acc_id]
        pos = bisect.bisect_left(self.order, acc_id)
        if pos < len(self.order) and self.order[pos] == acc_id:
            del self.order[pos]
        for s in self.subs.pop(acc_id, []):
            if self.sub_index.get(s["id"]) == acc_id:
                del self.sub_index[s["id"]]
        self.tx.pop(acc_id, None)
        self._changed()

    def patch_sub(self, sub_id, fields):
        """Merge fields into a sub-account (None: remove it). False when unknown."""
        acc_id = self.sub_index.get(sub_id)
        if acc_id is None:
            return False
        items = self.sub_items(acc_id)
        if fields is None:
            self.subs[acc_id] = [s for s in items if s["id"] != sub_id]
            del self.sub_index[sub_id]
        else:
            for item in items:
                if item["id"] == sub_id:
                    item.update(money_fields(fields))
        return True

    def data_view(self, styled=False):
        listed = self.listed_ids()
        listed_set = set(listed)
        hidden = [i for i in self.order if i not in listed_set]
        if not styled:
            return {
                "accounts": [self.account(i) for i in listed],
                "hidden_accounts": [self.account(i) for i in hidden],
                "sub_accounts": {str(i): self.sub_items(i) for i in self.order},
            }
        st = self.styler()
        return {
            "accounts": [st.account(self.account(i), list_item=True) for i in listed],
            "hidden_accounts": [st.account(self.account(i), list_item=True) for i in hidden],
            "sub_accounts": {str(i): [st.sub(s, self.account(i)) for s in self.sub_items(i)]
                             for i in self.order},
            "details": {str(i): st.account(self.account(i)) for i in self.order},
        }

    def set_config(self, conf):
        if not isinstance(conf, dict):
            raise BadInput("config must be a JSON object")
        new = dict(self.knobs)
        expire = False
        add_tx = None
        delete_tx = None
        for key, value in conf.items():
            if key in ("latency_ms", "drop_next", "truncate_next", "garbage_next",
                       "empty_200_next", "status_error_200_next", "refresh_latency_ms",
                       "latency_jitter_ms"):
                new[key] = _int_knob(value, key)
            elif key in CHOICE_KNOBS:
                new[key] = _choice_knob(value, key, CHOICE_KNOBS[key])
            elif key in ("page_numbers_as_strings", "endless_pages", "empty_200_for_bad_token",
                         "foreign_tx_items", "field_noise"):
                new[key] = _bool_knob(value, key)
            elif key == "token_ttl_s":
                new[key] = _int_knob(value, key, 1)
            elif key in ("rotate_refresh_token", "authorize_deny", "authorize_wrong_state",
                         "authorize_ignore_pkce"):
                new[key] = _bool_knob(value, key)
            elif key in ("refresh_fail", "code_exchange_fail"):
                new[key] = _refresh_fail_knob(value, key)
            elif key == "expire_tokens_now":
                expire = _bool_knob(value, key)
            elif key in ("max_page_size", "default_page_size"):
                new[key] = _int_knob(value, key, 1)
            elif key == "token":
                if not isinstance(value, str):
                    raise BadInput("token must be a string")
                new[key] = value
            elif key == "status_for_ids":
                if not isinstance(value, dict):
                    raise BadInput("status_for_ids must be an object {\"<id>\": status}")
                new[key] = {_id_of(k): _status_knob(v, "status_for_ids")
                            for k, v in value.items()}
            elif key == "status_for_paths":
                if not isinstance(value, dict):
                    raise BadInput("status_for_paths must be an object {\"/path\": status}")
                new[key] = {str(k): _status_knob(v, "status_for_paths")
                            for k, v in value.items()}
            elif key == "fail_next":
                if isinstance(value, int) and not isinstance(value, bool):
                    value = {"count": value}
                if not isinstance(value, dict):
                    raise BadInput("fail_next must be {\"count\": n, \"status\": s}")
                fail = {"count": _int_knob(value.get("count", 1), "fail_next.count"),
                        "status": _status_knob(value.get("status", 503), "fail_next.status")}
                if value.get("retry_after") is not None:
                    fail["retry_after"] = _int_knob(value["retry_after"],
                                                    "fail_next.retry_after")
                new[key] = fail
            elif key == "rate_limit":
                if isinstance(value, int) and not isinstance(value, bool):
                    value = {"next": value}
                if not isinstance(value, dict):
                    raise BadInput("rate_limit must be {\"next\": n, \"retry_after\": s, "
                                   "\"header\": name}")
                header = _choice_knob(value.get("header", "Retry-After"), "rate_limit.header",
                                      RATE_LIMIT_HEADER_STYLES)
                retry = value.get("retry_after", 1)
                if retry is not None:
                    retry = _int_knob(retry, "rate_limit.retry_after")
                new[key] = {"next": _int_knob(value.get("next", 1), "rate_limit.next"),
                            "retry_after": retry, "header": header}
            elif key == "rate_per_s":
                new[key] = _int_knob(value, "rate_per_s")
            elif key == "status_for_transactions":
                if isinstance(value, dict):
                    # "company": the requests without bank_account_id.
                    new[key] = {None if k == "company" else _id_of(k): _status_knob(v, key)
                                for k, v in value.items()}
                else:
                    new[key] = None if value is None else _status_knob(value, key)
            elif key == "delete_transactions":
                if not isinstance(value, list):
                    raise BadInput("delete_transactions must be a list of ids")
                delete_tx = {_id_of(t) for t in value}
            elif key == "add_transaction":
                if not isinstance(value, dict) or isinstance(
                        value.get("bank_account_id"), bool) or not isinstance(
                        value.get("bank_account_id"), int) \
                        or self.account(value["bank_account_id"]) is None:
                    raise BadInput("add_transaction must be {\"bank_account_id\": <an "
                                   "existing account's id>, ...fields}")
                add_tx = value
            elif key == "hide_from_list":
                if not isinstance(value, list):
                    raise BadInput("hide_from_list must be a list of ids")
                new[key] = [_id_of(v) for v in value]
            elif key in ("refuse_limit_over", "item_padding"):
                new[key] = _int_knob(value, key)
            elif key == "after_list_page":
                if value is not None:
                    if not isinstance(value, dict):
                        raise BadInput("after_list_page must be {\"page\": p, \"add\": "
                                       "[accounts], \"delete\": [ids]}")
                    _int_knob(value.get("page", 1), "after_list_page.page", 1)
                    if not isinstance(value.get("add", []), list) or \
                            not isinstance(value.get("delete", []), list):
                        raise BadInput("after_list_page.add and .delete must be lists")
                    if value.get("list", "accounts") not in ("accounts", "sub-accounts",
                                                              "transactions"):
                        raise BadInput("after_list_page.list must be accounts, "
                                       "sub-accounts or transactions")
                new[key] = value
            else:
                raise BadInput("unknown knob: %s" % key)
        if expire:
            self.access.clear()
            if "token" not in conf:
                new["token"] = None
        self.knobs = new
        self.hidden = set(new["hide_from_list"])
        self._changed()
        if delete_tx:
            for items in self.tx.values():
                items[:] = [t for t in items if t.get("id") not in delete_tx]
        if add_tx is not None:
            return {"transaction": self.add_transaction(add_tx)}
        return {}

    def take_counted(self, name):
        """The knob name (a dict with a "count") if it has uses left, one use
        taken; None otherwise.  The caller holds the lock."""
        knob = self.knobs[name]
        if knob["count"] <= 0:
            return None
        self.knobs[name] = dict(knob, count=knob["count"] - 1)
        return knob

    def public_knobs(self):
        k = dict(self.knobs)
        k["status_for_ids"] = {str(i): s for i, s in k["status_for_ids"].items()}
        return k


# ---------------------------------------------------------------- HTTP

def error_body(status, message=None):
    """An API error body (an ApiError: error_style applies where it is sent)."""
    code = ERROR_CODES.get(status, "server_error")
    if message is None:
        message = ERROR_MESSAGES.get(status, "The server could not handle the request.")
    return ApiError(status, code, message)


def _styled_flag(query):
    """The control views' styled=0/1 parameter."""
    text = (query.get("styled") or ["0"])[0].strip()
    if text not in ("0", "1", "true", "false", ""):
        raise BadInput("styled must be 0 or 1")
    return text in ("1", "true")


def parse_positive(query, name, default):
    values = query.get(name)
    if not values:
        return default
    text = values[0].strip()
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise BadInput("%s must be a positive integer" % name)
    return int(text)


def transactions_query(query):
    """(bank_account_id, from_date, to_date) of a transactions query; the id
    None when not given (every account), the dates "YYYY-MM-DD" or None.
    BadInput when a value is malformed."""
    values = query.get("bank_account_id")
    acc_id = None
    if values and values[0].strip():
        if not re.fullmatch(r"[0-9]+", values[0].strip()):
            raise BadInput("bank_account_id must be a positive integer")
        acc_id = int(values[0])
    dates = []
    for name in ("from_date", "to_date"):
        text = (query.get(name) or [""])[0].strip()
        if text and (not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)
                     or parse_stamp(text) is None):
            raise BadInput("%s must be a date YYYY-MM-DD" % name)
        dates.append(text or None)
    return acc_id, dates[0], dates[1]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sepay-mock/1"

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's
        # algorithm holds the body back until the client's delayed ACK
        # (~40 ms), which would dwarf the latency the tests ask for.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # ---- plumbing
    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("sepay-mock: %s - %s\n" % (self.address_string(), fmt % args))

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise BadInput("bad Content-Length")
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body, content_type="application/json; charset=utf-8",
              headers=None, truncate=False):
        if isinstance(body, ApiError):
            body, content_type = styled_error(getattr(self, "error_style", "documented"), body)
        elif not isinstance(body, bytes):
            body = to_json_bytes(body)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body[:len(body) // 2] if truncate else body)
        if truncate:
            self.close_connection = True
        return status

    def _dispatch(self):
        try:
            path = urlsplit(self.path).path
            if path.startswith("/_mock/") or path == "/_mock":
                self._control()
            elif path == TOKEN_PATH:
                self._oauth()
            elif path == AUTHORIZE_PATH:
                self._authorize()
            else:
                self._api()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _dispatch

    # ---- the control API
    def _control(self):
        state = self.server.state
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/")
        method = self.command
        try:
            raw = self._read_body()
            body = None
            if method in ("POST", "PATCH", "PUT") and raw.strip():
                try:
                    body = json.loads(raw.decode("utf-8"), parse_float=Decimal)
                except (ValueError, UnicodeDecodeError) as exc:
                    raise BadInput("body is not JSON: %s" % exc)
            m_acc = re.fullmatch(r"/_mock/accounts/([^/]+)", path)
            m_acc_subs = re.fullmatch(r"/_mock/accounts/([^/]+)/sub-accounts", path)
            m_sub = re.fullmatch(r"/_mock/sub-accounts/([^/]+)", path)
            if path == "/_mock/requests" and method == "GET":
                with state.lock:
                    log = list(state.log)
                reply = {"total": len(log), "log": log}
            elif path == "/_mock/tokens" and method == "GET":
                with state.lock:
                    reply = state.tokens_view()
            elif path == "/_mock/reset" and method == "POST":
                state.reset()
                reply = {"ok": True}
            elif path == "/_mock/data" and method == "GET":
                styled = _styled_flag(parse_qs(parts.query, keep_blank_values=True))
                with state.lock:
                    reply = to_json_bytes(state.data_view(styled))
            elif path == "/_mock/foreign_items" and method == "GET":
                with state.lock:
                    items = [dict(i) for i in state.foreign_sent]
                reply = {"total": len(items), "items": items}
            elif path == "/_mock/config" and method == "GET":
                with state.lock:
                    reply = state.public_knobs()
            elif path == "/_mock/config" and method == "POST":
                with state.lock:
                    done = state.set_config(body if body is not None else {})
                    reply = to_json_bytes(dict({"ok": True}, **done))
            elif path == "/_mock/transactions" and method == "GET":
                query = parse_qs(parts.query, keep_blank_values=True)
                styled = _styled_flag(query)
                acc_id, from_date, to_date = transactions_query(query)
                with state.lock:
                    if acc_id is None:
                        items = state.all_transactions()
                    else:
                        items = state.transactions(acc_id)
                    if items is None:
                        return self._send(404, {"ok": False, "error": "no such account"})
                    found = transactions_between(items, from_date, to_date)
                    if styled:
                        st = state.styler()
                        found = [st.tx(t) for t in found]
                    reply = to_json_bytes({"total": len(found), "data": found})
            elif path == "/_mock/accounts" and method == "POST":
                with state.lock:
                    state.add_account(body)
                reply = {"ok": True}
            elif m_acc and method in ("GET", "PATCH", "DELETE"):
                acc_id = _id_of(m_acc.group(1))
                with state.lock:
                    account = state.account(acc_id)
                    if account is None:
                        return self._send(404, {"ok": False, "error": "no such account"})
                    if method == "GET":
                        reply = to_json_bytes(account)
                    elif method == "PATCH":
                        if not isinstance(body, dict):
                            raise BadInput("PATCH needs a JSON object")
                        if "id" in body and body["id"] != acc_id:
                            raise BadInput("the id cannot be changed")
                        account.update(money_fields(body))
                        reply = {"ok": True}
                    else:
                        state.delete_account(acc_id)
                        reply = {"ok": True}
            elif m_acc_subs and method == "POST":
                acc_id = _id_of(m_acc_subs.group(1))
                with state.lock:
                    if not state.has(acc_id):
                        return self._send(404, {"ok": False, "error": "no such account"})
                    state.add_sub(acc_id, body)
                reply = {"ok": True}
            elif m_sub and method in ("PATCH", "DELETE"):
                sub_id = _id_of(m_sub.group(1))
                if method == "PATCH" and not isinstance(body, dict):
                    raise BadInput("PATCH needs a JSON object")
                if method == "PATCH" and "id" in body and body["id"] != sub_id:
                    raise BadInput("the id cannot be changed")
                with state.lock:
                    found = state.patch_sub(sub_id, body if method == "PATCH" else None)
                if not found:
                    return self._send(404, {"ok": False, "error": "no such sub-account"})
                reply = {"ok": True}
            else:
                return self._send(404, {"ok": False, "error": "no such control endpoint: %s %s"
                                        % (method, path)})
        except BadInput as exc:
            return self._send(400, {"ok": False, "error": str(exc)})
        return self._send(200, reply)

    # ---- the OAuth2 token endpoint
    def _logged(self, path, query, answer):
        """Logs the request (never its body) before answer(state) gives its
        status, and the status after it."""
        state = self.server.state
        entry = {"method": self.command, "path": path, "query": query, "status": 0}
        # One request at a time per handler: the answer marks its own entry.
        self.log_entry = entry
        with state.lock:
            entry["t"] = round(time.monotonic() - state.t0, 6)
            state.log.append(entry)
        try:
            status = answer(state)
        except (BrokenPipeError, ConnectionResetError):
            status = 0
            self.close_connection = True
        with state.lock:
            entry["status"] = status

    def _oauth(self):
        """POST /oauth/token."""
        self._logged(TOKEN_PATH, "", self._oauth_answer)

    def _oauth_error(self, status, error, description=None, headers=None):
        body = {"error": error}
        if description is not None:
            body["error_description"] = description
        all_headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        all_headers.update(headers or {})
        return self._send(status, body, headers=all_headers)

    def _oauth_answer(self, state):
        with state.lock:
            latency = state.knobs["refresh_latency_ms"]
        length = self.headers.get("Content-Length")
        raw = b""
        too_big = False
        if length:
            try:
                n = int(length)
            except ValueError:
                n = -1
            if n < 0 or n > MAX_FORM_BYTES:
                too_big = True
                self.close_connection = True
            elif n:
                raw = self.rfile.read(n)
        if latency > 0:
            time.sleep(latency / 1000.0)
        with state.lock:
            fail = state.take_counted("refresh_fail")
        if fail is not None:
            return self._oauth_error(fail["status"], fail["error"],
                                     "Injected failure of the token endpoint.")
        if self.command != "POST":
            return self._oauth_error(405, "invalid_request", "Only POST is supported.",
                                     headers={"Allow": "POST"})
        if too_big:
            return self._oauth_error(400, "invalid_request", "Bad or too large body.")
        ctype = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return self._oauth_error(400, "invalid_request", "The body must be "
                                     "application/x-www-form-urlencoded.")
        try:
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return self._oauth_error(400, "invalid_request", "The body is not a form.")
        repeated = sorted(k for k, v in form.items() if len(v) > 1)
        if repeated:
            return self._oauth_error(400, "invalid_request", "Repeated parameter: %s."
                                     % ", ".join(repeated))
        form = {k: v[0] for k, v in form.items()}
        grant = form.get("grant_type", "")
        if not grant:
            return self._oauth_error(400, "invalid_request", "grant_type is missing.")
        if grant not in ("refresh_token", "authorization_code"):
            return self._oauth_error(400, "unsupported_grant_type",
                                     "Only the authorization_code and refresh_token grants "
                                     "are supported.")
        if grant == "authorization_code":
            with state.lock:
                fail = state.take_counted("code_exchange_fail")
            if fail is not None:
                return self._oauth_error(fail["status"], fail["error"],
                                         "Injected failure of the code exchange.")
        client_id = form.get("client_id", "")
        client_secret = form.get("client_secret", "")
        args = state.args
        if client_id != args.client_id or client_secret != args.client_secret:
            return self._oauth_error(401, "invalid_client", "Client authentication failed.")
        if grant == "authorization_code":
            return self._exchange_code(state, form)
        refresh = form.get("refresh_token", "")
        if not refresh:
            return self._oauth_error(400, "invalid_request", "refresh_token is missing.")
        with state.lock:
            if refresh not in state.refresh_valid:
                answer = None
            else:
                answer = state.issue_tokens(refresh)
        if answer is None:
            return self._oauth_error(400, "invalid_grant", "The refresh token is invalid, "
                                     "expired or revoked.")
        return self._send(200, answer, headers={"Cache-Control": "no-store",
                                                "Pragma": "no-cache"})

    def _exchange_code(self, state, form):
        """The authorization_code grant (client already checked)."""
        code = form.get("code", "")
        redirect_uri = form.get("redirect_uri", "")
        if not code:
            return self._oauth_error(400, "invalid_request", "code is missing.")
        if not redirect_uri:
            return self._oauth_error(400, "invalid_request", "redirect_uri is missing.")
        with state.lock:
            answer = state.redeem_code(code, form.get("client_id", ""), redirect_uri,
                                       form.get("code_verifier"))
        if answer is None:
            return self._oauth_error(400, "invalid_grant", "The authorization code is "
                                     "invalid, expired, already used, was issued for "
                                     "another redirect_uri, or the code_verifier does not "
                                     "match its code_challenge.")
        return self._send(200, answer, headers={"Cache-Control": "no-store",
                                                "Pragma": "no-cache"})

    # ---- the OAuth2 authorization endpoint
    def _authorize(self):
        """GET /oauth/authorize.  Logged without its query (it holds the state)."""
        self._logged(AUTHORIZE_PATH, "", self._authorize_answer)

    def _authorize_page(self, status, message, headers=None):
        body = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>SePay (mock): "
                "%d</title></head>\n<body><h1>Authorization failed</h1><p>%s</p></body>"
                "</html>\n" % (status, html.escape(message))).encode("utf-8")
        return self._send(status, body, content_type="text/html; charset=utf-8",
                          headers=headers)

    def _authorize_answer(self, state):
        try:
            self._read_body()
        except BadInput:
            pass
        if self.command not in ("GET", "HEAD"):
            return self._authorize_page(405, "Only GET is supported.",
                                        headers={"Allow": "GET, HEAD"})
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        repeated = sorted(k for k, v in query.items() if len(v) > 1)
        if repeated:
            return self._authorize_page(400, "Repeated parameter: %s." % ", ".join(repeated))
        q = {k: v[0] for k, v in query.items()}
        client_id = q.get("client_id", "")
        if client_id != state.args.client_id:
            return self._authorize_page(400, "Unknown client_id.")
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri_allowed(redirect_uri):
            return self._authorize_page(400, "redirect_uri must be an http(s) URL on a "
                                        "loopback address, without a fragment.")
        given_state = q.get("state")

        def back(params, answer_state=given_state):
            if answer_state is not None:
                params.append(("state", answer_state))
            sep = "&" if "?" in redirect_uri else "?"
            return self._send(302, b"", content_type="text/plain; charset=utf-8",
                              headers={"Location": redirect_uri + sep + urlencode(params),
                                       "Cache-Control": "no-store"})

        if q.get("response_type") != "code":
            return back([("error", "unsupported_response_type"),
                         ("error_description", "Only response_type=code is supported.")])
        scopes = q.get("scope", "").split() or list(KNOWN_SCOPES)
        unknown = [x for x in scopes if x not in KNOWN_SCOPES]
        if unknown:
            return back([("error", "invalid_scope"),
                         ("error_description", "Unknown scope: %s." % " ".join(unknown))])
        with state.lock:
            ignore_pkce = state.knobs["authorize_ignore_pkce"]
        challenge = None if ignore_pkce else q.get("code_challenge")
        method = None if ignore_pkce else q.get("code_challenge_method")
        pkce_error = pkce_request_error(challenge, method)
        if pkce_error:
            return back([("error", "invalid_request"), ("error_description", pkce_error)])
        with state.lock:
            deny = state.knobs["authorize_deny"]
            wrong_state = state.knobs["authorize_wrong_state"]
            code = None if deny else state.issue_code(client_id, redirect_uri,
                                                      " ".join(scopes), challenge)
        if deny:
            return back([("error", "access_denied"),
                         ("error_description", "The user denied the request.")])
        if wrong_state:
            return back([("code", code)], answer_state="wrong-" + secrets.token_hex(8))
        return back([("code", code)])

    # ---- the API
    def _api(self):
        parts = urlsplit(self.path)
        self._logged(parts.path, parts.query, lambda state: self._api_answer(state, parts))

    def _fault(self, state):
        """A fault to inject now (consuming it), or None. Called with the lock held."""
        k = state.knobs
        if k["drop_next"] > 0:
            k["drop_next"] -= 1
            return ("drop",)
        rl = k["rate_limit"]
        if rl["next"] > 0:
            k["rate_limit"] = dict(rl, next=rl["next"] - 1)
            return ("rate_limit", rl)
        if k["rate_per_s"] > 0 and k["rate_window"] == "fixed":
            second = math.floor(time.time())
            counted = state.rate_second[1] if state.rate_second[0] == second else 0
            if counted >= k["rate_per_s"]:
                return ("rate_limit", {"retry_after": 1,
                                       "header": k["rate_limit_header_style"]})
            state.rate_second = (second, counted + 1)
        elif k["rate_per_s"] > 0:
            # A sliding one-second window of the requests let through.
            now = time.monotonic()
            window = state.rate_window
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= k["rate_per_s"]:
                return ("rate_limit", {"retry_after": 1,
                                       "header": k["rate_limit_header_style"]})
            window.append(now)
        fail = state.take_counted("fail_next")
        if fail is not None:
            return ("fail", fail)
        # The counted faults of one kind each, "<kind>_next", in this order.
        for kind in ("truncate", "garbage", "empty_200", "status_error_200"):
            if k[kind + "_next"] > 0:
                k[kind + "_next"] -= 1
                return (kind,)
        return None

    def _api_answer(self, state, parts):
        with state.lock:
            latency = state.knobs["latency_ms"]
            if state.knobs["latency_jitter_ms"] > 0:
                latency += random.uniform(0, state.knobs["latency_jitter_ms"])
        try:
            self._read_body()
        except BadInput:
            pass
        if latency > 0:
            time.sleep(latency / 1000.0)
        auth = self.headers.get("Authorization", "")
        scheme, _, given = auth.partition(" ")
        with state.lock:
            fault = self._fault(state)
            if fault is not None:
                # A truncated or garbage answer is logged as a 200: the
                # entry says which fault it carried.
                self.log_entry["fault"] = fault[0]
            authorized = scheme.lower() == "bearer" and state.token_valid(given.strip())
            path_status = state.knobs["status_for_paths"].get(parts.path)
            self.error_style = state.knobs["error_style"]
            empty_for_bad_token = state.knobs["empty_200_for_bad_token"]
            rate_limit = state.knobs["rate_per_s"] or 3
        truncate = False
        if fault is not None:
            kind = fault[0]
            if kind == "drop":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return 0
            if kind == "rate_limit":
                rl = fault[1]
                headers = rate_limit_headers(rl["header"], rl.get("retry_after"), rate_limit)
                return self._send(429, error_body(429), headers=headers)
            if kind == "fail":
                fail = fault[1]
                headers = {}
                if "retry_after" in fail:
                    headers["Retry-After"] = str(fail["retry_after"])
                return self._send(fail["status"], error_body(fail["status"]), headers=headers)
            if kind == "garbage":
                return self._send(200, b"<html><body>502 Bad Gateway (not JSON)</body></html>\n",
                                  content_type="text/html; charset=utf-8")
            if kind == "empty_200":
                return self._send(200, b"")
            if kind == "status_error_200":
                return self._send(200, {"status": "error", "error_code": "server_error",
                                        "message": "The server could not handle the "
                                                   "request."})
            truncate = True

        if self.command not in ("GET", "HEAD"):
            return self._send(405, error_body(405, "Only GET is supported."),
                              truncate=truncate)
        if not authorized:
            if empty_for_bad_token:  # the legacy userapi's way
                return self._send(200, b"", truncate=truncate)
            return self._send(401, error_body(401), truncate=truncate)
        if path_status is not None:
            return self._send(path_status, error_body(path_status), truncate=truncate)

        path = parts.path
        if not path.startswith(API_PREFIX + "/"):
            return self._send(404, error_body(404, "Unknown endpoint."), truncate=truncate)
        rest = path[len(API_PREFIX):]
        query = parse_qs(parts.query, keep_blank_values=True)
        try:
            if rest == "/transactions":
                status, body = self._transactions(state, query)
            elif rest == "/bank-accounts":
                status, body = self._list_accounts(state, query)
            else:
                m = re.fullmatch(r"/bank-accounts/([^/]+)(/sub-accounts)?", rest)
                if m is None:
                    status, body = 404, error_body(404, "Unknown endpoint.")
                else:
                    status, body = self._one_account(state, m.group(1), bool(m.group(2)),
                                                     query)
        except BadInput as exc:
            status, body = 400, error_body(400, str(exc))
        return self._send(status, body, truncate=truncate)

    @staticmethod
    def _page(state, query, items_count):
        """(page, per_page, last_page, start, end) for a list request.  With
        endless_pages every page from the last on is the last per_page items."""
        page = parse_positive(query, "page", 1)
        limit = parse_positive(query, "limit", state.knobs["default_page_size"])
        refuse = state.knobs["refuse_limit_over"]
        if refuse and limit > refuse:
            raise BadInput("limit %d is more than %d" % (limit, refuse))
        per_page = min(limit, state.knobs["max_page_size"])
        last_page = max(1, -(-items_count // per_page))
        if state.knobs["endless_pages"] and page >= last_page:
            return page, per_page, last_page, max(0, items_count - per_page), items_count
        start = min((page - 1) * per_page, items_count)
        end = min(start + per_page, items_count)
        return page, per_page, last_page, start, end

    def _list_accounts(self, state, query):
        with state.lock:
            listed = state.listed_ids()
            page, per_page, last_page, start, end = self._page(state, query, len(listed))
            st = state.styler()
            data = [st.account(state.account(acc_id), list_item=True)
                    for acc_id in listed[start:end]]
            body = to_json_bytes(envelope(state.knobs, data, len(listed), per_page, page,
                                          last_page))
            self._after_page(state, "accounts", page)
        return 200, body

    @staticmethod
    def _after_page(state, kind, page):
        """The after_list_page hook, once, after page `page` of a `kind` list.
        The caller holds the lock."""
        hook = state.knobs["after_list_page"]
        if hook is None or hook.get("list", "accounts") != kind or \
                int(hook.get("page", 1)) != page:
            return
        state.knobs["after_list_page"] = None
        if kind == "accounts":
            for obj in hook.get("add", []):
                state.add_account(obj)
            for acc_id in hook.get("delete", []):
                if state.has(_id_of(acc_id)):
                    state.delete_account(_id_of(acc_id))
        elif kind == "sub-accounts":
            for sub_id in hook.get("delete", []):
                state.patch_sub(_id_of(sub_id), None)
        else:
            for fields in hook.get("add", []):
                state.add_transaction(fields)
            gone = {_id_of(t) for t in hook.get("delete", [])}
            for items in state.tx.values():
                items[:] = [t for t in items if t.get("id") not in gone]

    def _transactions(self, state, query):
        """GET /transactions?bank_account_id=&from_date=&to_date=&page=&limit="""
        with state.lock:
            forced = state.knobs["status_for_transactions"]
        acc_id, from_date, to_date = transactions_query(query)
        if isinstance(forced, dict):
            forced = forced.get(acc_id)
        if forced is not None:
            return forced, error_body(forced)
        with state.lock:
            knobs = state.knobs
            if acc_id is None:
                items = state.all_transactions()
            else:
                forced = knobs["status_for_ids"].get(acc_id)
                if forced is not None:
                    return forced, error_body(forced)
                items = state.transactions(acc_id)
                if items is None:
                    return 404, error_body(404, "The bank account does not exist.")
            keys = state.transaction_keys(acc_id, items) if acc_id is not None else None
            found = transactions_between(items, from_date, to_date, knobs["to_date_mode"],
                                         keys)
            page, per_page, last_page, start, end = self._page(state, query, len(found))
            foreign = None
            if acc_id is not None and knobs["foreign_tx_items"]:
                foreign = state.foreign_transaction(acc_id, from_date, to_date,
                                                    knobs["to_date_mode"])
            if foreign is not None:
                # In the answer's order, but on its first page.
                keys = [_tx_order(t) for t in found]
                at = min(bisect.bisect_right(keys, _tx_order(foreign)), per_page - 1)
                found = found[:at] + [foreign] + found[at:]
                page, per_page, last_page, start, end = self._page(state, query, len(found))
                if start <= at < end:
                    if len(state.foreign_sent) >= FOREIGN_SENT_KEPT:
                        del state.foreign_sent[0]
                    state.foreign_sent.append({
                        "bank_account_id": acc_id, "from_date": from_date,
                        "to_date": to_date, "page": page, "id": foreign.get("id"),
                        "foreign_account_id": foreign.get("bank_account_id")})
            st = state.styler()
            data = [st.tx(t) for t in found[start:end]]
            body = to_json_bytes(envelope(knobs, data, len(found), per_page, page, last_page))
            self._after_page(state, "transactions", page)
            return 200, body

    def _one_account(self, state, id_text, sub_accounts, query):
        if not re.fullmatch(r"[0-9]+", id_text):
            return 404, error_body(404, "The bank account does not exist.")
        acc_id = int(id_text)
        with state.lock:
            forced = state.knobs["status_for_ids"].get(acc_id)
            if forced is not None:
                return forced, error_body(forced)
            account = state.account(acc_id)
            if account is None:
                return 404, error_body(404, "The bank account does not exist.")
            st = state.styler()
            if not sub_accounts:
                return 200, to_json_bytes({"status": "success", "data": st.account(account)})
            items = state.sub_items(acc_id)
            page, per_page, last_page, start, end = self._page(state, query, len(items))
            data = [st.sub(s, account) for s in items[start:end]]
            body = to_json_bytes(envelope(state.knobs, data, len(items), per_page, page,
                                          last_page))
            self._after_page(state, "sub-accounts", page)
            return 200, body


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


class Server6(Server):
    address_family = socket.AF_INET6


# ---------------------------------------------------------------- main

def write_port_file(path, port):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".sepay-mock-port.", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


PKCE_CHALLENGE_RE = re.compile(r"[A-Za-z0-9_-]{43}")
PKCE_VERIFIER_RE = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def pkce_s256(verifier):
    """RFC 7636's S256 challenge of a verifier: BASE64URL(SHA256(ASCII(verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pkce_request_error(challenge, method):
    """Why an authorize request's PKCE parameters are refused, or None."""
    if challenge is None and method is None:
        return None
    if challenge is None:
        return "code_challenge_method without code_challenge."
    if method != "S256":
        return "code_challenge_method must be S256 (plain is not supported)."
    if not PKCE_CHALLENGE_RE.fullmatch(challenge):
        return "code_challenge must be 43 base64url characters."
    return None


def pkce_verifier_matches(verifier, challenge):
    """Whether verifier is RFC 7636-shaped and its S256 challenge is challenge."""
    if not verifier or not PKCE_VERIFIER_RE.fullmatch(verifier):
        return False
    return hmac.compare_digest(pkce_s256(verifier), challenge)


def redirect_uri_allowed(uri):
    """Whether /oauth/authorize may send a browser to uri: an absolute http(s)
    URL on a loopback address, without a fragment (the mock is no open redirect)."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        _ = parts.port  # raises on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(host) and not parts.fragment \
        and "#" not in uri and loopback_host(host) is not None


def loopback_host(host):
    """The address to bind for host, or None when it is not loopback."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return str(addr) if addr.is_loopback else None


def main(argv=None):
    p = argparse.ArgumentParser(description="Mock of SePay's Bank Accounts API (loopback only).")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port, 0 for any free one (0)")
    p.add_argument("--port-file", help="write the bound port to this file (atomically)")
    p.add_argument("--accounts", type=int, default=20, help="number of accounts (20)")
    p.add_argument("--seed", type=int, default=1, help="data set seed (1)")
    p.add_argument("--max-sub-accounts", type=int, default=5,
                   help="sub-accounts per account at most (5)")
    p.add_argument("--token", default="demo-token", help="accepted bearer token (demo-token)")
    p.add_argument("--client-id", default="demo-client",
                   help="OAuth2 client id for /oauth/token (demo-client)")
    p.add_argument("--client-secret", default="demo-secret",
                   help="OAuth2 client secret for /oauth/token (demo-secret)")
    p.add_argument("--refresh-token", default="demo-refresh",
                   help="the refresh token valid at start (demo-refresh)")
    p.add_argument("--max-page-size", type=int, default=100,
                   help="largest page served (100)")
    p.add_argument("--default-page-size", type=int, default=20,
                   help="page size without limit= (20)")
    p.add_argument("--latency-ms", type=int, default=0, help="delay per API request (0)")
    p.add_argument("--tls-cert", metavar="PEM",
                   help="serve https with this certificate (and --tls-key)")
    p.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    p.add_argument("--busy-tx", type=int, default=0, metavar="N",
                   help="the first account (19) takes N transactions every month of its "
                        "history, a busy shop's (0: a handful, like the others)")
    p.add_argument("--history-months", type=int, default=None, metavar="N",
                   help="every account's created_at exactly N months before this month "
                        "(default: %d-%d months before, account 19 on 2025-02-12)"
                        % CREATED_MONTHS_BACK)
    p.add_argument("--quiet", action="store_true", help="no per-request logging (default)")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = p.parse_args(argv)

    bind = loopback_host(args.host)
    if bind is None:
        p.exit(2, "sepay-mock: refusing --host %s: only loopback addresses "
                  "(127.0.0.0/8, ::1, localhost) are allowed\n" % args.host)
    for name in ("accounts", "latency_ms"):
        if getattr(args, name) < 0:
            p.exit(2, "sepay-mock: --%s must be >= 0\n" % name.replace("_", "-"))
    for name in ("max_page_size", "default_page_size"):
        if getattr(args, name) < 1:
            p.exit(2, "sepay-mock: --%s must be >= 1\n" % name.replace("_", "-"))
    for name in ("client_id", "client_secret", "refresh_token"):
        if not getattr(args, name):
            p.exit(2, "sepay-mock: --%s must not be empty\n" % name.replace("_", "-"))
    if not 0 <= args.port <= 65535:
        p.exit(2, "sepay-mock: --port must be 0-65535\n")
    if args.history_months is not None and not 0 <= args.history_months <= MAX_HISTORY_MONTHS:
        p.exit(2, "sepay-mock: --history-months must be 0-%d\n" % MAX_HISTORY_MONTHS)

    state = State(args)
    cls = Server6 if ":" in bind else Server
    try:
        server = cls((bind, args.port), Handler)
    except OSError as exc:
        p.exit(1, "sepay-mock: cannot listen on %s port %d: %s\n" % (bind, args.port, exc))
    server.state = state
    server.verbose = args.verbose and not args.quiet
    port = server.server_address[1]
    scheme = "http"
    if args.tls_cert:
        # https, for a client's TLS path (what OpenSSL keeps of a token
        # answer, certificate checks): every connection's handshake is made
        # where it is accepted, one after another, enough for tests.
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"


    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    host_text = "[%s]" % bind if ":" in bind else bind
    print("sepay-mock listening on %s://%s:%d%s" % (scheme, host_text, port, API_PREFIX),
          flush=True)
    if args.port_file:
        write_port_file(args.port_file, port)
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
