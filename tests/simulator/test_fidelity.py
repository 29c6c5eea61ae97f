"""Shapes held against real recorded IBKR responses (shared/ibkr-recorded).

For every recording of an endpoint the simulator serves, the simulator's answer to the same request
must contain every key of the recording with the same JSON type (int and float are one "number";
bool is not a number; a recorded null accepts any type), recursively; list elements are checked
against the first recorded element; extra keys are allowed. Maps keyed by account id (acctProps,
aliases, positions by conid) are checked value-by-value against the first recorded value.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from ibkr_pipelines.simulator import Simulator, SimulatorConfig

from .conftest import LENIENT, TODAY, list_accounts

RECORDED = Path(os.environ.get("IBKR_RECORDED_DIR") or Path(__file__).resolve().parents[3] / "shared" / "ibkr-recorded")
REC_ACCOUNT, REC_CONID = "U1234567", "756733"
ACCOUNT = "U7000011"
_ACCOUNT_KEY = re.compile(r"^[A-Z]{1,3}\d{3,}[A-Z]?$")

# Recording (relative path) -> extra request details the recorded path does not carry.
SERVED: dict[str, dict[str, Any]] = {
    "Session/GET-auth-status.json": {},
    "Session/POST-ssodh-init.json": {"json": {"publish": True, "compete": True}},
    "Session/POST-suppress.json": {"json": {"messageIds": ["o163"]}},
    "Session/POST-suppress-reset.json": {},
    "Session/POST-tickle.json": {},
    "Portfolio/GET-iserver-account-pnl-partitioned.json": {},
    "Portfolio/GET-portfolio-accounts.json": {},
    "Portfolio/GET-portfolio-allocation.json": {},
    "Portfolio/GET-portfolio-ledger.json": {},
    "Portfolio/GET-portfolio-meta.json": {},
    "Portfolio/GET-portfolio-position-by-conid.json": {},
    "Portfolio/GET-portfolio-positions-by-conid.json": {},
    "Portfolio/GET-portfolio-positions-empty.json": {},
    # The recorded page is the sparse first read: the first read must have exactly its fields, in its
    # order; the repeat read is the enriched form, held against the enriched recording.
    "Portfolio/GET-portfolio-positions-page0.json": {"exact_keys": True,
                                                     "repeat": "Portfolio/GET-portfolio-position-by-conid.json"},
    "Portfolio/GET-portfolio-subaccounts.json": {},
    "Portfolio/GET-portfolio-summary.json": {},
    "Portfolio/GET-portfolio2-positions.json": {},
    "Portfolio/GET-subaccounts2.json": {"unwrap": "subaccounts"},
    "Portfolio/POST-portfolio-consolidated-allocation.json": {"json": {"acctIds": [ACCOUNT]}},
    "Portfolio/POST-portfolio-invalidate.json": {},
    "Accounts/GET-iserver-accounts.json": {},
    "Orders/GET-live-orders-empty.json": {},
    "Contracts/GET-contract-info.json": {},
    "Contracts/GET-secdef-search.json": {"params": {"symbol": "SPY"}},
    "Contracts/GET-trsrv-secdef.json": {"params": {"conids": "{conid}"}},
    "Contracts/GET-trsrv-stocks.json": {"params": {"symbols": "AAPL"}},
    "MarketData/GET-history.json": {"params": {"conid": "{conid}", "bar": "1min", "period": "1d"}},
}


def require_recorded() -> None:
    """Skip the calling test, saying why, when the recorded IBKR responses are not beside the repo."""
    if not RECORDED.is_dir():
        pytest.skip(f"recorded IBKR responses folder is absent: {RECORDED}")


def recorded_body(name: str) -> Any:
    """The response body of one recording (relative path), or skip the test when it is absent."""
    path = RECORDED / name
    if not path.exists():
        pytest.skip(f"recording {name} is absent")
    return json.loads(path.read_text())["Response"]["Body"]


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if v is None:
        return "null"
    return type(v).__name__


def shape_errors(rec: Any, got: Any, where: str = "$") -> list[str]:
    """Every place where ``got`` does not have the recorded shape."""
    if rec is None:
        return []
    if _kind(rec) != _kind(got):
        return [f"{where}: expected {_kind(rec)}, got {_kind(got)}"]
    errs: list[str] = []
    if isinstance(rec, dict):
        if rec and all(_ACCOUNT_KEY.match(k) for k in rec):
            first = next(iter(rec.values()))
            if not got:
                return [f"{where}: empty account map"]
            for k, v in got.items():
                if _ACCOUNT_KEY.match(k):  # FA pseudo-accounts ("All", [FA-SAMPLE]) have their own shape
                    errs += shape_errors(first, v, f"{where}[{k}]")
            return errs
        for k, v in rec.items():
            if k not in got:
                errs.append(f"{where}.{k}: missing")
            else:
                errs += shape_errors(v, got[k], f"{where}.{k}")
    elif isinstance(rec, list) and rec:
        for i, item in enumerate(got):
            errs += shape_errors(rec[0], item, f"{where}[{i}]")
    return errs


def _recordings() -> list[str]:
    return sorted(SERVED)


@pytest.fixture(scope="module")
def fidelity_sim() -> Any:
    require_recorded()
    sim = Simulator(SimulatorConfig(today=TODAY, limits_spec=LENIENT)).start()
    http = requests.Session()
    assert http.post(sim.base_url + "/iserver/auth/ssodh/init", json={"publish": True}).status_code == 200
    list_accounts(http, sim)  # the call-order rules: listings, then /iserver/accounts
    assert http.get(sim.base_url + "/iserver/accounts").status_code == 200
    yield sim, http
    http.close()
    sim.stop()


def test_every_recording_in_scope_is_checked() -> None:
    require_recorded()
    in_scope = {p.relative_to(RECORDED).as_posix() for pat in ("Session/*.json", "Portfolio/*.json",
                                                               "Contracts/*.json") for p in RECORDED.glob(pat)}
    # The /pa recordings are held in test_pa.py, the trades and live orders ones in test_trades_orders.py.
    in_scope = {n for n in in_scope if "-pa-" not in n and "combo" not in n}
    in_scope.add("Accounts/GET-iserver-accounts.json")
    in_scope.add("Orders/GET-live-orders-empty.json")
    in_scope.add("MarketData/GET-history.json")
    assert in_scope <= set(SERVED), sorted(in_scope - set(SERVED))


def test_shape_checker_itself() -> None:
    assert shape_errors({"a": 1, "b": None, "c": [{"x": "s"}]}, {"a": 2.5, "b": "z", "c": [{"x": "t", "y": 1}]}) == []
    assert shape_errors({"a": 1}, {"a": True}) and shape_errors({"a": 1}, {}) and shape_errors([{"x": 1}], [{"x": "1"}])


@pytest.mark.parametrize("name", _recordings())
def test_recorded_shape(name: str, fidelity_sim: Any) -> None:
    sim, http = fidelity_sim
    path = RECORDED / name
    if not path.exists():
        pytest.skip(f"recording {name} is absent")
    rec = json.loads(path.read_text())
    extra = SERVED[name]
    spy = sim.world.by_symbol["SPY"][0].conid
    held = sim.world.positions_as_of(ACCOUNT, TODAY)
    conid = spy if spy in held else sorted(held)[0]
    url_path = rec["Request"]["Path"].replace(REC_ACCOUNT, ACCOUNT).replace(REC_CONID, str(conid))
    method = rec["Request"]["Methods"][0]
    params = {k: v.format(conid=conid) for k, v in extra.get("params", {}).items()}
    expected = rec["Response"]["Body"]
    checks = [expected]
    if extra.get("repeat"):
        checks.append(json.loads((RECORDED / extra["repeat"]).read_text())["Response"]["Body"])
    for i, expected in enumerate(checks):
        r = http.request(method, sim.root_url + url_path, params=params, json=extra.get("json"))
        assert r.status_code == rec["Response"]["StatusCode"], (url_path, r.status_code, r.text[:300])
        got = r.json()
        if extra.get("exact_keys") and i == 0:
            assert got and all(list(row) == list(expected[0]) for row in got), list(got[0])
        if "unwrap" in extra:
            # The recording (a non-FA account) is a bare list; IBKR documents the paged wrapper the
            # simulator serves, so its elements are held against the recorded elements.
            assert set(got) >= {"metadata", "subaccounts"}
            got = got[extra["unwrap"]]
            assert got
        if extra.get("repeat") and i == 1:
            # the enriched recording is a stock's row; security-definition values of other classes
            # (``type`` of an option) are not recorded
            got = [row for row in got if row["assetClass"] == expected[0]["assetClass"]]
        errs = shape_errors(expected, got)
        assert not errs, "\n".join(errs[:20])
        if isinstance(expected, list) and expected:
            assert got, "simulator answered an empty list where the recording has elements"
