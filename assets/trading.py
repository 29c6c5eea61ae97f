"""Trading domain: executions (the last 7 days each night, upserted) and the session's orders."""

from assets.factory import source_assets
from ibkr_pipelines.sources import sources_in_group

trading_assets = source_assets(sources_in_group("trading"))
