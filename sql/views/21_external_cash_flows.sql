-- Deposits and withdrawals per account and date, from flex_cash_transactions (category
-- deposit_withdrawal, DETAIL level): the money that moved NAV without being a return, marked on the
-- report's NAV curve.
--   flow_date:   the event's date (event_date; report_date when IBKR gives no dateTime).
--   currency:    the currency of the amounts.
--   lines:       CashTransaction lines added up.
--   amount:      sum of amount, in currency: positive a deposit, negative a withdrawal.
--   amount_base: sum of amount x fx_rate_to_base, in the account's base currency (null when any line has no rate).
CREATE OR REPLACE VIEW external_cash_flows AS
SELECT
    account_id,
    coalesce(event_date, report_date) AS flow_date,
    currency,
    count(*) AS lines,
    sum(amount) AS amount,
    CASE WHEN count(*) FILTER (WHERE fx_rate_to_base IS NULL) = 0 THEN sum(amount * fx_rate_to_base) END AS amount_base
FROM flex_cash_transactions
WHERE category = 'deposit_withdrawal'
  AND upper(coalesce(level_of_detail, 'DETAIL')) = 'DETAIL'
GROUP BY ALL;
