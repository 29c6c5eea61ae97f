"""funding_instructions from Account Management (reference §3.4): the query's 202 then its poll, 208, 404, 422.

The scripted answers go through the real transport and Account Management rules (a loopback server), so
statuses and problem+json bodies are read as they would be from IBKR; the last test reads the embedded
simulator's funding instructions end to end.
"""

from __future__ import annotations

import datetime
import json
from typing import Any


from ibkr_pipelines.config import Settings
from ibkr_pipelines.connection import open_connection
from ibkr_pipelines.extract.funding import QueryWait, fetch_funding, instant, recent_instructions
from ibkr_pipelines.sources import SOURCES, FetchInputs
from ibkr_pipelines.windows import DateWindow
from tests.client.loopback import Loopback
from tests.client.test_account_management import ROOT, _problem, am_client

FAST = QueryWait(first_pause=0.01, max_pause=0.05, deadline_seconds=5)
DAY = datetime.date(2026, 11, 27)
QUERY = f"POST {ROOT}/instructions/query"
QUERY_ID = 45000001


def _accepted() -> tuple[int, dict[str, Any]]:
    """The 202 of a recent-instructions query (reference §3.4 envelope)."""
    return 202, {"status": 202, "instructionSetId": 20001, "instructionResult": {
        "clientInstructionId": 1, "instructionType": "QUERY_RECENT_INSTRUCTIONS", "instructionStatus": "PENDING",
        "instructionId": QUERY_ID}}


def _query_done(rows: list[dict[str, Any]], done: bool = True) -> tuple[int, dict[str, Any]]:
    result: dict[str, Any] = {"clientInstructionId": 1, "instructionType": "QUERY_RECENT_INSTRUCTIONS",
                              "instructionId": QUERY_ID, "instructionStatus": "PROCESSED" if done else "PENDING"}
    if done:
        result["instructionHistory"] = {"historyMaxDepthNumberOfDays": 30,
                                        "historyMaxDepthNumberOfInstruction": 100000, "result": rows}
    return 200, {"status": 200, "instructionSetId": 20001, "instructionResult": result}


def _row(iid: int | None, status: str, *, cid: int = 7008143, set_id: int = 2480, kind: str = "DEPOSIT",
         amount: float = 100.0) -> dict[str, Any]:
    row = {"amount": amount, "clientInstructionId": cid, "currency": "USD", "instructionSetId": set_id,
           "instructionType": kind, "requestDate": "2026-11-26T10:20:06-05", "status": status}
    return row | ({"ibInstructionId": iid} if iid is not None else {})


def _polled(iid: int, status: str, *, set_id: int = 2480, code: int = 200, **more: Any) -> tuple[int, dict[str, Any]]:
    return code, {"status": code, "instructionSetId": set_id, "instructionResult": {
        "clientInstructionId": 7008143, "instructionId": iid, "instructionStatus": status,
        "instructionType": "DEPOSIT", **more}}


def _by_id(frame: Any) -> dict[int, dict[str, Any]]:
    return {r["instruction_id"]: r for r in frame.to_dicts()}


def test_the_query_is_accepted_with_202_and_its_history_read_once_polled_processed() -> None:
    history = [_row(43092468, "PENDING"), _row(43092469, "PROCESSED", kind="WITHDRAWAL"),
               _row(43092470, "REJECTED", kind="WITHDRAWAL", amount=9000.0)]
    script = {
        QUERY: [_accepted()],
        f"GET {ROOT}/instructions/{QUERY_ID}": [_query_done([], done=False), _query_done([], done=False),
                                                 _query_done(history)],
        f"GET {ROOT}/instructions/43092468": [_polled(43092468, "PROCESSED", ibReferenceId=166903389,
                                                      processedTimestamp="2026-11-27T11:02:03-05:00")],
        f"GET {ROOT}/instructions/43092470": [_polled(43092470, "REJECTED", processedTimestamp="2026-11-27T10:00:00-05:00",
                                                      error={"errorCode": "INSUFFICIENT_WITHDRAWABLE_CASH",
                                                             "errorMessage": "Too much"})],
    }
    with Loopback(script).running() as server:
        frame = fetch_funding(am_client(server), "U46377", observed=DAY, wait=FAST)
    seen = [(s.method, s.path.removeprefix(ROOT)) for s in server.seen]
    assert seen[0] == ("POST", "/instructions/query")
    body = json.loads(server.seen[0].body)
    assert body["instructionType"] == "QUERY_RECENT_INSTRUCTIONS"
    assert body["instruction"]["accountId"] == "U46377" and body["instruction"]["transactionHistory"]["daysToGoBack"] == 30
    assert seen[1:4] == [("GET", f"/instructions/{QUERY_ID}")] * 3  # polled until PROCESSED
    assert sorted(seen[4:]) == [("GET", "/instructions/43092468"), ("GET", "/instructions/43092470")]  # not the processed one
    assert all(method == "GET" or path == "/instructions/query" for method, path in seen)  # reads only
    rows = _by_id(frame)
    settled = rows[43092468]
    assert settled["status"] == "PROCESSED" and settled["ib_reference_id"] == 166903389
    assert settled["resolved_at"] == datetime.datetime(2026, 11, 27, 16, 2, 3, tzinfo=datetime.timezone.utc)
    assert settled["requested_at"] == datetime.datetime(2026, 11, 26, 15, 20, 6, tzinfo=datetime.timezone.utc)
    assert settled["first_observed_date"] == settled["last_observed_date"] == DAY
    assert rows[43092469]["status"] == "PROCESSED" and rows[43092469]["resolved_at"] is None
    rejected = rows[43092470]
    assert (rejected["status"], rejected["reject_code"], rejected["reject_reason"], rejected["amount"]) == (
        "REJECTED", "INSUFFICIENT_WITHDRAWABLE_CASH", "Too much", 9000.0)


def test_208_a_reused_client_instruction_id_counts_only_for_its_own_instruction_set() -> None:
    # No instructionId in these rows: polled by clientInstructionId, which two instructions share (208).
    history = [_row(None, "PENDING", cid=7008156, set_id=2650), _row(None, "PENDING", cid=7008157, set_id=2651)]
    script = {
        QUERY: [_accepted()],
        f"GET {ROOT}/instructions/{QUERY_ID}": [_query_done(history)],
        f"GET {ROOT}/client-instructions/7008156": [_polled(43092595, "PROCESSED", set_id=2650, code=208)],
        f"GET {ROOT}/client-instructions/7008157": [_polled(43092595, "PROCESSED", set_id=2650, code=208)],
    }
    with Loopback(script).running() as server:
        frame = fetch_funding(am_client(server), "U46377", observed=DAY, wait=FAST)
    by_cid = {r["client_instruction_id"]: r for r in frame.to_dicts()}
    assert by_cid[7008156]["status"] == "PROCESSED" and by_cid[7008156]["instruction_id"] == 43092595
    # The 208 answered the other set's instruction: this row keeps the history's status (reconcile by set).
    assert by_cid[7008157]["status"] == "PENDING" and by_cid[7008157]["instruction_id"] is None


def test_404_on_a_poll_keeps_the_historys_status() -> None:
    script = {
        QUERY: [_accepted()],
        f"GET {ROOT}/instructions/{QUERY_ID}": [_query_done([_row(43092468, "PENDING_VERIFICATION")])],
        f"GET {ROOT}/instructions/43092468": [_problem(404, "Not Found", "no instruction with instructionId 43092468")],
    }
    with Loopback(script).running() as server:
        frame = fetch_funding(am_client(server), "U46377", observed=DAY, wait=FAST)
    (row,) = frame.to_dicts()
    assert (row["instruction_id"], row["status"]) == (43092468, "PENDING_VERIFICATION")
    assert len(server.seen) == 3  # asked once: a 404 is an answer, not a failure


def test_422_a_query_already_running_is_asked_again_and_a_lasting_one_leaves_the_account_out() -> None:
    busy = _problem(422, "Unprocessable Entity", "the query 45000000 on U46377 is still being processed")
    script = {
        QUERY: [busy, busy, _accepted()],
        f"GET {ROOT}/instructions/{QUERY_ID}": [_query_done([_row(43092469, "PROCESSED")])],
    }
    with Loopback(script).running() as server:
        frame = fetch_funding(am_client(server), "U46377", observed=DAY, wait=FAST)
    assert [s.method for s in server.seen] == ["POST", "POST", "POST", "GET"]
    assert len({json.loads(s.body)["instruction"]["clientInstructionId"] for s in server.seen[:3]}) == 3  # fresh ids
    assert _by_id(frame)[43092469]["status"] == "PROCESSED"

    with Loopback({QUERY: [busy]}).running() as server:
        client = am_client(server)
        assert recent_instructions(client, "U46377", wait=QueryWait(0.01, 2.0, 0.05, 0.3)) is None
        assert fetch_funding(client, "U46377", observed=DAY, wait=QueryWait(0.01, 2.0, 0.05, 0.3)) is None
    assert {s.method for s in server.seen} == {"POST"}


def test_request_dates_with_an_hours_only_offset_are_read() -> None:
    assert instant("2025-11-05T00:20:06-05") == datetime.datetime(2025, 11, 5, 5, 20, 6, tzinfo=datetime.timezone.utc)
    assert instant("2026-11-27T11:02:03-05:00") == datetime.datetime(2026, 11, 27, 16, 2, 3, tzinfo=datetime.timezone.utc)
    assert instant("2025-11-05T00:20:06") is None and instant("soon") is None and instant(None) is None


def test_the_funding_source_reads_the_simulators_instructions_as_they_stand() -> None:
    """Against the embedded simulator: every account's 202-then-poll query, and each row as the world has it now."""
    with open_connection(Settings(), as_of=DAY, simulator_options={"funding_query_seconds": 0.2}) as connection:
        simulator = connection.simulator
        assert simulator is not None
        output = SOURCES["funding"].fetch(connection.client, FetchInputs(DateWindow.of(DAY), (), {}))
        now = simulator.clock.now()
        expected = {(i.instruction_id, account, i.status_at(now)) for i in simulator.world.funding
                    if i.requested <= now for account in i.accounts}
        requests = simulator.stats()["account_management"]["requests"]
        accounts = {a.id for a in simulator.world.accounts}
    frame = output.frames["funding_instructions"]  # type: ignore[union-attr]
    assert expected and {(r["instruction_id"], r["account_id"], r["status"]) for r in frame.to_dicts()} == expected
    assert set(output.covered or ()) == accounts  # type: ignore[union-attr]
    assert requests["POST /instructions/query"] == len(accounts)
    assert frame.filter(frame["status"] == "REJECTED")["reject_code"].null_count() == 0
    transfers = frame.filter(frame["instruction_type"] == "INTERNAL_CASH_TRANSFER")
    assert transfers.height and transfers.height == 2 * transfers["instruction_id"].n_unique()  # both sides listed
