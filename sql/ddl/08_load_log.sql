-- One row appended per load of a table partition (a history of loads).
CREATE TABLE IF NOT EXISTS _load_log (
    table_name    VARCHAR NOT NULL,
    partition_key VARCHAR NOT NULL,
    rows          BIGINT NOT NULL,
    quarantined   BIGINT NOT NULL,
    lake_path     VARCHAR,
    run_id        VARCHAR,
    loaded_at     TIMESTAMP NOT NULL
);
