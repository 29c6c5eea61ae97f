-- The whole login's NAV and time-weighted return per base currency and date: the accounts of
-- nav_and_returns that share a base currency added up (accounts in another base currency form their
-- own row: NAVs are not converted between currencies).
--   accounts:          accounts with a NAV on the date.
--   nav:               sum of their NAV, in base_currency.
--   daily_return:      the accounts' daily returns weighted by their previous landed NAV
--                      (sum(prev_nav x daily_return) / sum(prev_nav)): the return of the sum with each
--                      account's flows left out as its own return leaves them out; an account's first
--                      date (no previous NAV) weighs nothing.
--   cumulative_return: daily returns compounded from the first date: product(1 + daily_return) - 1.
CREATE OR REPLACE VIEW login_nav_and_returns AS
WITH weighted AS (
    SELECT
        base_currency, nav_date, nav, daily_return,
        lag(nav) OVER (PARTITION BY account_id ORDER BY nav_date) AS prev_nav
    FROM nav_and_returns
    WHERE nav IS NOT NULL
),
days AS (
    SELECT
        base_currency,
        nav_date,
        count(*) AS accounts,
        sum(nav) AS nav,
        coalesce(sum(prev_nav * daily_return) / nullif(sum(prev_nav) FILTER (WHERE daily_return IS NOT NULL), 0), 0.0)
            AS daily_return
    FROM weighted
    GROUP BY base_currency, nav_date
)
SELECT
    base_currency,
    nav_date,
    accounts,
    nav,
    daily_return,
    product(1.0 + daily_return) OVER (
        PARTITION BY base_currency ORDER BY nav_date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) - 1.0 AS cumulative_return
FROM days;
