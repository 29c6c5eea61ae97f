"""Checks that span tables: each account's NAV against its cash plus its positions."""

import dagster as dg

from assets.factory import warehouse_key
from assets.resources import WarehouseResource
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
