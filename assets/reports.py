"""Reports domain: Flex statements (trades back to the account's opening, cash, transfers, NAV), landed on request."""

from assets.factory import source_assets
from ibkr_pipelines.sources import sources_in_group

reports_assets = source_assets(sources_in_group("reports"))
