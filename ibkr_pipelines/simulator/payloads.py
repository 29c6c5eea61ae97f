"""JSON shapes of the IBKR answers, built from world objects (values reconcile across endpoints).

Shapes follow the recorded live responses in ``shared/ibkr-recorded`` and reference §2. Every money
number of the ledger, summary and allocation is derived from the same rounded position rows that the
positions endpoint reports, so consumers can reconcile to the cent.
"""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass
from typing import Any

from ibkr_pipelines.simulator.account_payloads import SERVER_INFO
from ibkr_pipelines.simulator.catalog import Contract
from ibkr_pipelines.simulator.clock import close_epoch_s
from ibkr_pipelines.simulator.config import ViewOptions
from ibkr_pipelines.simulator.position_rows import (  # noqa: F401 (re-exported for callers of payloads)
    PAGE_SIZE,
    SECDEF_FIELDS,
    SPARSE_FIELDS,
    listing_order,
    sort_rows,
    sparse_row,
    split_for_model,
    virtual_fx_rows,
)
from ibkr_pipelines.simulator.roster import Account
from ibkr_pipelines.simulator.world import Lot, World

_INCREMENT_RULES = [{"lowerEdge": 0.0, "increment": 0.01}]
_LEDGER_ZERO_KEYS = ("commoditymarketvalue", "warrantsmarketvalue", "interest", "moneyfunds", "funds",
                     "issueroptionsmarketvalue", "tbondsmarketvalue", "futureoptionmarketvalue",
                     "cashbalancefxsegment", "tbillsmarketvalue", "dividends", "cryptocurrencyvalue")
MAC = "02:00:00:51:4D:01"


def _r2(x: float) -> float:
    return round(x + 0.0, 2)


def _money_str(x: float) -> str:
    return repr(float(x))


# ----- session bodies ---------------------------------------------------------------------------

def auth_status(*, authenticated: bool, connected: bool = True, competing: bool = False,
                with_fail: bool = True) -> dict[str, Any]:
    """Body of /iserver/auth/status and /iserver/auth/ssodh/init (and tickle's iserver.authStatus)."""
    body: dict[str, Any] = {
        "authenticated": authenticated, "established": authenticated, "competing": competing,
        "connected": connected, "message": "", "MAC": MAC, "serverInfo": dict(SERVER_INFO),
        "hardware_info": f"51a4c0de|{MAC}",
    }
    if with_fail:
        body["fail"] = ""
    return body


def sso_validate(user_id: int, user_name: str, is_master: bool, now_ms: int) -> dict[str, Any]:
    """Body of GET /sso/validate with the documented keys."""
    return {
        "USER_ID": user_id, "USER_NAME": user_name, "RESULT": True, "AUTH_TIME": now_ms, "SF_ENABLED": False,
        "IS_FREE_TRIAL": False, "CREDENTIAL": user_name, "IP": "127.0.0.1", "EXPIRES": 460_000,
        "QUALIFIED_FOR_MOBILE_AUTH": None, "LANDING_APP": "UNIVERSAL", "IS_MASTER": is_master,
        "lastAccessed": now_ms, "LOGIN_TYPE": 2, "PAPER_USER_NAME": f"{user_name}p",
        "features": {"env": "PROD", "wlms": True, "realtime": True, "bond": True, "optionChains": True,
                     "calendar": True, "newMf": True},
        "region": "NJ",
    }


# ----- contracts --------------------------------------------------------------------------------

def _full_name(c: Contract) -> str:
    if c.asset_class == "OPT":
        return f"{c.symbol} {c.month_code} {c.strike:g} {c.right}"
    if c.asset_class in ("FUT", "BOND", "CASH"):
        return c.description
    return c.symbol


def _multiplier(c: Contract) -> float:
    return float(c.multiplier) if c.asset_class in ("OPT", "FUT") else 0.0


def secdef_fields(c: Contract, has_options: bool) -> dict[str, Any]:
    """The security-definition block shared by positions rows and /trsrv/secdef items."""
    return {
        "name": c.name, "ticker": c.symbol, "fullName": _full_name(c), "listingExchange": c.listing_exchange,
        "countryCode": c.country_code, "type": c.type, "sector": c.sector, "sectorGroup": c.group,
        "group": c.group, "hasOptions": has_options, "isUS": c.is_us, "isEventContract": False,
        "allExchanges": c.valid_exchanges, "chineseName": c.name.title(),
        "displayRule": {"magnification": 0, "displayRuleStep": [
            {"decimalDigits": 0 if c.currency == "JPY" else 2, "lowerEdge": 0.0, "wholeDigits": 6}]},
        "incrementRules": list(_INCREMENT_RULES), "lastTradingDay": c.expiry_str, "time": 0,
    }


def secdef_item(c: Contract, has_options: bool) -> dict[str, Any]:
    """One element of /trsrv/secdef's ``secdef`` list (conid int, strike string)."""
    item = {
        "conid": c.conid, "currency": c.currency, "name": c.name, "assetClass": c.asset_class,
        "expiry": c.expiry_str, "lastTradingDay": c.expiry_str, "group": c.group,
        "putOrCall": c.right, "sector": c.sector, "sectorGroup": c.group,
        "strike": f"{c.strike:g}", "ticker": c.symbol, "undConid": c.und_conid, "multiplier": _multiplier(c),
        "type": c.type,
    }
    item.update(secdef_fields(c, has_options))
    return item


def contract_info(c: Contract, has_related: bool) -> dict[str, Any]:
    """Body of GET /iserver/contract/{conid}/info (snake_case)."""
    is_opt = c.asset_class == "OPT"
    deriv = c.asset_class in ("OPT", "FUT")
    return {
        "cfi_code": "", "symbol": c.symbol, "cusip": None,
        "expiry_full": c.expiry_str if deriv else None, "con_id": c.conid,
        "maturity_date": c.expiry_str if c.expiry else None, "industry": c.group, "instrument_type": c.asset_class,
        "has_related_contracts": has_related, "trading_class": c.symbol, "valid_exchanges": c.valid_exchanges,
        "allow_sell_long": False, "is_zero_commission_security": False,
        "local_symbol": c.description if deriv else c.symbol, "contract_clarification_type": None,
        "classifier": None, "currency": c.currency, "text": None, "underlying_con_id": c.und_conid,
        "r_t_h": True, "multiplier": f"{c.multiplier:g}" if deriv else None, "underlying_issuer": None,
        "contract_month": c.expiry.strftime("%Y%m") if deriv and c.expiry else None, "company_name": c.name,
        "smart_available": c.asset_class in ("STK", "OPT", "BOND"),
        "exchange": "SMART" if c.asset_class in ("STK", "OPT", "BOND") else c.listing_exchange,
        "category": c.sector, **({"strike": f"{c.strike:g}", "right": "CALL" if c.right == "C" else "PUT"}
                                 if is_opt else {}),
    }


# ----- valuation --------------------------------------------------------------------------------

@dataclass
class Valuation:
    """One account at the close of one date: the world's rows (enriched), its ledger, and the listing.

    ``rows`` hold one row per position of the world and feed the ledger, summary and allocation;
    ``listing`` is what the positions endpoints list (with any model splits and virtual FX rows,
    position_rows.py), never used for money totals.
    """

    rows: list[dict[str, Any]]
    ledger: dict[str, dict[str, Any]]
    by_conid: dict[int, dict[str, Any]]
    listing: list[dict[str, Any]]
    listing_by_conid: dict[int, list[dict[str, Any]]]


class Views:
    """Builds and caches per-(account, date) valuations and derived bodies for the routes."""

    def __init__(self, world: World, options: ViewOptions | None = None) -> None:
        self.world = world
        self.options = options or ViewOptions()
        self._cache: dict[tuple[str, datetime.date], Valuation] = {}
        self._nav: dict[tuple[str, datetime.date], float] = {}
        self._lock = threading.Lock()
        self.bytes_cache: dict[tuple[Any, ...], bytes] = {}  # serialized hot answers (world is immutable)
        self.optionable = {c.und_conid for c in world.contracts.values() if c.asset_class == "OPT"}

    def valuation(self, account_id: str, d: datetime.date) -> Valuation:
        """The (cached) valuation of an account at the close of d."""
        key = (account_id, d)
        v = self._cache.get(key)
        if v is None:
            v = self._build(account_id, d)
            with self._lock:
                self._cache[key] = v
        return v

    def money_rows(self, account_id: str, d: datetime.date, book: dict[int, Lot] | None = None) -> list[dict[str, Any]]:
        """The money of each position at the close of d (value, P&L, in its currency and the base), in the rows' order.

        The one valuation of a position: the enriched rows, the ledger and ``nav_base`` are all built
        from these, so the NAV of /pa and the ledger's BASE net liquidation value cannot drift apart.
        ``book`` is the account's lots at d when the caller has them (default: ``World.book_as_of``).
        """
        w = self.world
        base = w.account_by_id[account_id].currency
        out: list[dict[str, Any]] = []
        for conid, lot in (w.book_as_of(account_id, d) if book is None else book).items():
            c = w.contracts[conid]
            fx = w.fx_rate(c.currency, base, d)
            mkt_value = _r2(lot.quantity * w.price(conid, d) * c.value_multiplier)
            upnl = _r2(mkt_value - lot.cost)
            rpnl = _r2(lot.realized_day) if lot.realized_date == d else 0.0
            out.append({
                "conid": conid, "currency": c.currency, "assetClass": c.asset_class, "mktValue": mkt_value,
                "unrealizedPnl": upnl, "realizedPnl": rpnl, "baseMktValue": _r2(mkt_value * fx),
                "baseUnrealizedPnl": _r2(upnl * fx), "baseRealizedPnl": _r2(rpnl * fx),
            })
        out.sort(key=lambda m: (w.contracts[m["conid"]].name, w.contracts[m["conid"]].description, m["conid"]))
        return out

    def nav_base(self, account_id: str, d: datetime.date) -> float:
        """Net liquidation value in the base currency at the close of d: the ledger's BASE netliquidationvalue."""
        key = (account_id, d)
        nav = self._nav.get(key)
        if nav is None:
            v = self._cache.get(key)
            if v is not None:
                nav = v.ledger["BASE"]["netliquidationvalue"]
            else:  # the ledger's own sums and formula, without building the whole ledger
                _, base_tot, _ = self._ledger_sums(self.world.account_by_id[account_id], d,
                                                   self.money_rows(account_id, d))
                nav = _nlv(base_tot)
            with self._lock:
                self._nav[key] = nav
        return nav

    def base_totals(self, account_id: str, d: datetime.date) -> dict[str, float]:
        """The ledger's BASE sums at the close of d (cash, stk, opt, bond, futpnl, futmv, upnl, rpnl), kept nowhere.

        For walks over years of dates (Flex equity summaries): ``net_liquidation`` of these is ``nav_base``.
        """
        book = self.world.book_on(account_id, d)
        rows = self.money_rows(account_id, d, book)
        return self._ledger_sums(self.world.account_by_id[account_id], d, rows)[1]

    def _build(self, account_id: str, d: datetime.date) -> Valuation:
        w = self.world
        acct = w.account_by_id[account_id]
        rows: list[dict[str, Any]] = []
        book = w.book_as_of(account_id, d)
        for m in self.money_rows(account_id, d):
            conid = m["conid"]
            c = w.contracts[conid]
            lot = book[conid]
            px = w.price(conid, d)
            fx = w.fx_rate(c.currency, acct.currency, d)
            avg_cost = round(lot.cost / lot.quantity, 8)
            avg_price = round(avg_cost / c.value_multiplier, 8)
            row: dict[str, Any] = {
                "acctId": account_id, "conid": conid, "contractDesc": c.description, "position": lot.quantity,
                "mktPrice": px, "mktValue": m["mktValue"], "currency": c.currency,
                "avgCost": avg_cost, "avgPrice": avg_price, "realizedPnl": m["realizedPnl"],
                "unrealizedPnl": m["unrealizedPnl"], "exchs": None,
                "expiry": c.expiry_str if c.asset_class in ("OPT", "FUT") else None, "putOrCall": c.right,
                # The enriched form: strike a string, multiplier 0.0 for stocks (recording
                # Portfolio/GET-portfolio-position-by-conid.json); position_rows.sparse_row undoes both.
                "multiplier": _multiplier(c), "strike": f"{c.strike:g}",
                "exerciseStyle": "AMERICAN" if c.asset_class == "OPT" else None, "conExchMap": [],
                "assetClass": c.asset_class, "undConid": c.und_conid, "model": "",
            }
            row.update(secdef_fields(c, conid in self.optionable))
            row["pageSize"] = PAGE_SIZE
            row.update({
                "baseMktValue": m["baseMktValue"], "baseMktPrice": round(px * fx, 8),
                "baseAvgCost": round(avg_cost * fx, 8), "baseAvgPrice": round(avg_price * fx, 8),
                "baseRealizedPnl": m["baseRealizedPnl"], "baseUnrealizedPnl": m["baseUnrealizedPnl"],
            })
            rows.append(row)
        ledger = self._ledger(acct, d, rows)
        listing = self._listing(acct, d, rows)
        by_conid: dict[int, list[dict[str, Any]]] = {}
        for r in listing:
            by_conid.setdefault(r["conid"], []).append(r)
        return Valuation(rows, ledger, {r["conid"]: r for r in rows}, listing, by_conid)

    def _listing(self, acct: Account, d: datetime.date, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows the positions endpoints list: the world's, split by model, plus virtual FX rows."""
        if acct.model is None and not acct.track_virtual_fx:
            return rows
        out = split_for_model(rows, acct.model) if acct.model else list(rows)
        if acct.track_virtual_fx:
            w = self.world
            cash = w.cash_as_of(acct.id, d)
            pairs = {}
            for c in w.contracts.values():
                if c.asset_class == "CASH" and acct.currency in (c.symbol, c.currency):
                    pairs[c.currency if c.symbol == acct.currency else c.symbol] = c
            fx = {ccy: w.fx_rate(ccy, acct.currency, d) for ccy in cash}
            enrich = {p.conid: secdef_fields(p, False) for p in pairs.values()}
            out += virtual_fx_rows(acct, cash, fx, pairs, enrich)
        return sorted(out, key=listing_order)

    def _ledger_sums(self, acct: Account, d: datetime.date, rows: list[dict[str, Any]]
                     ) -> tuple[dict[str, dict[str, float]], dict[str, float], dict[str, float]]:
        """The ledger's money per currency and in the base (cash, values, P&L), and each currency's rate to the base."""
        w = self.world
        cash = w.cash_as_of(acct.id, d)
        ccys = set(cash) | {r["currency"] for r in rows}
        per: dict[str, dict[str, float]] = {}
        base_tot = {k: 0.0 for k in ("stk", "opt", "bond", "futpnl", "futmv", "upnl", "rpnl", "cash")}
        for r in rows:
            cls = r["assetClass"]
            key = {"STK": "stk", "OPT": "opt", "BOND": "bond", "FUT": "futmv"}[cls]
            acc = per.setdefault(r["currency"], {k: 0.0 for k in base_tot})
            acc[key] += r["mktValue"]
            base_tot[key] += r["baseMktValue"]
            acc["upnl"] += r["unrealizedPnl"]
            base_tot["upnl"] += r["baseUnrealizedPnl"]
            acc["rpnl"] += r["realizedPnl"]
            base_tot["rpnl"] += r["baseRealizedPnl"]
            if cls == "FUT":
                acc["futpnl"] += r["unrealizedPnl"]
                base_tot["futpnl"] += r["baseUnrealizedPnl"]
        rates: dict[str, float] = {}
        for ccy in sorted(ccys):
            acc = per.setdefault(ccy, {k: 0.0 for k in base_tot})
            acc["cash"] = cash.get(ccy, 0.0)
            rates[ccy] = w.fx_rate(ccy, acct.currency, d)
            base_tot["cash"] += acc["cash"] * rates[ccy]
        return per, base_tot, rates

    def _ledger(self, acct: Account, d: datetime.date, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        per, base_tot, rates = self._ledger_sums(acct, d, rows)
        ts = close_epoch_s(d)
        out = {ccy: _ledger_entry(acct.id, ccy, per[ccy], rates[ccy], ts) for ccy in sorted(rates)}
        out["BASE"] = _ledger_entry(acct.id, "BASE", base_tot, 1, ts)
        return out

    # -- derived bodies --
    def summary(self, account_id: str, d: datetime.date) -> dict[str, Any]:
        """Body of /portfolio/{id}/summary in the base currency, consistent with the BASE ledger."""
        acct = self.world.account_by_id[account_id]
        val = self.valuation(account_id, d)
        b = val.ledger["BASE"]
        ts = close_epoch_s(d) * (1000 if self.options.summary_timestamp_unit == "ms" else 1)
        gross_s = sum(abs(r["baseMktValue"]) for r in val.rows if r["assetClass"] != "FUT")
        fut_notional = sum(abs(r["baseMktValue"]) for r in val.rows if r["assetClass"] == "FUT")
        nlv, cash, fut = b["netliquidationvalue"], b["cashbalance"], b["futuresonlypnl"]
        init_s, init_c = _r2(0.25 * gross_s), _r2(0.06 * fut_notional)
        maint_s, maint_c = _r2(0.2 * gross_s), _r2(0.05 * fut_notional)
        prev = previous_business_day(d)
        prev_nlv = self.valuation(account_id, prev).ledger["BASE"]["netliquidationvalue"]

        def seg(name: str, total: float, c: float) -> dict[str, float]:
            return {name: _r2(total), f"{name}-c": _r2(c), f"{name}-s": _r2(total - c)}

        money: dict[str, float] = {}
        money.update(seg("netliquidation", nlv, fut))
        money.update(seg("totalcashvalue", cash, 0.0))
        money.update(seg("equitywithloanvalue", nlv, fut))
        money.update(seg("initmarginreq", init_s + init_c, init_c))
        money.update(seg("maintmarginreq", maint_s + maint_c, maint_c))
        money.update(seg("availablefunds", nlv - init_s - init_c, fut - init_c))
        money.update(seg("excessliquidity", nlv - maint_s - maint_c, fut - maint_c))
        money.update(seg("accruedcash", 0.0, 0.0))
        money.update({
            "buyingpower": _r2(4 * (nlv - init_s - init_c)), "grosspositionvalue": _r2(gross_s),
            "fullinitmarginreq": _r2(init_s + init_c), "fullmaintmarginreq": _r2(maint_s + maint_c),
            "fullavailablefunds": _r2(nlv - init_s - init_c), "fullexcessliquidity": _r2(nlv - maint_s - maint_c),
            "previousdayequitywithloanvalue": prev_nlv, "sma": _r2(max(nlv - init_s, 0.0)),
            "accrueddividend": 0.0, "totalcashvalue-c": 0.0,
        })
        out: dict[str, Any] = {
            "accountcode": _summary_item(0.0, None, ts, acct.id),
            "accountready": _summary_item(0.0, None, ts, "true"),
            # [FA-SAMPLE]: "INDIVIDUAL" for a client account; "ADVISOR" for the master is a guess.
            "accounttype": _summary_item(0.0, None, ts, "ADVISOR" if acct.kind == "master" else "INDIVIDUAL"),
            "cushion": _summary_item(0.0, None, ts, f"{(nlv - maint_s - maint_c) / nlv if nlv else 0.0:.6f}"),
            "leverage-s": _summary_item(0.0, None, ts, f"{gross_s / nlv if nlv else 0.0:.4f}"),
            "daytradesremaining": _summary_item(-1.0, None, ts, "-1"),
            "highestseverity": _summary_item(0.0, None, ts, "0"),
        }
        null_values = self.options.summary_null_values
        for k, v in money.items():
            out[k] = _summary_item(v, acct.currency, ts, None if null_values else _money_str(v))
        return out

    def allocation(self, account_ids: list[str], d: datetime.date) -> dict[str, Any]:
        """Allocation by asset class, sector and group, long and short, in the first account's base."""
        target = self.world.account_by_id[account_ids[0]].currency
        res: dict[str, dict[str, dict[str, float]]] = {
            k: {"long": {}, "short": {}} for k in ("assetClass", "sector", "group")}
        for aid in account_ids:
            acct = self.world.account_by_id[aid]
            conv = self.world.fx_rate(acct.currency, target, d)
            val = self.valuation(aid, d)
            for r in val.rows:
                v = r["baseMktValue"] * conv
                side = "long" if v >= 0 else "short"
                for dim, label in (("assetClass", r["assetClass"]), ("sector", r.get("sector") or "Others"),
                                   ("group", r.get("group") or "Others")):
                    bucket = res[dim][side]
                    bucket[label] = bucket.get(label, 0.0) + v
            cash = val.ledger["BASE"]["cashbalance"] * conv
            bucket = res["assetClass"]["long" if cash >= 0 else "short"]
            bucket["CASH"] = bucket.get("CASH", 0.0) + cash
        for dim in res.values():
            for side in dim.values():
                for k in side:
                    side[k] = _r2(side[k])
        return res

    def portfolio2(self, account_id: str, d: datetime.date) -> list[dict[str, Any]]:
        """Rows of /portfolio2/{id}/positions (conid as string, slimmer fields)."""
        ts = close_epoch_s(d)
        return [{
            "position": r["position"], "conid": str(r["conid"]), "avgCost": r["avgCost"], "avgPrice": r["avgPrice"],
            "currency": r["currency"], "description": r["contractDesc"], "isLastToLoq": False,
            "marketPrice": r["mktPrice"], "marketValue": r["mktValue"], "realizedPnl": r["realizedPnl"],
            "secType": r["assetClass"], "timestamp": ts, "unrealizedPnl": r["unrealizedPnl"],
            "assetClass": r["assetClass"], "sector": r["sector"], "group": r["group"], "model": r["model"],
        } for r in self.valuation(account_id, d).listing]

    def pnl_partitioned(self, d: datetime.date) -> dict[str, Any]:
        """Body of /iserver/account/pnl/partitioned: per-account daily, unrealized P&L and NLV."""
        upnl = {}
        for a in self.world.accounts:
            v = self.valuation(a.id, d)
            prev = self.valuation(a.id, previous_business_day(d))
            b = v.ledger["BASE"]
            upnl[f"{a.id}.Core"] = {
                "rowType": 1, "dpl": _r2(b["netliquidationvalue"] - prev.ledger["BASE"]["netliquidationvalue"]),
                "nl": b["netliquidationvalue"], "upl": b["unrealizedpnl"], "el": b["netliquidationvalue"],
                "mv": _r2(b["stockmarketvalue"] + b["stockoptionmarketvalue"] + b["corporatebondsmarketvalue"]),
            }
        return {"upnl": upnl}


def previous_business_day(d: datetime.date) -> datetime.date:
    """The business day before d."""
    d -= datetime.timedelta(days=1)
    while d.weekday() >= 5:
        d -= datetime.timedelta(days=1)
    return d


def _summary_item(amount: float, currency: str | None, ts: int, value: str | None) -> dict[str, Any]:
    return {"amount": amount, "currency": currency, "isNull": False, "timestamp": ts, "value": value, "severity": 0}


def net_liquidation(base_totals: dict[str, float]) -> float:
    """Net liquidation value of ledger sums (``Views.base_totals``): the ledger's own formula."""
    return _nlv(base_totals)


def _nlv(acc: dict[str, float]) -> float:
    """Net liquidation value of ledger sums: cash, stock, option and bond values, futures' open P&L."""
    return _r2(acc["cash"] + acc["stk"] + acc["opt"] + acc["bond"] + acc["futpnl"])


def _ledger_entry(acct_id: str, ccy: str, acc: dict[str, float], rate: float, ts: int) -> dict[str, Any]:
    cash = _r2(acc["cash"])
    nlv = _nlv(acc)
    e: dict[str, Any] = {k: 0.0 for k in _LEDGER_ZERO_KEYS}
    e.update({
        "futuremarketvalue": _r2(acc["futmv"]), "settledcash": cash, "exchangerate": rate, "sessionid": 1,
        "cashbalance": cash, "corporatebondsmarketvalue": _r2(acc["bond"]), "netliquidationvalue": nlv,
        "unrealizedpnl": _r2(acc["upnl"]), "stockmarketvalue": _r2(acc["stk"]), "currency": ccy,
        "realizedpnl": _r2(acc["rpnl"]), "acctcode": acct_id, "key": "LedgerList", "timestamp": ts, "severity": 0,
        "stockoptionmarketvalue": _r2(acc["opt"]), "futuresonlypnl": _r2(acc["futpnl"]), "secondkey": ccy,
        "endofbundle": 1,
    })
    return e
