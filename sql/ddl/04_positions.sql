-- /portfolio/{id}/positions, one row per account and contract.
-- Natural key: (snapshot_date, account_id, conid, model). For FUT, mkt_value is notional; CASH rows
-- (virtual FX positions) are cash already counted in the ledger.
-- No PRIMARY KEY on purpose: loads delete and re-insert keys in one transaction.
CREATE TABLE IF NOT EXISTS positions (
    snapshot_date       DATE NOT NULL,
    account_id          VARCHAR NOT NULL,
    conid               BIGINT NOT NULL,
    contract_desc       VARCHAR,
    asset_class         VARCHAR,
    sec_type            VARCHAR,
    position            DOUBLE,
    mkt_price           DOUBLE,
    mkt_value           DOUBLE,
    currency            VARCHAR,
    avg_cost            DOUBLE,
    avg_price           DOUBLE,
    realized_pnl        DOUBLE,
    unrealized_pnl      DOUBLE,
    base_mkt_value      DOUBLE,
    base_mkt_price      DOUBLE,
    base_avg_cost       DOUBLE,
    base_avg_price      DOUBLE,
    base_realized_pnl   DOUBLE,
    base_unrealized_pnl DOUBLE,
    multiplier          DOUBLE,
    strike              DOUBLE,
    put_or_call         VARCHAR,
    expiry              VARCHAR,
    last_trading_day    VARCHAR,
    und_conid           BIGINT,
    ticker              VARCHAR,
    name                VARCHAR,
    full_name           VARCHAR,
    listing_exchange    VARCHAR,
    country_code        VARCHAR,
    sector              VARCHAR,
    sector_group        VARCHAR,
    group_name          VARCHAR,
    model               VARCHAR NOT NULL,  -- '' unless held through a model portfolio
    raw_extra           VARCHAR
);
