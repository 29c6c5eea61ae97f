"""Portfolio domain: accounts, balances, positions and allocation, one daily snapshot each."""

from assets.factory import source_assets
from ibkr_pipelines.sources import sources_in_group

portfolio_assets = source_assets(sources_in_group("portfolio"))
