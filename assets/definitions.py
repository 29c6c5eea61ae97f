"""The one entry point of the code location: every asset, resource, job and schedule."""

import dagster as dg

from assets.checks import nav_reconciles
from assets.market_data import market_data_assets
from assets.performance import performance_assets
from assets.portfolio import portfolio_assets
from assets.reference import reference_assets
from assets.resources import IbkrResource, WarehouseResource
from assets.schedules import nightly_ingestion, nightly_schedule
from assets.trading import trading_assets
from assets.sensors import SENSORS

defs = dg.Definitions(
    assets=[*portfolio_assets, *trading_assets, *reference_assets, *performance_assets, *market_data_assets],
    asset_checks=[nav_reconciles],
    jobs=[nightly_ingestion],
    schedules=[nightly_schedule],
    sensors=SENSORS,
    resources={"ibkr": IbkrResource(), "warehouse": WarehouseResource()},
)


def nightly_ingestion_job() -> dg.JobDefinition:
    """The resolved nightly job; module-level so other processes can rebuild it (``dg.reconstructable``)."""
    return defs.resolve_job_def("nightly_ingestion")


def every_asset_job() -> dg.JobDefinition:
    """A job over every asset, for runs that name a targeted dataset the night leaves out (pa_transactions)."""
    return defs.resolve_implicit_global_asset_job_def()
