-- Positions of each account's latest snapshot_date.
CREATE OR REPLACE VIEW positions_latest AS
SELECT p.*
FROM positions AS p
JOIN latest_snapshot_by_account AS latest
  ON latest.account_id = p.account_id AND latest.snapshot_date = p.snapshot_date;
