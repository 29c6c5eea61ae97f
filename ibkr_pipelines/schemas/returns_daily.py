"""`returns_daily`: /pa/allperiods (Portfolio Analyst), time-weighted returns per account and date."""

from __future__ import annotations

from ibkr_pipelines.schemas.nav_daily import ALLPERIODS_REACH_DAYS, ALLPERIODS_SOURCE, PERIOD
from ibkr_pipelines.schemas.spec import DATE, FLOAT, TEXT, LoadStrategy, Reach, TableSpec, col

RETURNS_DAILY = TableSpec(
    name="returns_daily",
    description="Time-weighted daily and cumulative returns per account and date, from Portfolio Analyst.",
    source=ALLPERIODS_SOURCE,
    columns=(
        col("return_date", DATE, "The date of the return (dates[], YYYYMMDD).", nullable=False),
        col("account_id", TEXT, "IBKR account id (the account key of the answer).", nullable=False),
        col("daily_return", FLOAT, "Time-weighted return of this day: (1+cps_t)/(1+cps_{t-1})-1, cps from the same "
            "period (the first date: cps itself); chainable across dates."),
        col("cumulative_return", FLOAT, "IBKR's cps: cumulative time-weighted return from period_start (cps[])."),
        PERIOD,
        col("period_start", DATE, "The date the period's returns start from (startNAV.date)."),
        col("base_currency", TEXT, "The account's base currency (baseCurrency)."),
    ),
    natural_key=("return_date", "account_id"),
    load=LoadStrategy.UPSERT,
    partition_column="return_date",
    slice_column="account_id",
    reach=Reach.RECENT,
    reach_days=ALLPERIODS_REACH_DAYS,
    views=("nav_and_returns",),
)
