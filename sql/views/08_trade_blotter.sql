-- Executions with their contract, valued in the trade's currency and in the account's base currency.
--   symbol:          the contract's ticker (contracts), else the execution's symbol.
--   currency:        the contract's currency (the trade's currency); null when the contract is not landed.
--   multiplier:      the contract's multiplier; 1 when IBKR leaves it empty or 0 (stocks), and when the
--                    contract is not landed but the execution is STK or CASH; otherwise null.
--   notional:        quantity x price x multiplier in the trade's currency, positive for buys and negative
--                    for sells (the change in holdings, not the cash flow).
--   commission:      IBKR's commission, taken to be in the trade's currency.
--   exchange_rate:   base currency per unit of the trade's currency: the ledger's rate for the account and
--                    currency on its latest snapshot_date on or before trade_date that has one.
--   rate_date:       the ledger snapshot_date the rate comes from (null: no rate, so no base values).
--   notional_base:   notional x exchange_rate, in the account's base currency.
--   commission_base: commission x exchange_rate, in the account's base currency.
CREATE OR REPLACE VIEW trade_blotter AS
WITH rates AS (
    SELECT account_id, currency, snapshot_date, exchange_rate
    FROM ledger
    WHERE currency <> 'BASE' AND exchange_rate IS NOT NULL
),
valued AS (
    SELECT
        e.account_id,
        e.trade_date,
        e.trade_time,
        e.execution_id,
        e.order_id,
        e.conid,
        coalesce(c.ticker, e.symbol) AS symbol,
        e.sec_type,
        e.side,
        e.quantity,
        e.price,
        c.currency,
        coalesce(
            nullif(c.multiplier, 0),
            CASE WHEN c.conid IS NOT NULL OR e.sec_type IN ('STK', 'CASH') THEN 1.0 END
        ) AS multiplier,
        e.commission,
        e.net_amount,
        e.exchange,
        e.order_ref
    FROM executions AS e
    LEFT JOIN contracts AS c ON c.conid = e.conid
)
SELECT
    v.account_id,
    v.trade_date,
    v.trade_time,
    v.execution_id,
    v.order_id,
    v.conid,
    v.symbol,
    v.sec_type,
    v.side,
    v.quantity,
    v.price,
    v.currency,
    v.multiplier,
    v.quantity * v.price * v.multiplier * CASE v.side WHEN 'B' THEN 1 WHEN 'S' THEN -1 END AS notional,
    v.commission,
    v.net_amount,
    v.exchange,
    v.order_ref,
    fx.exchange_rate,
    fx.snapshot_date AS rate_date,
    v.quantity * v.price * v.multiplier * CASE v.side WHEN 'B' THEN 1 WHEN 'S' THEN -1 END * fx.exchange_rate
        AS notional_base,
    v.commission * fx.exchange_rate AS commission_base
FROM valued AS v
ASOF LEFT JOIN rates AS fx
  ON fx.account_id = v.account_id AND fx.currency = v.currency AND fx.snapshot_date <= v.trade_date;
