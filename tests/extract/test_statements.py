"""Account Management statements (issue 12) against the embedded simulator: which statements a window lands,
files beside their rows with the sha256 the rows say, a re-run that rewrites nothing, one line per refused
statement while the others land, no document in the raw archive, and IBKR's AM limits kept."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
from pathlib import Path
from typing import Any, Iterator, Mapping

import pytest

from ibkr_pipelines.config import Settings
from ibkr_pipelines.connection import Connection, open_connection, sharing_simulator, start_embedded_simulator
from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.extract.statements import Listed, fetch_account_statements, listed_statements, wanted_statements
from ibkr_pipelines.land.documents import DocumentStore
from ibkr_pipelines.schemas import Reach
from ibkr_pipelines.sources import SOURCES, login_accounts
from ibkr_pipelines.staging import Storage, load_table, stage_source
from ibkr_pipelines.windows import DateWindow
from tests.fast_limits import FAST_LIMITS

TODAY = dt.date(2026, 11, 27)
MONTH_END = DateWindow(dt.date(2026, 10, 31), dt.date(2026, 11, 1))  # holds 31 October


def test_a_window_lands_each_listed_day_and_the_months_and_years_ending_in_it() -> None:
    listed = Listed(dt.date(2025, 1, 2), dt.date(2026, 1, 1), frozenset({"202512", "202511"}), frozenset({"2025"}))
    wanted = wanted_statements("U1", listed, DateWindow(dt.date(2024, 12, 31), dt.date(2026, 1, 2)))
    periods = [(w.period, w.start, w.end, w.start_text, w.end_text) for w in wanted if w.period != "daily"]
    assert periods == [
        ("monthly", dt.date(2025, 11, 1), dt.date(2025, 11, 30), "202511", "202511"),
        ("monthly", dt.date(2025, 12, 1), dt.date(2025, 12, 31), "202512", "202512"),
        ("annual", dt.date(2025, 1, 1), dt.date(2025, 12, 31), "2025", "2025"),
    ]  # 2024-12-31 and 2026-01-02 are outside the daily range; other months are not listed
    days = [w.start for w in wanted if w.period == "daily"]
    assert days[0] == dt.date(2025, 1, 2) and days[-1] == dt.date(2026, 1, 1) and len(days) == 365
    assert {w.start_text for w in wanted if w.period == "daily"} == {d.strftime("%Y%m%d") for d in days}


def test_an_account_with_nothing_listed_lands_nothing() -> None:
    listed = listed_statements({"data": {"dataType": "String", "value": {"daily": {}, "monthly": [], "annual": []}}})
    assert listed == Listed(None, None, frozenset(), frozenset())
    assert wanted_statements("U1", listed, MONTH_END) == []


class Reports:
    """A data folder, an embedded simulator (IBKR's AM limits: IBKR_SIM_LIMITS touches only the Client Portal)."""

    def __init__(self, root: Path, connection: Connection) -> None:
        self.storage = Storage.at(root / "data")
        self.connection = connection

    @property
    def simulator(self) -> Any:
        return self.connection.simulator

    def land(self, window: DateWindow, run_id: str) -> None:
        stage_source(SOURCES["statements"], self.connection.client, self.storage, window, run_id=run_id,
                     dates=self.connection)
        load_table("statements", self.storage, window, run_id)

    def rows(self) -> list[tuple[Any, ...]]:
        with self.storage.warehouse.connect(read_only=True) as con:
            return con.execute("select * from statements order by account_id, period, end_date").fetchall()


def _open(root: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Iterator[Reports]:
    monkeypatch.delenv("IBKR_BASE_URL", raising=False)
    monkeypatch.setenv("IBKR_PACING_DIR", str(root / "pacing"))
    monkeypatch.setenv("IBKR_LIMITS", FAST_LIMITS)
    monkeypatch.setenv("IBKR_SIM_LIMITS", FAST_LIMITS)
    settings = Settings.from_env()
    simulator = start_embedded_simulator(settings, TODAY, **options)
    try:
        with sharing_simulator(simulator), open_connection(settings) as connection:
            yield Reports(root, connection)
    finally:
        simulator.stop()


@pytest.fixture
def reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Reports]:
    yield from _open(tmp_path, monkeypatch)


def test_statements_land_as_files_with_the_hash_their_rows_say_and_a_rerun_rewrites_nothing(reports: Reports) -> None:
    reports.land(MONTH_END, "first")
    rows = reports.rows()
    accounts = login_accounts(reports.connection.client, ())
    # Every account: a daily statement per date of the window, and October's monthly one (31 October is in it).
    kinds = sorted({(r[1], r[2], r[3], r[0]) for r in rows})
    expected = sorted({(a, "daily", d, d) for a in accounts for d in MONTH_END}
                      | {(a, "monthly", dt.date(2026, 10, 1), dt.date(2026, 10, 31)) for a in accounts})
    assert kinds == expected
    data = reports.storage.root
    for end, account, period, start, mime, path, sha, size in rows:
        assert path == f"lake/statements_files/{account}/{period}/{start}_{end}.pdf" and mime == "application/pdf"
        content = (data / path).read_bytes()
        assert content.startswith(b"%PDF-1.4") and hashlib.sha256(content).hexdigest() == sha and len(content) == size
        label = {"daily": start.strftime("%Y%m%d"), "monthly": start.strftime("%Y%m")}[period]
        assert f"Activity Statement {account} {period.capitalize()} {label}".encode() in content
    am = reports.simulator.stats()["account_management"]
    assert am["requests"] == {"GET /statements/available": len(accounts), "POST /statements": len(rows)}
    assert am["documents"] == len(rows) and am["throttled"] == 0 and am["refusals"] == {}
    # The raw archive holds each statement answer's envelope and digest, never the document.
    raw = [p for p in (data / "raw").rglob("*.json.gz")]
    archived = b"".join(reports.storage.raw.read(p) for p in raw)
    some = (data / rows[0][5]).read_bytes()
    assert b"%PDF" not in archived and base64.b64encode(some)[:200] not in archived
    assert rows[0][6].encode() in archived  # the digest names the document the row describes
    # The same window again: the same rows, and no file written again.
    stamps = {r[5]: (data / r[5]).stat().st_mtime_ns for r in rows}
    reports.land(MONTH_END, "second")
    assert reports.rows() == rows
    assert {r[5]: (data / r[5]).stat().st_mtime_ns for r in rows} == stamps
    assert not list((data / "lake" / "statements_files").rglob(".*.tmp"))


class ListsOneDayTooMany:
    """The simulator's AM client, except that the listing also names the next day, which IBKR then refuses (422)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        answer = self.client.get(path, params=params)
        daily = answer["data"]["value"]["daily"]
        last = dt.datetime.strptime(daily["endDate"], "%Y%m%d").date()
        daily["endDate"] = (last + dt.timedelta(days=1)).strftime("%Y%m%d")
        return answer

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self.client.post(path, json=json, params=params)


def test_a_listed_statement_ibkr_refuses_is_one_line_and_the_others_land(
    reports: Reports, caplog: pytest.LogCaptureFixture
) -> None:
    window = DateWindow(dt.date(2026, 11, 19), dt.date(2026, 11, 20))
    reports.connection.serve(DateWindow.of(dt.date(2026, 11, 19)), Reach.SETTLED)  # 20 November not ready yet
    am = ListsOneDayTooMany(reports.connection.client.account_management())
    account = login_accounts(reports.connection.client, ())[-1]
    with caplog.at_level(logging.WARNING):
        got = fetch_account_statements(am, account, window, DocumentStore(reports.storage.root))
    assert [(r["period"], r["end_date"]) for r in got.frame.to_dicts()] == [("daily", dt.date(2026, 11, 19))]
    [line] = got.failures
    assert line.startswith(f"statement {account} daily 20261120 not landed: Account Management: a business error")
    assert "not ready yet" in line and "\n" not in line and line in caplog.text
    assert reports.simulator.stats()["account_management"]["refusals"] == {"not_ready": 1}


def test_a_window_whose_every_statement_is_refused_fails_in_one_line(reports: Reports) -> None:
    from ibkr_pipelines import sources

    class Refusing:
        """The login, whose Account Management client lists one day too many."""

        def __init__(self, client: Any) -> None:
            self.client = client

        def __getattr__(self, name: str) -> Any:
            return getattr(self.client, name)

        def account_management(self) -> Any:
            return ListsOneDayTooMany(self.client.account_management())

    reports.connection.serve(DateWindow.of(dt.date(2026, 11, 19)), Reach.SETTLED)
    inputs = sources.FetchInputs(DateWindow.of(dt.date(2026, 11, 20)), (), {}, data_dir=reports.storage.root)
    with pytest.raises(IbkrPipelinesError, match=r"^no statement landed: statement \S+ daily 20261120 not landed: "
                                                 r".*not ready yet.* \(and \d+ more\)$"):
        sources.SOURCES["statements"].fetch(Refusing(reports.connection.client), inputs)


def test_rebuild_does_not_replay_statements_and_says_so(tmp_path: Path) -> None:
    """The archive keeps a digest of each document, not the document: a rebuild's client has no AM face."""
    from ibkr_pipelines.land.raw_archive import RawArchive
    from ibkr_pipelines.rebuild import ArchiveClient
    from ibkr_pipelines.sources import account_management_of

    with pytest.raises(IbkrPipelinesError, match="not replayed from the raw archive"):
        account_management_of(ArchiveClient(RawArchive(tmp_path), SOURCES["statements"]))


def test_many_accounts_stay_inside_the_account_management_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An FA of 15 more clients asks 20 listings and 40 documents (a daily and a monthly statement each), several at
    once: the client paces them to IBKR's 10 per second per endpoint (reference §3.1), so the simulator, which
    polices IBKR's limits, answers none with 429."""
    for reports in _open(tmp_path, monkeypatch, extra_subaccounts=15):
        day = DateWindow.of(dt.date(2026, 10, 31))
        reports.land(day, "fa")
        am = reports.simulator.stats()["account_management"]
        accounts = login_accounts(reports.connection.client, ())
        assert len(accounts) > 15 and am["requests"]["GET /statements/available"] == len(accounts)
        assert am["requests"]["POST /statements"] == len(reports.rows()) >= 2 * 15
        assert am["throttled"] == 0 and am["throttled_by"] == {"per_endpoint": 0, "per_master": 0}


class FundedOn:
    """The simulator's AM client, except that every account's listing starts on ``day`` (as if funded then)."""

    def __init__(self, client: Any, day: dt.date) -> None:
        self.client, self.day = client, day

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        answer = self.client.get(path, params=params)
        answer["data"]["value"]["daily"]["startDate"] = self.day.strftime("%Y%m%d")
        return answer

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self.client.post(path, json=json, params=params)


def test_dates_ibkr_does_not_list_are_not_asked_for_and_are_said_once(reports: Reports, caplog: pytest.LogCaptureFixture) -> None:
    """§3.3: statements exist from the funding date; dates before it are not asked for, and said in one line."""
    from ibkr_pipelines import sources

    class FundedLate:
        """The login, every account of which was funded on the window's last date."""

        def __init__(self, client: Any) -> None:
            self.client = client

        def __getattr__(self, name: str) -> Any:
            return getattr(self.client, name)

        def account_management(self) -> Any:
            return FundedOn(self.client.account_management(), window.end)

    window = DateWindow(dt.date(2026, 11, 18), dt.date(2026, 11, 19))
    reports.connection.serve(window, Reach.SETTLED)
    inputs = sources.FetchInputs(window, (), {}, data_dir=reports.storage.root)
    with caplog.at_level(logging.INFO, logger="ibkr_pipelines.progress"):
        out = sources.SOURCES["statements"].fetch(FundedLate(reports.connection.client), inputs)
    frame = out.frames["statements"]  # type: ignore[union-attr]
    accounts = login_accounts(reports.connection.client, ())
    assert sorted(frame["end_date"].unique().to_list()) == [window.end] and frame.height == len(accounts)
    assert reports.simulator.stats()["account_management"]["requests"]["POST /statements"] == len(accounts)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("statements: ")]
    assert lines == [f"statements: {len(accounts)} account(s) have no daily statement listed for some dates of "
                     f"{window} (IBKR lists 2 years plus year-to-date, from the funding date, up to yesterday), "
                     f"e.g. {min(accounts)}"]
