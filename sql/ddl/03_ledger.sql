-- /portfolio/{id}/ledger, one row per currency plus BASE (the account's base-currency roll-up).
-- Natural key: (snapshot_date, account_id, currency).
-- No PRIMARY KEY on purpose: loads delete and re-insert keys in one transaction.
CREATE TABLE IF NOT EXISTS ledger (
    snapshot_date                DATE NOT NULL,
    account_id                   VARCHAR NOT NULL,
    currency                     VARCHAR NOT NULL,
    cash_balance                 DOUBLE,
    settled_cash                 DOUBLE,
    net_liquidation_value        DOUBLE,
    exchange_rate                DOUBLE,
    stock_market_value           DOUBLE,
    stock_option_market_value    DOUBLE,
    future_market_value          DOUBLE,
    future_option_market_value   DOUBLE,
    futures_only_pnl             DOUBLE,
    corporate_bonds_market_value DOUBLE,
    tbonds_market_value          DOUBLE,
    tbills_market_value          DOUBLE,
    warrants_market_value        DOUBLE,
    issuer_options_market_value  DOUBLE,
    commodity_market_value       DOUBLE,
    money_funds                  DOUBLE,
    crypto_value                 DOUBLE,
    interest                     DOUBLE,
    dividends                    DOUBLE,
    unrealized_pnl               DOUBLE,
    realized_pnl                 DOUBLE,
    funds                        DOUBLE,
    cash_balance_fx_segment      DOUBLE,
    reported_at                  TIMESTAMP,
    raw_extra                    VARCHAR
);
