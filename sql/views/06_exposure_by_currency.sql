-- Exposure by currency on each account's latest snapshot, in base currency, as a share of NAV:
-- positions' base market value in that currency (futures_notional_base says how much of it is FUT
-- notional) plus the ledger cash held in that currency converted with the ledger's exchange rate.
CREATE OR REPLACE VIEW exposure_by_currency AS
WITH latest_positions AS (
    SELECT pv.account_id, pv.snapshot_date, pv.currency,
           sum(pv.base_market_value) AS positions_value_base,
           sum(CASE WHEN pv.asset_class = 'FUT' THEN pv.base_market_value ELSE 0.0 END) AS futures_notional_base
    FROM position_values AS pv
    JOIN latest_snapshot_by_account AS latest
      ON latest.account_id = pv.account_id AND latest.snapshot_date = pv.snapshot_date
    WHERE NOT pv.is_cash  -- virtual FX rows: the ledger's cash by currency stands for them
    GROUP BY ALL
),
latest_cash AS (
    SELECT l.account_id, l.snapshot_date, l.currency, l.cash_balance * l.exchange_rate AS cash_base
    FROM ledger AS l
    JOIN latest_snapshot_by_account AS latest
      ON latest.account_id = l.account_id AND latest.snapshot_date = l.snapshot_date
    WHERE l.currency <> 'BASE'
),
combined AS (
    SELECT
        coalesce(p.account_id, c.account_id) AS account_id,
        coalesce(p.snapshot_date, c.snapshot_date) AS snapshot_date,
        coalesce(p.currency, c.currency) AS currency,
        coalesce(p.positions_value_base, 0.0) AS positions_value_base,
        coalesce(p.futures_notional_base, 0.0) AS futures_notional_base,
        coalesce(c.cash_base, 0.0) AS cash_base
    FROM latest_positions AS p
    FULL OUTER JOIN latest_cash AS c
      ON c.account_id = p.account_id AND c.snapshot_date = p.snapshot_date AND c.currency = p.currency
)
SELECT
    x.account_id,
    x.snapshot_date,
    x.currency,
    x.positions_value_base,
    x.futures_notional_base,
    x.cash_base,
    x.positions_value_base + x.cash_base AS exposure_base,
    (x.positions_value_base + x.cash_base) / nullif(nav.net_liquidation_value, 0) AS share_of_nav
FROM combined AS x
LEFT JOIN ledger AS nav
  ON nav.account_id = x.account_id AND nav.snapshot_date = x.snapshot_date AND nav.currency = 'BASE';
