"""Does each account's NAV equal its cash plus its positions? The warehouse's own answer, per date.

IBKR's ledger reports the net liquidation value; the positions and the ledger's cash should add up
to it (``nav_by_account``). A real account leaves a little unexplained (accrued interest and
dividends, rounding), so a difference counts only beyond ``max(ABSOLUTE_TOLERANCE, RELATIVE_TOLERANCE
x |NAV|)``; a stale or incomplete positions read shows as a large one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ibkr_pipelines.land.warehouse import Warehouse

ABSOLUTE_TOLERANCE = 1.0  # base-currency units
RELATIVE_TOLERANCE = 0.001  # of NAV
SERIOUS_SHARE = 0.01  # a difference above 1 % of NAV is an error, not a warning


@dataclass(frozen=True)
class NavDifference:
    """One account's NAV against cash plus positions on one date (base currency)."""

    account_id: str
    nav: float | None
    cash: float | None
    positions_value: float
    difference: float | None

    @property
    def tolerance(self) -> float:
        """How large a difference is still explained by accruals and rounding."""
        return max(ABSOLUTE_TOLERANCE, RELATIVE_TOLERANCE * abs(self.nav or 0.0))

    @property
    def reconciles(self) -> bool:
        """True when NAV is known and the difference is within tolerance."""
        return self.difference is not None and abs(self.difference) <= self.tolerance

    @property
    def serious(self) -> bool:
        """True when the difference is beyond 1 % of NAV (or NAV is missing): more than accruals explain."""
        return self.difference is None or abs(self.difference) > SERIOUS_SHARE * max(abs(self.nav or 0.0), 1.0)


def nav_differences(warehouse: Warehouse, day: dt.date | str) -> list[NavDifference]:
    """Every account's NAV reconciliation on ``day`` (from the ``nav_by_account`` view)."""
    _, rows = warehouse.query_readonly(
        "SELECT account_id, nav, cash, positions_value, difference FROM nav_by_account "
        "WHERE snapshot_date = CAST(? AS DATE) ORDER BY account_id",
        [str(day)],
    )
    return [NavDifference(str(a), n, c, float(p or 0.0), d) for a, n, c, p, d in rows]


def latest_snapshot_date(warehouse: Warehouse) -> dt.date | None:
    """The latest date the ledger has (what a check run outside a dated run looks at)."""
    _, rows = warehouse.query_readonly("SELECT max(snapshot_date) FROM ledger")
    return rows[0][0] if rows else None
