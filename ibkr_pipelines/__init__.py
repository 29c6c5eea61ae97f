"""ibkr-pipelines: Interactive Brokers Web API into a DuckDB warehouse, orchestrated by Dagster."""

__version__ = "0.1.0"
