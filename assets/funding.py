"""Funding domain: deposits, withdrawals and internal transfers and their statuses (Account Management), on request
or when the funding sensor sees an instruction processed or rejected."""

from assets.factory import source_assets
from ibkr_pipelines.sources import sources_in_group

funding_assets = source_assets(sources_in_group("funding"))
