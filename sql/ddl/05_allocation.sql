-- /portfolio/{id}/allocation: dimension (asset_class, sector, group) x side (long, short) x bucket.
-- Natural key: (snapshot_date, account_id, dimension, side, bucket).
-- No PRIMARY KEY on purpose: loads delete and re-insert keys in one transaction.
CREATE TABLE IF NOT EXISTS allocation (
    snapshot_date DATE NOT NULL,
    account_id    VARCHAR NOT NULL,
    dimension     VARCHAR NOT NULL,
    side          VARCHAR NOT NULL,
    bucket        VARCHAR NOT NULL,
    value         DOUBLE,
    raw_extra     VARCHAR
);
