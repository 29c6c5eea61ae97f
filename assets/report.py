"""The portfolio report as a Dagster asset, materialized after each successful nightly run.

The asset writes the same HTML file as ``ibkr-pipelines report`` (the warehouse only, never IBKR) and
shows the NAV curve and the coverage calendar inline in the UI (PNG in Markdown), with the file's path.
"""

import dagster as dg

from assets.factory import warehouse_key
from assets.resources import WarehouseResource
from assets.schedules import nightly_ingestion
from ibkr_pipelines.sources import nightly_tables

REPORT_KEY = dg.AssetKey(["reports", "portfolio_report"])


@dg.asset(
    key=REPORT_KEY,
    group_name="report",
    deps=[warehouse_key(t) for t in nightly_tables()],
    pool="duckdb_writer",  # it makes sure the report's views exist, a write
    description="The portfolio report (one self-contained HTML file) from the warehouse's views.",
    kinds={"html"},
)
def portfolio_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Write the report beside the warehouse; its NAV curve and coverage picture go to the metadata."""
    # Imported here: Altair and vl-convert cost ~0.6 s to import, in every process that loads the definitions
    # (each ingest, each step process, the UI's code server), and only this step draws the report.
    from ibkr_pipelines.report.build import benchmark_from, build_report
    from ibkr_pipelines.report.render import to_png_markdown

    settings = warehouse.settings()
    out = settings.data_dir / "reports" / "portfolio-report.html"
    result = build_report(settings.db_path, out, benchmark=benchmark_from(None))
    metadata: dict[str, object] = {
        "path": dg.MetadataValue.path(str(result.path)),
        "charts": result.figures,
        "charts_with_nothing_to_show": result.empty_figures,
    }
    for name, chart in result.headline_charts.items():
        metadata[f"{name}_picture"] = dg.MetadataValue.md(to_png_markdown(chart, f"{name} chart"))
    context.log.info(f"wrote {result.path}")
    return dg.MaterializeResult(metadata=metadata)


portfolio_report_job = dg.define_asset_job(
    name="portfolio_report", selection=dg.AssetSelection.assets(REPORT_KEY),
    description="The portfolio report, from the warehouse only.",
)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[nightly_ingestion],
    request_job=portfolio_report_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After each successful nightly ingestion, writes the portfolio report.",
)
def report_after_nightly(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    """One report run per successful night (the run id keys it, so a night never reports twice)."""
    return dg.RunRequest(run_key=context.dagster_run.run_id)
