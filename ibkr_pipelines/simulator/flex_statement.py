"""A FlexQueryResponse written line by line from the world (reference §4.3), in bounded memory.

Statements: one per account and business day the account was open (a per-day query; recording
cash-transactions.xml: 128 statements, fromDate = toDate, weekdays only) or one per account for the
whole period (recording unit-cash-transactions-consolidated.xml), accounts in listing order and the
closed ones after them. A closed account has statements for the days it was open only, and is in a
period report only when the period reaches back to them (issue 12: closed accounts in multi-year reports).

Guess: accounts in listing order, closed ones last; statements of one account together, oldest first.

Rows go to the statement of their ``reportDate``. Per statement: AccountInformation (its accountType
and customerType values: guess) and ChangeInNAV (``endingValue`` is the ledger's BASE net liquidation
value; guess: ``mtm`` is what the listed components leave, ``realized`` and ``changeInUnrealized`` 0),
EquitySummaryByReportDateInBase per business day (``total`` = the ledger's NAV of that day; guess:
``commodities`` holds the futures' open P&L, the ledger's ``futuresonlypnl``),
OpenPositions at the statement's last day, Trades (or TradeConfirms) by trade date, CorporateActions
(always empty: the world has none), CashTransactions (flex_cash.py), Transfers, ConversionRates per
business day and currency. Nothing is collected across statements: a day's trades are sorted, a
statement's positions listed, and that is the most held at once, so years of statements stream.

Novelties (a query's ``novelties``): rows whose id is divisible by 7 carry one attribute, and the
statements of one account (roster.BIG_CLIENT) one section, that the parser has never seen
(NOVEL_ATTRIBUTE: invented; ``CommissionCredits``: a section name IBKR has that ibflex keeps as a
placeholder; its row invented).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Iterator, Sequence

from ibkr_pipelines.simulator.catalog import FX_START_USD
from ibkr_pipelines.simulator.clock import business_days, close_datetime
from ibkr_pipelines.simulator.flex_cash import NAV_PARTS, cash_transaction_attrs, nav_flows, reported_rows
from ibkr_pipelines.simulator.flex_format import Attrs, Layout, close_tag, money, open_tag, row, section
from ibkr_pipelines.simulator.flex_queries import FlexQuery
from ibkr_pipelines.simulator.flex_rows import (
    TradeReplay,
    conversion_rate_attrs,
    owner,
    position_attrs,
    trade_attrs,
    trade_id,
    trade_confirm_attrs,
    transfer_attrs,
)
from ibkr_pipelines.simulator.payloads import Views, net_liquidation
from ibkr_pipelines.simulator.roster import BIG_CLIENT, Account
from ibkr_pipelines.simulator.world import WORLD_START, CashEvent, World

NOVEL_ATTRIBUTE = ("routingDetail", "SMART")  # invented: stands for an attribute IBKR added lately
_CLOSED_ORDINAL = 10_000  # transactionID ordinals of closed accounts start here (visible: listing order)
_CURRENCIES = tuple(sorted(FX_START_USD))


@dataclass(frozen=True)
class Holder:
    """An account as reports see it: open dates, cash events, whether the login still lists it."""

    account: Account
    ordinal: int
    opened: datetime.date
    closed: datetime.date | None
    events: Sequence[CashEvent]
    listed: bool

    def days(self, first: datetime.date, last: datetime.date) -> list[datetime.date]:
        """The business days in [first, last] the account was open."""
        return business_days(max(first, self.opened), min(last, self.closed or last))


def holders(world: World, wanted: tuple[str, ...] = ()) -> list[Holder]:
    """The accounts a query reports: the listed ones, then the closed ones (only ``wanted`` when given)."""
    out = [Holder(a, n, WORLD_START, None, world.cash_events_for(a.id), True) for n, a in enumerate(world.accounts)]
    out += [Holder(c.account, _CLOSED_ORDINAL + n, c.opened, c.closed, c.cash_events, False)
            for n, c in enumerate(world.closed_accounts)]
    return [h for h in out if not wanted or h.account.id in wanted]


@dataclass(frozen=True)
class Run:
    """One statement request: the query, its dates, the period written, and when it was generated."""

    query: FlexQuery
    start: datetime.date
    end: datetime.date
    period: str  # "" for SendRequest's fd/td (recording trade-confirmations.xml: period="" with dates)
    generated: datetime.date  # the simulated date it was generated: whenGenerated is that day's close


def statement_spans(run: Run, h: Holder) -> list[tuple[datetime.date, datetime.date]]:
    """The (fromDate, toDate) of each statement of one account."""
    if run.query.per_day:
        return [(d, d) for d in h.days(run.start, run.end)]
    return [(run.start, run.end)] if h.days(run.start, run.end) else []


class _Valuer:
    """NAV and the ledger's BASE sums of one account per date, the last few kept (never a whole report's)."""

    def __init__(self, world: World, views: Views, h: Holder) -> None:
        self.world, self.views, self.h = world, views, h
        self._memo: dict[datetime.date, dict[str, float]] = {}

    def totals(self, d: datetime.date) -> dict[str, float]:
        """cash, stk, opt, bond, futpnl (base currency) at the close of d; zeros before the account opened."""
        got = self._memo.get(d)
        if got is None:
            if len(self._memo) > 4:
                self._memo.clear()
            got = self._memo[d] = self._compute(d)
        return got

    def _compute(self, d: datetime.date) -> dict[str, float]:
        zero = dict.fromkeys(("cash", "stk", "opt", "bond", "futpnl"), 0.0)
        if d < self.h.opened:
            return zero
        if self.h.listed:
            return self.views.base_totals(self.h.account.id, d)
        base = self.h.account.currency  # a closed account held cash only
        zero["cash"] = round(sum(ev.amount * self.world.fx_rate(ev.currency, base, ev.date)
                                 for ev in self.h.events if ev.date <= d) + 0.0, 2)
        return zero

    def nav(self, d: datetime.date) -> float:
        """Net liquidation value in the base at the close of d: the ledger's BASE netliquidationvalue."""
        return net_liquidation(self.totals(d))


class Writer:
    """Writes one Run's FlexQueryResponse as lines (joined with newlines, nothing after the last)."""

    def __init__(self, world: World, views: Views, run: Run) -> None:
        self.world, self.views, self.run = world, views, run
        self.query = run.query
        self.layout = Layout(run.query)
        self.holders = holders(world, run.query.accounts)
        self._generated = self.layout.date_time(close_datetime(run.generated))

    def count(self) -> int:
        """How many FlexStatements the response holds."""
        return sum(len(statement_spans(self.run, h)) for h in self.holders)

    def lines(self) -> Iterator[str]:
        """Every line of the response, in order."""
        q = self.query
        yield open_tag("FlexQueryResponse", [("queryName", q.name), ("type", q.query_type)], 0)
        yield open_tag("FlexStatements", [("count", str(self.count()))], 1)
        for h in self.holders:
            replay = TradeReplay(self.world, h.account.id)
            valuer = _Valuer(self.world, self.views, h)
            for first, last in statement_spans(self.run, h):
                yield from self._statement(h, first, last, replay, valuer)
        yield close_tag("FlexStatements", 1)
        yield close_tag("FlexQueryResponse", 0)

    def _statement(self, h: Holder, first: datetime.date, last: datetime.date, replay: TradeReplay,
                   valuer: _Valuer) -> Iterator[str]:
        lay = self.layout
        yield open_tag("FlexStatement", [("accountId", h.account.id), ("fromDate", lay.date(first)),
                                         ("toDate", lay.date(last)), ("period", self.run.period),
                                         ("whenGenerated", self._generated)], 2)
        for name in self.query.sections:
            if name == "AccountInformation":
                yield row(name, self._account_information(h), 3)
            elif name == "ChangeInNAV":
                yield row(name, self._change_in_nav(h, first, last, valuer), 3)
            elif name == "EquitySummaryInBase":
                yield from section(name, self._equity(h, first, last, valuer), 3)
            elif name == "OpenPositions":
                yield from section(name, self._positions(h, last, valuer), 3)
            elif name in ("Trades", "TradeConfirms"):
                yield from section(name, self._trades(h, first, last, replay, name == "Trades"), 3)
            elif name == "CorporateActions":
                yield from section(name, iter(()), 3)
            elif name == "CashTransactions":
                yield from section(name, self._cash(h, first, last), 3)
            elif name == "Transfers":
                yield from section(name, self._transfers(h, first, last), 3)
            elif name == "ConversionRates":
                yield from section(name, self._rates(h, first, last), 3)
        if self.query.novelties and h.account.live_id == BIG_CLIENT:
            credit = owner(h.account) + [("currency", h.account.currency), ("reportDate", lay.date(last)),
                                         ("amount", "0"), ("description", "COMMISSION CREDITS")]
            yield from section("CommissionCredits", iter([row("CommissionCredit", credit, 4)]), 3)
        yield close_tag("FlexStatement", 2)

    def _novel(self, attrs: Attrs, key: int) -> Attrs:
        """The row's attributes, plus NOVEL_ATTRIBUTE on a seventh of the rows when the query has novelties."""
        return attrs + [NOVEL_ATTRIBUTE] if self.query.novelties and key % 7 == 0 else attrs

    # -- sections --
    def _account_information(self, h: Holder) -> Attrs:
        a = h.account
        kinds = {"master": ("Advisor", "Advisor"), "sub": ("Advisor Client", "Individual"),
                 "individual": ("Individual", "Individual")}  # guess
        account_type, customer_type = kinds[a.kind]
        master = self.world.account(a.parent).title if a.parent and self.world.account(a.parent) else ""
        lay = self.layout
        return owner(a) + [
            ("currency", a.currency), ("name", a.title), ("accountType", account_type),
            ("customerType", customer_type), ("accountCapabilities", "Margin"),
            ("tradingPermissions", "Stocks,Options,Futures,Forex,Bonds"), ("dateOpened", lay.date(h.opened)),
            ("dateFunded", lay.date(h.opened)), ("dateClosed", lay.date(h.closed)), ("masterName", master),
            ("ibEntity", "IBLLC-US"),
        ]

    def _change_in_nav(self, h: Holder, first: datetime.date, last: datetime.date, valuer: _Valuer) -> Attrs:
        before = business_days(first - datetime.timedelta(days=7), first - datetime.timedelta(days=1))[-1]
        start, end = valuer.nav(before), valuer.nav(last)
        flows = nav_flows(self.world, h.account, h.events, first, last)
        parts = {k: round(v + 0.0, 2) for k, v in flows.items()}
        mtm = round(end - start - sum(parts.values()) + 0.0, 2)
        lay = self.layout
        return owner(h.account) + [("currency", h.account.currency), ("fromDate", lay.date(first)),
                                   ("toDate", lay.date(last)), ("startingValue", money(start)), ("mtm", money(mtm)),
                                   ("realized", "0"), ("changeInUnrealized", "0")] + \
            [(k, money(parts[k])) for k in NAV_PARTS] + [("otherFees", "0"), ("other", "0"),
                                                         ("endingValue", money(end))]

    def _equity(self, h: Holder, first: datetime.date, last: datetime.date, valuer: _Valuer) -> Iterator[str]:
        for d in h.days(first, last):
            t = valuer.totals(d)
            yield row("EquitySummaryByReportDateInBase", owner(h.account) + [
                ("currency", h.account.currency), ("reportDate", self.layout.date(d)), ("cash", money(t["cash"])),
                ("stock", money(t["stk"])), ("options", money(t["opt"])), ("bonds", money(t["bond"])),
                ("commodities", money(t["futpnl"])), ("total", money(valuer.nav(d)))], 4)

    def _positions(self, h: Holder, d: datetime.date, valuer: _Valuer) -> Iterator[str]:
        if not h.listed or d < h.opened:
            return
        book = self.world.book_on(h.account.id, d)
        rows = self.views.money_rows(h.account.id, d, book)
        nav = valuer.nav(d)
        rows.sort(key=lambda m: (m["assetClass"], m["currency"], m["conid"]))
        for m in rows:
            attrs = position_attrs(self.world, h.account, m, book[m["conid"]], d, nav, self.layout)
            yield row("OpenPosition", self._novel(attrs, m["conid"]), 4)

    def _trades(self, h: Holder, first: datetime.date, last: datetime.date, replay: TradeReplay,
                activity: bool) -> Iterator[str]:
        for f in replay.fills(first, last):
            if activity:
                attrs = trade_attrs(self.world, h.account, f, self.layout)
                yield row("Trade", self._novel(attrs, trade_id(f.execution)), 4)
            else:
                yield row("TradeConfirm", trade_confirm_attrs(self.world, h.account, f, self.layout), 4)

    def _cash(self, h: Holder, first: datetime.date, last: datetime.date) -> Iterator[str]:
        for r in reported_rows(self.world, h.account, h.events, first, last):
            attrs = cash_transaction_attrs(self.world, h.account, h.ordinal, r, self.layout)
            yield row("CashTransaction", self._novel(attrs, r.index * 10 + r.number), 4)

    def _transfers(self, h: Holder, first: datetime.date, last: datetime.date) -> Iterator[str]:
        for n, t in enumerate(self.world.transfers):
            if first <= t.date <= last and h.account.id in (t.from_account, t.to_account):
                other_id = t.to_account if h.account.id == t.from_account else t.from_account
                other = next(x.account for x in holders(self.world) if x.account.id == other_id)
                yield row("Transfer", transfer_attrs(self.world, h.account, t, n, other, self.layout), 4)

    def _rates(self, h: Holder, first: datetime.date, last: datetime.date) -> Iterator[str]:
        base = h.account.currency
        for d in h.days(first, last):
            for ccy in _CURRENCIES:
                if ccy != base:
                    yield row("ConversionRate", conversion_rate_attrs(self.world, base, ccy, d, self.layout), 4)

