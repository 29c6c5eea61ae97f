"""The Dagster code location of ibkr-pipelines (entry point: ``assets.definitions``)."""
