-- /portfolio/{id}/summary in long form.
-- Natural key: (snapshot_date, account_id, metric). reported_at is UTC (IBKR sends epoch seconds).
-- No PRIMARY KEY on purpose: loads delete and re-insert keys in one transaction.
CREATE TABLE IF NOT EXISTS account_summary (
    snapshot_date DATE NOT NULL,
    account_id    VARCHAR NOT NULL,
    metric        VARCHAR NOT NULL,
    amount        DOUBLE,
    currency      VARCHAR,
    value_text    VARCHAR,
    is_null       BOOLEAN,
    reported_at   TIMESTAMP,
    severity      INTEGER,
    raw_extra     VARCHAR
);
