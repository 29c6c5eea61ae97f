"""`account_summary`: /portfolio/{id}/summary in long form, one row per metric."""

from __future__ import annotations

from ibkr_pipelines.schemas.shared import RAW_EXTRA
from ibkr_pipelines.schemas.spec import BOOLEAN, DATE, FLOAT, INTEGER, TEXT, TIMESTAMP, LoadStrategy, Reach, TableSpec, col

ACCOUNT_SUMMARY = TableSpec(
    name="account_summary",
    description="Account summary metrics (net liquidation, cash, margin...) per account and date, one row per metric.",
    source="GET /portfolio/{accountId}/summary",
    columns=(
        col("snapshot_date", DATE, "The trading date (New York) the snapshot describes.", nullable=False),
        col("account_id", TEXT, "IBKR account id.", nullable=False),
        col("metric", TEXT, "IBKR's metric key, e.g. netliquidation; -c / -s suffixes are commodity / securities parts.",
            nullable=False),
        col("amount", FLOAT, "The metric's numeric value (amount), in `currency`."),
        col("currency", TEXT, "Currency of the amount; null for non-money metrics."),
        col("value_text", TEXT, "The metric's value as IBKR wrote it (value): text metrics such as accounttype live here."),
        col("is_null", BOOLEAN, "IBKR's isNull flag: the metric has no value."),
        col("reported_at", TIMESTAMP, "When IBKR computed the metric, UTC (timestamp: epoch seconds or milliseconds)."),
        col("severity", INTEGER, "IBKR's severity code for the metric."),
        RAW_EXTRA,
    ),
    natural_key=("snapshot_date", "account_id", "metric"),
    load=LoadStrategy.REPLACE_WINDOW,
    partition_column="snapshot_date",
    slice_column="account_id",
    reach=Reach.CURRENT,
)
