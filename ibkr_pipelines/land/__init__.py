"""Landing: validation and quarantine, the Parquet lake, the raw archive, the DuckDB warehouse."""

from ibkr_pipelines.land.lake import Lake
from ibkr_pipelines.land.raw_archive import RawArchive
from ibkr_pipelines.land.validate import SchemaMismatch, split_valid
from ibkr_pipelines.land.warehouse import LoadError, LoadResult, Warehouse, WarehouseLocked

__all__ = [
    "Lake",
    "LoadError",
    "LoadResult",
    "RawArchive",
    "SchemaMismatch",
    "Warehouse",
    "WarehouseLocked",
    "split_valid",
]
