-- Dividends and the tax withheld on them per account, security and year, from flex_cash_transactions
-- (categories dividend, payment_in_lieu and withholding_tax). The year is the year of event_date (the
-- line's dateTime; report_date when IBKR leaves it out), not of report_date: a withholding-tax
-- adjustment IBKR reports months later keeps the old dateTime of the dividend it adjusts, so it counts
-- in that dividend's year. Every line is summed as sent, so a reversal (a tax refunded, a dividend
-- reversed) nets out against its original and a re-charge at the right rate counts once; the same line
-- landed twice keys the same (row_key) and is one row. Only DETAIL lines (or lines without a
-- levelOfDetail) are summed: SUMMARY lines total them; an account's summary lines of a report_date count
-- only when it has no detail line that day (a query set to summaries only). Tax withheld on interest has
-- no security: it is a row with conid and symbol null. Base values take each line at its own
-- fxRateToBase (a late adjustment at the rate of its report). One row per account_id, conid (symbol when
-- the line has no conid), currency and year.
--   account_id:                IBKR account id.
--   conid:                     IBKR contract id of the security (null for tax on interest).
--   symbol:                    the security's symbol on its latest line of the year.
--   currency:                  currency of the lines (the dividend's currency).
--   year:                      year of event_date.
--   ordinary_dividends:        Dividends lines, in currency.
--   payments_in_lieu:          Payment In Lieu Of Dividends lines (paid instead of a dividend while the
--                              shares were lent out), in currency.
--   gross_dividends:           ordinary_dividends + payments_in_lieu: a dividend split into an ordinary part
--                              and a payment in lieu counts both.
--   withholding_tax:           Withholding Tax lines, late adjustments and refunds included (negative: paid).
--   net_dividends:             gross_dividends + withholding_tax, in currency.
--   ordinary_dividends_base:   ordinary_dividends in the account's base currency (amount x fx_rate_to_base).
--   payments_in_lieu_base:     payments_in_lieu in base currency.
--   gross_dividends_base:      gross_dividends in base currency.
--   withholding_tax_base:      withholding_tax in base currency.
--   net_dividends_base:        net_dividends in base currency.
--   lines:                     cash lines summed.
--   lines_without_rate:        lines with no fx_rate_to_base, left out of the base columns.
--   last_report_date:          the latest report_date among the lines (a late adjustment moves it).
CREATE OR REPLACE VIEW dividends_and_withholding AS
WITH lines AS (
    SELECT
        *,
        coalesce(upper(level_of_detail), 'DETAIL') = 'DETAIL' AS is_detail,
        bool_or(coalesce(upper(level_of_detail), 'DETAIL') = 'DETAIL')
            OVER (PARTITION BY account_id, report_date) AS day_has_detail
    FROM flex_cash_transactions
    WHERE category IN ('dividend', 'payment_in_lieu', 'withholding_tax')
),
counted AS (
    SELECT
        account_id,
        conid,
        CASE WHEN conid IS NULL THEN symbol END AS symbol_key,
        symbol,
        currency,
        CAST(year(coalesce(event_date, report_date)) AS INTEGER) AS year,
        coalesce(event_date, report_date) AS dated,
        report_date,
        category,
        amount,
        amount * fx_rate_to_base AS amount_base,
        fx_rate_to_base
    FROM lines
    WHERE is_detail OR NOT day_has_detail
)
SELECT
    account_id,
    conid,
    arg_max(symbol, dated) AS symbol,
    currency,
    year,
    coalesce(sum(amount) FILTER (WHERE category = 'dividend'), 0.0) AS ordinary_dividends,
    coalesce(sum(amount) FILTER (WHERE category = 'payment_in_lieu'), 0.0) AS payments_in_lieu,
    coalesce(sum(amount) FILTER (WHERE category IN ('dividend', 'payment_in_lieu')), 0.0) AS gross_dividends,
    coalesce(sum(amount) FILTER (WHERE category = 'withholding_tax'), 0.0) AS withholding_tax,
    coalesce(sum(amount), 0.0) AS net_dividends,
    coalesce(sum(amount_base) FILTER (WHERE category = 'dividend'), 0.0) AS ordinary_dividends_base,
    coalesce(sum(amount_base) FILTER (WHERE category = 'payment_in_lieu'), 0.0) AS payments_in_lieu_base,
    coalesce(sum(amount_base) FILTER (WHERE category IN ('dividend', 'payment_in_lieu')), 0.0)
        AS gross_dividends_base,
    coalesce(sum(amount_base) FILTER (WHERE category = 'withholding_tax'), 0.0) AS withholding_tax_base,
    coalesce(sum(amount_base), 0.0) AS net_dividends_base,
    count(*) AS lines,
    count(*) FILTER (WHERE fx_rate_to_base IS NULL) AS lines_without_rate,
    max(report_date) AS last_report_date
FROM counted
GROUP BY account_id, conid, symbol_key, currency, year;
