-- Daily simple returns per contract from bars_daily: close / previous close - 1, where the previous close
-- is the contract's latest earlier bar_date that has one. Weekends, holidays and dates with no bars have
-- no close and are skipped, so a Monday's return runs from Friday's close and a gap in the landed bars
-- spans several days (prev_date shows how far back). One row per conid, bar_date and base_currency, as
-- in bars_daily; the local columns repeat on each base currency's row.
--   prev_date:        the previous bar_date with a close (null on the contract's first date).
--   prev_close_local: the close of prev_date, in the contract's currency.
--   return_local:     close_local / prev_close_local - 1 in the contract's currency (null on the first date):
--                     a price return, dividends not added, splits only as far as IBKR's bars adjust for them.
--   prev_close_base:  the close of prev_date in base_currency.
--   return_base:      close_base / prev_close_base - 1: the return in base_currency, the move of bars_daily's
--                     fx_rate included (null when either date has no base close).
CREATE OR REPLACE VIEW daily_returns AS
WITH paired AS (
    SELECT
        conid,
        symbol,
        currency,
        base_currency,
        bar_date,
        close_local,
        close_base,
        lag(bar_date) OVER w AS prev_date,
        lag(close_local) OVER w AS prev_close_local,
        lag(close_base) OVER w AS prev_close_base
    FROM bars_daily
    WINDOW w AS (PARTITION BY conid, base_currency ORDER BY bar_date)
)
SELECT
    conid,
    symbol,
    currency,
    base_currency,
    bar_date,
    prev_date,
    close_local,
    prev_close_local,
    close_local / nullif(prev_close_local, 0) - 1.0 AS return_local,
    close_base,
    prev_close_base,
    close_base / nullif(prev_close_base, 0) - 1.0 AS return_base
FROM paired;
