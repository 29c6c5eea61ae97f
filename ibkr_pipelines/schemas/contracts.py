"""`contracts`: the security-definition dimension from /trsrv/secdef, one row per conid."""

from __future__ import annotations

from ibkr_pipelines.schemas.shared import RAW_EXTRA
from ibkr_pipelines.schemas.spec import BIGINT, BOOLEAN, DATE, FLOAT, TEXT, LoadStrategy, Reach, TableSpec, col

CONTRACTS = TableSpec(
    name="contracts",
    description="Security definitions of every contract the portfolio has held, as last seen (one row per conid).",
    source="GET /trsrv/secdef in batches of 200 conids",
    columns=(
        col("conid", BIGINT, "IBKR contract id.", nullable=False),
        col("ticker", TEXT, "Ticker symbol."),
        col("name", TEXT, "Instrument name."),
        col("full_name", TEXT, "Full instrument name."),
        col("asset_class", TEXT, "STK, OPT, FUT, BOND, CASH..."),
        col("sec_type", TEXT, "Security type detail (type), e.g. COMMON, ETF."),
        col("currency", TEXT, "The contract's currency."),
        col("listing_exchange", TEXT, "Primary listing exchange."),
        col("country_code", TEXT, "Country of the listing."),
        col("expiry", TEXT, "Expiry as IBKR writes it (YYYYMMDD)."),
        col("last_trading_day", TEXT, "Last trading day as IBKR writes it."),
        col("strike", FLOAT, "Option strike."),
        col("put_or_call", TEXT, "P or C for options."),
        col("multiplier", FLOAT, "Contract multiplier."),
        col("und_conid", BIGINT, "Underlying contract id of a derivative."),
        col("sector", TEXT, "Sector."),
        col("sector_group", TEXT, "Sector group."),
        col("group_name", TEXT, "Industry group (group)."),
        col("is_us", BOOLEAN, "A US-listed instrument (isUS)."),
        col("has_options", BOOLEAN, "Options trade on it (hasOptions)."),
        col("is_event_contract", BOOLEAN, "An event contract (isEventContract)."),
        col("first_seen_date", DATE, "The first snapshot date that saw the contract.", nullable=False),
        col("last_seen_date", DATE, "The last snapshot date that saw the contract (its attributes are from then).",
            nullable=False),
        RAW_EXTRA,
    ),
    natural_key=("conid",),
    load=LoadStrategy.MERGE_SEEN,
    partition_column="last_seen_date",
    lake_partition="seen_date",
    reach=Reach.ANY,
    first_seen_column="first_seen_date",
    last_seen_column="last_seen_date",
    analyst_columns=("ticker", "asset_class", "currency"),
)
