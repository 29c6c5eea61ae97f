"""`bars`: /iserver/marketdata/history, one row per price bar of a contract, bar size and source.

Prices and volume follow reference §2.8 and the recording MarketData/GET-history.json: the points'
``o``/``h``/``l``/``c`` are plain prices (646.42 while ``priceFactor`` is 100); only the answer's summary
``high``/``low`` strings carry price*priceFactor, and those are not landed. Volume: see ``volume``.
"""

from __future__ import annotations

import polars as pl

from ibkr_pipelines.schemas.shared import RAW_EXTRA
from ibkr_pipelines.schemas.spec import (
    BIGINT,
    BOOLEAN,
    DATE,
    FLOAT,
    INTEGER,
    TEXT,
    TIMESTAMP,
    FrameCheck,
    LoadStrategy,
    Reach,
    TableSpec,
    col,
)

# The ``source`` values as IBKR names them (reference §2.8; ``Last`` is sent as ``Trades``).
SOURCES = ("Trades", "Midpoint", "Bid_Ask")
# The ``bar`` values IBKR accepts (reference §2.8).
BAR_SIZES = ("1min", "2min", "3min", "5min", "10min", "15min", "30min", "1h", "2h", "3h", "4h", "8h", "1d", "1w", "1m")


def _prices_consistent(frame: pl.LazyFrame) -> pl.LazyFrame:
    """True where high >= low and open/close lie within [low, high] (any null price is left to not_nullable)."""
    o, h, lo, c = (pl.col(n) for n in ("open", "high", "low", "close"))
    inside = (h >= lo) & (o >= lo) & (o <= h) & (c >= lo) & (c <= h)
    return frame.select(pl.any_horizontal(o.is_null(), h.is_null(), lo.is_null(), c.is_null()) | inside)


BARS = TableSpec(
    name="bars",
    description="Historical price bars per contract, bar size and source, as IBKR's history endpoint serves them.",
    source="GET /iserver/marketdata/history?conid&bar&period&startTime&source&outsideRth (chained back from the "
    "window's end, at most 1000 points per answer)",
    columns=(
        col("bar_date", DATE, "New York calendar date of bar_start_utc (trading_calendar.trading_date); the lake "
            "partition. An FX or futures session opening the evening before lands on that evening's date.",
            nullable=False),
        col("conid", BIGINT, "IBKR contract id the bars were requested for (the request's conid).", nullable=False),
        col("symbol", TEXT, "Symbol of the contract (the answer's symbol)."),
        col("description", TEXT, "IBKR's name of the contract (the answer's text), e.g. 'SPDR S&P 500 ETF TRUST'."),
        col("bar_size", TEXT, "The request's bar size as IBKR spells it: 1min, 2min, ... 1h, ... 1d, 1w, 1m.",
            nullable=False),
        col("source", TEXT, "What the bar measures, as IBKR names it: Trades (traded prices), Midpoint, or Bid_Ask "
            "(open = average bid, high = highest ask, low = lowest bid, close = average ask).", nullable=False),
        col("outside_rth", BOOLEAN, "Whether the request included hours outside the regular session (outsideRth); "
            "it changes which minutes a bar holds and so its start (a 1d bar starts at the pre-market open).",
            nullable=False),
        col("bar_start_utc", TIMESTAMP, "Start of the bar, UTC (the point's t, epoch milliseconds).", nullable=False),
        col("open", FLOAT, "Open price (o) in the contract's currency, as sent: the points' prices are plain prices, "
            "not multiplied by priceFactor (reference §2.8, recording: o 646.42 with priceFactor 100).", nullable=False),
        col("high", FLOAT, "High price (h), plain price as sent (priceFactor applies only to the answer's summary "
            "high/low strings, which are not landed).", nullable=False),
        col("low", FLOAT, "Low price (l), plain price as sent.", nullable=False),
        col("close", FLOAT, "Close price (c), plain price as sent.", nullable=False),
        col("volume", FLOAT, "Volume in shares or contracts: v x volumeFactor. A guess: the OpenAPI text says "
            "reported volume = actual/volumeFactor (100 for stocks), and every v of the recording times its "
            "volumeFactor 40 is a whole number (x100 is not); 0 for Midpoint and Bid_Ask."),
        col("volume_reported", FLOAT, "The point's v exactly as IBKR sent it (stocks: in units of volumeFactor)."),
        col("volume_factor", FLOAT, "The answer's volumeFactor as sent (100 for stocks per the OpenAPI text; the "
            "recording says 40)."),
        col("price_factor", BIGINT, "The answer's priceFactor as sent (10^decimals shown); it scales only the summary "
            "high/low strings, not these prices."),
        col("md_availability", TEXT, "The answer's mdAvailability: S streaming, R realtime, D delayed, Z frozen, "
            "Y frozen delayed."),
        col("market_data_delay_s", INTEGER, "The answer's mktDataDelay in seconds (900 for delayed data, 0 live)."),
        RAW_EXTRA,
    ),
    natural_key=("conid", "bar_size", "source", "bar_start_utc"),
    load=LoadStrategy.UPSERT,
    partition_column="bar_date",
    reach=Reach.ANY,  # history reaches years back (period up to 15y); not a snapshot
    analyst_columns=("conid", "bar_size", "source", "bar_start_utc", "open", "high", "low", "close"),
    frame_checks=(
        FrameCheck(
            "prices_consistent",
            "A bar's high is at least its low, and its open and close lie between them; otherwise quarantined.",
            _prices_consistent,
        ),
        FrameCheck(
            "source_known",
            "source is one of Trades, Midpoint, Bid_Ask.",
            lambda frame: frame.select(pl.col("source").is_null() | pl.col("source").is_in(SOURCES)),
        ),
        FrameCheck(
            "volume_not_negative",
            "Volume is zero or more; a negative volume is quarantined.",
            lambda frame: frame.select(pl.col("volume").is_null() | (pl.col("volume") >= 0)),
        ),
    ),
)
