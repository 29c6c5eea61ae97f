"""ibkr-pipelines."""
