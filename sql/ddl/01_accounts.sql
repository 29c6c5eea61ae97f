-- Accounts visible to the session, one row per snapshot_date and account_id.
-- Natural key: (snapshot_date, account_id). Timestamps are UTC.
-- No PRIMARY KEY on purpose: loads delete and re-insert keys in one transaction.
CREATE TABLE IF NOT EXISTS accounts (
    snapshot_date     DATE NOT NULL,
    account_id        VARCHAR NOT NULL,
    account_title     VARCHAR,
    display_name      VARCHAR,
    account_alias     VARCHAR,
    account_type      VARCHAR,
    base_currency     VARCHAR,
    trading_type      VARCHAR,
    business_type     VARCHAR,
    ib_entity         VARCHAR,
    cust_type         VARCHAR,
    clearing_status   VARCHAR,
    is_fa_client      BOOLEAN,
    is_master         BOOLEAN,
    parent_account_id VARCHAR,
    brokerage_access  BOOLEAN,
    account_status_at TIMESTAMP,
    raw_extra         VARCHAR
);
