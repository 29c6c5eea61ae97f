-- Realized P&L and commissions per account, year of trade_date, asset category and currency, from
-- flex_trades' execution lines, each execution counted once. Duplicates: an execution in both an
-- Activity statement (element Trade) and a Trade Confirmation report (TradeConfirm) is two rows and counts
-- once, from its Trade row, which alone carries fifoPnlRealized and fxRateToBase: a TradeConfirm row is
-- left out when a Trade row of the same account has its exec_id (a cancellation line has no exec_id: it is
-- left out when a Trade row cancels the same orig_trade_id). An execution only a Trade Confirmation
-- reported counts from its TradeConfirm row (no P&L, no rate). Cancellations: a cancellation line
-- (transaction_type TradeCancel, or notes holding Ca) and the original it cancels add no P&L and no
-- execution, whatever the cancellation line says: that trade did not stand. The original is the row whose
-- transaction_id is the cancellation's orig_transaction_id, else (no orig_transaction_id, as in Trade
-- Confirmations) the first row, by transaction_id, whose trade_id is its orig_trade_id (a rebooked
-- replacement may reuse the trade_id; it stands and counts as any execution). A cancellation whose
-- original is not landed or not named adds its own fifo_pnl_realized, IBKR's reversing amount.
-- Commissions are the cash IBKR charged: every counted line's commission is summed, cancellations and
-- cancelled originals included (IBKR leaves the charge on the original and writes 0 or a refund on the
-- cancellation and on the rebooked replacement). The year is that of trade_date (report_date when
-- missing); a cancellation line carries its original's trade_date, so both fall in the same year.
--   account_id:                 IBKR account id.
--   year:                       year of trade_date.
--   asset_category:             IBKR's asset class (STK, OPT, FUT, CASH, BOND, ...).
--   currency:                   the trades' currency.
--   executions:                 executions that stand (cancellation lines and cancelled originals not
--                               counted).
--   cancellations:              cancellation lines among the counted rows.
--   realized_pnl:               sum of fifo_pnl_realized (FIFO realized P&L), in currency.
--   realized_pnl_base:          the same in the account's base currency (each line x its fx_rate_to_base).
--   commission:                 commissions charged in currency (negative: paid); a commission in another
--                               currency than the trade's is left out.
--   commission_base:            commission in base currency (x fx_rate_to_base).
--   lines_without_rate:         counted lines with a P&L or commission but no fx_rate_to_base (TradeConfirm
--                               rows carry none) or a commission in another currency: left out of the base
--                               columns.
CREATE OR REPLACE VIEW realized_pnl_by_year AS
WITH marked AS (
    SELECT
        *,
        coalesce(transaction_type = 'TradeCancel', false)
            OR list_contains(string_split(coalesce(notes, ''), ';'), 'Ca') AS is_cancel,
        nullif(orig_transaction_id, '0') AS cancels_transaction_id,
        nullif(orig_trade_id, '0') AS cancels_trade_id
    FROM flex_trades
),
identified AS (
    SELECT
        *,
        CASE
            WHEN exec_id IS NOT NULL THEN 'exec:' || exec_id
            WHEN is_cancel AND cancels_trade_id IS NOT NULL THEN 'cancel:' || cancels_trade_id
        END AS execution_key
    FROM marked
),
activity_keys AS (
    SELECT DISTINCT account_id, execution_key
    FROM identified
    WHERE element = 'Trade' AND execution_key IS NOT NULL
),
counted AS (
    SELECT i.*
    FROM identified AS i
    WHERE i.element <> 'TradeConfirm' OR NOT EXISTS (
        SELECT 1 FROM activity_keys AS a
        WHERE a.account_id = i.account_id AND a.execution_key = i.execution_key
    )
),
ranked AS (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY account_id, trade_id
            ORDER BY try_cast(transaction_id AS BIGINT) NULLS LAST, transaction_id NULLS LAST, report_date, row_key
        ) AS nth_of_trade_id
    FROM counted
    WHERE NOT is_cancel
),
pairs AS (
    -- each cancellation line and the original it cancels
    SELECT c.account_id, c.row_key AS cancel_key, coalesce(by_txn.row_key, by_trade.row_key) AS original_key
    FROM counted AS c
    LEFT JOIN ranked AS by_txn
      ON by_txn.account_id = c.account_id AND by_txn.transaction_id = c.cancels_transaction_id
    LEFT JOIN ranked AS by_trade
      ON c.cancels_transaction_id IS NULL AND by_trade.account_id = c.account_id
     AND by_trade.trade_id = c.cancels_trade_id AND by_trade.nth_of_trade_id = 1
    WHERE c.is_cancel
),
voided AS (
    SELECT account_id, cancel_key AS row_key FROM pairs WHERE original_key IS NOT NULL
    UNION
    SELECT account_id, original_key AS row_key FROM pairs WHERE original_key IS NOT NULL
),
valued AS (
    SELECT
        c.account_id,
        CAST(year(coalesce(c.trade_date, c.report_date)) AS INTEGER) AS year,
        c.asset_category,
        c.currency,
        c.is_cancel,
        v.row_key IS NOT NULL AS is_voided,
        CASE WHEN v.row_key IS NULL THEN c.fifo_pnl_realized END AS pnl,
        c.fx_rate_to_base,
        CASE WHEN c.commission_currency IS NULL OR c.commission_currency = c.currency THEN c.commission END
            AS commission,
        coalesce(c.commission_currency <> c.currency AND coalesce(c.commission, 0) <> 0, false) AS other_currency
    FROM counted AS c
    LEFT JOIN voided AS v ON v.account_id = c.account_id AND v.row_key = c.row_key
)
SELECT
    account_id,
    year,
    asset_category,
    currency,
    count(*) FILTER (WHERE NOT is_cancel AND NOT is_voided) AS executions,
    count(*) FILTER (WHERE is_cancel) AS cancellations,
    coalesce(sum(pnl), 0.0) AS realized_pnl,
    coalesce(sum(pnl * fx_rate_to_base), 0.0) AS realized_pnl_base,
    coalesce(sum(commission), 0.0) AS commission,
    coalesce(sum(commission * fx_rate_to_base), 0.0) AS commission_base,
    count(*) FILTER (
        WHERE other_currency
           OR (fx_rate_to_base IS NULL AND (coalesce(pnl, 0) <> 0 OR coalesce(commission, 0) <> 0))
    ) AS lines_without_rate
FROM valued
GROUP BY account_id, year, asset_category, currency;
