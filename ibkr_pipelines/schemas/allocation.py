"""`allocation`: /portfolio/{id}/allocation flattened to dimension x side x bucket."""

from __future__ import annotations

from ibkr_pipelines.schemas.shared import RAW_EXTRA
from ibkr_pipelines.schemas.spec import DATE, FLOAT, TEXT, LoadStrategy, Reach, TableSpec, col

ALLOCATION = TableSpec(
    name="allocation",
    description="Long and short exposure by asset class, sector and group per account and date, as IBKR computes it.",
    source="GET /portfolio/{accountId}/allocation",
    columns=(
        col("snapshot_date", DATE, "The trading date (New York) the snapshot describes.", nullable=False),
        col("account_id", TEXT, "IBKR account id.", nullable=False),
        col("dimension", TEXT, "asset_class, sector or group (a new IBKR dimension keeps its snake_case name).",
            nullable=False),
        col("side", TEXT, "long or short.", nullable=False),
        col("bucket", TEXT, "The bucket within the dimension, e.g. STK, Technology.", nullable=False),
        col("value", FLOAT, "Market value in the bucket, in the account's base currency."),
        RAW_EXTRA,
    ),
    natural_key=("snapshot_date", "account_id", "dimension", "side", "bucket"),
    load=LoadStrategy.REPLACE_WINDOW,
    partition_column="snapshot_date",
    slice_column="account_id",
    reach=Reach.CURRENT,
)
