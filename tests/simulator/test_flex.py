"""The Flex Web Service (reference §4): the two-step flow, 1019 until ready, 1018 per token, the error codes,
the recorded XML names, determinism, reconciliation with the Web API and the world, and the quirks.

The client here is a few lines of requests and xml.etree of its own, never the package's FlexClient:
the simulator is there to catch that client's mistakes, not to share them.
"""

from __future__ import annotations

import datetime
import os
import select
import time
import tracemalloc
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

from ibkr_pipelines.simulator import FaultConfig, Simulator
from ibkr_pipelines.simulator.clock import business_days, new_york_date
from ibkr_pipelines.simulator.flex_queries import DEFAULT_QUERIES, DEFAULT_TOKEN, FlexConfig, FlexQuery, FlexToken
from ibkr_pipelines.simulator.flex_statement import NOVEL_ATTRIBUTE, Run, Writer
from ibkr_pipelines.simulator.payloads import Views
from ibkr_pipelines.simulator.world import World

from .conftest import TODAY, _free_port
from .test_fidelity import RECORDED, require_recorded

FLEX = "/AccountManagement/FlexWebService"
FAST = ((100_000, 1.0),)  # windows loose enough for tests not about 1018
YESTERDAY = TODAY - datetime.timedelta(days=1)  # TODAY is a Friday


def _ymd(d: datetime.date) -> str:
    return d.strftime("%Y%m%d")


def _flex_sim(make_sim: Callable[..., Simulator], **flex: Any) -> Simulator:
    """A simulator whose Flex service has ``flex`` settings (fast windows unless given)."""
    flex.setdefault("windows", FAST)
    return make_sim(flex=FlexConfig(**flex))


class Ref:
    """A reference Flex client: SendRequest, then GetStatement until it is no longer 1019."""

    def __init__(self, http: requests.Session, sim: Simulator, token: str = DEFAULT_TOKEN) -> None:
        self.http, self.sim, self.token = http, sim, token

    def call(self, endpoint: str, q: str, **params: str) -> requests.Response:
        r = self.http.get(f"{self.sim.root_url}{FLEX}/{endpoint}", params={"t": self.token, "q": q, "v": "3"} | params)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml"), r.text
        return r

    def send(self, query: str, **params: str) -> ET.Element:
        return ET.fromstring(self.call("SendRequest", query, **params).content)

    def reference(self, query: str, **params: str) -> str:
        answer = self.send(query, **params)
        assert answer.findtext("Status") == "Success", ET.tostring(answer)
        return str(answer.findtext("ReferenceCode"))

    def get(self, ref: str) -> bytes:
        return self.call("GetStatement", ref).content

    def statement(self, query: str, **params: str) -> bytes:
        ref = self.reference(query, **params)
        for _ in range(5):
            body = self.get(ref)
            if error_code(body) != 1019:
                return body
        raise AssertionError("still 1019 after five polls")


def error_code(body: bytes) -> int | None:
    """The ErrorCode of a FlexStatementResponse, None for anything else (a statement)."""
    root = ET.fromstring(body)
    return int(root.findtext("ErrorCode") or 0) if root.tag == "FlexStatementResponse" else None


def _fail(body: bytes, code: int, status: str = "Fail") -> None:
    root = ET.fromstring(body)
    assert (root.tag, root.findtext("Status"), root.findtext("ErrorCode")) == ("FlexStatementResponse", status, str(code))
    assert root.findtext("ErrorMessage") and root.get("timestamp")


# ----- the two-step flow and readiness ---------------------------------------------------------------

def test_send_request_then_1019_then_the_statement(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = _flex_sim(make_sim)
    ref = Ref(http, sim)
    answer = ref.send("900001")
    assert answer.tag == "FlexStatementResponse" and answer.findtext("Status") == "Success"
    code = str(answer.findtext("ReferenceCode"))
    assert len(code) == 10 and code.isdigit()
    assert answer.findtext("Url") == f"{sim.root_url}{FLEX}/GetStatement"  # back to this simulator (§4.1)
    _fail(ref.get(code), 1019)
    body = ref.get(code)
    root = ET.fromstring(body)
    assert root.tag == "FlexQueryResponse" and root.get("queryName") == "Daily Activity"
    assert ref.get(code) == body  # fetched again: the same statement
    stats = sim.stats()["flex"]
    assert (stats["send_requests"], stats["get_statements"], stats["not_ready"], stats["statements"]) == (1, 3, 1, 2)
    assert stats["statement_bytes"] == 2 * len(body) and DEFAULT_TOKEN not in str(sim.stats())


def test_a_day_is_ready_only_after_it_closed_on_the_simulated_clock(make_sim: Callable[..., Simulator],
                                                                     http: requests.Session) -> None:
    sim = _flex_sim(make_sim)
    ref = Ref(http, sim)
    code = ref.reference("900001", fd=_ymd(TODAY), td=_ymd(TODAY))
    for _ in range(3):
        _fail(ref.get(code), 1019)  # today's data comes after today's close
    assert sim.stats()["flex"]["not_ready"] == 3
    sim.set_today(TODAY + datetime.timedelta(days=3))  # Monday
    _fail(ref.get(code), 1019)  # generating
    root = ET.fromstring(ref.get(code))
    statements = root.findall("FlexStatements/FlexStatement")
    assert statements and {s.get("fromDate") for s in statements} == {_ymd(TODAY)}
    assert {s.get("period") for s in statements} == {""}  # a date range, not the query's period
    assert {s.get("whenGenerated") for s in statements} == {"20261123;160000"}  # Monday's close, New York
    future = ref.call("SendRequest", "900001", fd=_ymd(TODAY), td=_ymd(TODAY + datetime.timedelta(days=4)))
    _fail(future.content, 1003)


# ----- 1018 -----------------------------------------------------------------------------------------------

def test_1018_on_a_second_request_within_a_second(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim()  # IBKR's windows: 1 per s, 10 per min per token (reference §4.1, §5.2)
    ref = Ref(http, sim)
    ref.reference("900001")
    _fail(ref.call("SendRequest", "900001").content, 1018)
    other = Ref(http, sim, "not-a-token")
    _fail(other.call("SendRequest", "900001").content, 1015)  # an unknown token has no window to break
    stats = sim.stats()["flex"]
    assert stats["throttled"] == 1 and stats["errors"] == {"1018": 1, "1015": 1}


def test_1018_on_the_eleventh_request_within_a_minute(make_sim: Callable[..., Simulator],
                                                      http: requests.Session) -> None:
    sim = _flex_sim(make_sim, windows=((1, 0.05), (10, 60.0)))  # the second's window shortened, the minute's not
    ref = Ref(http, sim)
    for _ in range(10):
        ref.reference("900001")
        time.sleep(0.07)
    _fail(ref.call("SendRequest", "900001").content, 1018)
    assert sim.stats()["flex"]["throttled"] == 1


# ----- terminal codes ---------------------------------------------------------------------------------------

def _code_case(case: str, sim: Simulator, http: requests.Session) -> bytes:
    ref = Ref(http, sim)
    if case == "1015 unknown token":
        return Ref(http, sim, "123").call("SendRequest", "900001").content
    if case == "1012 expired token":
        return Ref(http, sim, "expired").call("SendRequest", "900001").content
    if case == "1013 IP restriction":
        return Ref(http, sim, "fenced").call("SendRequest", "900001").content
    if case == "1014 unknown query":
        return ref.call("SendRequest", "999999").content
    if case == "1014 another token's query":
        return ref.call("SendRequest", "555555").content
    if case == "1017 unknown reference code":
        return ref.call("GetStatement", "1234567890").content
    if case == "1017 another token's reference code":
        return Ref(http, sim, "other").call("GetStatement", ref.reference("900001")).content
    if case == "1020 version 2":
        return ref.call("SendRequest", "900001", v="2").content
    if case == "1020 fd without td":
        return ref.call("SendRequest", "900001", fd="20260101").content
    if case == "1020 more than 365 days":
        return ref.call("SendRequest", "900001", fd="20250101", td="20260102").content
    if case == "1003 before the world":
        return ref.call("SendRequest", "900001", fd="20230101", td="20231229").content
    raise AssertionError(case)


CASES = ["1015 unknown token", "1012 expired token", "1013 IP restriction", "1014 unknown query",
         "1014 another token's query", "1017 unknown reference code", "1017 another token's reference code",
         "1020 version 2", "1020 fd without td", "1020 more than 365 days", "1003 before the world"]


@pytest.mark.parametrize("case", CASES)
def test_terminal_codes(case: str, make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    defaults = FlexConfig()
    tokens = defaults.tokens + (FlexToken("expired", ("900001",), expires=TODAY),
                                FlexToken("fenced", ("900001",), allowed_ips=("10.1.2.3",)),
                                FlexToken("other", ("900001", "555555")))
    queries = defaults.queries + (FlexQuery("555555", "Someone else's"),)
    sim = _flex_sim(make_sim, tokens=tokens, queries=queries)
    code = int(case.split()[0])
    _fail(_code_case(case, sim, http), code)
    assert sim.stats()["flex"]["errors"].get(str(code)) == 1


def test_warn_1001_is_a_fault_a_test_switches_on(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = _flex_sim(make_sim, generation_polls=0)
    ref = Ref(http, sim)
    code = ref.reference("900001")
    r = http.post(sim.root_url + "/sim/faults", json={"p_flex_1001": 1.0})
    assert r.status_code == 200, r.text
    for _ in range(2):
        _fail(ref.get(code), 1001, status="Warn")  # reference §4.2: one fixture answers 1001 with Warn
    sim.set_faults(FaultConfig())
    assert error_code(ref.get(code)) is None
    assert sim.stats()["flex"]["warnings"] == 2
    sim.set_faults(FaultConfig(seed=3, p_flex_1001=0.5))  # seeded: some polls warn, the same ones every run
    answers = [error_code(ref.get(code)) for _ in range(12)]
    assert 1001 in answers and None in answers


# ----- the XML ------------------------------------------------------------------------------------------------

def _recorded(name: str) -> ET.Element:
    require_recorded()
    return ET.parse(RECORDED / "Flex" / name).getroot()


def _names(root: ET.Element, tag: str) -> list[str]:
    element = root.find(f".//{tag}")
    assert element is not None, tag
    return list(element.attrib)


def test_the_xml_has_the_recorded_names_and_shape(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = _flex_sim(make_sim, generation_polls=0)
    ref = Ref(http, sim)
    cash = ET.fromstring(ref.statement("900004"))  # the recording's query: CashTransactions, one per day
    recorded = _recorded("cash-transactions.xml")
    assert cash.tag == recorded.tag and list(cash.attrib) == list(recorded.attrib) and cash.get("type") == "AF"
    statements = cash.findall("FlexStatements/FlexStatement")
    assert cash.find("FlexStatements").get("count") == str(len(statements))
    assert list(statements[0].attrib) == list(recorded.find("FlexStatements/FlexStatement").attrib)
    assert {s.get("period") for s in statements} == {"Last365CalendarDays"}
    assert all(s.get("fromDate") == s.get("toDate") for s in statements)
    per_account = defaultdict(list)
    for s in statements:
        per_account[s.get("accountId")].append(s.get("fromDate"))
        assert [c.tag for c in s] == ["CashTransactions"]
    days = [_ymd(d) for d in business_days(TODAY - datetime.timedelta(days=365), YESTERDAY)]
    assert all(dates == days for dates in per_account.values())  # every weekday, none of the weekends
    assert _names(cash, "CashTransaction") == _names(recorded, "CashTransaction")
    assert "<CashTransactions></CashTransactions>" in ref.statement("900004").decode()  # empty, as recorded

    tcf = ET.fromstring(ref.statement("900005", fd=_ymd(YESTERDAY - datetime.timedelta(days=6)), td=_ymd(YESTERDAY)))
    recorded = _recorded("trade-confirmations.xml")
    assert tcf.get("type") == "TCF" and _names(tcf, "TradeConfirm") == _names(recorded, "TradeConfirm")
    when = tcf.find(".//TradeConfirm").get("dateTime")
    assert len(when) == len("2026-04-02;11:08:05 EST") and when[10] == ";"  # the recording's layout
    for s in tcf.iter("FlexStatement"):
        assert s.get("fromDate") == (YESTERDAY - datetime.timedelta(days=6)).isoformat()


# ----- determinism ------------------------------------------------------------------------------------------

def test_the_same_query_at_the_same_simulated_time_gives_the_same_bytes(make_sim: Callable[..., Simulator],
                                                                        http: requests.Session,
                                                                        separate_worlds: None) -> None:
    a, b = (_flex_sim(make_sim, generation_polls=0) for _ in range(2))
    dates = {"fd": "20261102", "td": _ymd(YESTERDAY)}
    first = Ref(http, a).statement("900002", **dates)
    assert Ref(http, b).statement("900002", **dates) == first
    assert Ref(http, a).statement("900002", **dates) == first  # a new reference code for the same query


# ----- reconciliation ----------------------------------------------------------------------------------------

def test_trades_are_the_simulators_executions(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = _flex_sim(make_sim, generation_polls=0)
    first = TODAY - datetime.timedelta(days=6)
    root = ET.fromstring(Ref(http, sim).statement("900001", fd=_ymd(first), td=_ymd(YESTERDAY)))
    flex = {t.get("ibExecID"): t.attrib for t in root.iter("Trade")}
    world = sim.world
    expected = {e.exec_id: e for a in world.accounts for e in world.executions_for(a.id) if first <= e.trade_date <= YESTERDAY}
    assert set(flex) == set(expected) and len(flex) == len(list(root.iter("Trade")))
    for exec_id, e in expected.items():
        t = flex[exec_id]
        assert t["accountId"] == e.account and t["conid"] == str(e.conid) and t["ibOrderID"] == str(e.order_id)
        assert float(t["quantity"]) == e.signed_quantity and float(t["tradePrice"]) == e.price
        assert float(t["ibCommission"]) == -e.commission and t["tradeDate"] == _ymd(e.trade_date)
        assert t["tradeID"] == str(int(exec_id.split(".")[1], 16))
    # ... and what /iserver/account/trades answers for the days both cover (its days are New York's)
    assert http.get(sim.base_url + "/iserver/accounts").status_code == 200
    http.get(sim.base_url + "/iserver/account/trades")  # the session's cold first read
    api = http.get(sim.base_url + "/iserver/account/trades", params={"days": 7}).json()
    # Flex dates a trade by its exchange's day, the API's window by New York's: a Tokyo fill early on
    # Friday is Thursday in New York. Both cover a fill whose two dates fall before today.
    utc = [(r, datetime.datetime.strptime(r["trade_time"], "%Y%m%d-%H:%M:%S").replace(tzinfo=datetime.timezone.utc))
           for r in api]
    both = [r for r, t in utc if new_york_date(t) < TODAY and t.date() < TODAY]
    assert both and {r["execution_id"] for r in both} <= set(flex)
    for r in both:
        t = flex[r["execution_id"]]
        assert (t["accountId"], int(t["ibOrderID"]), abs(float(t["quantity"])), float(t["tradePrice"])) == \
            (r["account"], r["order_id"], r["size"], float(r["price"]))
        assert t["orderReference"] == r["order_ref"] and float(t["ibCommission"]) == -float(r["commission"])


def test_positions_and_nav_are_the_ledgers(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = _flex_sim(make_sim, generation_polls=0)
    first = TODAY - datetime.timedelta(days=4)
    root = ET.fromstring(Ref(http, sim).statement("900001", fd=_ymd(first), td=_ymd(YESTERDAY)))
    views, world = sim.views, sim.world
    for s in root.iter("FlexStatement"):
        account, day = s.get("accountId"), datetime.datetime.strptime(s.get("toDate"), "%Y%m%d").date()
        nav = s.find("ChangeInNAV")
        assert float(nav.get("endingValue")) == views.nav_base(account, day)
        before = business_days(day - datetime.timedelta(days=5), day - datetime.timedelta(days=1))[-1]
        assert float(nav.get("startingValue")) == views.nav_base(account, before)
        parts = [float(v) for k, v in nav.attrib.items() if k not in ("accountId", "acctAlias", "model", "currency",
                 "fromDate", "toDate", "startingValue", "endingValue")]
        assert abs(float(nav.get("startingValue")) + sum(parts) - float(nav.get("endingValue"))) < 0.015
        (equity,) = s.iter("EquitySummaryByReportDateInBase")
        assert float(equity.get("total")) == views.nav_base(account, day)
        held = {int(p.get("conid")): float(p.get("position")) for p in s.iter("OpenPosition")}
        assert held == world.positions_as_of(account, day)
        rows = {r["conid"]: r for r in views.valuation(account, day).rows}
        for p in s.iter("OpenPosition"):
            row = rows[int(p.get("conid"))]
            assert (float(p.get("positionValue")), float(p.get("costBasisPrice")), float(p.get("fifoPnlUnrealized"))) == \
                (row["mktValue"], row["avgPrice"], row["unrealizedPnl"])
        rates = {r.get("fromCurrency"): float(r.get("rate")) for r in s.iter("ConversionRate")}
        base = world.account(account).currency
        assert rates == {c: world.fx_rate(c, base, day) for c in ("CHF", "EUR", "GBP", "HKD", "JPY", "USD") if c != base}


# ----- the quirks ----------------------------------------------------------------------------------------------

def test_the_quirks_importers_meet(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    history = replace(DEFAULT_QUERIES[2], query_id="777001")  # period, every section, novelties on
    sim = _flex_sim(make_sim, generation_polls=0, queries=DEFAULT_QUERIES + (history,),
                    tokens=(FlexToken(DEFAULT_TOKEN, ("777001",)),))
    root = ET.fromstring(Ref(http, sim).statement("777001", fd="20240102", td="20240329"))
    statements = {s.get("accountId"): s for s in root.iter("FlexStatement")}
    listed = {a.id for a in sim.world.accounts}
    # a closed account: in the report, not in the login's listing; funded and closed on its first day
    (closed,) = set(statements) - listed
    info = statements[closed].find("AccountInformation")
    assert info.get("dateClosed") == info.get("dateOpened") == "01/02/2024"
    assert closed not in {a["id"] for a in http.get(sim.base_url + "/portfolio/accounts").json()}
    # a transfer between the user's own accounts, seen from both
    moves = {(t.get("accountId"), t.get("direction"), t.get("account"), float(t.get("cashTransfer")))
             for t in root.iter("Transfer")}
    assert moves == {(closed, "OUT", "U7000099", -600000.0), ("U7000099", "IN", closed, 600000.0)}
    assert float(statements["U7000099"].find("ChangeInNAV").get("internalCashTransfers")) == 600000.0
    # a withholding-tax adjustment reported late: old dateTime, new reportDate
    rows = [c.attrib for c in root.iter("CashTransaction")]
    late = [r for r in rows if r["type"] == "Withholding Tax" and r["dateTime"] != r["reportDate"]]
    assert late and all(_us(r["reportDate"]) > _us(r["dateTime"]) for r in late)
    # a dividend split into an ordinary part and a payment in lieu (one actionID)
    kinds = defaultdict(set)
    for r in rows:
        if r["actionID"]:
            kinds[(r["accountId"], r["actionID"])].add(r["type"])
    assert any({"Dividends", "Payment In Lieu Of Dividends"} <= k for k in kinds.values())
    # every dividend's rows add up to the world's cash event
    net = defaultdict(float)
    for r in rows:
        if r["actionID"]:
            net[(r["accountId"], r["conid"], r["settleDate"])] += float(r["amount"])
    world_net = {(ev.account, str(ev.conid), ev.date.strftime("%m/%d/%Y")): ev.amount
                 for a in listed for ev in sim.world.cash_events_for(a) if ev.kind == "dividend"
                 and datetime.date(2024, 1, 2) <= ev.date <= datetime.date(2024, 3, 29)}
    adjusted_after = {(r["accountId"], r["conid"], r["settleDate"]) for r in rows if r["type"] == "Withholding Tax"
                      and _us(r["settleDate"]) > datetime.date(2024, 3, 15)}  # adjustments reported after the end
    assert {k: round(v, 2) for k, v in net.items() if k not in adjusted_after} == \
        {k: v for k, v in world_net.items() if k not in adjusted_after}
    # empty sections, an attribute and a section the reference does not list
    assert all(len(s.find("CorporateActions")) == 0 for s in statements.values())
    assert any(NOVEL_ATTRIBUTE[0] in e.attrib for e in root.iter())
    assert root.find(".//CommissionCredits/CommissionCredit") is not None


def _us(text: str) -> datetime.date:
    """A date of the history query's MM/dd/yyyy format."""
    return datetime.datetime.strptime(text, "%m/%d/%Y").date()


def test_a_multi_year_report_streams_in_bounded_memory(world: World) -> None:
    # Since the world's first day, one statement per account: the busiest account and the closed one.
    query = replace(DEFAULT_QUERIES[2], accounts=("U7000011", "U7000098"))
    start, end = query.period_range(TODAY, world.start)
    writer = Writer(world, Views(world), Run(query, start, end, query.period, TODAY))
    tracemalloc.start()
    size, closed = 0, 0
    try:
        for line in writer.lines():
            size += len(line) + 1
            closed += 'accountId="U7000098"' in line and "<FlexStatement " in line
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert end - start > datetime.timedelta(days=2 * 365) and size > 4_000_000
    assert peak < min(3_000_000, size // 2), peak  # what a day or a statement's positions hold, not the report
    assert closed == 1  # the account closed on the first day is still in a multi-year report


def test_the_cli_prints_the_flex_defaults(run_cli: Callable[..., Any]) -> None:
    port = _free_port()
    proc = run_cli("--port", str(port), "--date", TODAY.isoformat())
    out, deadline = "", time.monotonic() + 30
    while "Flex query 900005" not in out:
        assert proc.poll() is None and time.monotonic() < deadline, out
        if select.select([proc.stdout], [], [], 0.5)[0]:
            out += os.read(proc.stdout.fileno(), 4096).decode()
    lines = out.splitlines()
    assert any(f"Flex token {DEFAULT_TOKEN}: queries 900001, 900002, 900003, 900004, 900005" in x
               and f"127.0.0.1:{port}{FLEX}" in x for x in lines), lines
    assert any(x.startswith("Flex query 900003 'History Since Inception'") for x in lines), lines
