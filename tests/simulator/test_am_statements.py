"""Account Management statements in the simulator (reference §3.1, §3.3), through a small reference client.

The client is test_oauth2's RefClient (reference §1.4 from the protocol text, sharing no code with the
simulator or ibkr_pipelines.client) asking for the AM scopes, plus a few lines of requests here. The
PDFs are read back by a tiny parser of this module (cross-reference table, stream lengths, text), not by
the simulator's writer. Expected figures come from the world and its ledger NAV.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import json
import math
import re
import time
from typing import Any, Callable

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ibkr_pipelines.simulator import OAuth2Client, Simulator
from ibkr_pipelines.simulator.am_downtime import BANKING, REPORTS
from ibkr_pipelines.simulator.am_limits import AmLimiter, Rate
from ibkr_pipelines.simulator.api import USER_NAME
from ibkr_pipelines.simulator.clock import NEW_YORK

from .conftest import TODAY
from .test_oauth2 import CLIENT_ID, KID, RefClient

AM = "/gw/api/v1"
READ_WRITE = "statements.read statements.write"
FUNDED = datetime.date(2024, 1, 2)  # the world's first day: every listed account's first deposit or transfer


def loose_limits() -> AmLimiter:
    """AM limits no test reaches unless it is about them."""
    return AmLimiter(Rate(100_000, 1.0), Rate(100_000, 60.0))


# -- the reference client's AM side --
class AmClient:
    """An access token with chosen scopes (reference §1.4 steps 1-3), then plain AM calls (§3.3)."""

    def __init__(self, ref: RefClient, scope: str = READ_WRITE) -> None:
        self.ref = ref
        r = ref.token_request(scope=scope)
        assert r.status_code == 200, r.text
        self.token = r.json()["access_token"]

    def available(self, account: str | None) -> requests.Response:
        """GET /statements/available?accountId=..."""
        params = {} if account is None else {"accountId": account}
        return self.ref.http.get(self.ref.root + AM + "/statements/available", params=params,
                                 headers={"Authorization": f"Bearer {self.token}"})

    def statement(self, body: Any = None, *, data: bytes | str | None = None,
                  content_type: str = "application/json") -> requests.Response:
        """POST /statements with a JSON body (or raw ``data`` of ``content_type``)."""
        raw = json.dumps(body).encode() if data is None else data
        return self.ref.http.post(self.ref.root + AM + "/statements", data=raw,
                                  headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type})

    def document(self, body: dict[str, Any]) -> bytes:
        """The decoded (and gunzipped) document of a 200 answer."""
        r = self.statement(body)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        raw = base64.b64decode(data["value"])
        return gzip.decompress(raw) if data["gzip"] else raw


def _problem(r: requests.Response, status: int) -> dict[str, Any]:
    """The body of an RFC 9457 problem+json answer with ``status`` (reference §3.1)."""
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


# -- a tiny PDF reader: enough to say a reader can open the file, and to get its text back --
def pdf_text(pdf: bytes) -> list[str]:
    """The text lines of a PDF, after checking its header, cross-reference table, trailer, streams and pages."""
    assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF")
    start = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", pdf).group(1))  # type: ignore[union-attr]
    assert pdf[start:].startswith(b"xref")
    head = re.match(rb"xref\s+0 (\d+)\s+", pdf[start:])
    assert head is not None
    size = int(head.group(1))
    table = pdf[start + head.end(): start + head.end() + 20 * size]
    objects: dict[int, bytes] = {}
    for number in range(1, size):
        entry = table[20 * number: 20 * number + 20]
        assert entry.endswith(b" n \n") or entry.endswith(b" n\r\n"), entry
        offset = int(entry[:10])
        assert pdf[offset:].startswith(f"{number} 0 obj".encode()), number
        objects[number] = pdf[offset: pdf.index(b"endobj", offset)]
    trailer = pdf[start + head.end() + 20 * size:]
    assert f"/Size {size}".encode() in trailer
    root = int(re.search(rb"/Root (\d+) 0 R", trailer).group(1))  # type: ignore[union-attr]
    assert b"/Type /Catalog" in objects[root]
    pages = [n for n, body in objects.items() if re.search(rb"/Type /Page\b(?!s)", body)]
    assert f"/Count {len(pages)}".encode() in b"".join(objects.values())
    lines: list[str] = []
    for n in pages:
        content = int(re.search(rb"/Contents (\d+) 0 R", objects[n]).group(1))  # type: ignore[union-attr]
        body = objects[content]
        length = int(re.search(rb"/Length (\d+)", body).group(1))  # type: ignore[union-attr]
        stream = body[body.index(b"stream\n") + 7:]
        assert stream[length:].startswith(b"\nendstream"), "the stream /Length is wrong"
        for text in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", stream[:length]):
            lines.append(re.sub(rb"\\(.)", rb"\1", text).decode("cp1252"))
    return lines


# -- expected figures, from the world --
def money(amount: float, currency: str) -> str:
    """Amounts as the statement prints them (thousands separators, two decimals, the currency)."""
    return f"{round(amount, 2) + 0.0:,.2f} {currency}"


def expected(sim: Simulator, account: str, start: datetime.date, end: datetime.date) -> dict[str, str]:
    """Starting and ending NAV (the ledger's), deposits, transfers and dividends in base over [start, end]."""
    world = sim.world
    base = world.account(account).currency  # type: ignore[union-attr]
    flows = {"deposit": 0.0, "transfer": 0.0, "dividend": 0.0}
    for ev in world.cash_events_for(account):
        if start <= ev.date <= end and ev.kind in flows:
            flows[ev.kind] += ev.amount * world.fx_rate(ev.currency, base, ev.date)
    before = start - datetime.timedelta(days=1)
    starting = 0.0 if before < FUNDED else sim.views.nav_base(account, before)
    return {"Starting NAV": money(starting, base), "Ending NAV": money(sim.views.nav_base(account, end), base),
            "Deposits and withdrawals": money(flows["deposit"], base),
            "Internal transfers": money(flows["transfer"], base), "Dividends": money(flows["dividend"], base)}


def assert_figures(lines: list[str], want: dict[str, str]) -> None:
    """Every expected "Title: value" line is in the document."""
    for title, value in want.items():
        assert f"{title}: {value}" in lines, (title, value, lines)


# -- fixtures --
@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    """The client's key and a stranger's."""
    return {n: rsa.generate_private_key(public_exponent=65537, key_size=2048) for n in ("client", "other")}


@pytest.fixture
def am_sim(make_sim: Callable[..., Simulator], keys: dict[str, rsa.RSAPrivateKey]) -> Simulator:
    """api.ibkr.com with the client registered (its public key under KID), clock at TODAY's close; AM limits
    loose (as conftest.LENIENT for the Client Portal) except in the tests about them, which put IBKR's back."""
    pem = keys["client"].public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    sim = make_sim(oauth2_clients=(OAuth2Client(CLIENT_ID, KID, pem, USER_NAME),))
    sim.am.limiter = loose_limits()
    return sim


@pytest.fixture
def ref(am_sim: Simulator, keys: dict[str, rsa.RSAPrivateKey], http: requests.Session) -> RefClient:
    """The reference OAuth 2.0 client."""
    return RefClient(am_sim.root_url, keys["client"], http)


@pytest.fixture
def am(ref: RefClient) -> AmClient:
    """An AM client holding statements.read and statements.write."""
    return AmClient(ref)


def _at(sim: Simulator, day: datetime.date, hh: int, mm: int = 0, ss: int = 0) -> None:
    """Move the simulated clock to ``day`` at hh:mm:ss New York time."""
    sim.set_today(day)
    sim.set_time_of_day(datetime.time(hh, mm, ss))


# -- GET /statements/available --
def test_available_lists_follow_the_world_and_the_clock(am: AmClient, am_sim: Simulator) -> None:
    r = am.available("U7000011")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["dataType"] == "String"  # reference §3.3 example envelope
    value = body["data"]["value"]
    first = min(ev.date for ev in am_sim.world.cash_events_for("U7000011"))
    assert first == FUNDED
    # TODAY's close (4 pm ET): yesterday's statement is the newest ready one.
    assert value["daily"] == {"startDate": first.strftime("%Y%m%d"),
                              "endDate": (TODAY - datetime.timedelta(days=1)).strftime("%Y%m%d")}
    months = [f"{y}{m:02d}" for y in (2024, 2025, 2026) for m in range(1, 13)]
    assert value["monthly"] == months[:months.index("202610") + 1]  # November 2026 is not over
    assert value["annual"] == ["2024", "2025"]
    assert am.available("F7000001").json()["data"]["value"] == value  # every account was funded that day


def test_two_years_plus_year_to_date(am: AmClient, am_sim: Simulator) -> None:
    am_sim.set_today(datetime.date(2027, 2, 10))
    value = am.available("U7000012").json()["data"]["value"]
    assert value["daily"] == {"startDate": "20250101", "endDate": "20270209"}  # reference §3.3: 2 years + YTD
    assert value["monthly"][0] == "202501" and value["monthly"][-1] == "202701" and len(value["monthly"]) == 25
    assert value["annual"] == ["2025", "2026"]
    detail = _problem(am.statement({"accountId": "U7000012", "startDate": "2024", "endDate": "2024"}), 422)["detail"]
    assert "2 years" in detail
    assert am.statement({"accountId": "U7000012", "startDate": "2025", "endDate": "2025"}).status_code == 200


def test_not_ready_before_midnight_et_then_ready_after(am: AmClient, am_sim: Simulator) -> None:
    day = {"accountId": "U7000011", "startDate": "20261120", "endDate": "20261120"}
    _at(am_sim, TODAY, 23, 50)
    assert am.available("U7000011").json()["data"]["value"]["daily"]["endDate"] == "20261119"
    assert "not ready" in _problem(am.statement(day), 422)["detail"]
    _at(am_sim, TODAY + datetime.timedelta(days=1), 0, 10)  # past midnight, not yet "around" it (guess: 00:30)
    assert "not ready" in _problem(am.statement(day), 422)["detail"]
    _at(am_sim, TODAY + datetime.timedelta(days=1), 0, 45)
    assert am.available("U7000011").json()["data"]["value"]["daily"]["endDate"] == "20261120"
    assert am.statement(day).status_code == 200
    # A month is listed once its last day is ready.
    _at(am_sim, datetime.date(2026, 12, 1), 0, 20)
    assert am.available("U7000011").json()["data"]["value"]["monthly"][-1] == "202610"
    am_sim.set_time_of_day(datetime.time(0, 31))
    assert am.available("U7000011").json()["data"]["value"]["monthly"][-1] == "202611"


def test_the_listing_refuses_what_it_cannot_answer(am: AmClient) -> None:
    assert _problem(am.available(None), 400)["invalidArguments"][0]["field"] == "accountId"
    assert "not accessible" in _problem(am.available("U9999999"), 403)["detail"]
    assert "not accessible" in _problem(am.available("U7000098"), 403)["detail"]  # closed: in no listing


# -- POST /statements --
def test_a_monthly_pdf_holds_the_worlds_figures(am: AmClient, am_sim: Simulator) -> None:
    r = am.statement({"accountId": "U7000011", "startDate": "202510", "endDate": "202510"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["mimeType"] == "application/pdf" and data["gzip"] is False and data["encoding"]
    lines = pdf_text(base64.b64decode(data["value"]))
    assert "Account: U7000011 Alex Morgan" in lines and "Period: 2025-10-01 to 2025-10-31" in lines
    want = expected(am_sim, "U7000011", datetime.date(2025, 10, 1), datetime.date(2025, 10, 31))
    assert want["Dividends"] != "0.00 USD"  # a month with dividends: the figure is worth checking
    assert_figures(lines, want)


def test_a_custom_range_pdf_in_another_base_currency(am: AmClient, am_sim: Simulator) -> None:
    start, end = datetime.date(2025, 3, 3), datetime.date(2025, 6, 20)
    lines = pdf_text(am.document({"accountId": "U7000012", "startDate": "20250303", "endDate": "20250620"}))
    assert "Covers: 2025-03-03 to 2025-06-20" in lines and "Base currency: EUR" in lines
    assert_figures(lines, expected(am_sim, "U7000012", start, end))


def test_the_funding_day_starts_from_nothing(am: AmClient, am_sim: Simulator) -> None:
    # The individual is funded by an internal transfer from its closed predecessor on the first day.
    lines = pdf_text(am.document({"accountId": "U7000099", "startDate": "20240102", "endDate": "20240630"}))
    want = expected(am_sim, "U7000099", FUNDED, datetime.date(2024, 6, 30))
    assert want["Starting NAV"] == "0.00 GBP" and want["Internal transfers"] == "600,000.00 GBP"
    assert_figures(lines, want)
    # A month the account was funded in covers the days from funding.
    lines = pdf_text(am.document({"accountId": "U7000099", "startDate": "202401", "endDate": "202401"}))
    assert "Covers: 2024-01-02 to 2024-01-31" in lines


def test_several_accounts_and_pages(am: AmClient, am_sim: Simulator) -> None:
    ids = [a.id for a in am_sim.world.accounts]
    pdf = am.document({"accountId": ids[0], "accountIds": ids, "startDate": "2025", "endDate": "2025",
                       "multiAccountFormat": "concatenate"})
    assert [line for line in pdf_text(pdf) if line.startswith("Account: ")] == [
        f"Account: {a.id} {a.title}" for a in am_sim.world.accounts]
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) > 1


def test_html_and_gzip(am: AmClient, am_sim: Simulator) -> None:
    r = am.statement({"accountId": "U7000014", "startDate": "20261102", "endDate": "20261102",
                      "mimeType": "text/html", "gzip": True})
    data = r.json()["data"]
    assert r.status_code == 200 and data["mimeType"] == "text/html" and data["gzip"] is True
    page = gzip.decompress(base64.b64decode(data["value"])).decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and "U7000014" in page
    ending = expected(am_sim, "U7000014", datetime.date(2026, 11, 2), datetime.date(2026, 11, 2))["Ending NAV"]
    assert f"<td>{ending}</td>" in page
    pdf = am.document({"accountId": "U7000014", "startDate": "202609", "endDate": "202609", "gzip": True})
    assert pdf_text(pdf)


def test_the_request_is_checked(am: AmClient) -> None:
    def bad(body: dict[str, Any]) -> str:
        problem = _problem(am.statement({"accountId": "U7000011"} | body), 400)
        return str(problem["invalidArguments"][0]["field"])

    assert bad({"startDate": "2025-01", "endDate": "2025-01"}) == "startDate"
    assert bad({"startDate": "202501", "endDate": "20250131"}) == "endDate"
    assert bad({"startDate": "202513", "endDate": "202513"}) == "startDate"
    assert bad({"startDate": "20250231", "endDate": "20250301"}) == "startDate"
    assert bad({"startDate": "20250301", "endDate": "20250201"}) == "endDate"
    assert bad({"startDate": "2024", "endDate": "2025"}) == "endDate"
    assert bad({"startDate": "2025", "endDate": "2025", "mimeType": "text/csv"}) == "mimeType"
    assert bad({"startDate": "2025", "endDate": "2025", "gzip": "yes"}) == "gzip"
    assert bad({"startDate": "2025", "endDate": "2025", "language": "xx"}) == "language"
    no_account = _problem(am.statement({"startDate": "2025", "endDate": "2025"}), 400)
    assert no_account["invalidArguments"][0]["field"] == "accountId"
    assert "not accessible" in _problem(am.statement({"accountId": "U7000098", "startDate": "2025",
                                                      "endDate": "2025"}), 403)["detail"]
    assert _problem(am.statement(data=b"[1, 2]"), 400)["detail"]
    assert _problem(am.statement(data=b"accountId=U7000011", content_type="text/plain"), 415)["detail"]


def test_a_custom_range_is_at_most_365_days(am: AmClient) -> None:
    ok = am.statement({"accountId": "U7000011", "startDate": "20250101", "endDate": "20251231"})
    assert ok.status_code == 200, ok.text  # 365 days, both ends counted
    problem = _problem(am.statement({"accountId": "U7000011", "startDate": "20250101", "endDate": "20260101"}), 400)
    assert problem["invalidArguments"] == [{"field": "endDate",
                                            "description": "a custom range can be at most 365 days"}]
    assert am.statement({"accountId": "U7000011", "startDate": "2024", "endDate": "2024"}).status_code == 200


def test_nothing_before_funding(am: AmClient) -> None:
    for start, end in (("202312", "202312"), ("2023", "2023"), ("20240101", "20240131"), ("20231229", "20231229")):
        detail = _problem(am.statement({"accountId": "U7000013", "startDate": start, "endDate": end}), 422)["detail"]
        assert "funded on 20240102" in detail, (start, detail)


def test_same_request_same_simulated_time_same_bytes(am: AmClient, am_sim: Simulator,
                                                     make_sim: Callable[..., Simulator],
                                                     keys: dict[str, rsa.RSAPrivateKey],
                                                     http: requests.Session, separate_worlds: None) -> None:
    body = {"accountId": "U7000013", "startDate": "20250601", "endDate": "20250930", "gzip": True}
    first = am.statement(body).json()["data"]["value"]
    assert am.statement(body).json()["data"]["value"] == first
    other = make_sim(oauth2_clients=am_sim.config.oauth2_clients)  # another simulator, same seed and clock
    assert AmClient(RefClient(other.root_url, keys["client"], http)).statement(body).json()["data"]["value"] == first
    am_sim.set_time_of_day(datetime.time(20, 0))  # generated later: a different document
    assert am.statement(body).json()["data"]["value"] != first


# -- scopes, signed bodies --
def test_scopes(ref: RefClient) -> None:
    body = {"accountId": "U7000011", "startDate": "2025", "endDate": "2025"}
    nothing = AmClient(ref, "echo.read")
    assert "scope" in _problem(nothing.available("U7000011"), 403)["detail"]
    assert "scope" in _problem(nothing.statement(body), 403)["detail"]
    reports_read = AmClient(ref, "reports.read")  # the listing's other scope; not one a document takes
    assert reports_read.available("U7000011").status_code == 200
    assert "scope" in _problem(reports_read.statement(body), 403)["detail"]
    for scope in ("statements.read", "statements.write", "reports.write"):  # the reference pages' "OR" list
        assert AmClient(ref, scope).statement(body).status_code == 200, scope
    assert _problem(ref.http.get(ref.root + AM + "/statements/available", params={"accountId": "U7000011"}), 401)


def test_an_application_jwt_body_signed_by_the_client(am: AmClient, ref: RefClient,
                                                      keys: dict[str, rsa.RSAPrivateKey]) -> None:
    body = {"accountId": "U7000011", "startDate": "202511", "endDate": "202511"}
    plain = am.statement(body).json()["data"]["value"]
    signed = am.statement(data=ref.jws(body), content_type="application/jwt")
    assert signed.status_code == 200, signed.text
    assert signed.json()["data"]["value"] == plain
    now = math.floor(time.time())
    claims = body | {"iss": CLIENT_ID, "iat": now, "exp": now + 60}
    assert am.statement(data=ref.jws(claims), content_type="application/jwt").json()["data"]["value"] == plain

    def refused(token: str, status: int) -> str:
        return str(_problem(am.statement(data=token, content_type="application/jwt"), status)["detail"])

    assert "signature" in refused(ref.jws(body, key=keys["other"]), 401)
    assert "kid" in refused(ref.jws(body, kid="another"), 401)
    assert "RS256" in refused(jwt.encode(body, "secret-of-32-bytes-at-the-least!", algorithm="HS256"), 401)
    assert "iss" in refused(ref.jws(body | {"iss": "SOMEONE"}), 401)
    assert "expired" in refused(ref.jws(body | {"exp": now - 5}), 400)
    assert "JWS" in refused("not.a-jws", 400)


# -- limits, downtime, stats --
def test_429_past_ten_a_second_on_one_endpoint(am: AmClient, am_sim: Simulator) -> None:
    am_sim.am.limiter = AmLimiter()  # IBKR's: reference §3.1
    answers = [am.available("U7000011") for _ in range(14)]
    statuses = [r.status_code for r in answers]
    assert statuses[:10] == [200] * 10 and 429 in statuses, statuses
    assert "10 requests per second" in _problem(answers[statuses.index(429)], 429)["detail"]
    stats = am_sim.stats()["account_management"]
    assert stats["throttled"] == statuses.count(429) and stats["throttled_by"]["per_endpoint"] == stats["throttled"]
    # The other endpoint has its own window.
    assert am.statement({"accountId": "U7000011", "startDate": "2025", "endDate": "2025"}).status_code == 200


def test_429_past_the_master_accounts_minute(am: AmClient, am_sim: Simulator) -> None:
    am_sim.am.limiter = AmLimiter(per_master=Rate(3, 60.0))  # the same rule, small enough to reach in a test
    statuses = [am.available(a).status_code for a in ("U7000011", "U7000012")]
    statuses += [am.statement({"accountId": "U7000011", "startDate": "2025", "endDate": "2025"}).status_code]
    r = am.available("U7000013")
    assert statuses == [200, 200, 200] and "600 requests per minute" in _problem(r, 429)["detail"]
    assert am_sim.stats()["account_management"]["throttled_by"] == {"per_endpoint": 0, "per_master": 1}


def test_the_limiter_windows_exactly() -> None:
    limiter = AmLimiter()
    assert [limiter.arrive("c", "GET /x", 100.0 + i * 0.01) for i in range(11)][-2:] == [None, "per_endpoint"]
    assert limiter.arrive("c", "GET /x", 101.05) is None  # the first arrivals left the 1 s window
    assert limiter.arrive("other", "GET /x", 100.1) is None  # another master account
    limiter = AmLimiter()
    broke = [limiter.arrive("c", f"GET /e{i % 70}", 200.0 + i * 0.05) for i in range(601)]
    assert broke[:600] == [None] * 600 and broke[600] == "per_master"


def test_scheduled_downtime_on_the_simulated_clock(am: AmClient, am_sim: Simulator) -> None:
    body = {"accountId": "U7000011", "startDate": "2025", "endDate": "2025"}
    wednesday = datetime.date(2026, 11, 18)
    _at(am_sim, wednesday, 18, 0, 30)  # reference §3.1: daily 6:00-6:01 pm ET
    assert "scheduled maintenance" in _problem(am.available("U7000011"), 503)["detail"]
    assert _problem(am.statement(body), 503)
    _at(am_sim, wednesday, 18, 1)
    assert am.available("U7000011").status_code == 200
    _at(am_sim, datetime.date(2026, 11, 17), 18, 29, 59)  # a Tuesday: 6:00-6:30 pm ET
    assert _problem(am.available("U7000011"), 503)
    am_sim.set_time_of_day(datetime.time(18, 30))
    assert am.available("U7000011").status_code == 200
    _at(am_sim, datetime.date(2026, 11, 15), 18, 10)  # a Sunday
    assert _problem(am.statement(body), 503)
    assert am_sim.stats()["account_management"]["downtime"] == 4


def test_the_downtime_table() -> None:
    def at(d: datetime.date, hh: int, mm: int) -> datetime.datetime:
        return datetime.datetime.combine(d, datetime.time(hh, mm), tzinfo=NEW_YORK)

    sat, sun, mon = datetime.date(2026, 11, 21), datetime.date(2026, 11, 22), datetime.date(2026, 11, 23)
    assert REPORTS.down(at(mon, 18, 0)) and not REPORTS.down(at(mon, 18, 1)) and not REPORTS.down(at(mon, 17, 59))
    assert REPORTS.down(at(sun, 18, 29)) and not REPORTS.down(at(sat, 18, 29))
    assert BANKING.down(at(sat, 12, 0)) and BANKING.down(at(sun, 14, 59)) and not BANKING.down(at(sun, 15, 0))
    assert BANKING.down(at(mon, 23, 50)) and BANKING.down(at(mon, 0, 15)) and not BANKING.down(at(mon, 0, 30))
    assert REPORTS.down(at(mon, 18, 0).astimezone(datetime.timezone.utc))  # any zone: judged in New York


def test_stats_count_and_hold_no_secret(am: AmClient, am_sim: Simulator) -> None:
    value = am.statement({"accountId": "U7000011", "startDate": "202501", "endDate": "202501"}).json()["data"]["value"]
    am.available("U7000011")
    _problem(am.statement({"accountId": "U7000011", "startDate": "2023", "endDate": "2023"}), 422)
    stats = am_sim.stats()["account_management"]
    assert stats["requests"] == {"POST /statements": 2, "GET /statements/available": 1}
    assert stats["documents"] == 1 and stats["document_bytes"] == len(base64.b64decode(value))
    assert stats["refusals"] == {"before_funding": 1} and stats["throttled"] == 0 and stats["downtime"] == 0
    text = json.dumps(am_sim.stats())
    assert am.token not in text and value[:40] not in text
    am_sim.reset_stats()
    assert am_sim.stats()["account_management"]["requests"] == {}


def test_sim_clock_control_takes_a_new_york_time(am_sim: Simulator, http: requests.Session) -> None:
    r = http.post(am_sim.root_url + "/sim/clock", json={"time": "18:00:30"})
    assert r.json() == {"ok": True, "today": TODAY.isoformat(), "time": "18:00:30"}
    assert am_sim.clock.now() == datetime.datetime(2026, 11, 20, 18, 0, 30, tzinfo=NEW_YORK)
    r = http.post(am_sim.root_url + "/sim/clock", json={"today": "2026-11-23", "time": None})
    assert r.json()["time"] is None and am_sim.clock.now().hour == 21  # back to the close (21:00 UTC)
    assert http.post(am_sim.root_url + "/sim/clock", json={"time": "25:00"}).status_code == 400
