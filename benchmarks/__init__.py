"""Benchmarks of ibkr-pipelines against the embedded IBKR simulator (not part of the installed package)."""
