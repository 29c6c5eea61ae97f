-- Trading per account and trade_date, from trade_blotter, in the account's base currency.
--   executions:              fills on the date.
--   buys:                    fills on the buy side.
--   sells:                   fills on the sell side.
--   bought_base:             notional bought (positive), in base currency.
--   sold_base:               notional sold (positive), in base currency.
--   commissions_base:        commissions, in base currency.
--   executions_without_rate: fills with no base value (no contract or no ledger rate), left out of the sums.
CREATE OR REPLACE VIEW daily_trading_summary AS
SELECT
    account_id,
    trade_date,
    count(*) AS executions,
    count(*) FILTER (WHERE side = 'B') AS buys,
    count(*) FILTER (WHERE side = 'S') AS sells,
    coalesce(sum(notional_base) FILTER (WHERE side = 'B'), 0.0) AS bought_base,
    coalesce(-sum(notional_base) FILTER (WHERE side = 'S'), 0.0) AS sold_base,
    coalesce(sum(commission_base), 0.0) AS commissions_base,
    count(*) FILTER (WHERE notional_base IS NULL) AS executions_without_rate
FROM trade_blotter
GROUP BY account_id, trade_date;
