-- Deposits and withdrawals per account and date, from flex_cash_transactions (category
-- deposit_withdrawal, DETAIL level): the money that moved NAV without being a return, marked on the
-- report's NAV curve.
--   flow_date:   the event's date (event_date; report_date when IBKR gives no dateTime).
--   currency:    the currency of the amounts.
--   lines:       CashTransaction lines added up.
--   amount:      sum of amount, in currency: positive a deposit, negative a withdrawal.
--   amount_base: sum of amount x fx_rate_to_base, in the account's base currency.
CREATE OR REPLACE VIEW external_cash_flows AS
SELECT
    account_id,
    coalesce(event_date, report_date) AS flow_date,
    currency,
    count(*) AS lines,
    sum(amount) AS amount,
    sum(amount * fx_rate_to_base) AS amount_base
FROM flex_cash_transactions
WHERE category = 'deposit_withdrawal'
  AND coalesce(level_of_detail, 'DETAIL') = 'DETAIL'
GROUP BY ALL;
