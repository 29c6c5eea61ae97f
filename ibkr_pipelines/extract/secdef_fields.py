"""Security-definition fields shared by /trsrv/secdef items and position rows (same IBKR names)."""

from __future__ import annotations

from ibkr_pipelines.extract.common import as_float, as_int, col

SECDEF_COLUMNS = (
    col("ticker"),
    col("name"),
    col("full_name", "fullName"),
    col("asset_class", "assetClass"),
    col("sec_type", "type"),
    col("currency"),
    col("listing_exchange", "listingExchange"),
    col("country_code", "countryCode"),
    col("expiry"),
    col("last_trading_day", "lastTradingDay"),
    col("strike", convert=as_float),  # "0", "12.5" or 0.0 depending on the endpoint
    col("put_or_call", "putOrCall"),
    col("multiplier", convert=as_float),  # null or 0.0 for stocks: kept as given
    col("und_conid", "undConid", convert=as_int),
    col("sector"),
    col("sector_group", "sectorGroup"),
    col("group_name", "group"),
)
