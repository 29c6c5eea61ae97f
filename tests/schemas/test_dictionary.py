"""The data dictionary (sql/README.md) is rendered from the specs and views, and the committed file never drifts."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ibkr_pipelines.schemas import registry
from ibkr_pipelines.schemas.dictionary import DEFAULT_OUTPUT, DEFAULT_SQL_DIR, main, render_dictionary
from ibkr_pipelines.schemas.spec import LoadStrategy, Reach, TableSpec, col

VIEWS = DEFAULT_SQL_DIR / "views"


def _render() -> str:
    return render_dictionary(registry.TABLES, registry.BOOKKEEPING, VIEWS)


def _widgets() -> TableSpec:
    return TableSpec(
        name="test_widgets",
        description="Widgets a test registers | to see them in the dictionary.",
        source="GET /test/widgets",
        columns=(
            col("snapshot_date", pl.Date(), "The date.", nullable=False),
            col("widget_id", pl.Int64(), "A widget.", nullable=False),
            col("colour", pl.Utf8(), "red | green | blue"),
        ),
        natural_key=("snapshot_date", "widget_id"),
        load=LoadStrategy.UPSERT,
        partition_column="snapshot_date",
        reach=Reach.RECENT,
        reach_days=7,
    )


def test_the_committed_dictionary_is_current() -> None:
    committed = DEFAULT_OUTPUT.read_text(encoding="utf-8") if DEFAULT_OUTPUT.exists() else ""
    assert committed == _render(), "sql/README.md is out of date: run make dictionary"


def test_check_passes_on_the_committed_file_and_fails_on_a_stale_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    stale = tmp_path / "README.md"
    stale.write_text("# an old dictionary\n", encoding="utf-8")
    assert main(["--check", "--output", str(stale)]) == 1
    assert "is out of date: run make dictionary" in capsys.readouterr().err
    assert main(["--output", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == _render()


def test_every_table_and_column_appears() -> None:
    text = _render()
    for spec in (*registry.TABLES.values(), *registry.BOOKKEEPING.values()):
        assert f"### `{spec.name}`" in text
        assert spec.source in text
        for column in spec.columns:
            assert f"| `{column.name}` |" in text, f"{spec.name}.{column.name} is missing"


def test_views_show_what_they_read() -> None:
    section = _render().split("### `nav_by_account`")[1].split("### ")[0]
    assert "NAV per account and snapshot_date" in section
    assert "[`ledger`](#ledger)" in section and "[`position_values`](#position_values)" in section


def test_a_registered_table_shows_up_with_its_columns_and_pipes_escaped() -> None:
    spec = registry.register(_widgets())
    try:
        text = _render()
    finally:
        registry.unregister(spec.name)
    assert "- [`test_widgets`](#test_widgets)" in text
    section = text.split("### `test_widgets`")[1].split("### ")[0]
    assert "GET /test/widgets" in section
    assert "upsert" in section and "the last 7 days" in section
    assert "| `snapshot_date` | DATE | no | The date. |" in section
    assert "| `widget_id` | BIGINT | no | A widget. |" in section
    assert "| `colour` | VARCHAR | yes | red \\| green \\| blue |" in section
    assert "test_widgets" not in _render()
