-- The data tables the warehouse holds, refreshed on every schema check: what `load_status` expects per date.
CREATE TABLE IF NOT EXISTS _datasets (
    table_name  VARCHAR NOT NULL,
    description VARCHAR
);
