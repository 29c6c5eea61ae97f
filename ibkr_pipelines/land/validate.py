"""Split a frame into rows that pass its table's pandera schema and rows to quarantine (with why).

Row-level failures (a null key, a failed check) and later duplicates of a natural key go to
quarantine; the rest is landed. A failure of the whole frame (a missing column, a wrong dtype)
means the extractor and the schema disagree: that raises, because quarantining every row would
hide a code bug as a data problem.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

import pandera.errors
import polars as pl

from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.schemas import QUARANTINE_SCHEMA, natural_key, polars_schema, schema_for

_ROW_INDEX = "__row_number"


class SchemaMismatch(IbkrPipelinesError):
    """The frame as a whole does not fit its table (missing/extra column, wrong dtype)."""


def _whole_frame_problem(case: dict[str, Any]) -> str:
    check, name = str(case["check"]), case["failure_case"]
    if check == "column_in_dataframe":
        return f"missing column {name!r}"
    if check == "column_in_schema":
        return f"unexpected column {name!r}"
    if check.startswith("dtype("):
        return f"column {case['column']!r} has dtype {name}, expected {check[6:-1]}"
    return f"{case['column']}: {check} ({name})"


def _row_reasons(failure_cases: pl.DataFrame, columns: list[str]) -> dict[int, list[str]]:
    """Readable reasons per row index, e.g. ``conid: not_nullable``, or the check's name when it spans columns."""
    reasons: dict[int, list[str]] = defaultdict(list)
    for case in failure_cases.filter(pl.col("index").is_not_null()).to_dicts():
        if "uniqueness" in str(case["check"]):
            continue  # pandera flags every copy of a key; _duplicate_reasons keeps the first copy
        reason = f"{case['column']}: {case['check']}" if case["column"] in columns else str(case["check"])
        if reason not in reasons[case["index"]]:
            reasons[case["index"]].append(reason)
    return reasons


def _duplicate_reasons(df: pl.DataFrame, table: str) -> dict[int, list[str]]:
    """Later rows whose complete natural key was already seen (the first one wins)."""
    keys = natural_key(table)
    complete = pl.all_horizontal([pl.col(k).is_not_null() for k in keys])
    later = df.with_row_index(_ROW_INDEX).filter(complete & ~pl.struct(keys).is_first_distinct().over(complete))
    reasons: dict[int, list[str]] = {}
    for row in later.select(_ROW_INDEX, *keys).to_dicts():
        values = ", ".join(f"{k}={row[k]}" for k in keys)
        reasons[int(row[_ROW_INDEX])] = [f"duplicate natural key ({values})"]
    return reasons


def empty_quarantine() -> pl.DataFrame:
    """A zero-row frame shaped like the `quarantine` table."""
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def _row_json(row: dict[str, Any]) -> str:
    plain = {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in row.items()}
    return json.dumps(plain, ensure_ascii=False, separators=(",", ":"), default=str)


def split_valid(
    table: str,
    df: pl.DataFrame,
    *,
    partition_key: str | None = None,
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate ``df`` against ``table``'s schema; return (valid rows, quarantine rows with reasons).

    Raises ``SchemaMismatch`` when the frame as a whole does not fit (so a bug is not quarantined).
    """
    if df.height == 0 and df.schema == polars_schema(table):  # a date without rows: nothing to check
        return df, empty_quarantine()
    schema = schema_for(table)
    reasons: dict[int, list[str]] = defaultdict(list)
    for index, found in _duplicate_reasons(df, table).items():
        reasons[index].extend(found)
    try:
        schema.validate(df, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        frame_level = [_whole_frame_problem(c) for c in cases.filter(pl.col("index").is_null()).to_dicts()]
        if frame_level:
            raise SchemaMismatch(f"frame does not fit table {table!r}: " + "; ".join(frame_level)) from None
        for index, found in _row_reasons(cases, df.columns).items():
            reasons[index].extend(found)
    reasons = {i: r for i, r in reasons.items() if r}
    if not reasons:
        return df, empty_quarantine()
    bad = sorted(reasons)
    mask = pl.Series(_ROW_INDEX, [False] * df.height)
    mask[bad] = True
    valid = df.filter(~mask)
    bad_rows = df.filter(mask).to_dicts()
    stamp = now or dt.datetime.now(dt.timezone.utc)
    quarantine = pl.DataFrame(
        {
            "table_name": [table] * len(bad),
            "partition_key": [partition_key] * len(bad),
            "row_number": bad,
            "reason": ["; ".join(reasons[i]) for i in bad],
            "row_json": [_row_json(row) for row in bad_rows],
            "run_id": [run_id] * len(bad),
            "quarantined_at": [stamp] * len(bad),
        },
        schema=QUARANTINE_SCHEMA,
    )
    return valid, quarantine
