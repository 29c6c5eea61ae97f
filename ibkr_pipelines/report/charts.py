"""Vega-Altair charts of the report's frames: titles, units, currency, New York dates, a colour-blind-safe palette.

Every builder takes the polars frame of its query and returns a chart, or None when the frame has
nothing to draw (the page then says so in a sentence). Dates are passed to Vega as ``YYYY-MM-DD``
text on a UTC scale, so a chart shows the trading date whatever the time zone of the machine drawing it.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

# Okabe & Ito's palette (Color Universal Design): told apart with every common colour-vision deficiency.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
# More buckets than Okabe & Ito has colours (sectors): Paul Tol's muted scheme after them, also made for
# colour-vision deficiencies.
PALETTE_MANY = PALETTE[:7] + ["#332288", "#882255", "#44AA99", "#999933", "#AA4499", "#DDDDDD"]
# Coverage states: gaps in red (Paul Tol's vibrant red), the rest in blues and grey that never read as red.
COVERAGE_COLOURS = {"rows": "#0077BB", "empty": "#88CCEE", "gap": "#CC3311", "not asked": "#DDDDDD"}
WIDTH = 860
DATE_FORMAT = "%Y-%m-%d"


def _dates_as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Date columns as ISO text: Vega reads ``YYYY-MM-DD`` as UTC midnight, never shifted by a time zone."""
    return frame.with_columns(pl.col(pl.Date).dt.strftime("%Y-%m-%d"))


def _date_x(field: str, title: str = "Trading date (New York)") -> alt.X:
    # Ticks on whole days only (the default puts several ticks on one day of a short period).
    return alt.X(f"{field}:T", title=title, scale=alt.Scale(type="utc"),
                 axis=alt.Axis(format=DATE_FORMAT, labelAngle=-40, labelOverlap=True,
                               tickCount={"interval": "day", "step": 1}))


def _band_width(bands: int, step: int) -> Any:
    """A fixed step per band while they fit (one date is not one huge bar), else the page's width."""
    return alt.Step(step) if bands * step < WIDTH - 160 else WIDTH - 160


def _date_band(field: str, title: str = "Trading date (New York)") -> alt.X:
    """A date axis with one band per date (bars of a date side by side)."""
    return alt.X(f"{field}:O", title=title, axis=alt.Axis(labelAngle=-40))


def _colour(field: str, title: str, domain: list[str] | None = None) -> alt.Color:
    scale = alt.Scale(range=PALETTE) if domain is None else alt.Scale(domain=domain, range=PALETTE[: len(domain)])
    return alt.Color(f"{field}:N", title=title, scale=scale)


def _titled(chart: Any, title: str, subtitle: str) -> Any:
    return chart.properties(title=alt.Title(title, subtitle=subtitle, anchor="start"))


def nav_chart(nav: pl.DataFrame, flows: pl.DataFrame, currency: str, title: str) -> alt.TopLevelMixin | None:
    """NAV per date as a line, deposits and withdrawals as marked points on their dates."""
    if nav.is_empty():
        return None
    nav = _dates_as_text(nav)
    line = alt.Chart(nav).mark_line(point=True, color=PALETTE[0]).encode(
        x=_date_x("nav_date"),
        y=alt.Y("nav:Q", title=f"NAV ({currency})", scale=alt.Scale(zero=False), axis=alt.Axis(format=",.0f")),
        tooltip=[alt.Tooltip("nav_date:N", title="date"), alt.Tooltip("nav:Q", format=",.2f")],
    ).properties(width=WIDTH, height=260)
    layers = [line]
    if not flows.is_empty():
        marked = _dates_as_text(flows).with_columns(
            pl.when(pl.col("amount_base") >= 0).then(pl.lit("deposit")).otherwise(pl.lit("withdrawal")).alias("flow"))
        layers.append(alt.Chart(marked).mark_rule(strokeDash=[4, 3], strokeWidth=2).encode(
            x=_date_x("flow_date"),
            color=alt.Color("flow:N", title=f"Cash flow ({currency})",
                            scale=alt.Scale(domain=["deposit", "withdrawal"], range=[PALETTE[2], PALETTE[5]])),
            tooltip=["flow_date:N", alt.Tooltip("amount_base:Q", format=",.2f")],
        ))
    note = ("dashed lines: deposits (green) and withdrawals (vermilion)" if len(layers) > 1
            else "no deposits or withdrawals landed in the period (external_cash_flows)")
    return _titled(alt.layer(*layers), title, f"Net asset value at the close, {currency}; {note}")


def returns_chart(series: pl.DataFrame, currency: str, title: str, benchmark_note: str) -> alt.TopLevelMixin | None:
    """Daily TWR as grouped bars and the period's cumulative TWR as lines, portfolio beside its benchmark."""
    if series.is_empty():
        return None
    series = _dates_as_text(series).with_columns(pl.col("date").alias("day"))
    names = series.get_column("series").unique(maintain_order=True).to_list()
    colour = _colour("series", "Series", names)
    daily = alt.Chart(series).mark_bar().encode(
        x=_date_band("day"), xOffset=alt.XOffset("series:N", sort=names),
        y=alt.Y("daily_return:Q", title="Daily return (%)", axis=alt.Axis(format=".2%")),
        color=colour, tooltip=["series:N", "day:N", alt.Tooltip("daily_return:Q", format=".3%")],
    ).properties(width=_band_width(series.get_column("day").n_unique(), 48), height=170, title="Daily time-weighted return")
    cumulative = alt.Chart(series).mark_line(point=True).encode(
        x=_date_x("date"),
        y=alt.Y("period_return:Q", title="Cumulative return (%)", axis=alt.Axis(format=".2%")),
        color=colour, tooltip=["series:N", "date:N", alt.Tooltip("period_return:Q", format=".3%")],
    ).properties(width=WIDTH, height=200, title="Cumulative time-weighted return over the period")
    return _titled(alt.vconcat(daily, cumulative), title,
                   f"Returns in {currency}, compounded from the period's first date; {benchmark_note}")


DIMENSIONS = {"asset_class": "Asset class", "currency": "Currency", "sector": "Sector"}


def allocation_now_chart(frame: pl.DataFrame, currency: str, title: str) -> alt.TopLevelMixin | None:
    """Value per bucket on the last snapshot date: one bar chart per dimension (asset class, currency, sector)."""
    if frame.is_empty():
        return None
    last = frame.get_column("snapshot_date").max()
    now = _dates_as_text(frame.filter(pl.col("snapshot_date") == last))
    panels = []
    for dimension, label in DIMENSIONS.items():
        part = now.filter(pl.col("dimension") == dimension)
        if part.is_empty():
            continue
        panels.append(alt.Chart(part).mark_bar(color=PALETTE[0]).encode(
            y=alt.Y("bucket:N", title=label, sort="-x"),
            x=alt.X("value_base:Q", title=f"Value ({currency})", axis=alt.Axis(format="~s")),
            tooltip=["bucket:N", alt.Tooltip("value_base:Q", format=",.2f")],
        ).properties(width=220, title=f"By {label.lower()}"))
    return _titled(alt.hconcat(*panels), title,
                   f"On {last.isoformat()}, in {currency}: long plus short (short is negative); futures at notional")


def allocation_history_chart(frame: pl.DataFrame, currency: str, title: str) -> alt.TopLevelMixin | None:
    """Value per bucket over the snapshot dates, stacked, one panel per dimension."""
    if frame.is_empty():
        return None
    frame = _dates_as_text(frame)
    panels = []
    for dimension, label in DIMENSIONS.items():
        part = frame.filter(pl.col("dimension") == dimension)
        if part.is_empty():
            continue
        panels.append(alt.Chart(part).mark_bar().encode(
            x=_date_band("snapshot_date"),
            y=alt.Y("value_base:Q", title=f"Value ({currency})", axis=alt.Axis(format="~s"), stack="zero"),
            color=alt.Color("bucket:N", title=label, scale=alt.Scale(range=PALETTE_MANY)),
            tooltip=["snapshot_date:N", "bucket:N", alt.Tooltip("value_base:Q", format=",.2f")],
        ).properties(width=_band_width(part.get_column("snapshot_date").n_unique(), 28), height=160,
                     title=f"By {label.lower()}"))
    return _titled(alt.vconcat(*panels).resolve_scale(color="independent"), title,
                   f"Every snapshot date of the period, in {currency}; shorts stack below zero")


def positions_chart(frame: pl.DataFrame, currency: str, title: str) -> alt.TopLevelMixin | None:
    """The largest positions: base market value beside unrealized and realized P&L, same order."""
    if frame.is_empty():
        return None
    frame = _dates_as_text(frame).with_columns(  # two contracts described alike keep a row each
        pl.when(pl.col("holding").is_duplicated())
        .then(pl.col("holding") + " #" + pl.col("conid").cast(pl.Utf8)).otherwise(pl.col("holding")).alias("holding"))
    order = frame.get_column("holding").to_list()

    def panel(field: str, label: str, colour: str, show_names: bool) -> alt.Chart:
        return alt.Chart(frame).mark_bar(color=colour).encode(
            y=alt.Y("holding:N", sort=order, title=None, axis=alt.Axis() if show_names else None),
            x=alt.X(f"{field}:Q", title=f"{label} ({currency})", axis=alt.Axis(format="~s")),
            tooltip=["holding:N", "conid:Q", alt.Tooltip(f"{field}:Q", format=",.2f")],
        ).properties(width=230, title=label)

    panels = [panel("market_value_base", "Market value", PALETTE[0], True),
              panel("unrealized_pnl_base", "Unrealized P&L", PALETTE[1], False),
              panel("realized_pnl_base", "Realized P&L", PALETTE[2], False)]
    day = frame.get_column("snapshot_date").max()
    return _titled(alt.hconcat(*panels), title,
                   f"Largest by absolute market value on the last snapshot ({day}), in {currency}; futures at notional")


def income_chart(frame: pl.DataFrame, currency: str, title: str) -> alt.TopLevelMixin | None:
    """Dividends, withholding, fees and interest per month, stacked by category (paid below zero)."""
    if frame.is_empty():
        return None
    frame = _dates_as_text(frame)
    categories = sorted(frame.get_column("category").unique().to_list())
    return _titled(alt.Chart(frame).mark_bar().encode(
        x=alt.X("month:O", title="Month", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("amount_base:Q", title=f"Amount ({currency})", axis=alt.Axis(format=",.0f")),
        color=_colour("category", "Category", categories),
        tooltip=["month:N", "category:N", alt.Tooltip("amount_base:Q", format=",.2f")],
    ).properties(width=_band_width(frame.get_column("month").n_unique(), 70), height=220), title,
        f"Per month of the event, in {currency}: received above zero, paid (withholding, fees) below")


def realized_chart(frame: pl.DataFrame, currency: str, title: str) -> alt.TopLevelMixin | None:
    """Realized P&L per year, by asset category when the view has one."""
    if frame.is_empty():
        return None
    has_category = "asset_category" in frame.columns
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("year:O", title="Year", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("realized_pnl_base:Q", title=f"Realized P&L ({currency})", axis=alt.Axis(format=",.0f")),
        tooltip=["year:O", alt.Tooltip("realized_pnl_base:Q", format=",.2f")],
    )
    if has_category:
        categories = sorted(str(c) for c in frame.get_column("asset_category").unique().to_list())
        chart = chart.encode(color=_colour("asset_category", "Asset category", categories), xOffset="asset_category:N")
    years = frame.get_column("year").n_unique()
    return _titled(chart.properties(width=_band_width(years, 90), height=220), title, f"Per year, in {currency}")


def coverage_chart(frame: pl.DataFrame, title: str) -> alt.TopLevelMixin | None:
    """A calendar of what landed per dataset and date: rows, empty, gap (red), not asked."""
    if frame.is_empty():
        return None
    frame = _dates_as_text(frame).with_columns(
        (pl.col("table_name") + pl.when(pl.col("nightly")).then(pl.lit("")).otherwise(pl.lit(" (targeted)")))
        .alias("dataset"))
    datasets = frame.get_column("dataset").unique(maintain_order=True).to_list()
    return _titled(alt.Chart(frame).mark_rect(stroke="white", strokeWidth=1).encode(
        x=alt.X("coverage_date:O", title="Partition date (New York)", axis=alt.Axis(labelAngle=-40)),
        y=alt.Y("dataset:N", title=None, sort=datasets),
        color=alt.Color("status:N", title="Landed", scale=alt.Scale(domain=list(COVERAGE_COLOURS),
                                                                     range=list(COVERAGE_COLOURS.values()))),
        tooltip=["dataset:N", "coverage_date:N", "status:N", "rows:Q"],
    ).properties(width=alt.Step(22), height=alt.Step(16)), title,
        "rows: loaded with rows; empty: loaded, nothing that day; gap (red): a nightly dataset not loaded; "
        "not asked: a targeted dataset not requested")
