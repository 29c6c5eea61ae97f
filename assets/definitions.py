"""The one entry point of the code location: every asset, resource, job and schedule."""

import dagster as dg

from assets.checks import executions_match_flex, nav_reconciles
from assets.funding import funding_assets
from assets.market_data import market_data_assets
from assets.performance import performance_assets
from assets.portfolio import portfolio_assets
from assets.reference import reference_assets
from assets.report import portfolio_report, portfolio_report_job, report_after_nightly
from assets.reports import reports_assets
from assets.resources import IbkrResource, WarehouseResource
from assets.schedules import STEP_PROCESSES, nightly_ingestion, nightly_schedule
from assets.trading import trading_assets
from assets.sensors import SENSORS
from assets.threaded_executor import threaded_executor

# `ibkr-pipelines ingest --select` of a table the night leaves out (pa_transactions) runs this job.
targeted_ingestion = dg.define_asset_job(
    name="targeted_ingestion",
    selection=dg.AssetSelection.all(),
    executor_def=threaded_executor,
    description="Tables named by `ibkr-pipelines ingest --select`, including those the night leaves out (pa_transactions).",
)

defs = dg.Definitions(
    assets=[*portfolio_assets, *trading_assets, *reference_assets, *performance_assets, *market_data_assets,
            *reports_assets, *funding_assets, portfolio_report],
    asset_checks=[nav_reconciles, executions_match_flex],
    jobs=[nightly_ingestion, targeted_ingestion, portfolio_report_job],
    schedules=[nightly_schedule],
    sensors=[*SENSORS, report_after_nightly],
    resources={"ibkr": IbkrResource(), "warehouse": WarehouseResource()},
    executor=STEP_PROCESSES,  # what a run launched from an asset page (a UI backfill) runs with too
)


def nightly_ingestion_job() -> dg.JobDefinition:
    """The resolved nightly job; module-level so other processes can rebuild it (``dg.reconstructable``)."""
    return defs.resolve_job_def("nightly_ingestion")


def targeted_ingestion_job() -> dg.JobDefinition:
    """A job over every asset (steps in threads), for runs that name a dataset the night leaves out (pa_transactions)."""
    return defs.resolve_job_def("targeted_ingestion")


def nightly_ingestion_in_threads() -> dg.JobDefinition:
    """The nightly job with its steps in threads of the calling process (``ibkr-pipelines ingest``)."""
    return nightly_ingestion_job().with_executor_def(threaded_executor)
