-- Each account's base currency: the newest accounts row that names one (IBKR's `currency` of the
-- account listing). bars_daily converts closes into every base currency listed here, and
-- position_value_history values each account in its own.
--   account_id:    IBKR account id.
--   base_currency: the account's base currency.
--   as_of:         the accounts snapshot_date it is taken from.
CREATE OR REPLACE VIEW account_base_currency AS
SELECT account_id, arg_max(base_currency, snapshot_date) AS base_currency, max(snapshot_date) AS as_of
FROM accounts
WHERE base_currency IS NOT NULL
GROUP BY account_id;
