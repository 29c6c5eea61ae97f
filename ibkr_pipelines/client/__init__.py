"""The IBKR Web API client: session and auth, pacing shared across processes, retries, typed errors."""
