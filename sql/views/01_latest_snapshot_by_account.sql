-- Each account's latest snapshot_date, from the ledger (always present for a snapshotted account)
-- and positions, so an account that closed every position still has a "latest" date.
CREATE OR REPLACE VIEW latest_snapshot_by_account AS
SELECT account_id, max(snapshot_date) AS snapshot_date
FROM (
    SELECT account_id, snapshot_date FROM ledger
    UNION ALL
    SELECT account_id, snapshot_date FROM positions
) AS seen
GROUP BY account_id;
