"""`watchlist`: the symbols a user watches (IBKR_WATCHLIST), each resolved to an IBKR conid."""

from __future__ import annotations

from ibkr_pipelines.schemas.shared import RAW_EXTRA
from ibkr_pipelines.schemas.spec import BIGINT, BOOLEAN, DATE, TEXT, LoadStrategy, Reach, TableSpec, col

WATCHLIST = TableSpec(
    name="watchlist",
    description="Symbols the user watches (IBKR_WATCHLIST), resolved to the conid market data is asked for.",
    source="GET /trsrv/stocks?symbols=…",
    columns=(
        col("entry", TEXT, "The watchlist entry as configured: SYMBOL, or SYMBOL@EXCHANGE to pick a listing.",
            nullable=False),
        col("symbol", TEXT, "The symbol asked for (upper case).", nullable=False),
        col("conid", BIGINT, "The resolved IBKR contract id (the wanted exchange's listing, else the US one, "
            "else IBKR's first); a symbol IBKR does not know is quarantined.", nullable=False),
        col("name", TEXT, "The instrument's name as IBKR lists it (name)."),
        col("asset_class", TEXT, "IBKR's asset class (assetClass), e.g. STK."),
        col("exchange", TEXT, "The listing exchange of the resolved contract."),
        col("is_us", BOOLEAN, "A US listing (isUS)."),
        col("listings", BIGINT, "How many listings IBKR offered for the symbol (all names)."),
        col("first_seen_date", DATE, "The first date the entry was resolved.", nullable=False),
        col("last_seen_date", DATE, "The last date it was resolved (its attributes are from then).", nullable=False),
        RAW_EXTRA,
    ),
    natural_key=("entry",),
    load=LoadStrategy.MERGE_SEEN,
    partition_column="last_seen_date",
    lake_partition="seen_date",
    reach=Reach.ANY,
    first_seen_column="first_seen_date",
    last_seen_column="last_seen_date",
    analyst_columns=("conid",),
)
