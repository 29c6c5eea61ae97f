"""Tables are created from their specs: types, nullability and comments; a column a spec gains is added."""

from __future__ import annotations

import duckdb

from ibkr_pipelines.schemas import BOOKKEEPING, TABLES
from ibkr_pipelines.schemas.spec import sql_type


def test_every_table_matches_its_spec(landing):
    for spec in (*TABLES.values(), *BOOKKEEPING.values()):
        found = landing.rows(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            f"WHERE table_name = '{spec.name}' ORDER BY ordinal_position"
        )
        expected = [(c.name, sql_type(c.dtype), "YES" if c.nullable else "NO") for c in spec.columns]
        assert found == expected, spec.name


def test_tables_and_columns_carry_their_descriptions(landing):
    spec = TABLES["positions"]
    (table_comment,) = landing.rows("SELECT comment FROM duckdb_tables() WHERE table_name = 'positions'")[0]
    assert table_comment == spec.description
    comments = dict(landing.rows("SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'positions'"))
    assert comments == {c.name: c.description for c in spec.columns}


def test_a_column_a_spec_gained_is_added_to_an_existing_table(landing):
    with duckdb.connect(str(landing.warehouse.db_path)) as con:
        con.execute("ALTER TABLE ledger DROP COLUMN crypto_value")  # as made by an older version
    landing.warehouse.ensure_schema()
    assert ("crypto_value",) in landing.rows(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'ledger'"
    )


def test_the_data_tables_are_listed_for_load_status(landing):
    assert sorted(t for (t,) in landing.rows("SELECT table_name FROM _datasets")) == sorted(TABLES)
