"""``python -m ibkr_pipelines.simulator [...]``: the same as ``ibkr-pipelines simulator [...]``."""

from __future__ import annotations

import sys

from ibkr_pipelines.cli import main

if __name__ == "__main__":
    sys.exit(main(["simulator", *sys.argv[1:]]))
