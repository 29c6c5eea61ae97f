"""NAV and time-weighted returns for Portfolio Analyst (/pa), from the same valuation as the ledger.

- ``nav_base``: an account's net liquidation value in its base currency at the close of a date; it is
  the BASE ``netliquidationvalue`` of /portfolio/{id}/ledger for that date (payloads.Views.nav_base).
- Daily return r_t = (NAV_t - F_t) / NAV_{t-1} - 1, where F_t are the external flows of day t (cash
  events of a kind in EXTERNAL_FLOWS, in the base currency): time-weighted, so a deposit is not a
  return (reference §2.7: ``pm`` "TWR"). Fees, interest and dividends are not flows: they are
  performance.
- Cumulative returns (``cps``) compound the daily returns from the period's start NAV; returns per
  time period (``tpps``) compound them per calendar month.

Periods (reference §2.7 and the recordings Portfolio/POST-pa-*.json, ending 20260402): ``1D`` is the
last business day against the one before; ``7D`` the business days after the date 7 days back, whose
close is the start NAV (recording: startNAV 20260326, first date 20260327); ``1M``/``3M``/``6M``/
``12M`` (and ``1Y``, guess: the same as ``12M``) the business days from the same day N months back
(recording: first date 20260302, startNAV 20260227); ``MTD``/``YTD`` the business days of the month/
year. A period reaching before the world's first date starts at it: its start NAV is that day's close
(the initial deposit), its dates the business days after it.
"""

from __future__ import annotations

import datetime
import weakref
from dataclasses import dataclass

from ibkr_pipelines.simulator.clock import business_days, last_business_day
from ibkr_pipelines.simulator.payloads import Views, previous_business_day
from ibkr_pipelines.simulator.world import World

PERIODS = ("1D", "7D", "MTD", "1M", "3M", "6M", "12M", "YTD", "1Y")  # reference §2.7 and the OpenAPI enum
# Cash-event kinds that are money moved into or out of an account (world.py: deposits, withdrawals and
# internal transfers, from its funding instructions and the closed predecessor's one transfer).
EXTERNAL_FLOWS = frozenset({"deposit", "withdrawal", "transfer"})
_MONTHS_BACK = {"1M": 1, "3M": 3, "6M": 6, "12M": 12, "1Y": 12}
_VIEWS: "weakref.WeakKeyDictionary[World, Views]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class PeriodWindow:
    """The close the period starts from, the business days it reports, and its last day."""

    start_nav_date: datetime.date
    dates: list[datetime.date]
    end: datetime.date


@dataclass(frozen=True)
class Series:
    """NAVs (base currency, cents) of a period and its daily, cumulative and monthly returns."""

    window: PeriodWindow
    currency: str
    start_nav: float
    navs: list[float]
    daily: list[float]
    cumulative: list[float]
    months: list[str]
    monthly: list[float]


def views_of(source: World | Views) -> Views:
    """The Views of a world (one per world object, kept while the world lives), or the Views given."""
    if isinstance(source, Views):
        return source
    views = _VIEWS.get(source)
    if views is None:
        views = _VIEWS[source] = Views(source)
    return views


def nav_base(source: World | Views, account_id: str, d: datetime.date) -> float:
    """Net liquidation value in the account's base currency at the close of d (= the ledger's BASE netliquidationvalue)."""
    return views_of(source).nav_base(account_id, d)


def _months_back(d: datetime.date, n: int) -> datetime.date:
    """The same day n months earlier (the month's last day when it is shorter)."""
    y, m = divmod(d.year * 12 + d.month - 1 - n, 12)
    m += 1
    for day in (d.day, 30, 29, 28):
        try:
            return datetime.date(y, m, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def period_window(period: str, today: datetime.date, first: datetime.date) -> PeriodWindow:
    """The dates a /pa period reports at the close of ``today`` in a world whose first date is ``first``."""
    end = last_business_day(today)
    if period == "1D":
        start_nav = previous_business_day(end)
    elif period == "7D":
        start_nav = last_business_day(end - datetime.timedelta(days=7))
    elif period == "MTD":
        start_nav = previous_business_day(end.replace(day=1))
    elif period == "YTD":
        start_nav = previous_business_day(end.replace(month=1, day=1))
    elif period in _MONTHS_BACK:
        start_nav = previous_business_day(_months_back(end, _MONTHS_BACK[period]))
    else:
        raise ValueError(f"unknown period {period!r}")
    start_nav = max(start_nav, first)
    return PeriodWindow(start_nav, business_days(start_nav + datetime.timedelta(days=1), end), end)


def external_flows(views: Views, account_ids: list[str], currency: str) -> dict[datetime.date, float]:
    """External flows (deposits, withdrawals) of these accounts per date, in ``currency``."""
    w = views.world
    out: dict[datetime.date, float] = {}
    for aid in account_ids:
        for ev in w.cash_events_for(aid):
            if ev.kind in EXTERNAL_FLOWS:
                out[ev.date] = out.get(ev.date, 0.0) + ev.amount * w.fx_rate(ev.currency, currency, ev.date)
    return out


def daily_returns(start_nav: float, navs: list[float], flows: list[float]) -> list[float]:
    """Time-weighted daily returns: (NAV_t - flow_t) / NAV_{t-1} - 1 (guess: 0 after a zero NAV)."""
    out = []
    prev = start_nav
    for nav, flow in zip(navs, flows):
        out.append((nav - flow) / prev - 1 if prev else 0.0)
        prev = nav
    return out


def compound(returns: list[float]) -> list[float]:
    """Cumulative returns: the running product of (1 + r), minus 1."""
    out, growth = [], 1.0
    for r in returns:
        growth *= 1 + r
        out.append(growth - 1)
    return out


def monthly(dates: list[datetime.date], returns: list[float]) -> tuple[list[str], list[float]]:
    """Returns compounded per calendar month, with the months as "YYYYMM"."""
    months: list[str] = []
    growth: list[float] = []
    for d, r in zip(dates, returns):
        key = f"{d.year:04d}{d.month:02d}"
        if not months or months[-1] != key:
            months.append(key)
            growth.append(1.0)
        growth[-1] *= 1 + r
    return months, [g - 1 for g in growth]


def consolidated_nav(views: Views, account_ids: list[str], currency: str, d: datetime.date) -> float:
    """The accounts' NAVs at the close of d summed in ``currency`` (one account: its own NAV), in cents."""
    w = views.world
    total = 0.0
    for aid in account_ids:
        total += views.nav_base(aid, d) * w.fx_rate(w.account_by_id[aid].currency, currency, d)
    return round(total + 0.0, 2)


def series(views: Views, account_ids: list[str], window: PeriodWindow, currency: str | None = None) -> Series:
    """NAVs and returns of one account, or of several consolidated in ``currency`` (default: the first's base)."""
    currency = currency or views.world.account_by_id[account_ids[0]].currency
    start_nav = consolidated_nav(views, account_ids, currency, window.start_nav_date)
    navs = [consolidated_nav(views, account_ids, currency, d) for d in window.dates]
    flows = external_flows(views, account_ids, currency)
    daily = daily_returns(start_nav, navs, [flows.get(d, 0.0) for d in window.dates])
    months, per_month = monthly(window.dates, daily)
    return Series(window, currency, start_nav, navs, daily, compound(daily), months, per_month)


def significant(x: float, digits: int = 5) -> float:
    """A return rounded as the recordings write them (about five significant digits)."""
    return float(f"{x:.{digits}g}")
