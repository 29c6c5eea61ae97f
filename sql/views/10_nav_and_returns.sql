-- NAV and time-weighted returns per account and date (Portfolio Analyst), checked against the ledger.
--   nav:               nav_daily's NAV at the close, in base_currency.
--   daily_return:      returns_daily's return of the date.
--   cumulative_return: the daily returns compounded over the dates landed, from the account's first
--                      landed date: product(1 + daily_return) - 1 (exp(sum(ln(1+r))) - 1 without the logs).
--   ledger_nav:        the ledger's BASE net_liquidation_value of the same date (null: no ledger snapshot).
--   nav_difference:    nav - ledger_nav.
CREATE OR REPLACE VIEW nav_and_returns AS
WITH days AS (
    SELECT
        coalesce(n.account_id, r.account_id) AS account_id,
        coalesce(n.nav_date, r.return_date) AS nav_date,
        coalesce(n.base_currency, r.base_currency) AS base_currency,
        n.nav,
        r.daily_return
    FROM nav_daily AS n
    FULL OUTER JOIN returns_daily AS r
      ON r.account_id = n.account_id AND r.return_date = n.nav_date
)
SELECT
    d.account_id,
    d.nav_date,
    d.base_currency,
    d.nav,
    d.daily_return,
    product(1.0 + d.daily_return) OVER (
        PARTITION BY d.account_id ORDER BY d.nav_date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) - 1.0 AS cumulative_return,
    l.net_liquidation_value AS ledger_nav,
    d.nav - l.net_liquidation_value AS nav_difference
FROM days AS d
LEFT JOIN ledger AS l
  ON l.account_id = d.account_id AND l.snapshot_date = d.nav_date AND l.currency = 'BASE';
