"""Sensors: the instance's housekeeping, report readiness (report_sensor.py) and funding (funding_sensor.py).

A sensor uses ``IbkrResource.client()`` (a connection apart from any run's dates) when it needs
IBKR, keeps its progress in its cursor so it survives restarts, and says why it skipped.
"""

import dagster as dg

from assets.funding_sensor import funding_sensor
from assets.report_sensor import report_readiness
from ibkr_pipelines.run_control import reap_dead_runs


@dg.sensor(
    name="dead_run_reaper",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks runs whose process was killed as failed and frees the DuckDB writer slots they held.",
)
def dead_run_reaper(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Reap runs (and step processes) that died holding pool slots, so the next night's loads are not blocked."""
    reaped = reap_dead_runs(context.instance)
    if reaped:
        context.log.warning(f"marked {len(reaped)} run(s) whose process was gone as failed: {', '.join(reaped)}")
        return dg.SkipReason(f"reaped {len(reaped)} dead run(s); nothing to launch")
    return dg.SkipReason("no run lost its process")


SENSORS = [dead_run_reaper, report_readiness, funding_sensor]
