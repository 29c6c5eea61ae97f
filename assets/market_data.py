"""Market data domain: historical bars of every conid held or watched, backfilled as range requests."""

from assets.factory import source_assets
from ibkr_pipelines.sources import sources_in_group

market_data_assets = source_assets(sources_in_group("market_data"))
