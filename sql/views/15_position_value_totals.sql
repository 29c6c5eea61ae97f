-- position_value_history added up per account and snapshot_date, in the account's base currency
-- (local values are not added: they are in several currencies). CASH rows (virtual FX) are left out, as
-- in nav_by_account: the ledger's cash stands for them. Futures count at notional (position x multiplier
-- x close), as IBKR's market value does, so value_base is gross market value, not NAV.
--   positions:             non-cash positions held on the date.
--   positions_unvalued:    of them, those without value_base (no close that date, or no FX rate).
--   value_base:            sum of value_base over the valued positions (0 when none is).
--   futures_notional_base: the part of value_base that is FUT notional.
--   snapshot_value_base:   sum of snapshot_value_base over the same valued positions.
--   difference_base:       value_base - snapshot_value_base.
--   complete:              every non-cash position has a value_base.
CREATE OR REPLACE VIEW position_value_totals AS
WITH sums AS (
    SELECT
        account_id,
        snapshot_date,
        base_currency,
        count(*) FILTER (WHERE NOT is_cash) AS positions,
        count(*) FILTER (WHERE NOT is_cash AND value_base IS NULL) AS positions_unvalued,
        coalesce(sum(value_base) FILTER (WHERE NOT is_cash), 0.0) AS value_base,
        coalesce(sum(value_base) FILTER (WHERE NOT is_cash AND asset_class = 'FUT'), 0.0) AS futures_notional_base,
        coalesce(sum(snapshot_value_base) FILTER (WHERE NOT is_cash AND value_base IS NOT NULL), 0.0)
            AS snapshot_value_base
    FROM position_value_history
    GROUP BY account_id, snapshot_date, base_currency
)
SELECT
    account_id,
    snapshot_date,
    base_currency,
    positions,
    positions_unvalued,
    value_base,
    futures_notional_base,
    snapshot_value_base,
    value_base - snapshot_value_base AS difference_base,
    positions_unvalued = 0 AS complete
FROM sums;
