"""Performance domain: daily NAV and returns from /pa/allperiods, and targeted /pa/transactions."""

from assets.factory import source_assets
from ibkr_pipelines.sources import sources_in_group

performance_assets = source_assets(sources_in_group("performance"))
