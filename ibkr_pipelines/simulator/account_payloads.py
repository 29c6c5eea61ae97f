"""Account objects and account listings as the FA master login sees them.

Field values follow "[FA-SAMPLE]" (a public client's docstrings with live FA responses; lower
confidence) and the recordings ``Portfolio/GET-portfolio-accounts.json``, ``-subaccounts.json``,
``-meta.json`` and ``Accounts/GET-iserver-accounts.json``.
"""

from __future__ import annotations

from typing import Any

from ibkr_pipelines.simulator.roster import Account
from ibkr_pipelines.simulator.world import World

# IBKR: "/portfolio/subaccounts ... return a list of up to 100 sub-accounts ... If you have more than
# 100 sub-accounts use /portfolio/subaccounts2" (cquillen/ibkr-conduit docs/ibkr-web-api-spec.md).
# Guess: the 100 count the master's own entry too.
SUBACCOUNTS_MAX = 100
# /portfolio/subaccounts2?page=N: pages from 0, 20 per page (same source; reference §2.2).
SUBACCOUNTS2_PAGE = 20
SERVER_INFO = {"serverName": "SimServer01", "serverVersion": "Build 10.44.1d, Mar 3, 2026 1:55:32 PM"}
# Recording Accounts/GET-iserver-accounts.json: the properties of one account.
_ACCT_PROPS = {"hasChildAccounts": False, "supportsCashQty": True, "liteUnderPro": False, "noFXConv": False,
               "isProp": False, "supportsFractions": True, "allowCustomerTime": False, "autoFx": False}
# [FA-SAMPLE] (paper FA login): the pseudo-account "All" and its properties.
_ALL_PROPS = {"hasChildAccounts": False, "supportsCashQty": False, "supportsFractions": False}


def _type(acct: Account, paper: bool) -> str:
    """``type``: FNF for the FA master, INDIVIDUAL for clients and the individual ([FA-SAMPLE])."""
    if acct.kind == "master":
        return "FNF"  # [FA-SAMPLE]; guess: the same on a paper login
    if acct.kind == "individual" and paper:
        return "DEMO"  # recording Portfolio/GET-portfolio-accounts.json (paper), [FA-SAMPLE] DU7631004
    return "INDIVIDUAL"  # [FA-SAMPLE] clients; the brief's evidence for the linked individual


def account_object(acct: Account, *, paper: bool = False, brokerage_access: bool = False) -> dict[str, Any]:
    """One account as /portfolio/accounts, /portfolio/subaccounts(2) and /portfolio/{id}/meta show it."""
    business = {"master": "FA", "sub": "FA_CLIENT", "individual": "INDEPENDENT"}[acct.kind]  # [FA-SAMPLE]
    return {
        "id": acct.id, "PrepaidCrypto-Z": False, "PrepaidCrypto-P": False, "brokerageAccess": brokerage_access,
        "accountId": acct.id, "accountVan": acct.id, "accountTitle": acct.title, "displayName": acct.title,
        "accountAlias": None, "accountStatus": 1_704_085_200_000, "currency": acct.currency,
        "type": _type(acct, paper), "tradingType": "STKNOPT", "businessType": business, "category": "",
        "ibEntity": "IBLLC-US", "faclient": acct.kind == "sub", "clearingStatus": "O", "covestor": False,
        # [FA-SAMPLE]: client accounts of an FA cannot trade themselves.
        "noClientTrading": acct.kind == "sub",
        "trackVirtualFXPortfolio": acct.track_virtual_fx,
        "acctCustType": "INDIVIDUAL",  # [FA-SAMPLE]: master and clients alike
        # [FA-SAMPLE] and every recording: parent is empty and never multiplex, clients included.
        "parent": {"mmc": [], "accountId": "", "isMParent": False, "isMChild": False, "isMultiplex": False},
        "desc": acct.id,  # [FA-SAMPLE], recordings
    }


def portfolio_accounts(world: World) -> list[Account]:
    """/portfolio/accounts for the FA login: the master and the linked individual (guess, below)."""
    # UNVERIFIED. IBKR: "In non-tiered account structures, returns a list of accounts ... For a list of
    # subaccounts in tiered account structures (e.g. financial advisor ...) see /portfolio/subaccounts."
    # Guess: the FA login gets its master and its linked individual account, not the clients.
    return [a for a in world.accounts if a.kind in ("master", "individual")]


def fa_group(world: World) -> list[Account]:
    """The master then its client accounts by id: what /portfolio/subaccounts(2) list ([FA-SAMPLE] order)."""
    clients = sorted((a for a in world.accounts if a.kind == "sub"), key=lambda a: a.id)
    return [world.master] + clients


def subaccounts(world: World) -> list[Account]:
    """/portfolio/subaccounts: at most SUBACCOUNTS_MAX entries of the FA group."""
    return fa_group(world)[:SUBACCOUNTS_MAX]


def subaccounts2_page(world: World, page: int) -> tuple[int, list[Account]]:
    """/portfolio/subaccounts2?page=N: the group's size and the accounts on that page (empty past the end)."""
    group = fa_group(world)
    chunk = group[page * SUBACCOUNTS2_PAGE:(page + 1) * SUBACCOUNTS2_PAGE] if page >= 0 else []
    return len(group), chunk


def subaccounts2_body(world: World, page: int, *, paper: bool) -> dict[str, Any]:
    """The documented wrapper ``{"metadata":{total,pageSize,pageNum},"subaccounts":[...]}`` (reference §2.2)."""
    total, chunk = subaccounts2_page(world, page)
    return {"metadata": {"total": total, "pageSize": SUBACCOUNTS2_PAGE, "pageNum": page},
            "subaccounts": [account_object(a, paper=paper) for a in chunk]}


def iserver_accounts(world: World, session_id: str, *, paper: bool) -> dict[str, Any]:
    """Body of GET /iserver/accounts for the FA login: "All", the clients, the linked individual."""
    # [FA-SAMPLE] (paper FA): accounts ["All", "DU…", …] lists the clients but not the DF master; groups
    # ["All"], allowFA true. Guess: the linked individual is listed too.
    clients = [a.id for a in fa_group(world) if a.kind == "sub"]
    ids = clients + [a.id for a in world.accounts if a.kind == "individual"]
    props: dict[str, dict[str, Any]] = {"All": dict(_ALL_PROPS)}
    props.update({i: dict(_ACCT_PROPS) for i in ids})
    return {
        "accounts": ["All"] + ids, "acctProps": props, "aliases": {i: i for i in ["All"] + ids},
        "allowFeatures": {
            "showGFIS": True, "showEUCostReport": False, "allowEventContract": True, "allowFXConv": True,
            "allowFinancialLens": False, "allowMTA": True, "allowTypeAhead": True, "allowEventTrading": True,
            "snapshotRefreshTimeout": 30, "liteUser": False, "showWebNews": True, "research": True,
            "debugPnl": True, "showTaxOpt": True, "showImpactDashboard": True, "allowDynAccount": False,
            "allowCrypto": True, "allowFA": True, "allowLiteUnderPro": False,
            "allowedAssetTypes": "STK,CFD,OPT,FOP,WAR,FUT,BAG,PDC,CASH,IND,BOND,BILL,FUND,SLB,News,CMDTY,IOPT,"
                                 "ICU,ICS,PHYSS,CRYPTO",
            "restrictTradeSubscription": False, "showUkUserLabels": False, "sideBySide": True,
        },
        "chartPeriods": {k: ["*"] for k in ("STK", "CFD", "WAR", "IOPT", "FUT", "CASH", "IND", "BOND", "FUND",
                                            "CMDTY", "PHYSS", "CRYPTO")}
        | {"OPT": ["2h", "1d", "2d", "1w", "1m"], "FOP": ["2h", "1d", "2d", "1w", "1m"]},
        "groups": ["All"], "profiles": [], "selectedAccount": ids[0] if ids else "All",  # [FA-SAMPLE]: first client
        "serverInfo": dict(SERVER_INFO), "sessionId": session_id, "isFT": False, "isPaper": paper,
    }
