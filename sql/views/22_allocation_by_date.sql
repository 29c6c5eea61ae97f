-- Where each account's money sits on every snapshot_date, in the account's base currency: by asset
-- class and by sector as IBKR's /portfolio/allocation computes them (allocation: long plus short
-- side), and by currency from the positions' base market value plus the ledger's cash per currency
-- (as exposure_by_currency does for the latest date). Futures count at notional and options at
-- market value, as IBKR's allocation does, so buckets need not add up to NAV.
--   base_currency: the account's base currency (account_base_currency).
--   dimension:     asset_class, sector or currency.
--   bucket:        the class (STK, OPT, FUT, BOND, CASH...), sector (IBKR's name, Others) or currency.
--   long_base:     value of the long side, base currency (positions and cash of a currency: what is held).
--   short_base:    value of the short side (negative), base currency.
--   value_base:    long_base + short_base, base currency.
CREATE OR REPLACE VIEW allocation_by_date AS
WITH ibkr AS (
    SELECT account_id, snapshot_date, dimension, bucket,
           coalesce(sum(value) FILTER (WHERE side = 'long'), 0.0) AS long_base,
           coalesce(sum(value) FILTER (WHERE side = 'short'), 0.0) AS short_base
    FROM allocation
    WHERE dimension IN ('asset_class', 'sector')
    GROUP BY ALL
),
by_currency AS (
    SELECT account_id, snapshot_date, currency AS bucket,
           sum(base_market_value) FILTER (WHERE base_market_value > 0) AS long_value,
           sum(base_market_value) FILTER (WHERE base_market_value < 0) AS short_value
    FROM position_values
    WHERE NOT is_cash  -- virtual FX rows: the ledger's cash by currency stands for them
    GROUP BY ALL
),
cash AS (
    SELECT account_id, snapshot_date, currency AS bucket, cash_balance * exchange_rate AS cash_base
    FROM ledger
    WHERE currency <> 'BASE'
),
currencies AS (
    SELECT
        coalesce(p.account_id, c.account_id) AS account_id,
        coalesce(p.snapshot_date, c.snapshot_date) AS snapshot_date,
        'currency' AS dimension,
        coalesce(p.bucket, c.bucket) AS bucket,
        coalesce(p.long_value, 0.0) + greatest(coalesce(c.cash_base, 0.0), 0.0) AS long_base,
        coalesce(p.short_value, 0.0) + least(coalesce(c.cash_base, 0.0), 0.0) AS short_base
    FROM by_currency AS p
    FULL OUTER JOIN cash AS c
      ON c.account_id = p.account_id AND c.snapshot_date = p.snapshot_date AND c.bucket = p.bucket
)
SELECT
    x.account_id,
    x.snapshot_date,
    b.base_currency,
    x.dimension,
    x.bucket,
    x.long_base,
    x.short_base,
    x.long_base + x.short_base AS value_base
FROM (SELECT * FROM ibkr UNION ALL SELECT * FROM currencies) AS x
LEFT JOIN account_base_currency AS b ON b.account_id = x.account_id
WHERE x.long_base <> 0 OR x.short_base <> 0;
