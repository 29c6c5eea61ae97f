"""Checks that span tables: each account's NAV against its cash plus its positions; executions against Flex."""

import dagster as dg

from assets.factory import warehouse_key
from assets.resources import WarehouseResource
from ibkr_pipelines.executions_reconcile import executions_against_flex
from ibkr_pipelines.reconcile import latest_snapshot_date, nav_differences


@dg.asset_check(
    asset=warehouse_key("ledger"),
    additional_deps=[warehouse_key("positions")],
    description="Per account, the ledger's NAV equals cash plus positions (within accruals and rounding).",
)
def nav_reconciles(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Fails when an account's NAV differs from cash + positions by more than accruals explain (error beyond 1 %)."""
    # The run's partition (a dated run), else the latest date landed (a check run on its own from the UI).
    store = warehouse.storage().warehouse
    day = context.run.tags.get("dagster/partition") or latest_snapshot_date(store)
    differences = nav_differences(store, day) if day else []
    off = [d for d in differences if not d.reconciles]
    return dg.AssetCheckResult(
        passed=bool(differences) and not off,
        severity=dg.AssetCheckSeverity.ERROR if any(d.serious for d in off) or not differences else dg.AssetCheckSeverity.WARN,
        metadata={
            "partition": str(day),
            "accounts": len(differences),
            "accounts_off": dg.MetadataValue.json(
                {d.account_id: {"nav": d.nav, "cash": d.cash, "positions": d.positions_value, "difference": d.difference}
                 for d in off}
            ),
        },
    )


@dg.asset_check(
    asset=warehouse_key("executions"),
    additional_deps=[warehouse_key("flex_trades")],
    description="On the dates both landed, the Web API's executions and the Flex statements' fills are the same "
    "executions with the same side, quantity and price.",
)
def executions_match_flex(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Fails (warning) naming the executions one side lacks or the two disagree on; passes when no date overlaps."""
    found = executions_against_flex(warehouse.storage().warehouse)
    return dg.AssetCheckResult(
        passed=found.reconciles,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "dates_compared": len(found.days),
            "first_date": str(found.days[0]) if found.days else "none: no date has both",
            "last_date": str(found.days[-1]) if found.days else "none",
            "matched": found.matched,
            "only_web_api": dg.MetadataValue.json(list(found.only_api[:50])),
            "only_flex": dg.MetadataValue.json(list(found.only_flex[:50])),
            "differing": dg.MetadataValue.json(list(found.differing[:50])),
        },
    )
