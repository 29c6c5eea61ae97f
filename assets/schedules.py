"""The nightly ingestion job and its schedule."""

import dagster as dg

nightly_ingestion = dg.define_asset_job(
    name="nightly_ingestion",
    selection=dg.AssetSelection.all(),
    description="Every IBKR dataset for one trading date: extract in parallel, then load DuckDB one writer at a time.",
)

# 23:30 US/Eastern: after the US close and before IBKR's ~01:00 ET /iserver reset.
nightly_schedule = dg.build_schedule_from_partitioned_job(
    nightly_ingestion, hour_of_day=23, minute_of_hour=30, name="nightly_ingestion_schedule"
)
