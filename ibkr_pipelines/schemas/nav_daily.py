"""`nav_daily`: /pa/allperiods (Portfolio Analyst), the net asset value per account and date."""

from __future__ import annotations

from ibkr_pipelines.schemas.shared import RAW_EXTRA
from ibkr_pipelines.schemas.spec import DATE, FLOAT, TEXT, LoadStrategy, Reach, TableSpec, col

ALLPERIODS_SOURCE = "POST /pa/allperiods (every account in one call): the daily period with the most dates"
PERIOD = col("period", TEXT, "The /pa/allperiods period whose daily series the row comes from, e.g. 1M.")

# How far back: /pa/allperiods answers periods of 1D up to a year (12M); the recorded 1D and 7D are
# freq "D", and whether the longer periods stay daily is unverified. A real account is asked for up
# to a year, and the extractor refuses, in one line, a window its longest daily series does not
# reach (extract/performance.py), so a monthly 12M would fail loudly rather than land holes.
ALLPERIODS_REACH_DAYS = 365

NAV_DAILY = TableSpec(
    name="nav_daily",
    description="Net asset value per account and date at the close, from Portfolio Analyst.",
    source=ALLPERIODS_SOURCE,
    columns=(
        col("nav_date", DATE, "The date of the NAV (dates[], YYYYMMDD).", nullable=False),
        col("account_id", TEXT, "IBKR account id (the account key of the answer).", nullable=False),
        col("nav", FLOAT, "Net asset value at the close in the account's base currency (nav[]).", nullable=False),
        col("base_currency", TEXT, "The account's base currency (baseCurrency)."),
        PERIOD,
        RAW_EXTRA,
    ),
    natural_key=("nav_date", "account_id"),
    load=LoadStrategy.UPSERT,
    partition_column="nav_date",
    slice_column="account_id",
    reach=Reach.RECENT,
    reach_days=ALLPERIODS_REACH_DAYS,
    views=("nav_and_returns",),
)
