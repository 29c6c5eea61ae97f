"""The operator charts: a PNG Markdown image where a picture helps, a sentence where it would not, the limit that binds."""

from __future__ import annotations

import base64
import datetime

import duckdb
import polars as pl

from ibkr_pipelines.client.limits import default_limits
from ibkr_pipelines.report import operator_charts

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_of(markdown: str) -> bytes:
    """The PNG bytes inside a ``![alt](data:image/png;base64,...)`` Markdown image."""
    assert markdown.startswith("![") and markdown.endswith(")"), markdown[:80]
    _, _, data = markdown[:-1].partition("](data:image/png;base64,")
    return base64.b64decode(data, validate=True)


SENDS = [(100.0 + i * 0.15, f"GET /v1/api/portfolio/{{accountId}}/positions/{{n}}" if i % 2 else "GET /v1/api/iserver/accounts")
         for i in range(40)]


def test_the_binding_line_is_the_limit_every_request_of_the_busiest_service_counts_against() -> None:
    limits = default_limits("gateway")
    line = operator_charts.binding_line(limits, [e for _, e in SENDS])
    assert line is not None and (line.scope, line.window.count, line.window.seconds) == ("global", 10, 1.0)
    flex = operator_charts.binding_line(limits, ["GET /AccountManagement/FlexWebService/SendRequest"])
    assert flex is not None and (flex.scope, flex.window.count, flex.window.seconds) == ("flex_token", 10, 60.0)
    assert operator_charts.binding_line(limits, []) is None


def test_the_pacing_frame_counts_requests_per_window_of_the_limit() -> None:
    line = operator_charts.binding_line(default_limits("gateway"), [e for _, e in SENDS])
    assert line is not None
    frame = operator_charts.pacing_frame(SENDS, line, began=100.0)
    assert frame["requests"].sum() == len(SENDS)
    # 40 sends 0.15 s apart span 5.85 s: windows of 1 s starting at 0..5, never more than 7 requests in one.
    assert sorted(set(frame["start"].to_list())) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert frame.group_by("start").agg(pl.col("requests").sum())["requests"].max() == 7
    assert set(frame["endpoint"]) == {"GET /portfolio/{accountId}/positions/{n}", "GET /iserver/accounts"}


def test_the_pacing_timeline_is_a_png_image_with_a_penalty_and_a_sentence_when_nothing_was_sent() -> None:
    line = operator_charts.binding_line(default_limits("gateway"), [e for _, e in SENDS])
    penalty = {"endpoint": "GET /iserver/accounts", "scopes": ["global"], "seconds": 600.0, "noticed_at": 103.0}
    png = png_of(operator_charts.pacing_timeline_markdown(SENDS, [penalty], line, began=100.0))
    assert png.startswith(PNG_SIGNATURE) and len(png) > 1000
    empty = operator_charts.pacing_timeline_markdown([], [], line, began=100.0)
    assert "![" not in empty and "no request" in empty


def test_requests_that_fit_in_one_window_of_the_limit_are_told_in_a_sentence_unless_one_drew_a_429() -> None:
    line = operator_charts.binding_line(default_limits("gateway"), [e for _, e in SENDS])
    assert line is not None and line.window.count == 10
    few = SENDS[:10]  # 10 requests against 10 per 1 s: the limit could not have spread them
    told = operator_charts.pacing_timeline_markdown(few, [], line, began=100.0)
    assert "![" not in told and told.startswith("10 request(s) over 1.3 s") and "10 requests per 1 s" in told
    penalty = {"endpoint": "GET /iserver/accounts", "scopes": ["global"], "seconds": 60.0, "noticed_at": 100.5}
    assert png_of(operator_charts.pacing_timeline_markdown(few, [penalty], line, began=100.0)).startswith(PNG_SIGNATURE)
    assert png_of(operator_charts.pacing_timeline_markdown(SENDS[:11], [], line, began=100.0)).startswith(PNG_SIGNATURE)


def test_rows_over_time_reads_the_newest_load_of_the_last_dates_and_draws_them() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE _load_log (table_name TEXT, partition_key TEXT, rows BIGINT, loaded_at TIMESTAMP)")
    first = datetime.date(2024, 1, 1)
    for day in range(70):
        date = (first + datetime.timedelta(days=day)).isoformat()
        con.execute("INSERT INTO _load_log VALUES ('positions', ?, ?, TIMESTAMP '2024-04-01 00:00:00')", [date, 1])
        con.execute("INSERT INTO _load_log VALUES ('positions', ?, ?, TIMESTAMP '2024-04-02 00:00:00')", [date, day])
    con.execute("INSERT INTO _load_log VALUES ('trades', '2024-01-01', 5, TIMESTAMP '2024-04-02 00:00:00')")
    frame = operator_charts.rows_over_time(con, "positions")
    assert frame.height == operator_charts.ROWS_DATES
    assert frame["partition_date"][0] == first + datetime.timedelta(days=10)
    assert frame["rows"].to_list() == list(range(10, 70)), "the newest load of each date"
    png = png_of(operator_charts.rows_over_time_markdown(frame, "positions"))
    assert png.startswith(PNG_SIGNATURE) and len(png) > 1000
    empty = operator_charts.rows_over_time_markdown(operator_charts.rows_over_time(con, "nav"), "nav")
    assert "![" not in empty and "nav" in empty
    one_date = operator_charts.rows_over_time_markdown(operator_charts.rows_over_time(con, "trades"), "trades")
    assert one_date == "Only 2024-01-01 of `trades` has been loaded: 5 rows (its newest load). A picture needs two dates."
