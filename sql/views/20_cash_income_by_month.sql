-- Dividends, payments in lieu, withholding tax, fees and interest per account, month, category and
-- currency, from flex_cash_transactions (Flex CashTransaction rows, DETAIL level only: summary rows
-- repeat the detail). Deposits and withdrawals are not income: external_cash_flows has them.
--   month:           the first day of the month of the event (event_date; report_date when IBKR gives no
--                    dateTime). A withholding adjustment IBKR reports late counts in its event's month.
--   category:        flex_cash_transactions.category: dividend, payment_in_lieu, withholding_tax, interest,
--                    fee, advisor_fee, commission_adjustment or other.
--   currency:        the currency of the amounts.
--   lines:           CashTransaction lines added up.
--   amount:          sum of amount, in currency: positive received, negative paid.
--   amount_base:     sum of amount x fx_rate_to_base, in the account's base currency (null when any line has no rate,
--                    rather than a total that leaves it out).
CREATE OR REPLACE VIEW cash_income_by_month AS
SELECT
    account_id,
    CAST(date_trunc('month', coalesce(event_date, report_date)) AS DATE) AS month,
    category,
    currency,
    count(*) AS lines,
    sum(amount) AS amount,
    CASE WHEN count(*) FILTER (WHERE fx_rate_to_base IS NULL) = 0 THEN sum(amount * fx_rate_to_base) END AS amount_base
FROM flex_cash_transactions
WHERE category <> 'deposit_withdrawal'
  AND upper(coalesce(level_of_detail, 'DETAIL')) = 'DETAIL'
GROUP BY ALL;
