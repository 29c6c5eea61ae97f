-- Positions per account and snapshot_date valued at that date's close from bars_daily, in the contract's
-- currency and in the account's base currency, next to what the positions snapshot itself reports. One
-- row per positions row (account, date, conid, model). A position with no close on its date (no bars
-- landed for it, or a snapshot on a weekend or holiday: closes are not carried forward) keeps its row,
-- with null close and values. position_value_totals adds the rows up per account and date.
--   symbol:               the position's ticker, else the contract's, else the bars'.
--   asset_class:          the position's asset class, else the contract's.
--   currency:             the contract's currency, as the position gives it, else as contracts does.
--   base_currency:        the account's base currency (account_base_currency); null when the account is not
--                         in accounts: then the local close is still joined, base values are null.
--   multiplier:           the position's multiplier, else the contract's (IBKR's 0 or empty counts as none),
--                         else 0.01 for BOND (guess: the price is percent of face value and the position is
--                         face value, as the simulator models it), else 1 (an option landed with neither
--                         multiplier would be 100 times too small: difference_local shows it).
--   close_local:          bars_daily's close of snapshot_date, in the contract's currency.
--   close_base:           that close in base_currency (bars_daily: the ledger's rate on or before the date).
--   fx_rate:              the rate close_base used (bars_daily.fx_rate).
--   close_bar_size:       the bar size that gave the close (bars_daily.bar_size).
--   close_source:         the source that gave the close (bars_daily.source).
--   value_local:          position x multiplier x close_local (for FUT the notional, as IBKR's mkt_value).
--   value_base:           position x multiplier x close_base.
--   snapshot_price:       the snapshot's mkt_price, in the contract's currency.
--   snapshot_value_local: the snapshot's mkt_value.
--   snapshot_value_base:  position_values.base_market_value (IBKR's base value, else local x the ledger's rate).
--   difference_local:     value_local - snapshot_value_local.
--   difference_base:      value_base - snapshot_value_base.
--   is_cash:              a CASH row (virtual FX, position_values.is_cash): the ledger's cash stands for it,
--                         so position_value_totals leaves it out.
CREATE OR REPLACE VIEW position_value_history AS
WITH held AS (
    SELECT
        p.account_id,
        p.snapshot_date,
        p.conid,
        p.model,
        coalesce(p.ticker, c.ticker) AS ticker,
        coalesce(p.asset_class, c.asset_class) AS asset_class,
        coalesce(p.currency, c.currency) AS currency,
        a.base_currency,
        p.position,
        coalesce(
            nullif(p.multiplier, 0),
            nullif(c.multiplier, 0),
            CASE WHEN coalesce(p.asset_class, c.asset_class) = 'BOND' THEN 0.01 ELSE 1.0 END
        ) AS multiplier,
        p.mkt_price,
        p.mkt_value,
        p.base_market_value,
        p.is_cash
    FROM position_values AS p
    LEFT JOIN account_base_currency AS a ON a.account_id = p.account_id
    LEFT JOIN contracts AS c ON c.conid = p.conid
),
valued AS (
    SELECT
        h.*,
        b.symbol AS bar_symbol,
        b.close_local,
        CASE WHEN h.base_currency IS NOT NULL THEN b.close_base END AS close_base,
        CASE WHEN h.base_currency IS NOT NULL THEN b.fx_rate END AS fx_rate,
        b.bar_size AS close_bar_size,
        b.source AS close_source
    FROM held AS h
    LEFT JOIN bars_daily AS b
      ON b.conid = h.conid
     AND b.bar_date = h.snapshot_date
     -- the account's base row; for an account of unknown base, any one row (its local close is the same)
     AND b.base_currency IS NOT DISTINCT FROM
         coalesce(h.base_currency, (SELECT min(base_currency) FROM account_base_currency))
)
SELECT
    account_id,
    snapshot_date,
    conid,
    model,
    coalesce(ticker, bar_symbol) AS symbol,
    asset_class,
    currency,
    base_currency,
    position,
    multiplier,
    close_local,
    close_base,
    fx_rate,
    close_bar_size,
    close_source,
    position * multiplier * close_local AS value_local,
    position * multiplier * close_base AS value_base,
    mkt_price AS snapshot_price,
    mkt_value AS snapshot_value_local,
    base_market_value AS snapshot_value_base,
    position * multiplier * close_local - mkt_value AS difference_local,
    position * multiplier * close_base - base_market_value AS difference_base,
    is_cash
FROM valued;
