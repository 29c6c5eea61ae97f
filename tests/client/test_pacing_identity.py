"""The pacing budget belongs to the login and the gateway, however its address is spelled."""

from __future__ import annotations

from pathlib import Path

from ibkr_pipelines.client.factory import pacing_file
from ibkr_pipelines.client.pacing_store import FilePacingStore, PacingState
from ibkr_pipelines.config import Settings


def test_every_spelling_of_a_local_gateway_shares_one_pacing_file(tmp_path: Path) -> None:
    settings = Settings.from_env({"IBKR_PACING_DIR": str(tmp_path)})
    spellings = [
        "https://localhost:5000/v1/api",
        "https://127.0.0.1:5000/v1/api",
        "https://LOCALHOST.:5000/v1/api/",
        "https://[::1]:5000/v1/api",
    ]
    assert len({pacing_file(settings, url) for url in spellings}) == 1


def test_another_port_or_auth_mode_is_another_budget(tmp_path: Path) -> None:
    settings = Settings.from_env({"IBKR_PACING_DIR": str(tmp_path)})
    assert pacing_file(settings, "https://localhost:5000/v1/api") != pacing_file(settings, "https://localhost:5001/v1/api")
    assert pacing_file(settings, "https://10.1.2.3:5000/v1/api") != pacing_file(settings, "https://localhost:5000/v1/api")


def test_the_state_file_is_replaced_whole(tmp_path: Path) -> None:
    store = FilePacingStore(tmp_path / "p.json")

    def grant(state: PacingState, now: float) -> None:
        state.scope("global").grants.append(now)

    for _ in range(3):
        store.transact(grant)
    assert len(store.transact(lambda state, now: list(state.scope("global").grants))) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json", "p.json.lock"], "no temporary file is left"
