-- NAV per account and snapshot_date, reconciled: ledger BASE net liquidation value against
-- BASE cash plus the positions' equity value in base (FUT counted at unrealized P&L, not notional).
-- difference = nav - (cash + positions); accrued interest/dividends typically explain what is left.
CREATE OR REPLACE VIEW nav_by_account AS
WITH base AS (
    SELECT account_id, snapshot_date, net_liquidation_value, cash_balance
    FROM ledger
    WHERE currency = 'BASE'
),
held AS (
    SELECT account_id, snapshot_date, sum(base_equity_value) AS positions_value,
           count(*) FILTER (WHERE NOT is_cash) AS position_count
    FROM position_values
    GROUP BY account_id, snapshot_date
)
SELECT
    coalesce(base.account_id, held.account_id) AS account_id,
    coalesce(base.snapshot_date, held.snapshot_date) AS snapshot_date,
    base.net_liquidation_value AS nav,
    base.cash_balance AS cash,
    coalesce(held.positions_value, 0.0) AS positions_value,
    coalesce(held.position_count, 0) AS position_count,
    base.net_liquidation_value - (coalesce(base.cash_balance, 0.0) + coalesce(held.positions_value, 0.0)) AS difference
FROM base
FULL OUTER JOIN held
  ON held.account_id = base.account_id AND held.snapshot_date = base.snapshot_date;
