-- Fees and interest per account, month, kind and currency, from flex_cash_transactions (categories fee,
-- advisor_fee and interest). The month is that of event_date (the line's dateTime; report_date when IBKR
-- leaves it out): the date IBKR booked the line, so a month's interest, booked in the first days of the
-- next month ("USD CREDIT INT FOR FEB-2026"), counts in the month it was booked. Every line is summed as
-- sent, so a refunded fee or a reversed interest line nets out against its original. Only DETAIL lines
-- (or lines without a levelOfDetail) are summed: SUMMARY lines total them; an account's summary lines of
-- a report_date count only when it has no detail line that day. Tax withheld on interest is in
-- dividends_and_withholding; commission adjustments and deposits are in neither view.
--   account_id:         IBKR account id.
--   year:               year of event_date.
--   month:              first day of event_date's month (a DATE).
--   kind:               advisor_fee (Advisor Fees); other_fees (IBKR's type Other Fees: market data,
--                       custody, ...); fee (any other fee type, e.g. Fees, Broker Fees); interest_paid and
--                       interest_received (Broker or Bond Interest Paid / Received; an interest type naming
--                       neither is paid when negative, received otherwise).
--   currency:           currency of the lines.
--   amount:             sum of the lines in currency: negative paid, positive received.
--   amount_base:        the same in the account's base currency (each line x its fx_rate_to_base).
--   lines:              cash lines summed.
--   lines_without_rate: lines with no fx_rate_to_base, left out of amount_base.
CREATE OR REPLACE VIEW fees_and_interest AS
WITH lines AS (
    SELECT
        *,
        coalesce(upper(level_of_detail), 'DETAIL') = 'DETAIL' AS is_detail,
        bool_or(coalesce(upper(level_of_detail), 'DETAIL') = 'DETAIL')
            OVER (PARTITION BY account_id, report_date) AS day_has_detail,
        lower(regexp_replace(coalesce(type, ''), '[^A-Za-z0-9]', '', 'g')) AS squashed_type
    FROM flex_cash_transactions
    WHERE category IN ('fee', 'advisor_fee', 'interest')
),
counted AS (
    SELECT
        account_id,
        coalesce(event_date, report_date) AS dated,
        CASE
            WHEN category = 'advisor_fee' THEN 'advisor_fee'
            WHEN category = 'fee' AND squashed_type = 'otherfees' THEN 'other_fees'
            WHEN category = 'fee' THEN 'fee'
            WHEN squashed_type LIKE '%paid' THEN 'interest_paid'
            WHEN squashed_type LIKE '%received' THEN 'interest_received'
            WHEN amount < 0 THEN 'interest_paid'
            ELSE 'interest_received'
        END AS kind,
        currency,
        amount,
        amount * fx_rate_to_base AS amount_base,
        fx_rate_to_base
    FROM lines
    WHERE is_detail OR NOT day_has_detail
)
SELECT
    account_id,
    CAST(year(dated) AS INTEGER) AS year,
    CAST(date_trunc('month', dated) AS DATE) AS month,
    kind,
    currency,
    coalesce(sum(amount), 0.0) AS amount,
    coalesce(sum(amount_base), 0.0) AS amount_base,
    count(*) AS lines,
    count(*) FILTER (WHERE fx_rate_to_base IS NULL) AS lines_without_rate
FROM counted
GROUP BY account_id, year, month, kind, currency;
