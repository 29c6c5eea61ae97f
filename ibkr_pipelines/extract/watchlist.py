"""Watchlist: the symbols of IBKR_WATCHLIST resolved to conids through /trsrv/stocks.

``/trsrv/stocks?symbols=A,B`` answers per symbol a list of names, each with its listings
(``contracts``: conid, exchange, isUS; reference §2.9 and the recording). An entry ``SYM@EXCH`` takes
the listing on that exchange; a plain symbol takes the US listing, else IBKR's first. A symbol IBKR
does not know, or an exchange it does not list, gives a row without conid, which validation
quarantines with its reason, so a typo is seen rather than silently dropped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import polars as pl

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.extract.common import as_bool, as_int, as_str, extra_json, rows_to_frame

TABLE = "watchlist"
STOCKS_PATH = "/trsrv/stocks"
# IBKR documents no cap on symbols per call; 50 per request is a guess that keeps URLs short.
SYMBOLS_PER_CALL = 50


def _listings(answer: Any) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(name entry, listing) pairs of one symbol's answer, in IBKR's order."""
    pairs = []
    for entry in answer if isinstance(answer, list) else []:
        if isinstance(entry, Mapping):
            pairs += [(entry, c) for c in entry.get("contracts") or [] if isinstance(c, Mapping)]
    return pairs


def _pick(pairs: list[tuple[Mapping[str, Any], Mapping[str, Any]]], exchange: str | None) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """The listing an entry means: on ``exchange`` when named, else the US listing, else the first."""
    if exchange is not None:
        return next((p for p in pairs if str(p[1].get("exchange", "")).upper() == exchange), None)
    return next((p for p in pairs if as_bool(p[1].get("isUS"))), pairs[0] if pairs else None)


def parse_stocks(body: Any, entries: tuple[str, ...], *, seen_date: dt.date) -> pl.DataFrame:
    """A /trsrv/stocks answer -> one `watchlist` row per entry (conid null when it did not resolve)."""
    answers = body if isinstance(body, Mapping) else {}
    rows = []
    for entry in entries:
        symbol, _, exchange = entry.partition("@")
        pairs = _listings(answers.get(symbol))
        picked = _pick(pairs, exchange or None)
        row: dict[str, Any] = {"entry": entry, "symbol": symbol, "listings": len(pairs),
                               "first_seen_date": seen_date, "last_seen_date": seen_date}
        if picked is None:
            offered = sorted({str(p[1].get("exchange")) for p in pairs})
            row["raw_extra"] = extra_json({"unresolved": f"IBKR lists {', '.join(offered) or 'nothing'} for {symbol}"})
        else:
            name, listing = picked
            row.update(conid=as_int(listing.get("conid")), name=as_str(name.get("name")),
                       asset_class=as_str(name.get("assetClass")), exchange=as_str(listing.get("exchange")),
                       is_us=as_bool(listing.get("isUS")),
                       raw_extra=extra_json({k: v for k, v in name.items() if k not in ("name", "assetClass", "contracts")}))
        rows.append(row)
    return rows_to_frame(TABLE, rows)


def fetch_watchlist(client: ApiClient, entries: tuple[str, ...], *, seen_date: dt.date) -> pl.DataFrame:
    """Resolve every watchlist entry (``SYMBOLS_PER_CALL`` symbols per request)."""
    symbols = list(dict.fromkeys(e.partition("@")[0] for e in entries))
    answers: dict[str, Any] = {}
    for start in range(0, len(symbols), SYMBOLS_PER_CALL):
        body = client.get(STOCKS_PATH, params={"symbols": ",".join(symbols[start : start + SYMBOLS_PER_CALL])})
        if isinstance(body, Mapping):
            answers.update(body)
    return parse_stocks(answers, entries, seen_date=seen_date)
