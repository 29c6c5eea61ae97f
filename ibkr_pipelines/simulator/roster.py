"""Who the simulated gateway login sees: an FA master, its client accounts and one linked individual.

Account ids follow IBKR's prefixes (QuantConnect/Lean issue #3398, [FA-SAMPLE]): an FA master is
``F…`` on a live login and ``DF…`` on a paper one; individual and FA client accounts are ``U…`` live
and ``DU…`` paper. "[FA-SAMPLE]" is a public client's docstrings holding live FA responses (lower
confidence than a recording).
"""

from __future__ import annotations

from dataclasses import dataclass

MASTER = "F7000001"
BIG_CLIENT = "U7000011"  # the client account that trades every stock of the catalog (world.py)
# Guess: the EUR-based client is the one that tracks virtual FX positions when that switch is on.
VIRTUAL_FX_CLIENT = "U7000012"
# Guess: the client whose positions are partly held through a model portfolio when that switch is on.
MODEL_CLIENT = "U7000013"
MODEL_NAME = "Balanced Growth"  # guess: any model name; IBKR's OpenAPI only says "Name of the model portfolio"
INDIVIDUAL = "U7000099"  # the linked individual account
# Guess: the individual's closed predecessor, its money moved to INDIVIDUAL (world.py); in no listing.
PREDECESSOR = "U7000098"
# Thin client accounts added by ``extra_subaccounts`` are numbered from here (U7100001, U7100002, ...).
_EXTRA_BASE = 7_100_000


@dataclass(frozen=True)
class Roster:
    """The shape of the login's account list; the default is today's demo world."""

    extra_subaccounts: int = 0
    paper: bool = False
    virtual_fx_positions: bool = False
    model_portfolios: bool = False

    def __post_init__(self) -> None:
        if self.extra_subaccounts < 0:
            raise ValueError(f"extra_subaccounts must be >= 0, got {self.extra_subaccounts}")


@dataclass(frozen=True)
class Account:
    """An IBKR account visible to the login: FA master, FA client (``sub``) or linked individual."""

    id: str  # as the API shows it (``DU…`` on a paper login)
    currency: str  # base currency
    kind: str  # "master" | "sub" | "individual"
    title: str
    parent: str | None = None
    deposit: float = 0.0
    live_id: str = ""  # the id on a live login; names the designated behaviours whatever the prefix
    thin: bool = False  # an ``extra_subaccounts`` client: a few positions, about one trade a month
    track_virtual_fx: bool = False  # trackVirtualFXPortfolio (adds CASH rows to its positions)
    model: str | None = None  # a model portfolio holding part of its positions (split rows)


def _shown(live_id: str, paper: bool) -> str:
    """The id the API shows: paper logins put a ``D`` before the live prefix (DF…, DU…)."""
    return f"D{live_id}" if paper else live_id


def extra_deposit(n: int) -> float:
    """Initial deposit of the n-th thin client account (deterministic, 100k to 1M)."""
    return float(100_000 + (n * 37_000) % 900_000)


def make_accounts(roster: Roster) -> list[Account]:
    """The accounts of the world, master first, then the clients, the individual and any thin clients."""
    p = roster.paper
    master = _shown(MASTER, p)
    base = [
        (MASTER, "USD", "master", "Harbor Ridge Advisors LLC", None, 25_000.0),
        (BIG_CLIENT, "USD", "sub", "Alex Morgan", master, 8_000_000.0),
        (VIRTUAL_FX_CLIENT, "EUR", "sub", "Beatrice Keller", master, 1_500_000.0),
        (MODEL_CLIENT, "USD", "sub", "Chen Family Trust", master, 2_000_000.0),
        ("U7000014", "USD", "sub", "Dana Ortiz", master, 750_000.0),
        (INDIVIDUAL, "GBP", "individual", "Evan Hughes", None, 600_000.0),
    ]
    out = [
        Account(_shown(live, p), ccy, kind, title, parent, deposit, live,
                track_virtual_fx=roster.virtual_fx_positions and live == VIRTUAL_FX_CLIENT,
                model=MODEL_NAME if roster.model_portfolios and live == MODEL_CLIENT else None)
        for live, ccy, kind, title, parent, deposit in base
    ]
    for n in range(1, roster.extra_subaccounts + 1):
        live = f"U{_EXTRA_BASE + n}"
        out.append(Account(_shown(live, p), "USD", "sub", f"Client Account {n:03d}", master, extra_deposit(n),
                           live, thin=True))
    return out


def predecessor(roster: Roster) -> Account:
    """The closed account the individual was funded from (world.py); Flex reports still show it."""
    return Account(_shown(PREDECESSOR, roster.paper), "GBP", "individual", "Evan Hughes", None, 0.0, PREDECESSOR)
