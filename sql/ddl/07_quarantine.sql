-- Rows that failed validation, with a readable reason and the row as JSON.
-- Replaced per (table_name, partition_key) on every load of that partition.
-- No PRIMARY KEY on purpose: loads delete and re-insert keys in one transaction.
CREATE TABLE IF NOT EXISTS quarantine (
    table_name     VARCHAR NOT NULL,
    partition_key  VARCHAR NOT NULL,
    row_number     BIGINT,
    reason         VARCHAR NOT NULL,
    row_json       VARCHAR,
    run_id         VARCHAR,
    quarantined_at TIMESTAMP
);
