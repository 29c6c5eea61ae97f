"""Reference domain: the contracts dimension for every conid the portfolio holds or trades."""

from assets.factory import source_assets
from ibkr_pipelines.sources import sources_in_group

reference_assets = source_assets(sources_in_group("reference"))
