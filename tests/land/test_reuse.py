"""A re-run moments after a crash reuses the scarce answers (one per 15 minutes) its fetch already received."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Mapping

from ibkr_pipelines.client.limits import default_limits
from ibkr_pipelines.client.stats import RunStats
from ibkr_pipelines.land.raw_archive import RawArchive
from ibkr_pipelines.reuse import ReusingClient, scarce_window

T0 = dt.datetime(2026, 3, 20, 3, 30, tzinfo=dt.timezone.utc)
TAGS = {"source": "nav_daily", "window": "2026-03-14..2026-03-20", "run_id": "run-1"}
BODY = {"acctIds": ["U1"]}


class FakeIbkr:
    """Counts requests; answers every one with its own number."""

    def __init__(self) -> None:
        self.limits = default_limits()
        self.stats = RunStats()
        self.calls: list[str] = []

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        self.calls.append(path)
        return {"call": len(self.calls)}

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        self.calls.append(path)
        return {"call": len(self.calls)}


def _archived(tmp_path: Path, at: dt.datetime, **tags: str) -> RawArchive:
    archive = RawArchive(tmp_path)
    archive.record("POST", "/pa/allperiods", None, 200, json.dumps({"archived": True}).encode(),
                   partition="2026-03-14", body=BODY, tags={**TAGS, **tags})
    index = archive.index_path("2026-03-14")
    line = json.loads(index.read_text())
    index.write_text(json.dumps({**line, "recorded_at": at.isoformat()}) + "\n")
    return archive


def test_only_endpoints_of_a_minute_or_more_are_scarce() -> None:
    ibkr = FakeIbkr()
    assert scarce_window(ibkr, "POST", "/pa/allperiods") == 900.0
    assert scarce_window(ibkr, "GET", "/iserver/account/trades") is None  # 1 per 5 s: just ask
    assert scarce_window(object(), "POST", "/pa/allperiods") is None  # the rebuild's client has no limits


def test_an_answer_younger_than_its_window_is_reused(tmp_path: Path) -> None:
    ibkr = FakeIbkr()
    client = ReusingClient(ibkr, _archived(tmp_path, T0), "2026-03-14", TAGS, now=lambda: T0 + dt.timedelta(minutes=5))
    assert client.post("/pa/allperiods", json=BODY) == {"archived": True}
    assert ibkr.calls == [] and client.reused == 1
    # Another request, another endpoint: asked.
    assert client.post("/pa/allperiods", json={"acctIds": ["U2"]}) == {"call": 1}
    assert client.get("/iserver/account/trades") == {"call": 2}


def test_an_old_answer_or_another_fetchs_answer_is_asked_again(tmp_path: Path) -> None:
    later = ReusingClient(FakeIbkr(), _archived(tmp_path / "a", T0), "2026-03-14", TAGS, now=lambda: T0 + dt.timedelta(minutes=16))
    assert later.post("/pa/allperiods", json=BODY) == {"call": 1}
    other_window = ReusingClient(FakeIbkr(), _archived(tmp_path / "b", T0, window="2026-03-20"), "2026-03-14", TAGS,
                                 now=lambda: T0 + dt.timedelta(minutes=1))
    assert other_window.post("/pa/allperiods", json=BODY) == {"call": 1}
