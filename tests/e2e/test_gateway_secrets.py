"""Issue 11's secret scan for the gateway mode: the gateway session's id never lands anywhere.

Over a gateway the client holds no credential of its own; the one secret IBKR hands it is the session
id, in `/tickle` (never archived) and beside the accounts in `/iserver/accounts` (archived without it).
"""

from __future__ import annotations

import pytest

from ibkr_pipelines.simulator.session import GatewaySession
from tests.e2e.cli_helpers import Workdir
from tests.e2e.secret_scan import files_containing

pytestmark = pytest.mark.slow


def test_no_gateway_session_id_reaches_the_warehouse_lake_archive_or_instance(night: Workdir) -> None:
    # The embedded simulator's session ids, as its gateway hands them out (one per login).
    session = GatewaySession(True, 600.0)
    ids = [session.session_id]
    for _ in range(20):
        session.login()
        ids.append(session.session_id)
    assert len(set(ids)) == len(ids)
    archived = [p for p in (night.root / "data").rglob("*") if p.is_file() and "raw" in p.parts]
    assert archived, "the night archived no answer: nothing was scanned"
    assert not files_containing(night.root, ids)
