"""Small PNG charts for operator metadata in the Dagster UI: a step's IBKR pacing timeline, a table's rows over time.

Each is drawn only where a picture says more than a sentence: more requests than one window of the
limit allows (or a 429), two loaded dates or more.

Altair, vl-convert and the report's palette are imported inside the builders, so a process that never
draws (a CLI ingest, a step with no request) does not pay for loading them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

import polars as pl

from ibkr_pipelines.client.limits import AM_MASTER_SCOPE, FLEX_SCOPE, GLOBAL, Limits, RateWindow

# Small enough to read beside the other metadata; a render at this size costs well under 0.3 s.
WIDTH, HEIGHT = 480, 160
# Endpoints drawn in their own colour; the rest share one "other" band.
MOST_ENDPOINTS = 5
ROWS_DATES = 60
# The request path each service's endpoint keys begin with, and the scope all of its requests count against.
_SERVICE_SCOPES = (
    ("/v1/api", GLOBAL, "Client Portal"),
    ("/AccountManagement/FlexWebService", FLEX_SCOPE.name, "Flex"),
    ("/gw/api/v1", AM_MASTER_SCOPE.name, "Account Management"),
)


@dataclass(frozen=True)
class PacingLine:
    """The limit drawn on a pacing timeline: at most ``window.count`` requests in any ``window.seconds``."""

    scope: str
    service: str
    window: RateWindow

    def describe(self) -> str:
        """Words for the chart title, e.g. ``Client Portal global limit: 10 requests per 1 s``."""
        return f"{self.service} {self.scope} limit: {self.window.count} requests per {self.window.seconds:g} s"


def _service_of(endpoint: str) -> tuple[str, str, str] | None:
    path = endpoint.partition(" ")[2]
    return next((s for s in _SERVICE_SCOPES if path.startswith(s[0])), None)


def binding_line(limits: Limits, endpoints: Iterable[str]) -> PacingLine | None:
    """The limit that all requests of the busiest service seen count against, at its tightest sustained window.

    Only a service-wide scope is drawn (the bars stack every endpoint of the step); stricter per-endpoint
    scopes are kept by the pacer but not drawn. None when no request belongs to a known service.
    """
    services = Counter(s for s in (_service_of(e) for e in endpoints) if s is not None)
    if not services:
        return None
    _, scope_name, label = services.most_common(1)[0][0]
    scope = limits.scopes.get(scope_name)
    if scope is None or not scope.windows:
        return None
    return PacingLine(scope_name, label, min(scope.windows, key=lambda w: w.per_second))


def _short(endpoint: str) -> str:
    """An endpoint key without its service root (``GET /portfolio/{accountId}/positions/{n}``)."""
    method, _, path = endpoint.partition(" ")
    service = _service_of(endpoint)
    return f"{method} {path[len(service[0]):] if service else path}"


def pacing_frame(sends: Iterable[tuple[float, str]], line: PacingLine, began: float) -> pl.DataFrame:
    """Requests per window of the limit and endpoint: window start (s after ``began``), endpoint, requests."""
    rows = [(at, _short(endpoint)) for at, endpoint in sends]
    if not rows:
        return pl.DataFrame(schema={"start": pl.Float64, "end": pl.Float64, "endpoint": pl.Utf8, "requests": pl.UInt32})
    frame = pl.DataFrame(rows, schema={"at": pl.Float64, "endpoint": pl.Utf8}, orient="row")
    most = set(frame["endpoint"].value_counts(sort=True).head(MOST_ENDPOINTS)["endpoint"])
    step = line.window.seconds
    return (
        frame.with_columns(
            pl.when(pl.col("endpoint").is_in(most)).then(pl.col("endpoint")).otherwise(pl.lit("other")).alias("endpoint"),
            (((pl.col("at") - began) / step).floor() * step).alias("start"),
        )
        .group_by("start", "endpoint").agg(pl.len().alias("requests"))
        .with_columns((pl.col("start") + step).alias("end"))
        .sort("start", "endpoint")
    )


def pacing_timeline_markdown(
    sends: Iterable[tuple[float, str]], penalties: Iterable[dict[str, Any]], line: PacingLine | None, began: float,
    scale: float = 1.0,
) -> str:
    """A step's requests per window of the binding limit, stacked by endpoint, the limit dashed, 429 penalties marked.

    A sentence instead when nothing was sent, or when the requests fit in one window and none drew a 429.
    """
    sends, penalties = list(sends), list(penalties)
    if not sends or line is None:
        return "This step sent no request to a paced IBKR service: nothing to draw."
    if len(sends) <= line.window.count and not penalties:
        # A picture only where it helps: requests that fit in one window were not spread by the limit,
        # and vl-convert holds the GIL for each render (~0.1-0.3 s) while the night's other steps wait.
        span = max(at for at, _ in sends) - min(at for at, _ in sends)
        return (f"{len(sends)} request(s) over {span:.1f} s, no more than one window of the limit allows "
                f"({line.describe()}): the limit did not spread them, nothing to draw; no 429.")
    import altair as alt

    from ibkr_pipelines.report.charts import PALETTE
    from ibkr_pipelines.report.render import to_png_markdown

    frame = pacing_frame(sends, line, began)
    marks = [(p["noticed_at"] - began, f"429 on {_short(p['endpoint'])}: {p['seconds']:g} s penalty")
             for p in penalties if "noticed_at" in p]
    unit = f"per {line.window.seconds:g} s"
    x = alt.X("start:Q", title="Seconds since the step began", scale=alt.Scale(domainMin=0, nice=False))
    layers = [
        alt.Chart(frame).mark_bar().encode(
            x=x, x2="end:Q",
            y=alt.Y("sum(requests):Q", title=f"Requests {unit}"),
            color=alt.Color("endpoint:N", title="Endpoint", scale=alt.Scale(range=PALETTE),
                            legend=alt.Legend(labelLimit=260, orient="bottom", columns=2)),
        ),
        alt.Chart(pl.DataFrame({"limit": [line.window.count]})).mark_rule(
            color=PALETTE[7], strokeDash=[6, 4], strokeWidth=1.5).encode(y="limit:Q"),
    ]
    if marks:
        layers.append(alt.Chart(pl.DataFrame(marks, schema=["at", "penalty"], orient="row")).mark_rule(
            color=PALETTE[5], strokeWidth=2).encode(x="at:Q", tooltip=["penalty:N"]))
    subtitle = (f"Dashed: {line.describe()}" + (f"; vermilion: {len(marks)} 429 penalty(ies)" if marks else "; no 429 penalty"))
    chart = alt.layer(*layers).properties(
        width=WIDTH, height=HEIGHT,
        title=alt.Title(f"IBKR requests {unit} ({len(sends)} in all)", subtitle=subtitle, anchor="start"))
    return to_png_markdown(chart, f"IBKR requests {unit} against the {line.scope} limit", scale)


def rows_over_time(con: Any, table: str, dates: int = ROWS_DATES) -> pl.DataFrame:
    """Rows of ``table`` per partition date after its newest load, for the last ``dates`` loaded dates (DuckDB ``con``)."""
    found = con.execute(
        """
        SELECT CAST(partition_key AS DATE) AS partition_date, arg_max(rows, loaded_at) AS rows
        FROM _load_log
        WHERE table_name = ? AND TRY_CAST(partition_key AS DATE) IS NOT NULL
        GROUP BY ALL ORDER BY partition_date DESC LIMIT ?
        """,
        [table, dates],
    ).fetchall()
    return pl.DataFrame(found, schema={"partition_date": pl.Date, "rows": pl.Int64}, orient="row").sort("partition_date")


def rows_over_time_markdown(frame: pl.DataFrame, table: str, scale: float = 1.0) -> str:
    """Rows per partition date of ``table`` as bars (newest load of each date), or a sentence for fewer than two dates."""
    if frame.is_empty():
        return f"No partition of `{table}` has been loaded yet: nothing to draw."
    if frame.height == 1:  # one bar is not a trend: a sentence says it (and spares a render)
        day, rows = frame.row(0)
        return f"Only {day} of `{table}` has been loaded: {rows} rows (its newest load). A picture needs two dates."
    import altair as alt

    from ibkr_pipelines.report.charts import PALETTE
    from ibkr_pipelines.report.render import to_png_markdown

    data = frame.with_columns(pl.col("partition_date").dt.strftime("%Y-%m-%d"))
    chart = alt.Chart(data).mark_bar(color=PALETTE[0]).encode(
        # A time axis (a few ticks) rather than one label per date: 60 measured labels cost a third of a second.
        x=alt.X("utcyearmonthdate(partition_date):T", title="Partition (trading date, New York)",
                scale=alt.Scale(type="utc"), axis=alt.Axis(format="%Y-%m-%d", tickCount=5, labelAngle=-30, labelOverlap=False)),
        y=alt.Y("rows:Q", title="Rows"),
    ).properties(width=WIDTH, height=HEIGHT, title=alt.Title(
        f"{table}: rows per partition date", anchor="start",
        subtitle=f"Newest load of each of the last {len(frame)} loaded dates (_load_log)"))
    return to_png_markdown(chart, f"{table} rows per partition date", scale)
