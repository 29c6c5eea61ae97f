"""Funding instructions in the simulator (issue 13), read by a small OAuth 2.0 reference client written here.

The client follows reference §1.4 (a private_key_jwt access token; an SSO session's bearer for /v1/api),
§3.1 (scope instructions.read; a body as JSON or as a signed JWS) and §3.4 (the query, then polling by id)
with PyJWT and requests; it shares no code with the simulator nor with ``ibkr_pipelines.client``.
"""

from __future__ import annotations

import datetime
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
from ibkr_pipelines.simulator import world as world_module
from ibkr_pipelines.simulator.am_downtime import BANKING, REPORTS
from ibkr_pipelines.simulator.am_limits import PER_ENDPOINT, AmLimiter, Rate
from ibkr_pipelines.simulator.clock import NEW_YORK
from ibkr_pipelines.simulator.world import World

CLIENT_ID, KID, USER = "FUNDING01", "k1", "simuser7"
FRIDAY = datetime.date(2026, 11, 20)  # the tests' usual date: no instruction yet
MON, TUE, WED, THU, FRI = (datetime.date(2026, 11, 23) + datetime.timedelta(days=n) for n in range(5))
NEXT_MON = datetime.date(2026, 11, 30)
CLIENTS = ("U7000011", "U7000012", "U7000013", "U7000014", "U7000099")
MASTER = "F7000001"
ROW_KEYS = {"amount", "clientInstructionId", "currency", "ibInstructionId", "instructionSetId", "instructionType",
            "requestDate", "status"}  # reference §3.4
REQUEST_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-0[45]")  # "2025-11-05T00:20:06-05" (reference §3.4)


class Ref:
    """The reference client: an access token (scope as asked), the AM endpoints, and the portal's ledger."""

    def __init__(self, root: str, key: rsa.RSAPrivateKey, http: requests.Session) -> None:
        self.root, self.key, self.http = root, key, http
        self.access = self.token()
        self.bearer: str | None = None
        self.cid = 900_000  # the client's own clientInstructionIds

    def jws(self, claims: dict[str, Any], key: rsa.RSAPrivateKey | None = None) -> str:
        """RS256 with the client's key id (reference §1.4 step 2)."""
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"typ": "JWT", "kid": KID})

    def token(self, scope: str = "instructions.read sso-sessions.write") -> str:
        """Reference §1.4 steps 1-3: the client assertion for an access token."""
        now = math.floor(time.time())
        assertion = self.jws({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": "/token", "exp": now + 20, "iat": now - 10})
        r = self.http.post(self.root + "/oauth2/api/v1/token", data={
            "grant_type": "client_credentials", "client_assertion": assertion, "scope": scope,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def am(self, method: str, path: str, body: Any = None, *, token: str | None = None, signed: bool = False,
           key: rsa.RSAPrivateKey | None = None) -> requests.Response:
        """An Account Management call (/gw/api/v1) with the access token; a body as JSON or signed JWS (§3.1)."""
        headers = {"Authorization": f"Bearer {token or self.access}"}
        if signed:
            headers["Content-Type"] = "application/jwt"
            return self.http.request(method, self.root + "/gw/api/v1" + path, data=self.jws(body, key), headers=headers)
        return self.http.request(method, self.root + "/gw/api/v1" + path, json=body, headers=headers)

    def query_body(self, account: str, days: int = 30, kind: str | None = None) -> dict[str, Any]:
        """A QUERY_RECENT_INSTRUCTIONS request with a fresh clientInstructionId (reference §3.4)."""
        self.cid += 1
        history: dict[str, Any] = {"daysToGoBack": days} | ({"transactionType": kind} if kind else {})
        return {"instructionType": "QUERY_RECENT_INSTRUCTIONS",
                "instruction": {"clientInstructionId": self.cid, "accountId": account, "transactionHistory": history}}

    def recent(self, account: str, days: int = 30, kind: str | None = None, signed: bool = False) -> list[dict]:
        """The account's recent instructions: the query (202, PENDING), then polled until PROCESSED."""
        r = self.am("POST", "/instructions/query", self.query_body(account, days, kind), signed=signed)
        assert r.status_code == 202, r.text
        accepted = r.json()
        assert accepted["status"] == 202 and accepted["instructionResult"]["instructionStatus"] == "PENDING"
        for _ in range(50):
            result = self.result(accepted["instructionResult"]["instructionId"])
            if result["instructionStatus"] == "PROCESSED":
                assert result["instructionType"] == "QUERY_RECENT_INSTRUCTIONS"
                return list(result["instructionHistory"]["result"])
            time.sleep(0.05)
        raise AssertionError("the query was never processed")

    def result(self, instruction_id: int) -> dict[str, Any]:
        """GET /instructions/{instructionId}'s instructionResult (reference §3.4)."""
        r = self.am("GET", f"/instructions/{instruction_id}")
        assert r.status_code == 200 and r.json()["status"] == 200, r.text
        return dict(r.json()["instructionResult"])

    def ledger(self, account: str) -> dict[str, Any]:
        """/v1/api/portfolio/{id}/ledger with an SSO session's bearer (reference §1.4 steps 4-5)."""
        if self.bearer is None:
            now = math.floor(time.time())
            claims = {"ip": "203.0.113.9", "credential": USER, "iss": CLIENT_ID, "exp": now + 86400, "iat": now}
            r = self.http.post(self.root + "/gw/api/v1/sso-sessions", data=self.jws(claims),
                               headers={"Authorization": f"Bearer {self.access}", "Content-Type": "application/jwt"})
            assert r.status_code == 200, r.text
            self.bearer = r.json()["access_token"]
            for listing in ("/portfolio/accounts", "/portfolio/subaccounts"):  # the call-order rule (§2.1)
                assert self.portal(listing).status_code == 200
        r = self.portal(f"/portfolio/{account}/ledger")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def portal(self, path: str) -> requests.Response:
        """A /v1/api GET with the SSO session's bearer."""
        return self.http.get(self.root + "/v1/api" + path, headers={"Authorization": f"Bearer {self.bearer}"})


def _problem(r: requests.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem+json answer with ``status`` (reference §3.1)."""
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body = dict(r.json())
    assert body["status"] == status and body["title"] and body["type"]
    return body


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    """The client's RSA key and a stranger's."""
    return {n: rsa.generate_private_key(public_exponent=65537, key_size=2048) for n in ("client", "other")}


@pytest.fixture
def start(make_sim: Callable[..., Simulator], keys: dict[str, rsa.RSAPrivateKey],
          http: requests.Session) -> Callable[..., tuple[Simulator, Ref]]:
    """Start a simulator with the client registered (queries answered on the first poll) and its reference client."""
    pem = keys["client"].public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)

    def go(today: datetime.date = FRIDAY, *, wide_limits: bool = True, **kw: Any) -> tuple[Simulator, Ref]:
        kw.setdefault("funding_query_seconds", 0.0)
        sim = make_sim(today=today, oauth2_clients=(OAuth2Client(CLIENT_ID, KID, pem, USER),), **kw)
        if wide_limits:  # tests not about the AM limits poll faster than 10 a second
            sim.am.limiter = AmLimiter(per_endpoint=Rate(10_000, 1.0))
        return sim, Ref(sim.root_url, keys["client"], http)

    return go


def _at(sim: Simulator, day: datetime.date, hm: tuple[int, int] | None) -> None:
    """Move the simulated clock to ``day`` at New York ``hm`` (None: the close of the date)."""
    sim.set_today(day)
    sim.set_time_of_day(datetime.time(*hm) if hm else None)


def _find(rows: list[dict[str, Any]], kind: str, day: datetime.date) -> dict[str, Any]:
    """The one row of ``kind`` requested on ``day``."""
    (row,) = [r for r in rows if r["instructionType"] == kind and r["requestDate"].startswith(day.isoformat())]
    return row


def _everyone(ref: Ref) -> list[dict[str, Any]]:
    """Every client account's recent instructions (an internal transfer appears once per side)."""
    return [row for acct in CLIENTS for row in ref.recent(acct)]


# -- the lifecycle on the simulated clock --
def _account_of(ref: Ref, row: dict[str, Any]) -> str:
    """The client account whose recent instructions hold ``row``."""
    return next(a for a in CLIENTS if any(r["ibInstructionId"] == row["ibInstructionId"] for r in ref.recent(a)))


def test_a_week_of_instructions_moves_on_the_simulated_clock(start: Callable[..., tuple[Simulator, Ref]]) -> None:
    sim, ref = start()
    assert _everyone(ref) == []  # the tests' usual Friday is before the first instruction
    found: dict[str, dict[str, Any]] = {}
    seen: dict[str, list[str]] = {"deposit": [], "withdrawal": [], "ach": []}
    for day in (MON, TUE, WED, THU, FRI, NEXT_MON):
        sim.set_today(day)
        rows = _everyone(ref) if day in (MON, TUE, WED) else []
        if day == MON:
            found["deposit"] = _find(rows, "DEPOSIT", MON)  # Monday's wire deposit
        if day == TUE:
            found["withdrawal"] = _find(rows, "WITHDRAWAL", TUE)
        if day == WED:
            found["ach"] = _find(rows, "DEPOSIT", WED)
            assert found["ach"]["status"] == "PENDING_VERIFICATION"  # a new bank instruction is verified first
        for name, row in found.items():
            seen[name].append(ref.result(row["ibInstructionId"])["instructionStatus"])
    deposit, withdrawal, ach = found["deposit"], found["withdrawal"], found["ach"]
    assert deposit["status"] == "PENDING" and REQUEST_DATE.fullmatch(deposit["requestDate"])
    # PENDING at request, PROCESSED one or two business days later, and PROCESSED from then on
    assert seen["deposit"] in (["PENDING"] + ["PROCESSED"] * 5, ["PENDING"] * 2 + ["PROCESSED"] * 4)
    assert seen["withdrawal"] == ["PENDING"] + ["REJECTED"] * 4
    # polling has no PENDING_VERIFICATION (its enum: PENDING, PROCESSED, REJECTED): PENDING, then processed
    assert seen["ach"] == ["PENDING", "PENDING", "PROCESSED", "PROCESSED"]
    done = ref.result(deposit["ibInstructionId"])
    assert done["ibReferenceId"] > 0 and done["processedTimestamp"] and done["clientInstructionId"] == deposit[
        "clientInstructionId"] and done["depositDetails"]["amount"] == deposit["amount"]
    rejected = ref.result(withdrawal["ibInstructionId"])
    assert rejected["error"]["errorCode"] and rejected["error"]["errorMessage"] and "ibReferenceId" not in rejected
    # the ACH's verification ends on Thursday morning, New York time: the clock's time of day says when
    account = _account_of(ref, ach)
    _at(sim, THU, (7, 0))
    assert _find(ref.recent(account), "DEPOSIT", WED)["status"] == "PENDING_VERIFICATION"
    verifying = ref.result(ach["ibInstructionId"])
    assert verifying["instructionStatus"] == "PENDING" and verifying["description"]
    _at(sim, THU, (11, 0))
    assert _find(ref.recent(account), "DEPOSIT", WED)["status"] == "PENDING"


def _add(http: requests.Session, sim: Simulator, **body: Any) -> int:
    """POST /sim/funding (the simulator's test control): the new instruction's instructionId."""
    r = http.post(sim.root_url + "/sim/funding", json=body)
    assert r.status_code == 200, r.text
    return int(r.json()["instructionId"])


def test_cash_moves_only_once_an_instruction_is_processed(start: Callable[..., tuple[Simulator, Ref]],
                                                           http: requests.Session) -> None:
    sim, ref = start(MON)
    # a test-added deposit settling Wednesday and a withdrawal rejected Tuesday, on the master (no other cash
    # moves between its month starts), read through the portal's ledger over HTTP
    before = ref.ledger(MASTER)
    added_deposit = _add(http, sim, account=MASTER, amount=12345.67, settle_date=WED.isoformat())
    added_withdrawal = _add(http, sim, account=MASTER, type="WITHDRAWAL", amount=5000, outcome="REJECTED",
                            settle_date=TUE.isoformat())
    assert ref.ledger(MASTER) == before  # requested, not processed: nothing moved
    cash, nav, states = [], [], []
    for day in (MON, TUE, WED, THU):
        sim.set_today(day)
        ledger = ref.ledger(MASTER)
        cash.append(round(ledger["USD"]["cashbalance"] - before["USD"]["cashbalance"], 2))
        nav.append(round(ledger["BASE"]["netliquidationvalue"] - before["BASE"]["netliquidationvalue"], 2))
        states.append((ref.result(added_deposit)["instructionStatus"],
                       ref.result(added_withdrawal)["instructionStatus"]))
    assert states == [("PENDING", "PENDING"), ("PENDING", "REJECTED")] + [("PROCESSED", "REJECTED")] * 2
    assert cash == nav == [0.0, 0.0, 12345.67, 12345.67]  # the rejected withdrawal never moves cash
    # the seeded Monday deposit: on each date the ledger's cash moves by that date's other cash events plus
    # the funding the API says was processed that date, and by nothing else
    sim.set_today(MON)
    deposit = _find(_everyone(ref), "DEPOSIT", MON)
    account, ccy = _account_of(ref, deposit), deposit["currency"]
    previous = ref.ledger(account)[ccy]["cashbalance"]
    moved_on: dict[datetime.date, float] = {}
    for day in (TUE, WED):
        sim.set_today(day)
        other = sum(ev.amount for ev in sim.world.cash_events_for(account)
                    if ev.date == day and ev.currency == ccy and "instruction" not in ev.ref)
        external = [r for r in ref.recent(account) if r["status"] == "PROCESSED" and r["currency"] == ccy
                    and r["instructionType"] in ("DEPOSIT", "WITHDRAWAL")]
        moved_on[day] = sum(r["amount"] * (1 if r["instructionType"] == "DEPOSIT" else -1) for r in external
                            if ref.result(r["ibInstructionId"])["processedTimestamp"].startswith(day.isoformat()))
        now_cash = ref.ledger(account)[ccy]["cashbalance"]
        assert now_cash - previous == pytest.approx(other + moved_on[day], abs=0.011), day
        previous = now_cash
    assert deposit["amount"] in moved_on.values()


# -- the answers' shapes --
def test_the_history_the_polling_answers_and_the_sets(start: Callable[..., tuple[Simulator, Ref]],
                                                      keys: dict[str, rsa.RSAPrivateKey]) -> None:
    sim, ref = start(datetime.date(2026, 12, 4))
    r = ref.am("POST", "/instructions/query", ref.query_body("U7000011"))
    accepted = r.json()
    assert r.status_code == 202 and set(accepted) == {"status", "instructionSetId", "instructionResult"}
    assert accepted["instructionResult"]["clientInstructionId"] == ref.cid
    rows = ref.recent("U7000011")
    assert rows and all(set(row) == ROW_KEYS and REQUEST_DATE.fullmatch(row["requestDate"]) for row in rows)
    assert [row["requestDate"] for row in rows] == sorted((row["requestDate"] for row in rows), reverse=True)
    assert {row["status"] for row in rows} <= {"PENDING", "PENDING_VERIFICATION", "PROCESSED", "REJECTED"}
    assert ref.recent("U7000011", signed=True) == rows  # the same query as a signed JWS (reference §3.1)
    stranger = ref.am("POST", "/instructions/query", ref.query_body("U7000011"), signed=True, key=keys["other"])
    _problem(stranger, 401)
    recent = ref.recent("U7000011", days=3)
    assert recent == [row for row in rows if row["requestDate"] >= "2026-12-01T16"]  # 3 days before Friday's close
    assert ref.recent("U7000011", kind="DEPOSIT") == [row for row in rows if row["instructionType"] == "DEPOSIT"]
    assert ref.recent("U7000011", days=400) == rows  # served to the 30-day depth it states
    for row in rows:
        polled = ref.am("GET", f"/client-instructions/{row['clientInstructionId']}")
        assert polled.status_code in (200, 208)
        result = ref.result(row["ibInstructionId"])
        assert result["clientInstructionId"] == row["clientInstructionId"]
        assert result["instructionStatus"] == ("PENDING" if row["status"] == "PENDING_VERIFICATION" else row["status"])
        members = ref.am("GET", f"/instruction-sets/{row['instructionSetId']}").json()
        assert members["status"] == 200 and row["ibInstructionId"] in {
            m["instructionResult"]["instructionId"] for m in members["instructionResults"]}
    transfer = next(row for row in rows if row["instructionType"] == "INTERNAL_CASH_TRANSFER")
    pair = ref.am("GET", f"/instruction-sets/{transfer['instructionSetId']}").json()["instructionResults"]
    assert len(pair) == 2 and {m["instructionResult"]["instructionType"] for m in pair} == {"INTERNAL_CASH_TRANSFER"}
    # polling the query itself by the clientInstructionId this client gave it
    polled = ref.am("GET", f"/client-instructions/{ref.cid}").json()
    assert polled["instructionResult"]["instructionType"] == "QUERY_RECENT_INSTRUCTIONS"


def test_a_reused_client_instruction_id_answers_208(start: Callable[..., tuple[Simulator, Ref]]) -> None:
    sim, ref = start(datetime.date(2026, 12, 28))
    rows = _everyone(ref)
    by_cid: dict[int, set[int]] = {}
    for row in rows:
        by_cid.setdefault(row["clientInstructionId"], set()).add(row["ibInstructionId"])
    reused = [(cid, ids) for cid, ids in by_cid.items() if len(ids) > 1]
    assert reused, "the programme reuses a clientInstructionId every fifth week"
    cid, ids = reused[0]
    r = ref.am("GET", f"/client-instructions/{cid}")
    assert r.status_code == 208 and r.json()["status"] == 208
    assert r.json()["instructionResult"]["instructionId"] == min(ids)  # the first registered (§3.4: reconcile)
    assert all(ref.result(i)["clientInstructionId"] == cid for i in ids)  # by instructionId: unambiguous
    # a client giving two of its queries one clientInstructionId meets the same
    body = ref.query_body("U7000012")
    first = ref.am("POST", "/instructions/query", body).json()["instructionResult"]["instructionId"]
    body["instruction"]["accountId"] = "U7000013"
    assert ref.am("POST", "/instructions/query", body).status_code == 202
    again = ref.am("GET", f"/client-instructions/{ref.cid}")
    assert again.status_code == 208 and again.json()["instructionResult"]["instructionId"] == first
    assert sim.stats()["account_management"]["answered_208"] == 2


# -- refusals --
def test_unknown_ids_malformed_queries_and_missing_scope(start: Callable[..., tuple[Simulator, Ref]]) -> None:
    sim, ref = start(datetime.date(2026, 12, 4))
    for path in ("/instructions/12345", "/client-instructions/12345", "/instruction-sets/12345", "/instructions/abc"):
        assert "12345" in _problem(ref.am("GET", path), 404)["detail"] or path.endswith("abc")
    assert _problem(ref.am("GET", "/instruction-sets/777"), 404)["instructionSetId"] == 777
    good = ref.query_body("U7000011")
    cases = {
        "instructionType": {**good, "instructionType": "DEPOSIT"},
        "instruction.accountId": {**good, "instruction": {**good["instruction"], "accountId": ""}},
        "instruction.clientInstructionId": {**good, "instruction": {**good["instruction"], "clientInstructionId": -3}},
        "instruction.transactionHistory.daysToGoBack": {
            **good, "instruction": {**good["instruction"], "transactionHistory": {"daysToGoBack": 0}}},
        "instruction.transactionHistory.transactionType": {
            **good, "instruction": {**good["instruction"], "transactionHistory": {"daysToGoBack": 3,
                                                                                 "transactionType": "EVERYTHING"}}},
        "instruction": {"instructionType": "QUERY_RECENT_INSTRUCTIONS"},
    }
    for field, body in cases.items():
        problem = _problem(ref.am("POST", "/instructions/query", body), 400)
        assert field in {a["field"] for a in problem["invalidArguments"]}, field
    r = ref.http.post(ref.root + "/gw/api/v1/instructions/query", data=b"{not json",
                      headers={"Authorization": f"Bearer {ref.access}", "Content-Type": "application/json"})
    assert "JSON" in _problem(r, 400)["detail"]
    unknown = _problem(ref.am("POST", "/instructions/query", ref.query_body("U1234567")), 422)
    assert unknown["instructionSetId"] and unknown["instructionResult"]["instructionStatus"] == "REJECTED"
    assert unknown["instructionResult"]["error"]["errorCode"]
    # one query per account at a time ([am-ref-zh]: "no new queries ... before this one is processed")
    sim.funding.query_seconds = 60.0
    pending = ref.am("POST", "/instructions/query", ref.query_body("U7000012")).json()["instructionResult"]
    busy = _problem(ref.am("POST", "/instructions/query", ref.query_body("U7000012")), 422)
    assert busy["instructionResult"]["instructionId"] == pending["instructionId"]
    assert ref.am("POST", "/instructions/query", ref.query_body("U7000013")).status_code == 202
    # the scope (reference §3.1): a token without instructions.read is refused before anything else
    portal_only = ref.token("sso-sessions.write")
    assert "scope" in _problem(ref.am("GET", "/instructions/12345", token=portal_only), 403)["detail"]
    assert _problem(ref.am("POST", "/instructions/query", ref.query_body("U7000011"), token=portal_only), 403)
    assert ref.http.get(ref.root + "/gw/api/v1/instructions/1").status_code == 401
    refusals = sim.stats()["account_management"]["refusals"]
    assert refusals["not_found"] >= 5 and refusals["invalid_request"] == 6 and refusals["body_not_json"] == 1
    assert refusals["invalid_account"] == 1 and refusals["query_in_progress"] == 1


def test_the_account_management_limits_answer_429(start: Callable[..., tuple[Simulator, Ref]]) -> None:
    sim, ref = start(datetime.date(2026, 12, 4), wide_limits=False)
    answers = [ref.am("GET", "/instructions/1").status_code for _ in range(12)]  # 10 per second per endpoint
    assert answers[:10] == [404] * 10 and 429 in answers[10:]
    _problem(ref.am("GET", "/instructions/1"), 429)
    assert ref.am("GET", "/client-instructions/1").status_code == 404  # another endpoint has its own second
    time.sleep(1.05)
    sim.reset_stats()
    sim.am.limiter = AmLimiter(PER_ENDPOINT, Rate(20, 60.0))  # 600 a minute per master, narrowed to stay quick
    paths = ("/instructions/1", "/client-instructions/1", "/instruction-sets/1", "/instructions/2")
    answers = [ref.am("GET", p).status_code for p in paths for _ in range(5)]
    assert answers == [404] * 20
    _problem(ref.am("GET", "/instruction-sets/2"), 429)
    stats = sim.stats()["account_management"]
    assert stats["throttled_by"] == {"per_endpoint": 0, "per_master": 1} and sum(stats["requests"].values()) == 21


def test_the_banking_downtime_on_the_simulated_clock(start: Callable[..., tuple[Simulator, Ref]]) -> None:
    sim, ref = start(datetime.date(2026, 12, 4))
    sat, sun, mon, tue = (datetime.date(2026, 12, 5) + datetime.timedelta(days=n) for n in range(4))
    schedule = [  # reference §3.1: daily 11:45 pm-12:30 am ET, all of Saturday, Sunday before 3 pm ET
        (sat, None, 503), (sun, (14, 59), 503), (sun, (15, 0), 404), (mon, (23, 44), 404),
        (mon, (23, 50), 503), (tue, (0, 29), 503), (tue, (0, 30), 404), (tue, None, 404),
    ]
    for day, hm, status in schedule:
        _at(sim, day, hm)
        r = ref.am("GET", "/instructions/1")
        assert r.status_code == status, (day, hm)
        if status == 503:
            assert "scheduled maintenance" in _problem(r, 503)["detail"]
    _at(sim, datetime.date(2026, 12, 4), (23, 50))  # a Friday night runs on through Sunday 3 pm ET
    assert "available again at 2026-12-06T15:00-05:00" in _problem(ref.am("GET", "/instructions/1"), 503)["detail"]
    _at(sim, datetime.date(2026, 12, 5), None)
    _problem(ref.am("POST", "/instructions/query", ref.query_body("U7000011")), 503)
    assert ref.am("GET", "/instructions/1", token=ref.token("sso-sessions.write")).status_code == 403  # scope first
    assert sim.stats()["account_management"]["downtime"] == 6


def test_a_downtime_says_when_it_ends() -> None:
    def at(y: int, m: int, d: int, hh: int, mm: int) -> datetime.datetime:
        return datetime.datetime(y, m, d, hh, mm, tzinfo=NEW_YORK)

    assert BANKING.back(at(2026, 12, 7, 23, 50)) == at(2026, 12, 8, 0, 30)  # Monday night
    assert BANKING.back(at(2026, 12, 8, 0, 10)) == at(2026, 12, 8, 0, 30)
    assert BANKING.back(at(2026, 12, 5, 9, 0)) == at(2026, 12, 6, 15, 0)  # Saturday on through Sunday 3 pm
    assert BANKING.back(at(2026, 3, 7, 9, 0)) == at(2026, 3, 8, 15, 0)  # across the spring-forward night
    assert BANKING.back(at(2026, 12, 6, 15, 0)) is None and REPORTS.back(at(2026, 12, 8, 17, 0)) is None
    assert REPORTS.back(at(2026, 12, 8, 18, 5)) == at(2026, 12, 8, 18, 30)  # a Tuesday


# -- determinism, the world and the counters --
def test_two_simulators_of_one_seed_tell_the_same_funding(start: Callable[..., tuple[Simulator, Ref]],
                                                          separate_worlds: None) -> None:
    day = datetime.date(2026, 12, 11)
    (one, a), (two, b) = start(day), start(day)
    for acct in ("U7000011", "U7000099"):
        rows = a.recent(acct)
        assert rows and rows == b.recent(acct)
        for row in rows[:3]:
            assert a.result(row["ibInstructionId"]) == b.result(row["ibInstructionId"])
    longer = World(7, datetime.date(2027, 2, 26))
    assert longer.funding[: len(one.world.funding)] == one.world.funding  # a longer world repeats a shorter one's


def test_nothing_dated_before_the_first_instruction_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    through = datetime.date(2026, 12, 31)
    funded = World(7, through)
    monkeypatch.setattr(world_module, "program", lambda *args: [])
    plain = World(7, through)
    first = min(i.requested.date() for i in funded.funding)
    assert first == MON and plain.funding == []
    assert [ev for ev in funded.cash_events if ev.date < first] == [ev for ev in plain.cash_events if ev.date < first]
    assert funded.transfers[:1] == plain.transfers and funded.executions == plain.executions
    for a in funded.accounts:
        assert funded.cash_as_of(a.id, FRIDAY) == plain.cash_as_of(a.id, FRIDAY), a.id
    # after it, the only differences are the processed instructions' cash
    rejected = [i for i in funded.funding if i.outcome == "REJECTED"]
    assert rejected and not any(str(i.instruction_id) in ev.ref for i in rejected for ev in funded.cash_events)
    extra = [ev for ev in funded.cash_events if "instruction" in ev.ref]
    assert sorted(extra, key=repr) == sorted(set(funded.cash_events) - set(plain.cash_events), key=repr)


def test_the_counters_name_endpoints_and_statuses_never_tokens(start: Callable[..., tuple[Simulator, Ref]]) -> None:
    sim, ref = start(datetime.date(2026, 12, 4))
    ref.recent("U7000011")
    requests_by_endpoint = sim.stats()["account_management"]["requests"]
    assert requests_by_endpoint["POST /instructions/query"] == 1
    assert requests_by_endpoint["GET /instructions/{n}"] >= 1
    stats = sim.stats()["funding"]
    assert set(stats["instructions"]) <= {"PENDING", "PENDING_VERIFICATION", "PROCESSED", "REJECTED"}
    assert sum(stats["instructions"].values()) == len([i for i in sim.world.funding if i.requested <= sim.clock.now()])
    assert ref.access not in json.dumps(sim.stats())
