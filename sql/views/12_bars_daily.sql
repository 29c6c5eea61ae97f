-- One close per contract and New York date from `bars`, in the contract's currency and in every
-- account base currency of the warehouse (account_base_currency). One row per conid, bar_date and
-- base_currency: the local columns repeat on each base currency's row, so filter on one
-- base_currency (any, for local prices alone); with no account landed, one row with base_currency null.
-- The bar that gives the close, best first: regular hours (outside_rth false) before outside-RTH,
-- then Trades before Midpoint, then the 1d bar before the last intraday bar of the date (1min ... 8h:
-- the one ending last). So the 1d Trades bar of regular hours wins when it landed; FX, which has
-- Midpoint bars only, takes its 1d Midpoint bar. Bid_Ask bars (their close is the average ask) and
-- 1w/1m bars are never used. Weekends and holidays have no bars and so no row.
--   bar_date:      the New York date the close belongs to: bars.bar_date, except that a 1d bar opening at
--                  or after 12:00 New York (a session that opens the evening before and closes the next
--                  day: IDEALPRO FX at 17:15, CME Globex with outsideRth at 18:00, Tokyo, Hong Kong) counts
--                  on the next date, the one its close falls on. Intraday bars count on their own bar_date;
--                  where a market trades through the New York evening outside regular hours (Globex), the
--                  regular-hours preference takes the session close, not the evening's; where the evening
--                  is regular hours too (FX), a date's last intraday bar is the one before midnight, so
--                  land 1d bars for a session close.
--   symbol:        the contract's ticker (contracts), else the bar's symbol.
--   currency:      the contract's currency (contracts); null when the contract is not landed.
--   close_local:   the close, a plain price in the contract's currency.
--   bar_size:      the bar size that gave the close (1d, or the intraday size).
--   source:        the source that gave the close: Trades or Midpoint.
--   outside_rth:   whether that bar came from an outsideRth request.
--   bar_start_utc: the start of that bar, UTC.
--   base_currency: a base currency of an account in the warehouse.
--   fx_rate:       base_currency per unit of currency: 1 when they are the same; otherwise the ledger's
--                  exchange_rate for the currency, from the accounts with that base currency (their mean
--                  when they differ), of the newest snapshot_date on or before bar_date; null when the
--                  ledger has none by then or the currency is unknown.
--   rate_date:     the ledger snapshot_date fx_rate comes from (bar_date when the rate is 1).
--   close_base:    close_local x fx_rate, in base_currency.
CREATE OR REPLACE VIEW bars_daily AS
WITH candidates AS (
    SELECT
        conid,
        CASE
            WHEN bar_size = '1d' AND hour(timezone('America/New_York', bar_start_utc AT TIME ZONE 'UTC')) >= 12
                THEN bar_date + 1
            ELSE bar_date
        END AS bar_date,
        bar_size,
        source,
        outside_rth,
        bar_start_utc,
        close,
        symbol,
        CASE
            WHEN bar_size LIKE '%min'
                THEN bar_start_utc + to_minutes(CAST(regexp_extract(bar_size, '^[0-9]+') AS INTEGER))
            WHEN bar_size LIKE '%h'
                THEN bar_start_utc + to_hours(CAST(regexp_extract(bar_size, '^[0-9]+') AS INTEGER))
        END AS bar_end_utc
    FROM bars
    WHERE source IN ('Trades', 'Midpoint')
      AND (bar_size = '1d' OR regexp_full_match(bar_size, '[0-9]+(min|h)'))
),
last_bars AS (  -- the last bar of each date, size, source and hours
    SELECT
        conid, bar_date, bar_size, source, outside_rth,
        max(bar_start_utc) AS bar_start_utc,
        max(bar_end_utc) AS bar_end_utc,
        arg_max(close, bar_start_utc) AS close,
        arg_max(symbol, bar_start_utc) AS symbol
    FROM candidates
    GROUP BY conid, bar_date, bar_size, source, outside_rth
),
best AS (
    SELECT *
    FROM last_bars
    QUALIFY row_number() OVER (
        PARTITION BY conid, bar_date
        ORDER BY outside_rth, source <> 'Trades', bar_size <> '1d', bar_end_utc DESC, bar_start_utc DESC, bar_size
    ) = 1
),
closes AS (
    SELECT
        b.conid,
        coalesce(c.ticker, b.symbol) AS symbol,
        b.bar_date,
        c.currency,
        b.close AS close_local,
        b.bar_size,
        b.source,
        b.outside_rth,
        b.bar_start_utc
    FROM best AS b
    LEFT JOIN contracts AS c ON c.conid = b.conid
),
bases AS (
    SELECT DISTINCT base_currency FROM account_base_currency
),
per_base AS (
    SELECT x.*, bases.base_currency
    FROM closes AS x
    LEFT JOIN bases ON true
),
rates AS (
    SELECT a.base_currency, l.currency, l.snapshot_date, avg(l.exchange_rate) AS exchange_rate
    FROM ledger AS l
    JOIN account_base_currency AS a ON a.account_id = l.account_id
    WHERE l.currency <> 'BASE' AND l.exchange_rate IS NOT NULL
    GROUP BY a.base_currency, l.currency, l.snapshot_date
)
SELECT
    x.conid,
    x.symbol,
    x.bar_date,
    x.currency,
    x.close_local,
    x.bar_size,
    x.source,
    x.outside_rth,
    x.bar_start_utc,
    x.base_currency,
    CASE WHEN x.currency = x.base_currency THEN 1.0 ELSE fx.exchange_rate END AS fx_rate,
    CASE WHEN x.currency = x.base_currency THEN x.bar_date ELSE fx.snapshot_date END AS rate_date,
    x.close_local * CASE WHEN x.currency = x.base_currency THEN 1.0 ELSE fx.exchange_rate END AS close_base
FROM per_base AS x
ASOF LEFT JOIN rates AS fx
  ON fx.base_currency = x.base_currency AND fx.currency = x.currency AND fx.snapshot_date <= x.bar_date;
