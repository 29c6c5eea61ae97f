-- Exposure by asset class on each account's latest snapshot, in base currency, as a share of NAV.
-- value_basis says what the number is: 'market_value', 'notional' (FUT: IBKR's mktValue is the
-- notional, so shares can exceed 1), or 'cash' (the ledger's BASE cash, so the shares add up).
CREATE OR REPLACE VIEW exposure_by_asset_class AS
WITH latest_positions AS (
    SELECT pv.*
    FROM position_values AS pv
    JOIN latest_snapshot_by_account AS latest
      ON latest.account_id = pv.account_id AND latest.snapshot_date = pv.snapshot_date
    WHERE NOT pv.is_cash  -- virtual FX rows: the ledger's cash below stands for them
),
by_class AS (
    SELECT
        account_id,
        snapshot_date,
        coalesce(asset_class, 'UNKNOWN') AS asset_class,
        CASE WHEN asset_class = 'FUT' THEN 'notional' ELSE 'market_value' END AS value_basis,
        sum(base_market_value) AS exposure_base
    FROM latest_positions
    GROUP BY ALL
    UNION ALL
    SELECT l.account_id, l.snapshot_date, 'CASH', 'cash', l.cash_balance
    FROM ledger AS l
    JOIN latest_snapshot_by_account AS latest
      ON latest.account_id = l.account_id AND latest.snapshot_date = l.snapshot_date
    WHERE l.currency = 'BASE'
)
SELECT
    c.account_id,
    c.snapshot_date,
    c.asset_class,
    c.value_basis,
    c.exposure_base,
    c.exposure_base / nullif(nav.net_liquidation_value, 0) AS share_of_nav
FROM by_class AS c
LEFT JOIN ledger AS nav
  ON nav.account_id = c.account_id AND nav.snapshot_date = c.snapshot_date AND nav.currency = 'BASE';
