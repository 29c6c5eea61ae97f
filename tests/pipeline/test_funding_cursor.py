"""The funding sensor's pieces that need no IBKR: its cursor, IBKR's banking downtime, the runs a change asks for."""

from __future__ import annotations

import datetime

from assets.funding_sensor import CASH_TABLES, Change, FundingCursor, FundingTick, Known, _Budget, banking_down, run_request
from ibkr_pipelines.trading_calendar import TRADING_TIMEZONE


def _ny(day: str, time: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=TRADING_TIMEZONE)


def test_the_cursor_survives_a_round_trip_through_json() -> None:
    cursor = FundingCursor(
        {"44000001": Known("PENDING", ["U7000011"], "DEPOSIT", 2500.0, "USD", "2026-11-18T10:00:00-05", 10001, 8000001)},
        {"U7000013": {"id": 45000007, "asked": "2026-11-18T15:00:00+00:00"}}, ["U7000011"], "2026-11-18T15:00:00+00:00")
    again = FundingCursor.from_json(cursor.to_json())
    assert again == cursor and again.to_json() == cursor.to_json()
    assert FundingCursor.from_json(None) == FundingCursor() == FundingCursor.from_json("")


def test_banking_downtime_follows_the_reference_table() -> None:
    # Reference §3.1: daily 11:45 pm-12:30 am ET; all of Saturday; Sunday before 3 pm ET.
    assert not banking_down(_ny("2026-11-19", "12:30"))  # a Thursday's noon
    assert banking_down(_ny("2026-11-19", "23:45")) and banking_down(_ny("2026-11-20", "00:29"))
    assert not banking_down(_ny("2026-11-20", "00:30")) and not banking_down(_ny("2026-11-19", "23:44"))
    assert banking_down(_ny("2026-11-21", "12:00"))  # Saturday
    assert banking_down(_ny("2026-11-22", "14:59")) and not banking_down(_ny("2026-11-22", "15:00"))  # Sunday
    # The same instant given in UTC: 04:50 UTC on a winter Friday is 23:50 ET on Thursday.
    assert banking_down(datetime.datetime(2026, 11, 20, 4, 50, tzinfo=datetime.timezone.utc))


def test_a_processed_change_lands_cash_and_a_rejected_one_only_funding() -> None:
    day = datetime.date(2026, 11, 19)
    processed = run_request(Change(44000001, "PROCESSED", ("U1", "U2"), day, "INTERNAL_CASH_TRANSFER 5 USD"), "U1,U2")
    rejected = run_request(Change(44000002, "REJECTED", ("U3",), day, "WITHDRAWAL 1000 USD"), "U3")
    assert processed.run_key == "funding:44000001:PROCESSED" and rejected.run_key == "funding:44000002:REJECTED"
    assert processed.partition_key == rejected.partition_key == "2026-11-19"
    tables = {key.path[-1].removesuffix("_parquet") for key in processed.asset_selection or ()}
    assert tables == {*CASH_TABLES, "funding_instructions"}
    assert {key.path[0] for key in processed.asset_selection or ()} == {"lake", "warehouse"}
    assert {key.path[-1].removesuffix("_parquet") for key in rejected.asset_selection or ()} == {"funding_instructions"}
    assert processed.run_config["resources"]["ibkr"]["config"]["account_ids"] == "U1,U2"


def test_a_transfers_other_account_seen_after_it_was_announced_gets_its_own_run() -> None:
    """Account A's history showed the transfer and it was announced PROCESSED; B's history shows it later."""
    now = _ny("2026-11-19", "16:00")
    known = Known("PROCESSED", ["U1"], "INTERNAL_CASH_TRANSFER", 5.0, "USD", "2026-11-19T10:00:00-05", 10001, 8000001,
                  resolved="2026-11-19 11:00:00")
    cursor = FundingCursor({"44000001": known}, {}, ["U1", "U2"], None)
    tick = FundingTick(None, ("U1", "U2"), cursor, now, _Budget(20, 100, lambda: 0.0))  # type: ignore[arg-type]
    tick._merge("U2", [{"ibInstructionId": 44000001, "status": "PROCESSED"}])
    assert [(c.accounts, c.run_key) for c in tick.changes] == [(("U2",), "funding:44000001:PROCESSED:U2")]
    tick._merge("U2", [{"ibInstructionId": 44000001, "status": "PROCESSED"}])  # seen again: nothing new
    assert len(tick.changes) == 1 and cursor.known["44000001"].accounts == ["U1", "U2"]
    request = run_request(tick.changes[0], "U2")
    assert request.run_key == "funding:44000001:PROCESSED:U2" and request.partition_key == "2026-11-19"
