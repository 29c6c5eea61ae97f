-- Security definitions from /trsrv/secdef, one row per conid (type-1 dimension).
-- Merged on conid: first_seen_date is the earliest snapshot that saw it, last_seen_date the latest.
-- No PRIMARY KEY on purpose: loads delete and re-insert keys in one transaction.
CREATE TABLE IF NOT EXISTS contracts (
    conid             BIGINT NOT NULL,
    ticker            VARCHAR,
    name              VARCHAR,
    full_name         VARCHAR,
    asset_class       VARCHAR,
    sec_type          VARCHAR,
    currency          VARCHAR,
    listing_exchange  VARCHAR,
    country_code      VARCHAR,
    expiry            VARCHAR,
    last_trading_day  VARCHAR,
    strike            DOUBLE,
    put_or_call       VARCHAR,
    multiplier        DOUBLE,
    und_conid         BIGINT,
    sector            VARCHAR,
    sector_group      VARCHAR,
    group_name        VARCHAR,
    is_us             BOOLEAN,
    has_options       BOOLEAN,
    is_event_contract BOOLEAN,
    first_seen_date   DATE NOT NULL,
    last_seen_date    DATE NOT NULL,
    raw_extra         VARCHAR
);
