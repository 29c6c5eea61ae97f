-- Positions with their values in the account's base currency.
--   base_market_value: IBKR's base market value (for FUT this is the notional, not equity);
--                      when IBKR leaves base values out, local value x the ledger's exchange rate.
--   base_equity_value: what the position adds to NAV: base_market_value, except FUT where the
--                      equity is the unrealized P&L (futures are marked to market daily), and CASH
--                      rows (virtual FX positions of accounts tracking them), which are the ledger's
--                      cash again and add nothing.
--   is_cash:           a CASH row: left out of exposures too, where the ledger's cash stands instead.
CREATE OR REPLACE VIEW position_values AS
SELECT
    p.*,
    coalesce(p.base_mkt_value, p.mkt_value * fx.exchange_rate) AS base_market_value,
    CASE
        WHEN p.asset_class = 'CASH' THEN 0.0
        WHEN p.asset_class = 'FUT'
            THEN coalesce(p.base_unrealized_pnl, p.unrealized_pnl * fx.exchange_rate)
        ELSE coalesce(p.base_mkt_value, p.mkt_value * fx.exchange_rate)
    END AS base_equity_value,
    coalesce(p.asset_class = 'CASH', false) AS is_cash
FROM positions AS p
LEFT JOIN ledger AS fx
  ON fx.account_id = p.account_id
 AND fx.snapshot_date = p.snapshot_date
 AND fx.currency = p.currency;
