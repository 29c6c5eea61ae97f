-- What landed per dataset and date: every table of _datasets against every date from the first to the
-- last partition_key of _load_log, with the rows of its newest load. A nightly table with no load of a
-- date is a gap; a targeted table (Flex, pa_transactions) is only expected where someone asked for it.
--   table_name:   a data table (_datasets).
--   nightly:      landed every night (load_status expects it).
--   coverage_date: a date between the first and last loaded partition.
--   loaded:       a load of the table exists for the date.
--   rows:         rows of the date after its newest load (null: no load).
--   status:       'rows' (loaded, rows > 0), 'empty' (loaded, no rows: nothing happened that day),
--                 'gap' (nightly, not loaded), 'not asked' (targeted, not loaded).
CREATE OR REPLACE VIEW dataset_coverage AS
WITH latest AS (
    SELECT table_name, CAST(partition_key AS DATE) AS coverage_date, arg_max(rows, loaded_at) AS rows
    FROM _load_log
    WHERE TRY_CAST(partition_key AS DATE) IS NOT NULL
    GROUP BY ALL
),
span AS (
    SELECT min(coverage_date) AS first_date, max(coverage_date) AS last_date FROM latest
),
dates AS (
    SELECT CAST(d AS DATE) AS coverage_date
    FROM span, generate_series(span.first_date, span.last_date, INTERVAL 1 DAY) AS g(d)
)
SELECT
    t.table_name,
    coalesce(t.nightly, true) AS nightly,
    d.coverage_date,
    l.rows IS NOT NULL AS loaded,
    l.rows,
    CASE
        WHEN l.rows > 0 THEN 'rows'
        WHEN l.rows IS NOT NULL THEN 'empty'
        WHEN coalesce(t.nightly, true) THEN 'gap'
        ELSE 'not asked'
    END AS status
FROM _datasets AS t
CROSS JOIN dates AS d
LEFT JOIN latest AS l ON l.table_name = t.table_name AND l.coverage_date = d.coverage_date;
