"""Positions rows as the positions endpoints serve them: enriched or sparse, model splits, virtual FX.

Two row forms, both recorded:

- enriched: the security-definition fields (``name``, ``ticker``, ``fullName``, ...), ``strike`` as a
  string ("0"), ``multiplier`` 0.0 for stocks, ``pageSize`` 100 (recording
  Portfolio/GET-portfolio-position-by-conid.json; [FA-SAMPLE] sub-account position), plus the
  ``base*`` variants reference §2.4 lists;
- sparse ("bare"): exactly the 21 fields of recording Portfolio/GET-portfolio-positions-page0.json,
  ``multiplier`` null and ``strike`` a number 0.0 (ibind #6 saw rows with randomly fewer fields).

The rows the positions endpoints list may differ from the world's rows (payloads.Valuation.rows, which
the ledger is built from) in two guessed ways, neither of which moves the ledger:

- ``model``: "Name of the model portfolio in which the account is invested that contributes this
  position" (OpenAPI). Guess: an account in a model holds some positions as two rows of one conid,
  model "" and the model's name, whose quantities sum to the world's position.
- ``trackVirtualFXPortfolio``: "Indicates that virtual forex positions are tracked in the account"
  (OpenAPI). Guess: such an account lists one ``assetClass:"CASH"`` row per non-base currency balance,
  valued from the world's cash and FX; their value is already in the ledger's cash.
"""

from __future__ import annotations

from typing import Any

from ibkr_pipelines.simulator.catalog import Contract
from ibkr_pipelines.simulator.roster import Account

PAGE_SIZE = 100
# Security-definition fields missing from a sparse row (reference §2.4 and §6).
SECDEF_FIELDS = (
    "name", "ticker", "fullName", "listingExchange", "countryCode", "type", "sector", "sectorGroup", "group",
    "hasOptions", "isUS", "isEventContract", "allExchanges", "chineseName", "displayRule", "incrementRules",
    "lastTradingDay", "time", "pageSize",
)
# Recording Portfolio/GET-portfolio-positions-page0.json, in its order: a sparse row has exactly these.
SPARSE_FIELDS = (
    "acctId", "conid", "contractDesc", "position", "mktPrice", "mktValue", "currency", "avgCost", "avgPrice",
    "realizedPnl", "unrealizedPnl", "exchs", "expiry", "putOrCall", "multiplier", "strike", "exerciseStyle",
    "conExchMap", "assetClass", "undConid", "model",
)
_BASE_MONEY = ("baseMktValue", "baseUnrealizedPnl")


def _r2(x: float) -> float:
    return round(x + 0.0, 2)


def sparse_row(row: dict[str, Any]) -> dict[str, Any]:
    """The recorded 21-field bare form of an enriched row (multiplier null when 0, strike a number)."""
    out = {k: row[k] for k in SPARSE_FIELDS if k in row}  # ``conid`` may be absent (injected fault)
    out["multiplier"] = row["multiplier"] or None
    out["strike"] = float(row["strike"])
    return out


def split_for_model(rows: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    """Every third whole-share stock row of at least 2 shares as two rows: model "" and ``model`` (guess)."""
    candidates = sorted(r["conid"] for r in rows if r["assetClass"] == "STK" and abs(r["position"]) >= 2
                        and float(r["position"]).is_integer())
    chosen = set(candidates[::3])
    out: list[dict[str, Any]] = []
    for r in rows:
        if r["conid"] not in chosen:
            out.append(r)
            continue
        q = r["position"]
        q_model = float(int(abs(q) * 0.4) or 1) * (1 if q > 0 else -1)
        part = dict(r, model=model, position=q_model, realizedPnl=0.0, baseRealizedPnl=0.0)
        part["mktValue"] = _r2(q_model * r["mktPrice"])  # whole shares at a cent price: exact cents
        part["unrealizedPnl"] = _r2(part["mktValue"] - q_model * r["avgCost"])
        fx = r["baseMktPrice"] / r["mktPrice"] if r["mktPrice"] else 1.0
        part["baseMktValue"] = _r2(part["mktValue"] * fx)
        part["baseUnrealizedPnl"] = _r2(part["unrealizedPnl"] * fx)
        rest = dict(r, position=q - q_model)
        for key in ("mktValue", "unrealizedPnl", *_BASE_MONEY):
            rest[key] = _r2(r[key] - part[key])  # the two rows sum to the world's row to the cent
        out += [rest, part]
    return out


def virtual_fx_rows(acct: Account, cash: dict[str, float], fx: dict[str, float], pairs: dict[str, Contract],
                    enrich: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """One CASH row per non-base currency balance (guess): quantity = the balance, valued at 1.0 in that currency.

    ``fx`` gives each currency's rate to the base, ``pairs`` the FX contract joining it to the base
    (its conid names the row), ``enrich`` the security-definition block per pair conid.
    """
    out = []
    for ccy, bal in sorted(cash.items()):
        pair = pairs.get(ccy)
        if ccy == acct.currency or not bal or pair is None:
            continue
        rate = fx[ccy]
        row: dict[str, Any] = {
            "acctId": acct.id, "conid": pair.conid, "contractDesc": pair.description, "position": bal,
            "mktPrice": 1.0, "mktValue": bal, "currency": ccy, "avgCost": 1.0, "avgPrice": 1.0,
            "realizedPnl": 0.0, "unrealizedPnl": 0.0, "exchs": None, "expiry": None, "putOrCall": None,
            "multiplier": 0.0, "strike": "0", "exerciseStyle": None, "conExchMap": [], "assetClass": "CASH",
            "undConid": 0, "model": "",
        }
        row.update(enrich[pair.conid])
        row["pageSize"] = PAGE_SIZE
        row.update({"baseMktValue": _r2(bal * rate), "baseMktPrice": rate, "baseAvgCost": rate,
                    "baseAvgPrice": rate, "baseRealizedPnl": 0.0, "baseUnrealizedPnl": 0.0})
        out.append(row)
    return out


def listing_order(row: dict[str, Any]) -> tuple[Any, ...]:
    """The default order of the positions pages: by name (IBKR's default ``sort``), then the model."""
    return row["name"], row["contractDesc"], row["conid"], row["model"]


def sort_rows(rows: list[dict[str, Any]], sort: str | None, direction: str | None) -> list[dict[str, Any]]:
    """Rows ordered as the positions endpoint's ``sort``/``direction`` params ask (default: name, a)."""
    if (not sort or sort == "name") and direction != "d":
        return rows
    key = sort or "name"

    def k(r: dict[str, Any]) -> tuple[int, Any]:
        v = r.get(key)
        return (0, v) if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, str(v or ""))

    return sorted(rows, key=k, reverse=direction == "d")
