-- What is loaded for each partition date, and whether the date is whole.
-- Each table of a date is loaded in its own transaction, so a run stopped between two loads (a crash,
-- Ctrl-C, a failed dataset) leaves a date where some tables come from the new run and others from an
-- older one, or are missing. `complete` says every nightly table (`_datasets.nightly`) has a load for the date; `from_one_run` says
-- they all come from the same run (a partial re-run with --select is one way to get two runs).
CREATE OR REPLACE VIEW load_status AS
WITH latest AS (
    SELECT table_name, partition_key, arg_max(run_id, loaded_at) AS run_id, max(loaded_at) AS loaded_at
    FROM _load_log
    GROUP BY table_name, partition_key
),
dates AS (
    SELECT DISTINCT partition_key FROM latest
)
SELECT
    d.partition_key,
    count(l.table_name) AS tables_loaded,
    count(*) AS tables_expected,
    coalesce(list(x.table_name ORDER BY x.table_name) FILTER (WHERE l.table_name IS NULL), []) AS tables_missing,
    count(DISTINCT l.run_id) AS runs,
    count(l.table_name) = count(*) AS complete,
    count(l.table_name) = count(*) AND count(DISTINCT l.run_id) = 1 AS from_one_run,
    max(l.loaded_at) AS last_loaded_at
FROM dates AS d
CROSS JOIN (SELECT table_name FROM _datasets WHERE nightly IS NOT FALSE) AS x
LEFT JOIN latest AS l ON l.partition_key = d.partition_key AND l.table_name = x.table_name
GROUP BY d.partition_key;
